/**
 * Per-object status read back from NB (what `ovn-natgwctl get` prints, like
 * `kubectl get ofip`), and deletion of one object's rows. Pure functions over
 * an NB view.
 */
import type { Operation } from '../ovsdb/operations.js';
import { CHILD_COLUMNS, OWNED_TABLES, PARENTS, ROOT, clearRootRefs } from './plan.js';
import { IP_LEDGER_PREFIX, KIND_KEY, NAME_KEY, OWNER_KEY, PART_KEY, PlanError, type NbView } from './rows.js';

type AnyRow = { _uuid: string; external_ids: ReadonlyMap<string, string> } & Record<string, unknown>;

export const KIND_ALIASES: Record<string, string> = {
  ofip: 'OvnFip',
  ovnfip: 'OvnFip',
  ovnfips: 'OvnFip',
  oeip: 'OvnEip',
  ovneip: 'OvnEip',
  ovneips: 'OvnEip',
  osnat: 'OvnSnatRule',
  ovnsnatrule: 'OvnSnatRule',
  ovnsnatrules: 'OvnSnatRule',
  odnat: 'OvnDnatRule',
  ovndnatrule: 'OvnDnatRule',
  ovndnatrules: 'OvnDnatRule',
  vpc: 'Vpc',
  vpcs: 'Vpc',
  subnet: 'Subnet',
  subnets: 'Subnet',
  vip: 'Vip',
  vips: 'Vip',
};

export function canonicalKind(k: string): string | undefined {
  return KIND_ALIASES[k.toLowerCase()];
}

export interface ObjectStatus {
  kind: string;
  name: string;
  vpc: string;
  v4Eip: string;
  v4Ip: string;
  v6Eip: string;
  v6Ip: string;
  /**
   * Its rows are in NB and, for a Vpc and the NAT kinds, traffic has a way
   * out: the router has a gateway port with a gateway chassis (one that SB
   * knows, when SB is read).
   */
  ready: boolean;
  /** why it is not ready ("" when it is) */
  reason: string;
  rows: { table: string; uuid: string; part: string }[];
  /** Vpc: its static routes, with the BFD session of the next hop and its status as NB reports it */
  staticRoutes?: RouteStatus[];
  /** Vpc: its router policies */
  policyRoutes?: { priority: number; match: string; action: string; nextHopIP: string[] }[];
  /** Vpc: the BFD sessions it owns (of routes' next hops and of enableBfd), with their status as NB reports it */
  bfdSessions?: { logicalPort: string; dstIp: string; status: string }[];
}

export interface RouteStatus {
  cidr: string;
  nextHopIP: string;
  policy: string;
  routeTable: string;
  /** another route with the same table, policy and prefix: ECMP */
  ecmp: boolean;
  /** BFD towards the next hop: its session status ("up", "down", "admin_down"; "" until ovn-northd reports one) */
  bfd?: { logicalPort: string; minTx: number | null; minRx: number | null; detectMult: number | null; status: string };
}

export interface StatusOptions {
  /** the SB chassis by name: a gateway chassis counts only if it is one (undefined: NB alone decides) */
  chassis?: ReadonlySet<string>;
}

const NAT_KINDS: ReadonlySet<string> = new Set(['OvnFip', 'OvnSnatRule', 'OvnDnatRule']);

/** A router's gateway ports (not BFD-only ones) with their gateway chassis names, from Gateway_Chassis or an HA_Chassis_Group. */
function gatewayPorts(nb: NbView, router: string): { port: string; chassis: string[] }[] {
  const lr = [...nb.table('Logical_Router').values()].find((r) => r.name === router);
  if (!lr) return [];
  const out: { port: string; chassis: string[] }[] = [];
  for (const u of lr.ports) {
    const p = nb.table('Logical_Router_Port').get(u);
    if (!p || p.options.get('bfd-only') === 'true') continue;
    const chassis = p.gateway_chassis.map((g) => nb.table('Gateway_Chassis').get(g)?.chassis_name ?? '').filter(Boolean);
    const group = p.ha_chassis_group ? nb.table('HA_Chassis_Group').get(p.ha_chassis_group) : undefined;
    for (const h of group?.ha_chassis ?? []) {
      const c = nb.table('HA_Chassis').get(h)?.chassis_name;
      if (c) chassis.push(c);
    }
    if (chassis.length > 0 || p.external_ids.get(PART_KEY)?.startsWith('external:')) out.push({ port: p.name, chassis });
  }
  return out;
}

