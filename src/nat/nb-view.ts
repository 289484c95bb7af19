/**
 * The NB view the NAT and gateway layers plan against: the replica's tables
 * with the indexes these layers declare (NB_INDEXES, merged into the replica
 * spec), so that a plan finds a row by name, the rows of one object, or the
 * parent of a row by an index lookup instead of a scan of the table; and the
 * facts derived from rows that no column index gives (NbFacts: which
 * addresses are in use, which object holds which reservation), kept from the
 * replica's commits in O(change).
 *
 * `memoryNbView(rows)` is the same view over plain rows, for unit tests of the
 * pure planners, in milliseconds.
 */
import { SetMultimap } from '../multimap.js';
import type { NbTables } from '../models/ovn-nb.js';
import { asInserts, type ChangeEvent } from '../ovsdb/replica.js';
import { parseIp, parseIpOrCidr } from './ip.js';
import { IP_LEDGER_PREFIX, NAME_KEY, type NbTableName } from './rows.js';
import { OWNED_TABLES, PARENT_INDEXES } from './topology.js';
import type { GatewayPortChassis } from '../gateway/load.js';
import { PortChassisIndex, PORT_CHASSIS_TABLES } from '../gateway/port-chassis.js';

/** The owner-tag index of every owned table: its rows by object name (`ovn-natgw:name`). */
export const OBJECT_INDEX = `external_ids:${NAME_KEY}`;

/** Read access to one NB table (a replica TableView fits). */
export interface TableLike<R> {
  get(uuid: string): R | undefined;
  values(): Iterable<R>;
  /** Rows whose index (one of NB_INDEXES) has this value. */
  lookup(index: string, value: unknown): readonly R[];
}

export interface NbView {
  table<T extends NbTableName>(name: T): TableLike<NbTables[T]>;
}


/**
 * The indexes the NAT layer plans with, per table: names, the rows of each
 * object (owner tags), and the parents of child rows (a set column indexed by
 * element: "which router holds this NAT row").
 */
const OWN_INDEXES: Readonly<Partial<Record<NbTableName, readonly string[]>>> = {
  Logical_Switch: ['name', OBJECT_INDEX],
  Logical_Switch_Port: ['name', 'options:router-port', OBJECT_INDEX],
  Logical_Router: ['name', OBJECT_INDEX],
  Logical_Router_Port: ['name', 'ha_chassis_group', OBJECT_INDEX],
  Gateway_Chassis: ['chassis_name', OBJECT_INDEX],
  NAT: ['external_ip', OBJECT_INDEX],
  Logical_Router_Static_Route: [OBJECT_INDEX],
  Logical_Router_Policy: [OBJECT_INDEX],
  Load_Balancer: ['name', OBJECT_INDEX],
  BFD: [OBJECT_INDEX],
  HA_Chassis_Group: ['name', OBJECT_INDEX],
  HA_Chassis: ['chassis_name', OBJECT_INDEX],
  Address_Set: ['name', OBJECT_INDEX],
};

/** The layer's own indexes and, from the schema, the element indexes of every parent column (topology.ts). */
export const NB_INDEXES: Readonly<Partial<Record<NbTableName, readonly string[]>>> = Object.fromEntries(
  OWNED_TABLES.map((t) => [t, [...new Set([...(OWN_INDEXES[t] ?? []), ...(PARENT_INDEXES[t] ?? [])])]]),
);

/**
 * Every gateway port NB has with its chassis: router ports with
 * Gateway_Chassis rows, and HA chassis groups (`group`) with their HA_Chassis
 * rows (a BFD port's is named bfd@<vpc>). A scan of the router ports and
 * groups: for a report, or a new port's placement.
 */
export function gatewayPortChassis(nb: NbView): (GatewayPortChassis & { group: boolean })[] {
  const out: (GatewayPortChassis & { group: boolean })[] = [];
  for (const lrp of nb.table('Logical_Router_Port').values()) {
    if (lrp.gateway_chassis.length) out.push({ port: lrp.name, group: false, chassis: lrp.gateway_chassis.map((u) => nb.table('Gateway_Chassis').get(u)).filter((g) => g !== undefined) });
  }
  for (const g of nb.table('HA_Chassis_Group').values()) {
    if (g.ha_chassis.length) out.push({ port: g.name, group: true, chassis: g.ha_chassis.map((u) => nb.table('HA_Chassis').get(u)).filter((h) => h !== undefined) });
  }
  return out;
}

/**
 * The active gateway ports per chassis among the ports not in `mine` (of the
 * HA chassis groups only BFD ports', placed like gateway ports): what a new
 * port's, or an orphaned port's, least-loaded top avoids. Counted as NB
 * changes (NbFacts.gatewayPorts): O(chassis + mine), not a scan of the ports.
 */
export function otherActiveLoad(facts: NbFacts, mine: ReadonlySet<string>): Map<string, number> {
  return facts.gatewayPorts.activeLoadBut(mine);
}

/** A row by its name (the first, when a table allows several). */
export function byName<T extends NbTableName>(nb: NbView, table: T, name: string): NbTables[T] | undefined {
  return nb.table(table).lookup('name', name)[0];
}

