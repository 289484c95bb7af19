/**
 * ovn-natgw's own OVSDB client as a benchmark contender.
 *
 *  - natgwApply: connect to nbRemote (an empty NB database) and apply the whole
 *    workload (returns connect and apply times apart; apply is timed like the raw limit),
 *    workload with the typed operation builders, one transaction per router
 *    (the same transactions the raw limit sends), all pipelined; resolves once
 *    the server has committed all of them. Values are validated against the
 *    schema before sending, as in production use.
 *  - natgwReplica: connect, build an in-memory replica of ALL NB tables (all
 *    columns) and resolve once the initial contents are in it; also says how
 *    long the sync alone took (monitor request to ready).
 */
import { performance } from 'node:perf_hooks';
import { OvsdbClient } from '../../src/ovsdb/client.js';
import { ops, type Operation } from '../../src/ovsdb/operations.js';
import type { Workload, RouterSpec } from '../workload.js';

export function routerOps(r: RouterSpec): Operation[] {
  const out: Operation[] = [];
  const gcNames: string[] = [];
  r.port.gatewayChassis.forEach((gc, k) => {
    const n = `gc${k}`;
    gcNames.push(n);
    out.push(ops.insert('Gateway_Chassis', { name: gc.name, chassis_name: gc.chassisName, priority: gc.priority }, n));
  });
  out.push(ops.insert('Logical_Router_Port', { name: r.port.name, mac: r.port.mac, networks: r.port.networks, gateway_chassis: gcNames }, 'lrp'));
  const natNames: string[] = [];
  const nat = (n: RouterSpec['snat'], name: string) => {
    natNames.push(name);
    out.push(ops.insert('NAT', { type: n.type, external_ip: n.externalIp, logical_ip: n.logicalIp, ...(n.externalIds ? { external_ids: new Map(Object.entries(n.externalIds)) } : {}) }, name));
  };
  nat(r.snat, 'snat');
  r.fips.forEach((f, k) => nat(f, `fip${k}`));
  const routeNames = r.routes.map((rt, k) => {
    out.push(ops.insert('Logical_Router_Static_Route', { ip_prefix: rt.ipPrefix, nexthop: rt.nexthop }, `rt${k}`));
    return `rt${k}`;
  });
  out.push(
    ops.insert('Logical_Router', { name: r.name, external_ids: new Map(Object.entries(r.externalIds)), ports: ['lrp'], nat: natNames, static_routes: routeNames }, 'lr'),
  );
  return out;
}

export async function natgwApply(nbRemote: string, w: Workload): Promise<{ connectSeconds: number; applySeconds: number }> {
  const client = new OvsdbClient({ remote: nbRemote, database: 'OVN_Northbound', reconnect: false });
  try {
    const t0 = performance.now();
    await client.connect(30_000);
    const t1 = performance.now();
    await Promise.all(w.routers.map((r) => client.transact(routerOps(r))));
    const t2 = performance.now();
    return { connectSeconds: (t1 - t0) / 1000, applySeconds: (t2 - t1) / 1000 };
  } finally {
    await client.close();
  }
}

export async function natgwReplica(nbRemote: string): Promise<{ rows: number; syncSeconds: number }> {
  const client = new OvsdbClient({ remote: nbRemote, database: 'OVN_Northbound', reconnect: false });
  try {
    await client.connect(30_000);
    const schema = client.schema!;
    const tables = Object.fromEntries([...schema.tables.keys()].map((t) => [t, true as const]));
    // the initial sync alone, from the monitor request (as server-send is timed) to ready
    const t0 = performance.now();
    const rep = client.replica({ tables });
    await rep.ready;
    const syncSeconds = (performance.now() - t0) / 1000;
    let rows = 0;
    for (const t of schema.tables.keys()) rows += rep.table(t).size;
    return { rows, syncSeconds };
  } finally {
    await client.close();
  }
}