/**
 * Why traffic through `ports` (a router's gateway ports) has no way out ("" when
 * it has one): `allPorts` wants every port served (a Vpc), else one (a NAT rule).
 */
function noWayOut(router: string, ports: readonly { port: string; chassis: string[] }[], opts: StatusOptions, allPorts: boolean): string {
  if (!router) return 'not on any router';
  if (ports.length === 0) return `router ${router} has no gateway port`;
  const live = (p: { chassis: string[] }) => p.chassis.some((c) => !opts.chassis || opts.chassis.has(c));
  const dead = ports.filter((p) => !live(p));
  if (allPorts ? dead.length === 0 : dead.length < ports.length) return '';
  const p = dead[0];
  return p.chassis.length === 0 ? `gateway port ${p.port} has no gateway chassis` : `none of the gateway chassis of ${p.port} (${p.chassis.join(', ')}) is an SB chassis`;
}

/** The objects of a kind (or one) that ovn-natgw owns in NB, with what they map to. */
export function objectStatus(nb: NbView, owner: string, kind: string, name?: string, opts: StatusOptions = {}): ObjectStatus[] {
  const routerOf = new Map<string, string>();
  for (const lr of nb.table('Logical_Router').values()) {
    for (const col of ['nat', 'load_balancer', 'ports', 'static_routes', 'policies'] as const) for (const u of lr[col]) routerOf.set(u, lr.name);
  }
  const byName = new Map<string, ObjectStatus>();
  const get = (n: string) => {
    let s = byName.get(n);
    if (!s) byName.set(n, (s = { kind, name: n, vpc: '', v4Eip: '', v4Ip: '', v6Eip: '', v6Ip: '', ready: false, reason: '', rows: [] }));
    return s;
  };
  for (const t of OWNED_TABLES) {
    for (const r of nb.table(t).values() as Iterable<AnyRow>) {
      if (r.external_ids.get(OWNER_KEY) !== owner || r.external_ids.get(KIND_KEY) !== kind) continue;
      const n = r.external_ids.get(NAME_KEY)!;
      if (name !== undefined && n !== name) continue;
      const s = get(n);
      s.rows.push({ table: t, uuid: r._uuid, part: r.external_ids.get(PART_KEY) ?? '' });
      if (routerOf.has(r._uuid)) s.vpc = routerOf.get(r._uuid)!;
      if (t === 'Logical_Router') s.vpc = String(r.name);
      if (t === 'NAT') {
        const v6 = String(r.external_ip).includes(':');
        if (v6) {
          s.v6Eip = String(r.external_ip);
          s.v6Ip = String(r.logical_ip);
        } else {
          s.v4Eip = String(r.external_ip);
          s.v4Ip = String(r.logical_ip);
        }
      }
      if (t === 'Logical_Router_Static_Route') {
        const b = r.bfd ? nb.table('BFD').get(String(r.bfd)) : undefined;
        (s.staticRoutes ??= []).push({
          cidr: String(r.ip_prefix),
          nextHopIP: String(r.nexthop),
          policy: String(r.policy ?? 'dst-ip'),
          routeTable: String(r.route_table),
          ecmp: false,
          ...(b ? { bfd: { logicalPort: b.logical_port, minTx: b.min_tx, minRx: b.min_rx, detectMult: b.detect_mult, status: b.status ?? '' } } : {}),
        });
      }
      if (t === 'BFD') {
        (s.bfdSessions ??= []).push({ logicalPort: String(r.logical_port), dstIp: String(r.dst_ip), status: String(r.status ?? '') });
      }
      if (t === 'Logical_Router_Policy') {
        (s.policyRoutes ??= []).push({ priority: Number(r.priority), match: String(r.match), action: String(r.action), nextHopIP: [...(r.nexthops as readonly string[])].sort() });
      }
      if (t === 'Load_Balancer') {
        for (const [vip, backend] of r.vips as ReadonlyMap<string, string>) {
          if (vip.startsWith('[')) {
            s.v6Eip = vip;
            s.v6Ip = backend;
          } else {
            s.v4Eip = vip;
            s.v4Ip = backend;
          }
        }
      }
    }
  }
  // reservations (EIPs, VIPs: no rows of their own)
  for (const ls of nb.table('Logical_Switch').values()) {
    for (const [k, v] of ls.external_ids) {
      const prefix = `${owner}/${kind}/`;
      if (!k.startsWith(IP_LEDGER_PREFIX) || !v.startsWith(prefix)) continue;
      const n = v.slice(prefix.length);
      if (name !== undefined && n !== name) continue;
      const ip = k.slice(IP_LEDGER_PREFIX.length);
      const s = get(n);
      if (kind === 'OvnEip' || kind === 'Vip' || kind === 'Vpc') {
        if (ip.includes(':')) s.v6Ip = s.v6Ip || ip;
        else s.v4Ip = s.v4Ip || ip;
      }
      s.rows.push({ table: 'Logical_Switch', uuid: ls._uuid, part: `reservation ${ip} on ${ls.name}` });
    }
  }
  /** gateway ports per router, found once for all the objects on it */
  const portsOf = new Map<string, ReturnType<typeof gatewayPorts>>();
  for (const s of byName.values()) {
    // a Vpc needs each of its gateway ports served (if it has any); a NAT rule one of its router's
    if (kind === 'Vpc' || NAT_KINDS.has(kind)) {
      let ports = portsOf.get(s.vpc);
      if (!ports) portsOf.set(s.vpc, (ports = gatewayPorts(nb, s.vpc)));
      if (kind !== 'Vpc') s.reason = noWayOut(s.vpc, ports, opts, false);
      else if (ports.length > 0) s.reason = noWayOut(s.vpc, ports, opts, true);
    }
    s.ready = s.reason === '';
    const routes = s.staticRoutes ?? [];
    const group = (x: RouteStatus) => `${x.routeTable}\0${x.policy}\0${x.cidr}`;
    for (const x of routes) x.ecmp = routes.some((y) => y !== x && group(y) === group(x));
    routes.sort((a, b) => (group(a) < group(b) ? -1 : group(a) > group(b) ? 1 : a.nextHopIP < b.nextHopIP ? -1 : 1));
    s.policyRoutes?.sort((a, b) => b.priority - a.priority || (a.match < b.match ? -1 : 1));
    s.bfdSessions?.sort((a, b) => (a.logicalPort + a.dstIp < b.logicalPort + b.dstIp ? -1 : 1));
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** kubectl-like table. */
export function formatStatus(kind: string, list: readonly ObjectStatus[]): string {
  const eip = kind === 'OvnEip' || kind === 'Vip';
  let head = eip ? ['NAME', 'V4IP', 'V6IP', 'READY'] : ['NAME', 'VPC', 'V4EIP', 'V4IP', 'V6EIP', 'V6IP', 'READY'];
  let rows = list.map((s) => (eip ? [s.name, s.v4Ip, s.v6Ip, String(s.ready)] : [s.name, s.vpc, s.v4Eip, s.v4Ip, s.v6Eip, s.v6Ip, String(s.ready)]));
  if (kind === 'Vpc') {
    head = ['NAME', 'V4IP', 'V6IP', 'ROUTES', 'POLICIES', 'BFD', 'READY'];
    rows = list.map((s) => [s.name, s.v4Ip, s.v6Ip, String(s.staticRoutes?.length ?? 0), String(s.policyRoutes?.length ?? 0), bfdSummary(s), String(s.ready)]);
  }
  if (list.some((s) => !s.ready)) {
    head = [...head, 'REASON'];
    rows = rows.map((r, i) => [...r, list[i].reason]);
  }
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(width[i])).join('   ').trimEnd()).join('\n') + '\n';
}