/** The rows holding `uuid` in a child column, per parent table and column ("which router holds this NAT row"). */
export function holdersOf(nb: NbView, parents: readonly (readonly [NbTableName, string])[], uuid: string): { table: NbTableName; column: string; uuid: string }[] {
  const out: { table: NbTableName; column: string; uuid: string }[] = [];
  for (const [pt, col] of parents) for (const p of nb.table(pt).lookup(col, uuid)) out.push({ table: pt, column: col, uuid: (p as { _uuid: string })._uuid });
  return out;
}

type AnyRow = { _uuid: string } & Record<string, unknown>;

/** The IP addresses a switch port holds ("MAC IP [IP...]" entries, or dynamic_addresses). */
function portIps(p: AnyRow): string[] {
  const out: string[] = [];
  const addrs = [...(p.addresses as readonly string[]), ...(p.dynamic_addresses ? [p.dynamic_addresses as string] : [])];
  for (const a of addrs) {
    for (const w of a.split(/\s+/).slice(1)) {
      const ip = parseIp(w.split('/')[0]);
      if (ip && !out.includes(ip.text)) out.push(ip.text);
    }
  }
  return out;
}

function routerPortIps(p: AnyRow): string[] {
  const out: string[] = [];
  for (const n of p.networks as readonly string[]) {
    const ip = parseIpOrCidr(n);
    if (ip) out.push(ip.ip.text);
  }
  return out;
}

/** A multiset: how many rows hold a key. */
class Counts {
  private readonly m = new Map<string, number>();
  add(k: string): void {
    this.m.set(k, (this.m.get(k) ?? 0) + 1);
  }
  remove(k: string): void {
    const n = (this.m.get(k) ?? 0) - 1;
    if (n <= 0) this.m.delete(k);
    else this.m.set(k, n);
  }
  has(k: string): boolean {
    return this.m.has(k);
  }
  clear(): void {
    this.m.clear();
  }
}

/**
 * Facts about NB that no column index gives, kept from the replica's commits:
 *  - the addresses router ports hold (their networks, without prefix);
 *  - the addresses switch ports hold, per port;
 *  - the address reservations in switches' ledgers, by holder
 *    ("<owner>/<kind>/<name>" -> switch uuid -> its addresses there), followed
 *    key by key from the updates' diffs, never by copying a ledger.
 */
export class NbFacts {
  private readonly lrpIps = new Counts();
  private readonly lspIps = new Map<string, string[]>();
  /** ip -> the switch ports that hold it */
  private readonly lspByIp = new SetMultimap<string, string>();
  /** switch uuid -> holder -> the addresses it holds there (few switches; most holders hold one address) */
  private readonly held = new Map<string, SetMultimap<string, string>>();
  /** gateway ports and their chassis, with the active count per chassis (src/gateway/port-chassis.ts) */
  gatewayPorts = new PortChassisIndex();

  constructor(private readonly nb: NbView) {
    this.rebuild();
  }

  /** From scratch (at start, and after a full resync). */
  rebuild(): void {
    this.lrpIps.clear();
    this.lspIps.clear();
    this.lspByIp.clear();
    this.held.clear();
    this.gatewayPorts = new PortChassisIndex();
    this.gatewayPorts.note(asInserts(this.nb, PORT_CHASSIS_TABLES));
    for (const p of this.nb.table('Logical_Router_Port').values()) for (const ip of routerPortIps(p as unknown as AnyRow)) this.lrpIps.add(ip);
    for (const p of this.nb.table('Logical_Switch_Port').values()) this.setPort(p._uuid, portIps(p as unknown as AnyRow));
    for (const ls of this.nb.table('Logical_Switch').values()) {
      for (const [k, v] of ls.external_ids) if (k.startsWith(IP_LEDGER_PREFIX)) this.hold(v, ls._uuid, k.slice(IP_LEDGER_PREFIX.length));
    }
  }

