/**
 * The shared benchmark workload: R logical routers, each with one external
 * gateway port (3 Gateway_Chassis), one SNAT, one default route and F/R
 * floating IPs (dnat_and_snat).
 *
 * Two views of the same data:
 *  - `buildWorkload(opts)` returns plain JSON-serialisable data (routers with
 *    their rows), usable by any contender (and dumped to a file for python);
 *  - `rawTransactions(w)` returns pre-built OVSDB JSON-RPC `transact` request
 *    texts, one transaction per router, in the exact OVSDB wire format.
 *
 * Addressing (all deterministic, no collisions):
 *  - external network 172.16.0.0/16, gateway (default route nexthop) 172.16.0.1;
 *  - router i's gateway port IP: 172.16.0.0 + 256 + i (172.16.1.0, 172.16.1.1, ...),
 *    prefix /16 (so at most 65278 routers);
 *  - router i's internal network: 10.0.0.0 + (i << h) / (32 - h), where h = 8 (/24)
 *    unless more than 253 FIPs per router are requested (then the smallest h that
 *    fits). With h = 8 router i gets 10.(i>>8).(i&255).0/24;
 *  - floating IP j (0-based, global across routers): 172.17.0.1 + j, i.e. a
 *    contiguous range starting in 172.17.0.0/16 and continuing into 172.18/16 etc.
 *    (disjoint from the 172.16/16 port range);
 *  - FIP k of router i maps to logical_ip = internal network base + 2 + k.
 */

export const BENCH_EXTERNAL_ID_KEY = 'ovn-natgw/bench';
export const EXTERNAL_CIDR = '172.16.0.0/16';
export const EXTERNAL_GATEWAY = '172.16.0.1';
export const NB_DB_NAME = 'OVN_Northbound';

export interface WorkloadOptions {
  /** number of logical routers (default 1000) */
  routers: number;
  /** number of distinct gateway chassis names (default 20) */
  chassis: number;
  /** total number of floating IPs (dnat_and_snat NAT rows), spread over routers (default 10000) */
  fips: number;
  /**
   * Give every FIP NAT row Neutron-like external_ids (fip/port/network ids,
   * revision number: ~300 bytes per row on the wire), to make a replica
   * database's size realistic. Default false (the apply workload is lean).
   */
  fipExternalIds: boolean;
}

export const DEFAULT_WORKLOAD_OPTIONS: Readonly<WorkloadOptions> = Object.freeze({
  routers: 1000,
  chassis: 20,
  fips: 10000,
  fipExternalIds: false,
});

export interface GatewayChassisSpec {
  /** Gateway_Chassis.name, `r<i>-ext-<chassis>` (same naming as ovn-nbctl) */
  name: string;
  chassisName: string;
  priority: number;
}

export interface NatSpec {
  type: 'snat' | 'dnat_and_snat';
  externalIp: string;
  logicalIp: string;
  /** only with WorkloadOptions.fipExternalIds */
  externalIds?: Record<string, string>;
}

export interface RouteSpec {
  ipPrefix: string;
  nexthop: string;
}

export interface RouterPortSpec {
  name: string;
  mac: string;
  /** the port's address without prefix, e.g. "172.16.1.0" */
  ip: string;
  /** LRP networks, e.g. ["172.16.1.0/16"] */
  networks: string[];
  /** ordered by priority, highest first */
  gatewayChassis: GatewayChassisSpec[];
}

export interface RouterSpec {
  index: number;
  name: string;
  externalIds: Record<string, string>;
  /** internal network, e.g. "10.0.1.0/24" */
  internalCidr: string;
  port: RouterPortSpec;
  snat: NatSpec;
  fips: NatSpec[];
  routes: RouteSpec[];
}

export interface WorkloadTotals {
  routers: number;
  ports: number;
  gatewayChassis: number;
  nat: number;
  snat: number;
  fips: number;
  routes: number;
  /** all NB rows the workload creates */
  rows: number;
}

export interface Workload {
  options: WorkloadOptions;
  externalCidr: string;
  externalGateway: string;
  /** the G chassis names */
  chassis: string[];
  routers: RouterSpec[];
  totals: WorkloadTotals;
}

// ---------------------------------------------------------------------------
// IPv4 helpers

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
    throw new Error(`bad IPv4 address ${ip}`);
  }
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function hex2(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}

const PORT_IP_BASE = ipToInt('172.16.0.0') + 256; // 172.16.1.0
const PORT_IP_LAST = ipToInt('172.16.255.254');
const FIP_BASE = ipToInt('172.17.0.1');
const INTERNAL_BASE = ipToInt('10.0.0.0');

// ---------------------------------------------------------------------------

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`workload: ${name} must be an integer >= ${min} (got ${v})`);
}