/**
 * "up=2 down=1" over the BFD sessions of a Vpc ("-" without any): those of its
 * routes (one per route, also a BFD row named by bfdId) and those it owns that
 * no route uses (enableBfd's); a session not reported yet counts as "unknown".
 */
function bfdSummary(s: ObjectStatus): string {
  const n = new Map<string, number>();
  const count = (status: string) => n.set(status || 'unknown', (n.get(status || 'unknown') ?? 0) + 1);
  const routes = s.staticRoutes ?? [];
  for (const r of routes) if (r.bfd) count(r.bfd.status);
  for (const b of s.bfdSessions ?? []) if (!routes.some((r) => r.bfd?.logicalPort === b.logicalPort && r.nextHopIP === b.dstIp)) count(b.status);
  return n.size ? [...n].sort().map(([k, v]) => `${k}=${v}`).join(' ') : '-';
}

/** Who a row belongs to, for a refusal: "Vpc vpc1 (Logical_Switch_Port external204-vpc1)" or the row itself. */
function holderOf(r: AnyRow, table: string): string {
  const what = `${table} ${typeof r.name === 'string' ? r.name : r._uuid}`;
  const k = r.external_ids.get(KIND_KEY);
  if (r.external_ids.has(OWNER_KEY) && k) return `${k} ${r.external_ids.get(NAME_KEY)} (${what})`;
  return what;
}

