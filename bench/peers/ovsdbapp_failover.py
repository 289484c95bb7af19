#!/usr/bin/python3
"""Failovers through ovsdbapp (OvnNbApiIdlImpl), the peer of ovn-natgw's
failover: per round, the gateway chassis with the most active ports (highest
priority) is taken as dead; from the IDL, every router port with a
Gateway_Chassis on it loses that row and gets a spare chassis (one of the
given chassis the port does not have, round robin) at a priority below the
others, all in one transaction. Timed from the plan's start to the commit's
reply (the IDL's own sync first, not timed). Run with Debian's
/usr/bin/python3 (ovsdbapp + the OVS python IDL).

usage: ovsdbapp_failover.py NB_REMOTE CHASSIS[,CHASSIS...] ROUNDS

Prints one JSON object on stdout: {"ms": [..], "ports": [..]}.
"""
import json
import sys
import time

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.ovn_northbound import impl_idl


def main():
    remote, chassis, rounds = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    idl = connection.OvsdbIdl.from_server(remote, "OVN_Northbound")
    conn = connection.Connection(idl=idl, timeout=600)
    api = impl_idl.OvnNbApiIdlImpl(conn)
    out = {"ms": [], "ports": []}
    spare_at = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        lrps = api.tables["Logical_Router_Port"].rows.values()
        # who leads what, from the IDL
        active = {}
        for lrp in lrps:
            gcs = sorted(lrp.gateway_chassis, key=lambda g: -g.priority)
            if gcs and gcs[0].chassis_name in chassis:
                active[gcs[0].chassis_name] = active.get(gcs[0].chassis_name, 0) + 1
        dead = max(sorted(active), key=lambda c: active[c])
        moved = 0
        with api.transaction(check_error=True) as txn:
            for lrp in lrps:
                names = [g.chassis_name for g in lrp.gateway_chassis]
                if dead not in names:
                    continue
                moved += 1
                txn.add(api.lrp_del_gateway_chassis(lrp.name, dead))
                left = [c for c in chassis if c not in names]
                spare = left[spare_at % len(left)]
                spare_at += 1
                low = min(g.priority for g in lrp.gateway_chassis)
                txn.add(api.lrp_set_gateway_chassis(lrp.name, spare, max(0, low - 1)))
        out["ms"].append((time.perf_counter() - t0) * 1000)
        out["ports"].append(moved)
    conn.stop()
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
