/**
 * Per-object status read back from NB (what `ovn-natgwctl get` prints, like
 * `kubectl get ofip`). Pure functions over an NB view.
 */
import type { ManifestObject } from './objects.js';
import { sourceOf } from './manifest.js';
import { OWNED_TABLES } from './topology.js';
import { IP_LEDGER_PREFIX, KIND_KEY, NAME_KEY, OWNER_KEY, PART_KEY } from './rows.js';
import type { StoredObjects } from './store.js';
import { OBJECT_INDEX, byName, type NbView } from './nb-view.js';

type AnyRow = { _uuid: string; external_ids: ReadonlyMap<string, string> } & Record<string, unknown>;

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
  /** only these objects of the kind (by index lookups, not a scan) */
  names?: readonly string[];
  /** the reservations by holder (NbFacts), so that those of named objects are not read from every ledger */
  reservations?: { reservationsOf(holder: string): ReadonlyMap<string, ReadonlySet<string>> };
}

/** The columns of a router that hold rows of its own. */
const ROUTER_CHILDREN = ['nat', 'load_balancer', 'ports', 'static_routes', 'policies'] as const;

const NAT_KINDS: ReadonlySet<string> = new Set(['OvnFip', 'OvnSnatRule', 'OvnDnatRule']);

/** A router's gateway ports (not BFD-only ones) with their gateway chassis names, from Gateway_Chassis or an HA_Chassis_Group. */
function gatewayPorts(nb: NbView, router: string): { port: string; chassis: string[] }[] {
  const lr = byName(nb, 'Logical_Router', router);
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

/**
 * The objects of a kind (or one) that ovn-natgw owns in NB, with what they
 * map to. With `name` (or `opts.names`) by the object index and the parents'
 * element indexes, in O(their rows), reservations from `opts.reservations`
 * when given; a whole kind by a scan.
 */
export function objectStatus(nb: NbView, owner: string, kind: string, name?: string, opts: StatusOptions = {}): ObjectStatus[] {
  const names = name !== undefined ? [name] : opts.names;
  const wanted = names ? new Set(names) : undefined;
  let routerOf: (uuid: string) => string | undefined;
  if (wanted) {
    routerOf = (u) => {
      for (const col of ROUTER_CHILDREN) {
        const lr = nb.table('Logical_Router').lookup(col, u)[0];
        if (lr) return lr.name;
      }
      return undefined;
    };
  } else {
    const m = new Map<string, string>();
    for (const lr of nb.table('Logical_Router').values()) for (const col of ROUTER_CHILDREN) for (const u of lr[col]) m.set(u, lr.name);
    routerOf = (u) => m.get(u);
  }
  const byName = new Map<string, ObjectStatus>();
  const get = (n: string) => {
    let s = byName.get(n);
    if (!s) byName.set(n, (s = { kind, name: n, vpc: '', v4Eip: '', v4Ip: '', v6Eip: '', v6Ip: '', ready: false, reason: '', rows: [] }));
    return s;
  };
  const candidates = function* (t: (typeof OWNED_TABLES)[number]): Iterable<AnyRow> {
    if (!wanted) yield* nb.table(t).values() as Iterable<AnyRow>;
    else for (const n of wanted) yield* nb.table(t).lookup(OBJECT_INDEX, n) as unknown as readonly AnyRow[];
  };
  for (const t of OWNED_TABLES) {
    for (const r of candidates(t)) {
      if (r.external_ids.get(OWNER_KEY) !== owner || r.external_ids.get(KIND_KEY) !== kind) continue;
      const n = r.external_ids.get(NAME_KEY)!;
      if (wanted && !wanted.has(n)) continue;
      const s = get(n);
      s.rows.push({ table: t, uuid: r._uuid, part: r.external_ids.get(PART_KEY) ?? '' });
      const router = routerOf(r._uuid);
      if (router !== undefined) s.vpc = router;
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
  const reserved = (n: string, ip: string, ls: { _uuid: string; name: string }) => {
    const s = get(n);
    if (kind === 'OvnEip' || kind === 'Vip' || kind === 'Vpc') {
      if (ip.includes(':')) s.v6Ip = s.v6Ip || ip;
      else s.v4Ip = s.v4Ip || ip;
    }
    s.rows.push({ table: 'Logical_Switch', uuid: ls._uuid, part: `reservation ${ip} on ${ls.name}` });
  };
  if (wanted && opts.reservations) {
    for (const n of wanted) {
      for (const [sw, ips] of opts.reservations.reservationsOf(`${owner}/${kind}/${n}`)) {
        const ls = nb.table('Logical_Switch').get(sw);
        if (ls) for (const ip of [...ips].sort()) reserved(n, ip, ls);
      }
    }
  } else {
    const prefix = `${owner}/${kind}/`;
    for (const ls of nb.table('Logical_Switch').values()) {
      for (const [k, v] of ls.external_ids) {
        if (!k.startsWith(IP_LEDGER_PREFIX) || !v.startsWith(prefix)) continue;
        const n = v.slice(prefix.length);
        if (wanted && !wanted.has(n)) continue;
        reserved(n, k.slice(IP_LEDGER_PREFIX.length), ls);
      }
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

/** Kinds that are only settings: no rows of their own, ready once applied. */
const SETTINGS: ReadonlySet<string> = new Set(['ProviderNetwork', 'Vlan', 'ConfigMap']);

/** One object as `get` shows it: what NB holds of it, and its last-applied document when NB keeps one. */
export interface ObjectView {
  status: ObjectStatus;
  object?: ManifestObject;
  /** its last-applied document (apiVersion, kind, metadata, spec or data) */
  source?: Readonly<Record<string, unknown>>;
}

/**
 * The objects of a kind (or those named) that the owner has in NB: by their
 * rows and reservations and by their stored documents, so that an object
 * without rows (a Vlan, the ConfigMap) or whose rows another writer deleted
 * is listed too.
 */
export function listObjects(nb: NbView, owner: string, kind: string, stored: StoredObjects, opts: StatusOptions = {}): ObjectView[] {
  const byName = new Map<string, ObjectView>();
  for (const st of objectStatus(nb, owner, kind, undefined, opts)) byName.set(st.name, { status: st });
  for (const o of stored.manifest.objects) {
    if (o.kind !== kind) continue;
    let v = byName.get(o.name);
    if (!v) byName.set(o.name, (v = { status: rowless(nb, o) }));
    v.object = o;
    const src = sourceOf(o);
    if (src) v.source = src;
  }
  return [...byName.values()].sort((a, b) => (a.status.name < b.status.name ? -1 : 1));
}

/** The status of an object of which NB has no rows: a setting, an lrp EIP, or one whose rows are gone. */
/** An object as far as its status needs it: its kind and name (and an EIP's type). */
export interface ObjectRef {
  kind: string;
  name: string;
  type?: string;
}

function rowless(nb: NbView, o: ObjectRef): ObjectStatus {
  const st: ObjectStatus = { kind: o.kind, name: o.name, vpc: '', v4Eip: '', v4Ip: '', v6Eip: '', v6Ip: '', ready: false, reason: '', rows: [] };
  if (SETTINGS.has(o.kind)) st.ready = true;
  else if (o.kind === 'OvnEip' && o.type === 'lrp') lrpEip(nb, o.name, st);
  else st.reason = 'none of its rows is in NB (deleted by another writer?): apply it again';
  return st;
}

/**
 * The status of these objects (as a manifest gives them): by index lookups
 * per kind, or with `scan` by one pass over the owned tables per kind (many
 * objects). An object NB has no rows of is said so (rowless).
 */
export function objectsStatus(nb: NbView, owner: string, objects: Iterable<ObjectRef>, opts: StatusOptions = {}, scan = false): Map<string, ObjectStatus> {
  const byKind = new Map<string, ObjectRef[]>();
  for (const o of objects) {
    let l = byKind.get(o.kind);
    if (!l) byKind.set(o.kind, (l = []));
    l.push(o);
  }
  const out = new Map<string, ObjectStatus>();
  for (const [kind, list] of byKind) {
    const found = new Map(objectStatus(nb, owner, kind, undefined, scan ? opts : { ...opts, names: list.map((o) => o.name) }).map((st) => [st.name, st]));
    for (const o of list) out.set(`${kind}/${o.name}`, found.get(o.name) ?? rowless(nb, o));
  }
  return out;
}

/** An lrp EIP is the address of the router port of its name (its Vpc's). */
function lrpEip(nb: NbView, name: string, st: ObjectStatus): void {
  const lrp = byName(nb, 'Logical_Router_Port', name);
  if (!lrp) {
    st.reason = `router port ${name} is not in NB`;
    return;
  }
  for (const n of lrp.networks) {
    const ip = n.split('/')[0];
    if (ip.includes(':')) st.v6Ip ||= ip;
    else st.v4Ip ||= ip;
  }
  st.ready = true;
}