/**
 * Operations that delete one object's rows and reservations (one
 * transaction). An EIP that a NAT row or DNAT balancer still uses is refused.
 */
export function deleteOps(nb: NbView, owner: string, kind: string, name: string): { ops: Operation[]; removed: string[] } {
  const who = `${owner}/${kind}/${name}`;
  const ops: Operation[] = [];
  const removed: string[] = [];
  if (kind === 'OvnEip') {
    const ips = new Set<string>();
    for (const ls of nb.table('Logical_Switch').values()) for (const [k, v] of ls.external_ids) if (k.startsWith(IP_LEDGER_PREFIX) && v === who) ips.add(k.slice(IP_LEDGER_PREFIX.length));
    const users: string[] = [];
    for (const nat of nb.table('NAT').values()) {
      if (ips.has(nat.external_ip)) users.push(`${nat.external_ids.get(KIND_KEY) ?? 'NAT'} ${nat.external_ids.get(NAME_KEY) ?? nat._uuid}`);
    }
    for (const lb of nb.table('Load_Balancer').values()) {
      for (const vip of lb.vips.keys()) if (ips.has(vip.replace(/^\[/, '').replace(/\]?:\d+$/, ''))) users.push(`${lb.external_ids.get(KIND_KEY) ?? 'Load_Balancer'} ${lb.external_ids.get(NAME_KEY) ?? lb.name}`);
    }
    if (users.length > 0) {
      throw new PlanError([{ kind, name, field: 'metadata.name', reason: `in use by ${[...new Set(users)].join(', ')}; delete those first` }]);
    }
  }
  const isObjects = (r: AnyRow) => r.external_ids.get(OWNER_KEY) === owner && r.external_ids.get(KIND_KEY) === kind && r.external_ids.get(NAME_KEY) === name;
  // a switch or router of this object that holds rows of anything else (another object, another
  // owner, the CNI) would take them along: refused, as the planner keeps such a switch
  const others: string[] = [];
  for (const t of ['Logical_Switch', 'Logical_Router'] as const) {
    for (const r of nb.table(t).values() as Iterable<AnyRow>) {
      if (!isObjects(r)) continue;
      for (const [col, ct] of CHILD_COLUMNS[t]) {
        for (const u of r[col] as readonly string[]) {
          const c = nb.table(ct).get(u) as AnyRow | undefined;
          if (c && !isObjects(c)) others.push(holderOf(c, ct));
        }
      }
      for (const [k, v] of r.external_ids) if (k.startsWith(IP_LEDGER_PREFIX) && v !== who) others.push(`reservation ${k.slice(IP_LEDGER_PREFIX.length)} of ${v}`);
    }
  }
  if (others.length > 0) {
    const list = [...new Set(others)];
    throw new PlanError([{ kind, name, field: 'metadata.name', reason: `its ${kind === 'Vpc' ? 'router' : 'switch'} holds ${list.slice(0, 5).join(', ')}${list.length > 5 ? `, and ${list.length - 5} more` : ''}; delete those first` }]);
  }
  for (const t of OWNED_TABLES) {
    for (const r of nb.table(t).values() as Iterable<AnyRow>) {
      if (!isObjects(r)) continue;
      removed.push(`${t} ${r._uuid}`);
      if (ROOT.has(t)) {
        ops.push({ op: 'delete', table: t, where: [['_uuid', '==', r._uuid]] });
        continue;
      }
      ops.push(...clearRootRefs(t, r));
      for (const [pt, col] of PARENTS[t] ?? []) {
        for (const p of nb.table(pt).values() as Iterable<AnyRow>) {
          if ((p[col] as readonly string[]).includes(r._uuid)) ops.push({ op: 'mutate', table: pt, where: [['_uuid', '==', p._uuid]], mutations: [[col, 'delete', [r._uuid]]] });
        }
      }
    }
  }
  for (const ls of nb.table('Logical_Switch').values()) {
    const keys = [...ls.external_ids].filter(([k, v]) => k.startsWith(IP_LEDGER_PREFIX) && v === who).map(([k]) => k);
    if (keys.length) {
      ops.push({ op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', ls._uuid]], mutations: [['external_ids', 'delete', keys]] });
      for (const k of keys) removed.push(`reservation ${k.slice(IP_LEDGER_PREFIX.length)} on ${ls.name}`);
    }
  }
  return { ops, removed };
}
