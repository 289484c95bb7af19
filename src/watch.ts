// The manager's current main job: connect to NB, build the replica of the
// gateway-related tables and print a live summary that follows every change.

import type { Logger } from 'pino';
import { OvsdbClient } from './ovsdb/client.js';
import type { ChangeEvent } from './ovsdb/replica.js';
import type { NbTables } from './models/ovn-nb.js';

export interface WatchOptions {
  nbRemote: string;
  logger: Logger;
  out?: (line: string) => void;
  /** Stop after the first summary (for scripts and tests). */
  once?: boolean;
}

const TABLES = ['Logical_Router', 'Logical_Router_Port', 'NAT', 'Gateway_Chassis', 'Logical_Router_Static_Route'] as const;

function describe(e: ChangeEvent): string {
  const r = e.row as Record<string, unknown>;
  switch (e.table) {
    case 'NAT':
      return `${r.type} ${r.external_ip} <-> ${r.logical_ip}`;
    case 'Logical_Router_Static_Route':
      return `${r.ip_prefix} via ${r.nexthop}`;
    case 'Gateway_Chassis':
      return `${r.name} chassis=${r.chassis_name} priority=${r.priority}`;
    default:
      return String(r.name ?? r._uuid);
  }
}

export async function watch(o: WatchOptions): Promise<() => Promise<void>> {
  const out = o.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const client = new OvsdbClient({ remote: o.nbRemote, database: 'OVN_Northbound', logger: o.logger });
  const rep = client.replica<NbTables>({
    tables: Object.fromEntries(TABLES.map((t) => [t, true])) as { [T in (typeof TABLES)[number]]: true },
    indexes: { NAT: ['type'] },
  });
  client.on('connected', (remote) => o.logger.info({ remote }, 'connected to OVN_Northbound'));
  client.on('disconnected', (err: Error) => o.logger.warn({ err: err.message }, 'disconnected, reconnecting'));
  await client.connect();
  await rep.ready;

  const summary = () => {
    const routers = rep.table('Logical_Router');
    const nat = rep.table('NAT');
    out(
      `summary: routers=${routers.size} router_ports=${rep.table('Logical_Router_Port').size} ` +
        `gateway_chassis=${rep.table('Gateway_Chassis').size} static_routes=${rep.table('Logical_Router_Static_Route').size} ` +
        `nat=${nat.size} (snat=${nat.lookup('type', 'snat').length} dnat=${nat.lookup('type', 'dnat').length} ` +
        `dnat_and_snat=${nat.lookup('type', 'dnat_and_snat').length})`,
    );
    for (const r of routers) {
      const nats = r.nat.map((u) => nat.get(u)).filter((n) => n !== undefined);
      out(`  router ${r.name}: ports=${r.ports.length} nat=${nats.map((n) => `${n.type}:${n.external_ip}`).join(',') || '-'}`);
    }
  };
  summary();
  if (o.once) {
    await client.close();
    return async () => {};
  }
  let pending: NodeJS.Timeout | undefined;
  rep.onChange((e) => {
    out(`${e.kind} ${e.table} ${describe(e)}`);
    // one summary after a burst of changes, not one per row
    if (!pending) pending = setTimeout(() => ((pending = undefined), summary()), 200);
  });
  return async () => {
    if (pending) clearTimeout(pending);
    await client.close();
  };
}