export function buildWorkload(opts: Partial<WorkloadOptions> = {}): Workload {
  const options: WorkloadOptions = { ...DEFAULT_WORKLOAD_OPTIONS, ...definedOnly(opts) };
  const { routers: R, chassis: G, fips: F } = options;
  checkCount('routers', R, 1);
  checkCount('chassis', G, 1);
  checkCount('fips', F, 0);
  if (PORT_IP_BASE + R - 1 > PORT_IP_LAST) throw new Error(`workload: at most ${PORT_IP_LAST - PORT_IP_BASE + 1} routers fit in ${EXTERNAL_CIDR}`);
  if (FIP_BASE + F - 1 > ipToInt('172.31.255.254')) throw new Error('workload: too many floating IPs for 172.17.0.0-172.31.255.255');

  const perRouterMax = Math.ceil(F / R);
  // host bits of each router's internal network: .0 network, .1 router, .2.. FIPs, keep broadcast free
  let hostBits = 8;
  while (perRouterMax + 3 > 2 ** hostBits) hostBits++;
  if (R * 2 ** hostBits > 2 ** 24) throw new Error(`workload: ${R} routers x /${32 - hostBits} do not fit in 10.0.0.0/8`);

  const chassis = Array.from({ length: G }, (_, g) => `gw-${g}`);
  const nGw = Math.min(3, G);
  const routers: RouterSpec[] = [];
  let fipIndex = 0;
  const base = Math.floor(F / R);
  const extra = F % R;
  for (let i = 0; i < R; i++) {
    const name = `r${i}`;
    const portName = `${name}-ext`;
    const ip = intToIp(PORT_IP_BASE + i);
    const internalBase = (INTERNAL_BASE + i * 2 ** hostBits) >>> 0;
    const internalCidr = `${intToIp(internalBase)}/${32 - hostBits}`;
    const gatewayChassis: GatewayChassisSpec[] = [];
    for (let k = 0; k < nGw; k++) {
      const chassisName = chassis[(i + k) % G];
      gatewayChassis.push({ name: `${portName}-${chassisName}`, chassisName, priority: nGw - k });
    }
    const nFips = base + (i < extra ? 1 : 0);
    const fips: NatSpec[] = [];
    for (let k = 0; k < nFips; k++) {
      const nat: NatSpec = { type: 'dnat_and_snat', externalIp: intToIp(FIP_BASE + fipIndex), logicalIp: intToIp(internalBase + 2 + k) };
      if (options.fipExternalIds) nat.externalIds = neutronLikeIds(fipIndex, i);
      fips.push(nat);
      fipIndex++;
    }
    routers.push({
      index: i,
      name,
      externalIds: { [BENCH_EXTERNAL_ID_KEY]: 'true' },
      internalCidr,
      port: {
        name: portName,
        mac: `0a:00:00:${hex2(i >>> 16)}:${hex2(i >>> 8)}:${hex2(i)}`,
        ip,
        networks: [`${ip}/16`],
        gatewayChassis,
      },
      snat: { type: 'snat', externalIp: ip, logicalIp: internalCidr },
      fips,
      routes: [{ ipPrefix: '0.0.0.0/0', nexthop: EXTERNAL_GATEWAY }],
    });
  }
  const totals: WorkloadTotals = {
    routers: R,
    ports: R,
    gatewayChassis: R * nGw,
    nat: R + F,
    snat: R,
    fips: F,
    routes: R,
    rows: 0,
  };
  totals.rows = totals.routers + totals.ports + totals.gatewayChassis + totals.nat + totals.routes;
  return { options, externalCidr: EXTERNAL_CIDR, externalGateway: EXTERNAL_GATEWAY, chassis, routers, totals };
}

