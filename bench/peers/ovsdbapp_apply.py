#!/usr/bin/python3
"""Apply the bench workload through ovsdbapp (OvnNbApiIdlImpl), one
transaction per router. Run with Debian's /usr/bin/python3 (ovsdbapp + the OVS
python IDL).

usage: ovsdbapp_apply.py NB_REMOTE WORKLOAD_JSON [--limit N]

Times only the apply (not the connect / initial IDL sync) and prints one JSON
object on stdout: {"seconds": .., "routers": .., "connect_seconds": ..}.
"""
import argparse
import json
import resource
import sys
import time

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.ovn_northbound import impl_idl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("remote")
    ap.add_argument("workload")
    ap.add_argument("--limit", type=int, default=0,
                    help="apply only the first N routers")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    with open(args.workload) as f:
        w = json.load(f)
    routers = w["routers"]
    if any("externalIds" in n for r in routers for n in [r["snat"]] + r["fips"]):
        sys.exit("ovsdbapp_apply: NAT external_ids are not supported "
                 "(lr_nat_add cannot set them)")
    if args.limit:
        routers = routers[:args.limit]

    t_connect = time.perf_counter()
    idl = connection.OvsdbIdl.from_server(args.remote, "OVN_Northbound")
    conn = connection.Connection(idl=idl, timeout=args.timeout)
    api = impl_idl.OvnNbApiIdlImpl(conn)  # starts the connection thread
    connect_seconds = time.perf_counter() - t_connect

    t0 = time.perf_counter()
    for r in routers:
        port = r["port"]
        with api.transaction(check_error=True) as txn:
            # nat/static_routes set explicitly: lr_nat_add/lr_route_add iterate
            # lr.nat / lr.static_routes, and reading a column never written on
            # a row inserted in the same IDL transaction raises AttributeError
            txn.add(api.lr_add(r["name"], external_ids=r["externalIds"],
                               nat=[], static_routes=[]))
            txn.add(api.lrp_add(r["name"], port["name"], port["mac"],
                                port["networks"]))
            for gc in port["gatewayChassis"]:
                txn.add(api.lrp_set_gateway_chassis(
                    port["name"], gc["chassisName"], gc["priority"]))
            for n in [r["snat"]] + r["fips"]:
                txn.add(api.lr_nat_add(r["name"], n["type"], n["externalIp"],
                                       n["logicalIp"]))
            for rt in r["routes"]:
                txn.add(api.lr_route_add(r["name"], rt["ipPrefix"],
                                         rt["nexthop"]))
    seconds = time.perf_counter() - t0

    conn.stop()
    print(json.dumps({
        "seconds": seconds,
        "routers": len(routers),
        "connect_seconds": connect_seconds,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