  /** Follows one commit's changes; returns the holders whose reservations changed. */
  apply(changes: readonly ChangeEvent[]): Set<string> {
    const moved = new Set<string>();
    this.gatewayPorts.note(changes);
    for (const e of changes) {
      const row = e.row as AnyRow;
      const old = e.old as AnyRow | undefined;
      if (e.table === 'Logical_Router_Port') {
        if (e.kind !== 'insert' && (e.kind === 'delete' || old!.networks !== row.networks)) for (const ip of routerPortIps(e.kind === 'delete' ? row : old!)) this.lrpIps.remove(ip);
        if (e.kind !== 'delete' && (e.kind === 'insert' || old!.networks !== row.networks)) for (const ip of routerPortIps(row)) this.lrpIps.add(ip);
      } else if (e.table === 'Logical_Switch_Port') {
        if (e.kind === 'delete') this.setPort(row._uuid, []);
        else if (e.kind === 'insert' || old!.addresses !== row.addresses || old!.dynamic_addresses !== row.dynamic_addresses) this.setPort(row._uuid, portIps(row));
      } else if (e.table === 'Logical_Switch') {
        const ext = row.external_ids as ReadonlyMap<string, string>;
        if (e.kind === 'insert') {
          for (const [k, v] of ext) if (k.startsWith(IP_LEDGER_PREFIX)) (this.hold(v, row._uuid, k.slice(IP_LEDGER_PREFIX.length)), moved.add(v));
        } else if (e.kind === 'delete') {
          for (const [k, v] of ext) if (k.startsWith(IP_LEDGER_PREFIX)) (this.release(v, row._uuid, k.slice(IP_LEDGER_PREFIX.length)), moved.add(v));
        } else if (old!.external_ids !== ext) {
          const before = old!.external_ids as ReadonlyMap<string, string>;
          // the keys the server says changed (a whole-row update: every key)
          const keys = e.diff?.has('external_ids') ? [...(e.diff.get('external_ids') as ReadonlyMap<string, string>).keys()] : [...new Set([...before.keys(), ...ext.keys()])];
          for (const k of keys) {
            if (!k.startsWith(IP_LEDGER_PREFIX)) continue;
            const ip = k.slice(IP_LEDGER_PREFIX.length);
            const a = before.get(k);
            const b = ext.get(k);
            if (a === b) continue;
            if (a !== undefined) (this.release(a, row._uuid, ip), moved.add(a));
            if (b !== undefined) (this.hold(b, row._uuid, ip), moved.add(b));
          }
        }
      }
    }
    return moved;
  }

  private setPort(uuid: string, ips: string[]): void {
    for (const ip of this.lspIps.get(uuid) ?? []) this.lspByIp.delete(ip, uuid);
    if (ips.length === 0) {
      this.lspIps.delete(uuid);
      return;
    }
    this.lspIps.set(uuid, ips);
    for (const ip of ips) this.lspByIp.add(ip, uuid);
  }

  private hold(holder: string, sw: string, ip: string): void {
    let m = this.held.get(sw);
    if (!m) this.held.set(sw, (m = new SetMultimap()));
    m.add(holder, ip);
  }

  private release(holder: string, sw: string, ip: string): void {
    const m = this.held.get(sw);
    if (!m) return;
    m.delete(holder, ip);
    if (m.size === 0) this.held.delete(sw);
  }

  /** Is the address a router port's (any router, any prefix)? */
  routerPortHas(ip: string): boolean {
    return this.lrpIps.has(ip);
  }

  /** Is the address held by a port of this switch (an address may repeat on other switches)? */
  switchPortHas(swUuid: string, ip: string): boolean {
    for (const u of this.lspByIp.get(ip) ?? []) if (this.nb.table('Logical_Switch').lookup('ports', u).some((s) => s._uuid === swUuid)) return true;
    return false;
  }

  /** Any port of any switch holds it (for the port's own row, see lspIps). */
  ipsOfPort(uuid: string): readonly string[] {
    return this.lspIps.get(uuid) ?? [];
  }

  /** Where a holder ("<owner>/<kind>/<name>") has reservations: switch uuid -> addresses. */
  reservationsOf(holder: string): ReadonlyMap<string, ReadonlySet<string>> {
    const out = new Map<string, Set<string>>();
    for (const [sw, m] of this.held) if (m.has(holder)) out.set(sw, new Set(m.get(holder)));
    return out;
  }

  /** Every holder with reservations whose owner prefix is `prefix` ("<owner>/"). */
  *holders(prefix: string): Iterable<string> {
    if (this.held.size === 1) {
      for (const m of this.held.values()) for (const h of m.keys()) if (h.startsWith(prefix)) yield h;
      return;
    }
    const seen = new Set<string>();
    for (const m of this.held.values()) {
      for (const h of m.keys()) {
        if (!h.startsWith(prefix) || seen.has(h)) continue;
        seen.add(h);
        yield h;
      }
    }
  }
}

/**
 * An NbView over plain rows (table -> rows with _uuid), indexes computed by a
 * scan: the pure planners' unit tests run against it without a server.
 */
export function memoryNbView(tables: Partial<{ [T in NbTableName]: readonly Partial<NbTables[T]>[] }>): NbView {
  const views = new Map<string, TableLike<unknown>>();
  return {
    table<T extends NbTableName>(name: T): TableLike<NbTables[T]> {
      let v = views.get(name);
      if (!v) {
        const rows = new Map<string, AnyRow>();
        for (const r of (tables[name] ?? []) as readonly AnyRow[]) rows.set(r._uuid, r);
        v = {
          get: (u: string) => rows.get(u),
          values: () => rows.values(),
          lookup(index: string, value: unknown) {
            const colon = index.indexOf(':');
            const col = colon < 0 ? index : index.slice(0, colon);
            const key = colon < 0 ? undefined : index.slice(colon + 1);
            const out: AnyRow[] = [];
            for (const r of rows.values()) {
              const c = r[col];
              const vals = key !== undefined ? (c instanceof Map && c.has(key) ? [c.get(key)] : []) : Array.isArray(c) ? c : c instanceof Map ? [...c.keys()] : c === null || c === undefined ? [] : [c];
              if (vals.includes(value)) out.push(r);
            }
            return out;
          },
        } as TableLike<unknown>;
        views.set(name, v);
      }
      return v as TableLike<NbTables[T]>;
    },
  };
}