/** A deterministic UUID-shaped string: kind (0-15) and index. */
function fakeUuid(kind: number, n: number): string {
  return `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function neutronLikeIds(fip: number, router: number): Record<string, string> {
  return {
    'neutron:fip_id': fakeUuid(1, fip),
    'neutron:fip_port_id': fakeUuid(2, fip),
    'neutron:fip_network_id': fakeUuid(3, router),
    'neutron:router_name': `neutron-${fakeUuid(4, router)}`,
    'neutron:revision_number': '1',
  };
}

function definedOnly<T extends object>(o: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** All NAT rows of a router: its SNAT first, then its FIPs. */
export function routerNats(r: RouterSpec): NatSpec[] {
  return [r.snat, ...r.fips];
}

// ---------------------------------------------------------------------------
// OVSDB wire format

type Atom = string | number | boolean | ['uuid' | 'named-uuid', string];
type Datum = Atom | ['set', Atom[]] | ['map', [Atom, Atom][]];

const named = (n: string): ['named-uuid', string] => ['named-uuid', n];
const set = (xs: Atom[]): ['set', Atom[]] => ['set', xs];
const map = (o: Record<string, string>): ['map', [Atom, Atom][]] => ['map', Object.entries(o)];

interface InsertOp {
  op: 'insert';
  table: string;
  row: Record<string, Datum>;
  'uuid-name': string;
}

/**
 * The operations of one router's transaction (without the leading database
 * name): Gateway_Chassis, Logical_Router_Port, NAT, Logical_Router_Static_Route
 * and finally the Logical_Router that references them by named-uuid (they are
 * non-root tables and would be garbage-collected otherwise).
 */
export function routerOperations(r: RouterSpec): InsertOp[] {
  const ops: InsertOp[] = [];
  const gcNames: Atom[] = [];
  r.port.gatewayChassis.forEach((gc, k) => {
    const un = `gc${k}`;
    gcNames.push(named(un));
    ops.push({ op: 'insert', table: 'Gateway_Chassis', row: { name: gc.name, chassis_name: gc.chassisName, priority: gc.priority }, 'uuid-name': un });
  });
  ops.push({
    op: 'insert',
    table: 'Logical_Router_Port',
    row: { name: r.port.name, mac: r.port.mac, networks: set(r.port.networks), gateway_chassis: set(gcNames) },
    'uuid-name': 'lrp0',
  });
  const natNames: Atom[] = [];
  routerNats(r).forEach((n, k) => {
    const un = `nat${k}`;
    natNames.push(named(un));
    const row: Record<string, Datum> = { type: n.type, external_ip: n.externalIp, logical_ip: n.logicalIp };
    if (n.externalIds) row.external_ids = map(n.externalIds);
    ops.push({ op: 'insert', table: 'NAT', row, 'uuid-name': un });
  });
  const routeNames: Atom[] = [];
  r.routes.forEach((rt, k) => {
    const un = `route${k}`;
    routeNames.push(named(un));
    ops.push({ op: 'insert', table: 'Logical_Router_Static_Route', row: { ip_prefix: rt.ipPrefix, nexthop: rt.nexthop }, 'uuid-name': un });
  });
  ops.push({
    op: 'insert',
    table: 'Logical_Router',
    row: {
      name: r.name,
      ports: set([named('lrp0')]),
      nat: set(natNames),
      static_routes: set(routeNames),
      external_ids: map(r.externalIds),
    },
    'uuid-name': 'lr0',
  });
  return ops;
}

/** One JSON-RPC `transact` request text for router r, with the given id. */
export function rawTransaction(r: RouterSpec, id: number, db: string = NB_DB_NAME): string {
  return JSON.stringify({ method: 'transact', params: [db, ...routerOperations(r)], id });
}

/**
 * Pre-built JSON-RPC `transact` request texts, one transaction per router,
 * ids firstId..firstId+R-1 (default 1..R), in router order.
 */
export function rawTransactions(w: Workload, opts: { firstId?: number; db?: string } = {}): string[] {
  const firstId = opts.firstId ?? 1;
  return w.routers.map((r, k) => rawTransaction(r, firstId + k, opts.db));
}

/**
 * The same rows as ONE transaction (one request text, id `id`): every
 * router's operations with their uuid-names made unique. What ovsdb-server
 * needs for the workload when it must be all or nothing.
 */
export function rawOneTransaction(w: Workload, id = 1, db: string = NB_DB_NAME): string {
  const ops: InsertOp[] = [];
  w.routers.forEach((r, k) => {
    const rename = (d: Datum): Datum => {
      if (Array.isArray(d) && d[0] === 'named-uuid') return named(`${d[1]}_${k}`);
      if (Array.isArray(d) && d[0] === 'set') return set((d[1] as Atom[]).map((a) => rename(a) as Atom));
      return d;
    };
    for (const op of routerOperations(r)) {
      const row: Record<string, Datum> = {};
      for (const [c, v] of Object.entries(op.row)) row[c] = rename(v);
      ops.push({ ...op, row, 'uuid-name': `${op['uuid-name']}_${k}` });
    }
  });
  return JSON.stringify({ method: 'transact', params: [db, ...ops], id });
}

// ---------------------------------------------------------------------------
// options from CLI / environment

/** True if some NAT row carries external_ids (contenders that cannot set them refuse such a workload). */
export function hasNatExternalIds(w: Workload): boolean {
  return w.routers.some((r) => r.snat.externalIds !== undefined || r.fips.some((f) => f.externalIds !== undefined));
}

/** Workload options from env BENCH_ROUTERS / BENCH_CHASSIS / BENCH_FIPS (unset → default). */
export function workloadOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<WorkloadOptions> {
  const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));
  return definedOnly({ routers: num(env.BENCH_ROUTERS), chassis: num(env.BENCH_CHASSIS), fips: num(env.BENCH_FIPS) });
}
