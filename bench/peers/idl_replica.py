#!/usr/bin/python3
"""Build a full replica of OVN_Northbound with the OVS python IDL
(ovs.db.idl.Idl, SchemaHelper.register_all()) and report how long it took.
Run with Debian's /usr/bin/python3.

usage: idl_replica.py NB_REMOTE

Timed from before get_schema until the IDL has applied the initial monitor
reply (state MONITORING, has_ever_connected()). Prints one JSON object:
{"seconds": .., "rows": .., "rss_mb": .., "schema_seconds": .., "json_parser": "C"|"PYTHON"}.
"""
import json
import resource
import sys
import time

import ovs.db.idl
import ovs.json
import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.vlog

DB = "OVN_Northbound"


def fetch_schema(remote):
    error, stream = ovs.stream.Stream.open_block(
        ovs.stream.Stream.open(remote))
    if error:
        raise RuntimeError("connect %s: %s" % (remote, error))
    rpc = ovs.jsonrpc.Connection(stream)
    req = ovs.jsonrpc.Message.create_request("get_schema", [DB])
    error, reply = rpc.transact_block(req)
    rpc.close()
    if error or reply.error:
        raise RuntimeError("get_schema: %s" % (error or reply.error))
    return reply.result


def main():
    remote = sys.argv[1]
    t0 = time.perf_counter()
    helper = ovs.db.idl.SchemaHelper(None, fetch_schema(remote))
    helper.register_all()
    schema_seconds = time.perf_counter() - t0
    idl = ovs.db.idl.Idl(remote, helper)
    deadline = time.monotonic() + 900
    while True:
        idl.run()
        if idl.state == idl.IDL_S_MONITORING and idl.has_ever_connected():
            break
        if time.monotonic() > deadline:
            raise RuntimeError("timeout waiting for the initial dump")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.block()
    seconds = time.perf_counter() - t0
    rows = sum(len(t.rows) for t in idl.tables.values())
    print(json.dumps({
        "seconds": seconds,
        "rows": rows,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "schema_seconds": schema_seconds,
        "json_parser": getattr(ovs.json, "PARSER", "?"),
    }))
    sys.stdout.flush()
    idl.close()


if __name__ == "__main__":
    main()
