/**
 * Desired state: from manifest objects, the current NB (for what already
 * exists: workload ports, addresses already handed out, chassis already
 * chosen) and the SB chassis, the NB rows ovn-natgw wants. Pure: no I/O.
 *
 * Row layout (names as Kube-OVN writes them):
 *  - external network Subnet S: Logical_Switch S with Logical_Switch_Port
 *    "localnet.S" (type localnet, options network_name=<provider>, tag=<vlan>);
 *  - internal Subnet S of Vpc V: Logical_Switch S, Logical_Router_Port "V-S"
 *    at the gateway IP, peer Logical_Switch_Port "S-V" (type router);
 *  - Vpc V: Logical_Router V; per external network E: Logical_Router_Port
 *    "V-E" (MAC, an address of E), peer port "E-V" (type router,
 *    nat-addresses=router), Gateway_Chassis "V-E-<chassis>", and on the default
 *    external network the default route(s) via its gateway;
 *  - OvnFip: NAT dnat_and_snat per address family; OvnSnatRule: NAT snat per
 *    family; OvnDnatRule: a Load_Balancer "<name>" (tcp/udp/sctp VIP
 *    EIP:port -> IP:port) on the router. A port DNAT is a load balancer
 *    because a NAT row cannot translate ports (ovn-nb(5) NAT has no port
 *    columns), as Kube-OVN does; it is written with its router reference in
 *    the same transaction, so no half-built balancer is ever visible;
 *  - OvnEip type nat: only a reservation in its network's ledger; type lrp:
 *    the address of router port "V-E"; type lsp: a port on the external switch
 *    named after the EIP (an ECMP/BFD next hop on a gateway node).
 */
import type { NbTables, LogicalSwitchPortRow } from '../models/ovn-nb.js';
import { DEFAULT_GATEWAY_CHASSIS, MAX_GATEWAY_CHASSIS, gatewayCandidates, gatewayPriorities, placeGateways, zonesOf, type SbChassis } from '../gateway/chassis.js';
import {
  cidrContains,
  cidrFirstHost,
  cidrLastHost,
  formatIp,
  familyOf,
  parseCidr,
  parseIp,
  parseIpOrCidr,
  parseIpRange,
  type Cidr,
  type Family,
  type Ip,
} from './ip.js';
import type {
  ExternalGwConfig,
  Manifest,
  Origin,
  ManifestObject,
  OvnDnatRule,
  OvnEip,
  OvnFip,
  OvnSnatRule,
  Subnet,
  Vip,
  Vpc,
} from './objects.js';
import { egressNextHops, type EgressNode } from '../gateway/egress.js';
import {
  bfdPart,
  bfdPortName,
  bfdPortRows,
  bfdRow,
  defaultRouteRow,
  egressPolicyRow,
  externalNetworkRows,
  externalPortRows,
  internalSubnetRows,
  macFor,
  policyRow,
  routerRow,
  staticRouteRow,
  type BfdTimers,
  type GatewayRow,
} from '../gateway/rows.js';
import { IP_LEDGER_PREFIX, idOf, objectId, ownedKey, ref, rowKey, type Problem, type Reservation, type RowSpec } from './rows.js';
import { EXTERNAL_GW_CONFIG, sourceOf } from './manifest.js';
import { NbFacts, OBJECT_INDEX, byName, otherActiveLoad, type NbView } from './nb-view.js';
import { recordingView, type ReadLog } from './reads.js';

export interface DesiredOptions {
  owner: string;
  /**
   * The objects of the input being applied ("Kind/name"); the others come
   * from NB. Objects are planned stored ones first, so that a conflict (two
   * FIPs on one EIP, one address SNATed twice) lands on the new object.
   */
  incoming?: ReadonlySet<string>;
  /** gateway chassis per external router port (1..5, default 3) */
  gatewayChassis?: number;
  /** Kube-OVN's default VPC, attached by ConfigMap enable-external-gw (default "ovn-cluster") */
  clusterRouter?: string;
  /** records what each object's rows were planned from in NB (reads.ts) */
  reads?: ReadLog;
  /**
   * The chassis that are up, by name, as the HA layer sees them (BFD, the
   * chassis' own liveness); default every SB chassis. A port on a chassis
   * that is down moves to a live one; egress skips a node that is down.
   */
  live?: ReadonlySet<string>;
  /** Chassis being drained: they keep gateway ports only as the lowest standby, and lead none (the scheduler's draining). */
  draining?: ReadonlySet<string>;
  /** Chassis whose node missed a ping: they keep their slots and get no new ones (the scheduler's suspect). */
  suspect?: ReadonlySet<string>;
  /** Gateway ports to order so, highest priority first, instead of as NB has them (a rebalance's moves). */
  placement?: ReadonlyMap<string, readonly string[]>;
  /**
   * Only the stages centralized egress needs: networks, routers, egress (a
   * failover rewrites the reroute policies of these objects and nothing else
   * of theirs). Default: every stage.
   */
  only?: 'egress';
}

/** kube-ovn-controller's default BFD timers (--bfd-min-tx, --bfd-min-rx, --detect-mult) for Vpc enableBfd. */
const KUBE_OVN_BFD = { minTx: 100, minRx: 100, detectMult: 3 };

/** Kube-OVN's default VPC router (its --cluster-router). */
export const DEFAULT_CLUSTER_ROUTER = 'ovn-cluster';

export interface Desired {
  rows: RowSpec[];
  reservations: Reservation[];
  problems: Problem[];
  /** what does not stop the plan but an operator should see */
  warnings: string[];
  /** where a manifest object came from (file, document), for problems found later */
  originOf(kind: string, name: string): Origin | undefined;
  /** the last-applied document of each object that has one ("Kind/name" -> JSON), to store with it */
  specs: ReadonlyMap<string, string>;
  /** what each object's rows were planned from: "Kind/name" -> the other objects it read */
  deps: ReadonlyMap<string, ReadonlySet<string>>;
}

/** A Map that reports every key looked up (the objects a stage reads). */
class Tracked<V> extends Map<string, V> {
  constructor(private readonly onUse: (key: string, value: V | undefined) => void) {
    super();
  }
  override get(key: string): V | undefined {
    const v = super.get(key);
    this.onUse(key, v);
    return v;
  }
  override has(key: string): boolean {
    this.onUse(key, super.get(key));
    return super.has(key);
  }
}

interface ExtNet {
  subnet: Subnet;
  cidrs: Cidr[];
  gateways: Ip[];
  vlan: number;
  provider: string;
  lsRef: string;
}

interface Router {
  name: string;
  ref: string;
  /** external networks attached: network name -> router port name */
  externals: Map<string, string>;
  /** default route(s) via the default external network (not on the default VPC: its default route is Kube-OVN's) */
  defaultRoute: boolean;
  /** fixed address and MAC of the port on the default external network (ConfigMap nic-ip / nic-mac) */
  nic?: { ip?: Ip; mac?: string };
  /** Vpc bfdPort: the networks of router port bfd@<vpc> */
  bfdPort?: string[];
}

const key = rowKey;

export { bfdPortName, macFor };

/**
 * `chassis`: the SB chassis, or undefined when SB is not read (then gateway
 * nodes cannot be checked: ports keep the chassis they have, a new port is
 * refused, and egress nodes are taken as listed).
 */
export function buildDesired(manifest: Manifest, nb: NbView, chassis: readonly SbChassis[] | undefined, opts: DesiredOptions, facts: NbFacts = new NbFacts(nb)): Desired {
  if (!opts.reads) return new Builder(manifest, nb, chassis, opts, facts).build();
  // every NB read recorded for the object being planned
  let b: Builder | undefined = undefined;
  b = new Builder(manifest, recordingView(nb, opts.reads, () => b?.current), chassis, opts, facts);
  return b.build();
}

class Builder {
  readonly rows: RowSpec[] = [];
  readonly reservations: Reservation[] = [];
  readonly problems: Problem[] = [];
  readonly warnings: string[] = [];
  private readonly byKind = new Map<string, Map<string, ManifestObject>>();
  /** the object whose rows are being planned ("Kind/name"), for deps */
  private cur: string | undefined;
  private readonly deps = new Map<string, Set<string>>();
  /** objects with a problem: what uses them says so instead of failing on its own */
  private readonly failed = new Set<string>();
  private readonly extNets = new Tracked<ExtNet>((n) => this.use('Subnet', n));
  private readonly routers = new Tracked<Router>((n) => this.use('Vpc', n));
  private readonly cfg: ExternalGwConfig | undefined;
  /** addresses taken per switch name (ext or internal) */
  private readonly taken = new Map<string, Set<string>>();
  /** each EIP's network and addresses (an lrp EIP's are its Vpc's port's: `from`) */
  private readonly eipAddr = new Tracked<{ net: ExtNet; v4?: Ip; v6?: Ip; from?: string }>((n, v) => {
    this.use('OvnEip', n);
    if (v?.from) this.useId(v.from);
  });
  private readonly vipAddr = new Tracked<{ v4?: Ip; v6?: Ip; router?: string }>((n) => this.use('Vip', n));
  private readonly cursor = new Map<string, bigint>();
  private readonly lbVips = new Map<string, string>();

  constructor(
    manifest: Manifest,
    private readonly nb: NbView,
    private readonly sbChassis: readonly SbChassis[] | undefined,
    private readonly opts: DesiredOptions,
    private readonly facts: NbFacts,
  ) {
    for (const o of manifest.objects) {
      let m = this.byKind.get(o.kind);
      if (!m) this.byKind.set(o.kind, (m = new Map()));
      m.set(o.name, o);
      const src = sourceOf(o);
      if (src) this.specs.set(idOf(o), JSON.stringify(src));
    }
    this.cfg = [...(this.byKind.get('ConfigMap')?.values() ?? [])][0] as ExternalGwConfig | undefined;
  }

  private readonly specs = new Map<string, string>();

  /** The object being planned ("Kind/name"), if any. */
  get current(): string | undefined {
    return this.cur;
  }

  private get chassis(): readonly SbChassis[] {
    return this.sbChassis ?? [];
  }

  /** The SB chassis that are up (opts.live; default every one): the only ones gateways are placed on. */
  private get liveChassis(): readonly SbChassis[] {
    const live = this.opts.live;
    return live ? this.chassis.filter((c) => live.has(c.name)) : this.chassis;
  }

  /** The ConfigMap (what reads it depends on it, also while there is none: one may be applied). */
  private get config(): ExternalGwConfig | undefined {
    this.use('ConfigMap', this.cfg?.name ?? EXTERNAL_GW_CONFIG);
    return this.cfg;
  }

  /** The object being planned reads object kind/name. */
  private use(kind: string, name: string): void {
    this.useId(objectId(kind, name));
  }
  private useId(id: string): void {
    if (this.cur === undefined || this.cur === id) return;
    let d = this.deps.get(this.cur);
    if (!d) this.deps.set(this.cur, (d = new Set()));
    d.add(id);
  }

  /** Runs a stage for one object: what it reads are its deps. */
  private as<T>(o: { kind: string; name: string }, fn: () => T): T {
    const prev = this.cur;
    this.cur = idOf(o);
    try {
      return fn();
    } finally {
      this.cur = prev;
    }
  }

  /** The objects of a kind, those from NB before the incoming ones, each group by name. */
  private all<T extends ManifestObject>(kind: T['kind']): T[] {
    const inc = this.opts.incoming;
    const rank = (o: T) => (inc?.has(idOf(o)) ? 1 : 0);
    return [...((this.byKind.get(kind)?.values() ?? []) as Iterable<T>)].sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  private get<T extends ManifestObject>(kind: T['kind'], name: string): T | undefined {
    this.use(kind, name);
    return this.byKind.get(kind)?.get(name) as T | undefined;
  }

  /** A problem of another object this one needs, said as such ("its OvnEip eip-a was refused"), or false. */
  private refusedDep(o: ManifestObject, field: string, kind: string, name: string): boolean {
    if (!this.failed.has(objectId(kind, name))) return false;
    this.problem(o, field, `not planned: ${kind} ${name}, which it uses, was refused (see its error)`);
    return true;
  }

  /** Adds a desired row of object kind/name; `part` tells the object's rows apart. */
  private addRow(kind: string, name: string, part: string, row: Omit<RowSpec, 'key' | 'kind' | 'name' | 'part'>): void {
    this.rows.push({ key: key(kind, name, part), kind, name, part, ...row });
  }

  /** Adds rows the gateway layer rendered (src/gateway/rows.ts) as object kind/name's. */
  private put(kind: string, name: string, rows: readonly GatewayRow[]): void {
    for (const { part, ...row } of rows) this.addRow(kind, name, part, row);
  }

  /** The key of a row of object kind/name, from its part. */
  private keyOf(kind: string, name: string): (part: string) => string {
    return (part) => key(kind, name, part);
  }

  private problem(o: { kind: string; name: string; origin?: ManifestObject['origin'] }, field: string, reason: string, waiting = false): void {
    this.failed.add(objectId(o.kind, o.name));
    this.problems.push({ kind: o.kind, name: o.name, field, reason, ...(o.origin ? { origin: o.origin } : {}), ...(waiting ? { waiting: true as const } : {}) });
  }

  build() {
    const k = this.opts.gatewayChassis ?? DEFAULT_GATEWAY_CHASSIS;
    if (!Number.isInteger(k) || k < 1 || k > MAX_GATEWAY_CHASSIS) {
      this.problems.push({ kind: 'option', name: 'gateway-chassis', field: 'gatewayChassis', reason: `must be an integer from 1 to ${MAX_GATEWAY_CHASSIS}, got ${k}` });
      return this.result();
    }
    // The stages, each over its objects; what one gives the next is named here. NB is read through
    // this.nb (the facts it needs, recorded per object when asked), the SB chassis that are up
    // (`live`) are passed in.
    //  - networks: external Subnets -> extNets (their switch, CIDRs, gateways)
    for (const s of this.all<Subnet>('Subnet')) if (!s.vpc) this.as(s, () => this.externalNetwork(s));
    //  - routers: Vpcs (and the default VPC the ConfigMap attaches), given extNets -> routers
    for (const v of this.all<Vpc>('Vpc')) this.as(v, () => !this.attachedByConfig(v) && this.router(v));
    this.as({ kind: 'Vpc', name: this.defaultVpcName() }, () => this.defaultVpc());
    //  - internal subnets and their centralized egress, given routers and the live chassis
    const live = this.liveChassis;
    if (this.opts.only !== 'egress') for (const s of this.all<Subnet>('Subnet')) if (s.vpc) this.as(s, () => this.internalSubnet(s));
    for (const s of this.all<Subnet>('Subnet')) if (s.vpc && s.gatewayType === 'centralized') this.as(s, () => this.egress(s, live));
    if (this.opts.only === 'egress') return this.result();
    //  - gateway ports, given routers, extNets and the live chassis -> the addresses of lrp EIPs
    const lrpEips = this.gatewayPorts(k, live);
    //  - EIPs, given extNets and the lrp EIPs' addresses -> eipAddr (every EIP's address)
    for (const e of this.all<OvnEip>('OvnEip')) this.as(e, () => this.eip(e, lrpEips));
    for (const v of this.all<Vip>('Vip')) this.as(v, () => this.vip(v));
    //  - routes and BFD, given routers and extNets; NAT, given eipAddr, vipAddr and routers
    for (const v of this.all<Vpc>('Vpc')) this.as(v, () => this.routes(v));
    const eipUse = new Map<string, string[]>();
    for (const f of this.all<OvnFip>('OvnFip')) this.as(f, () => this.fip(f, eipUse));
    for (const s of this.all<OvnSnatRule>('OvnSnatRule')) this.as(s, () => this.snat(s, eipUse));
    for (const d of this.all<OvnDnatRule>('OvnDnatRule')) this.as(d, () => this.dnat(d, eipUse));
    return this.result();
  }

  private result(): Desired {
    return {
      rows: this.rows,
      reservations: this.reservations,
      problems: this.problems,
      warnings: this.warnings,
      originOf: (kind, name) => this.byKind.get(kind)?.get(name)?.origin,
      specs: this.specs,
      deps: this.deps,
    };
  }

  // ------------------------------------------------------------ NB facts

  /** A switch by name (as a plan reads it, once). */
  private switchRow(sw: string): NbTables['Logical_Switch'] | undefined {
    if (!this.switches.has(sw)) this.switches.set(sw, byName(this.nb, 'Logical_Switch', sw));
    return this.switches.get(sw);
  }
  private readonly switches = new Map<string, NbTables['Logical_Switch'] | undefined>();

  /** Who holds an address in a switch's ledger ("<owner>/<kind>/<name>"), or undefined. */
  private reservedBy(sw: string, ip: string): string | undefined {
    return this.switchRow(sw)?.external_ids.get(`${IP_LEDGER_PREFIX}${ip}`);
  }

  /** Addresses this plan has taken on a switch (gateways, allocations) that NB does not show yet. */
  private takenOn(sw: string): Set<string> {
    let t = this.taken.get(sw);
    if (!t) this.taken.set(sw, (t = new Set()));
    return t;
  }

  /** An address in use on a switch: taken by this plan, or held by one of its ports (its ledger is asked separately). */
  private inUseOn(sw: string, ip: string): boolean {
    if (this.takenOn(sw).has(ip)) return true;
    const row = this.switchRow(sw);
    return row !== undefined && this.facts.switchPortHas(row._uuid, ip);
  }

  private findByName<T extends 'Logical_Switch' | 'Logical_Router' | 'Logical_Router_Port' | 'Logical_Switch_Port' | 'Load_Balancer' | 'HA_Chassis_Group'>(
    table: T,
    name: string,
  ): NbTables[T] | undefined {
    return byName(this.nb, table, name);
  }

  /** Is this IP used in NB by a router port or as a NAT external IP? */
  private ipUsedInNb(ip: Ip): boolean {
    return this.facts.routerPortHas(ip.text) || this.nb.table('NAT').lookup('external_ip', ip.text).length > 0;
  }

  // ------------------------------------------------------------ networks

  private externalNetwork(s: Subnet): void {
    let vlanId = 0;
    let provider = s.provider;
    if (s.vlan) {
      const vlan = this.get<import('./objects.js').Vlan>('Vlan', s.vlan);
      if (!vlan) return this.problem(s, 'spec.vlan', `Vlan "${s.vlan}" not found (neither in the input nor applied before)`);
      vlanId = vlan.id;
      provider = vlan.provider;
    }
    if (!provider || provider === 'ovn') {
      return this.problem(s, 'spec.vlan', 'an external network (a Subnet without vpc) needs a vlan or a provider network');
    }
    if (!this.get('ProviderNetwork', provider)) return this.problem(s, s.vlan ? 'spec.vlan' : 'spec.provider', `ProviderNetwork "${provider}" not found (neither in the input nor applied before)`);
    const cidrs = s.cidrBlock.map((c) => parseCidr(c)!);
    const gateways = s.gateway.map((g) => parseIp(g)!);
    const lsKey = key('Subnet', s.name, 'switch');
    this.put('Subnet', s.name, externalNetworkRows({ name: s.name, cidrs: s.cidrBlock, provider, vlan: vlanId }, this.keyOf('Subnet', s.name)));
    const t = this.takenOn(s.name);
    for (const g of gateways) t.add(g.text);
    this.extNets.set(s.name, { subnet: s, cidrs, gateways, vlan: vlanId, provider, lsRef: lsKey });
  }

  private defaultExternal(): string | undefined {
    if (this.config?.externalGwSwitch) {
      this.use('Subnet', this.config.externalGwSwitch);
      return this.config.externalGwSwitch;
    }
    // the choice reads which external networks there are
    for (const n of this.extNets.keys()) this.use('Subnet', n);
    // the network that holds the underlay gateway address of the ConfigMap
    const gw = this.config?.externalGwAddr ? parseIpOrCidr(this.config.externalGwAddr)?.ip : undefined;
    if (gw) for (const [n, net] of this.extNets) if (net.cidrs.some((c) => cidrContains(c, gw))) return n;
    if (this.extNets.has('external')) return 'external';
    if (this.extNets.size === 1) return [...this.extNets.keys()][0];
    return undefined;
  }

  /**
   * ConfigMap enable-external-gw "true" attaches Kube-OVN's default VPC (router
   * ovn-cluster, which Kube-OVN creates) to the default external network, as
   * kube-ovn-controller does: its router port "<router>-<network>" with gateway
   * chassis and peer, at nic-ip/nic-mac when given. Its rows are those of an
   * implicit Vpc of that name, so `get vpc ovn-cluster` shows them and they
   * go when enable-external-gw does. No default route: the default VPC's
   * default route stays Kube-OVN's (via the join network). A missing router is
   * a warning: it is attached by the first apply after Kube-OVN made it.
   *
   * A Vpc of that name in the manifest that leaves spec.enableExternal out
   * (for example one that only adds a bfdPort, as Kube-OVN's egress docs do)
   * is attached the same way, with the rest of its spec; one that says
   * enableExternal: false contradicts the ConfigMap and is refused.
   */
  private defaultVpc(): void {
    const c = this.config;
    if (!c?.enableExternalGw) return;
    const name = this.defaultVpcName();
    const declared = this.get<Vpc>('Vpc', name);
    if (declared && !this.attachedByConfig(declared)) {
      if (!declared.enableExternal) {
        this.problem(declared, 'spec.enableExternal', `is false, but ConfigMap ${c.name} data.enable-external-gw "true" attaches the default VPC ${name} to the external network: change one of them`);
      }
      return;
    }
    if (!declared && !this.findByName('Logical_Router', name)) {
      // not a refusal: seed 002's manifests carry enable-external-gw "true" and must apply on a plain OVN too
      this.warnings.push(
        `ConfigMap ${c.name}: data.enable-external-gw: the default VPC, router ${name}, is not in NB, so it is not attached (Kube-OVN creates it; without Kube-OVN, add a Vpc ${name} to the manifest)`,
      );
      return;
    }
    const def = this.defaultExternal();
    let nic: Router['nic'];
    if (c.nicIp !== undefined || c.nicMac !== undefined) {
      nic = { mac: c.nicMac };
      if (c.nicIp !== undefined) {
        const p = parseIpOrCidr(c.nicIp)!;
        const net = def ? this.extNets.get(def) : undefined;
        const cidr = net?.cidrs.find((x) => x.family === p.family);
        if (net && (!cidr || !cidrContains(cidr, p.ip) || cidr.prefix !== p.prefix)) {
          return this.problem(c, 'data.nic-ip', `${c.nicIp} is not an address of the default external network ${def} (${net.subnet.cidrBlock.join(', ')})`);
        }
        nic.ip = p.ip;
      }
    }
    const spec: Vpc = declared ?? { kind: 'Vpc', name, enableExternal: true, addExternalSubnets: [], staticRoutes: [], policyRoutes: [], ...(c.origin ? { origin: c.origin } : {}) };
    this.router({ ...spec, enableExternal: true }, false, nic);
  }

  private defaultVpcName(): string {
    return this.opts.clusterRouter ?? DEFAULT_CLUSTER_ROUTER;
  }

  /** A declared default VPC that leaves enableExternal to ConfigMap enable-external-gw "true" (see defaultVpc). */
  private attachedByConfig(v: Vpc): boolean {
    return v.enableExternalGiven === false && v.name === this.defaultVpcName() && this.config?.enableExternalGw === true;
  }

  private router(v: Vpc, defaultRoute = true, nic?: Router['nic']): void {
    const rk = key('Vpc', v.name, 'router');
    this.put('Vpc', v.name, [routerRow(v.name)]);
    const r: Router = { name: v.name, ref: rk, externals: new Map(), defaultRoute, nic, ...(v.bfdPort?.enabled ? { bfdPort: v.bfdPort.ip } : {}) };
    this.routers.set(v.name, r);
    if (!v.enableExternal) {
      if (v.addExternalSubnets.length > 0) this.problem(v, 'spec.addExternalSubnets', 'needs spec.enableExternal: true');
      return;
    }
    const def = this.defaultExternal();
    const nets: string[] = [];
    if (def) nets.push(def);
    else if (this.extNets.size === 0) this.problem(v, 'spec.enableExternal', 'no external network (a Subnet with a vlan and no vpc) in the manifest');
    else this.problem(v, 'spec.enableExternal', `several external networks (${[...this.extNets.keys()].join(', ')}) and no default: set external-gw-addr or external-gw-switch in ConfigMap ovn-external-gw-config, or name one "external"`);
    for (const e of v.addExternalSubnets) if (!nets.includes(e)) nets.push(e);
    for (const e of nets) {
      if (!this.extNets.has(e)) {
        this.problem(v, 'spec.addExternalSubnets', `external network "${e}" not found (a Subnet with a vlan and no vpc)`);
        continue;
      }
      r.externals.set(e, `${v.name}-${e}`);
    }
  }

  private internalSubnet(s: Subnet): void {
    const r = this.routers.get(s.vpc!);
    if (!r) return this.vpcNotFound(s);
    const lrpName = `${r.name}-${s.name}`;
    const cidrs = s.cidrBlock.map((c) => parseCidr(c)!);
    const networks = s.gateway.map((g, i) => `${g}/${cidrs[i].prefix}`);
    const mac = this.findByName('Logical_Router_Port', lrpName)?.mac ?? macFor(lrpName);
    this.put('Subnet', s.name, internalSubnetRows({ subnet: s.name, cidrs: s.cidrBlock, router: r.name, routerRef: r.ref, networks, mac }, this.keyOf('Subnet', s.name)));
    const t = this.takenOn(s.name);
    for (const g of s.gateway) t.add(g);
  }

  private vpcNotFound(s: Subnet): void {
    this.problem(s, 'spec.vpc', `Vpc "${s.vpc}" not found (neither in the input nor applied before)`);
  }

  /** Centralized egress of an internal subnet: a reroute policy per family to its gateway node(s). */
  private egress(s: Subnet, live: readonly SbChassis[]): void {
    const r = this.routers.get(s.vpc!);
    // (reported by internalSubnet; with the egress stages only, here: a policy not rendered is not to be removed)
    if (!r) return this.opts.only === 'egress' ? this.vpcNotFound(s) : undefined;
    // ready: an SB chassis by name or hostname, matched as gateway nodes are (without SB: taken as listed)
    const listed = (s.gatewayNode ?? []).map((g) => g.node);
    const { missing } = this.sbChassis ? gatewayCandidates(live, listed) : { missing: [] as string[] };
    if (!this.sbChassis) this.warnings.push(`Subnet ${s.name}: spec.gatewayNode: SB was not given (--sb or OVN_SB_DB), so whether ${listed.map((n) => `"${n}"`).join(', ')} are SB chassis is not checked`);
    const nodes: EgressNode[] = (s.gatewayNode ?? []).map(({ node, ip }) => {
      const hops: EgressNode['hops'] = {};
      if (ip) hops[parseIp(ip)!.family] = ip;
      else {
        // Kube-OVN names a node's port on the join switch "node-<node>"
        const lsp = this.findByName('Logical_Switch_Port', `node-${node}`);
        if (lsp) for (const x of lspIps(lsp)) hops[x.family] ??= x.text;
      }
      return { node, ready: !missing.includes(node), hops };
    });
    for (const n of nodes) {
      if (!n.hops[4] && !n.hops[6]) {
        this.problem(s, 'spec.gatewayNode', `node "${n.node}" has no next hop: give it as "${n.node}:<IP>", or NB needs its join port "node-${n.node}" (Kube-OVN's name) with an address`);
      }
    }
    if (!nodes.some((n) => n.ready)) {
      this.problem(s, 'spec.gatewayNode', `none of ${nodes.map((n) => `"${n.node}"`).join(', ')} is an SB chassis (by name or hostname): no gateway node is ready`);
      return;
    }
    for (const cidr of s.cidrBlock) {
      const fam = parseCidr(cidr)!.family;
      const part = `egress:${fam}`;
      const current = this.ownedRow('Logical_Router_Policy', 'Subnet', s.name, part)?.nexthops ?? [];
      const hops = egressNextHops(nodes, fam, s.enableEcmp ?? false, current);
      if (hops.length === 0) {
        this.problem(s, 'spec.gatewayNode', `no ready gateway node has an IPv${fam} next hop`);
        continue;
      }
      this.put('Subnet', s.name, [egressPolicyRow({ router: r.name, routerRef: r.ref, cidr, family: fam, nexthops: hops, ecmp: s.enableEcmp ?? false })]);
    }
  }

  /** Our row of object kind/name with that part, in NB (by the object index). */
  private ownedRow<T extends 'Logical_Router_Policy' | 'Logical_Router_Static_Route' | 'NAT'>(table: T, kind: string, name: string, part: string): NbTables[T] | undefined {
    const k = key(kind, name, part);
    return this.nb.table(table).lookup(OBJECT_INDEX, name).find((r) => ownedKey(r, this.opts.owner) === k);
  }

  /** External router ports, their peers, gateway chassis and addresses. */
  private gatewayPorts(k: number, live: readonly SbChassis[]): ReadonlySet<string> {
    const lrpEips = new Set<string>();
    const nodes = this.config?.externalGwNodes ?? [];
    const all = this.sbChassis ? gatewayCandidates(this.chassis, nodes) : { names: [], missing: [] };
    const up = new Set(live.map((c) => c.name));
    const names = all.names.filter((n) => up.has(n));
    const missing = all.missing;
    const down = all.names.filter((n) => !names.includes(n));
    if (down.length > 0) this.warnings.push(`gateway chassis ${down.map((d) => `"${d}"`).join(', ')} down: their gateway ports move to the others`);
    if (missing.length > 0 && this.config) {
      // a listed node that is gone (or not up yet) must not block every apply: the others carry its gateways
      this.warnings.push(`ConfigMap ${this.config.name}: data.external-gw-nodes: no SB chassis with name or hostname ${missing.map((m) => `"${m}"`).join(', ')}; using the others`);
    }
    const ports: string[] = [];
    const current = new Map<string, string[]>();
    const currentPriority = new Map<string, Map<string, number>>();
    /** a port's chassis as NB has them (Gateway_Chassis or HA_Chassis rows), highest priority first */
    const seen = (port: string, uuids: readonly string[], table: 'Gateway_Chassis' | 'HA_Chassis') => {
      const rows = uuids
        .map((u) => this.nb.table(table).get(u))
        .filter((g) => g !== undefined)
        .sort((a, b) => b.priority - a.priority);
      current.set(port, rows.map((g) => g.chassis_name));
      currentPriority.set(port, new Map(rows.map((g) => [g.chassis_name, g.priority])));
    };
    for (const r of this.routers.values()) this.as({ kind: 'Vpc', name: r.name }, () => {
      for (const lrp of r.externals.values()) {
        ports.push(lrp);
        const row = this.findByName('Logical_Router_Port', lrp);
        if (row) seen(lrp, row.gateway_chassis, 'Gateway_Chassis');
      }
      if (r.bfdPort) {
        // placed like a gateway port (its HA chassis group spread and kept the same way)
        const port = bfdPortName(r.name);
        ports.push(port);
        const group = this.findByName('HA_Chassis_Group', port);
        if (group) seen(port, group.ha_chassis, 'HA_Chassis');
      }
    });
    // a rebalance's moves: those ports ordered as it says (the scheduler then keeps that order)
    for (const [p, order] of this.opts.placement ?? []) if (current.has(p)) current.set(p, [...order]);
    // without SB the gateway nodes cannot be checked: every port keeps what it has, a new one cannot be placed
    const placed = this.sbChassis ? placeGateways(ports, names, k, current, this.otherLoad(ports, current), this.opts.draining, zonesOf(this.chassis), this.opts.suspect) : new Map(ports.map((p) => [p, (current.get(p) ?? []).slice(0, k)]));
    /** why a port gets no gateway chassis at all */
    const noChassis = !this.sbChassis
      ? 'SB was not given (--sb or OVN_SB_DB), so the gateway nodes cannot be checked and no gateway chassis placed'
      : nodes.length
        ? `none of the gateway nodes of ConfigMap ${this.cfg?.name ?? 'ovn-external-gw-config'} data.external-gw-nodes (${nodes.join(', ')}) is an SB chassis (by name or hostname)`
        : `no SB chassis has ovn-cms-options=enable-chassis-as-gw and no ConfigMap ovn-external-gw-config data.external-gw-nodes are given`;
    const defaultNet = this.defaultExternal();
    for (const r of this.routers.values()) this.as({ kind: 'Vpc', name: r.name }, () => {
      void this.config; // placed on the ConfigMap's gateway nodes
      for (const p of [...r.externals.values(), ...(r.bfdPort ? [bfdPortName(r.name)] : [])]) {
        if ((placed.get(p) ?? []).length === 0) this.problem(this.get<Vpc>('Vpc', r.name) ?? { kind: 'Vpc', name: r.name }, p.startsWith('bfd@') ? 'spec.bfdPort' : 'spec.enableExternal', `gateway port ${p} gets no gateway chassis: ${noChassis}`);
      }
      if (r.bfdPort) this.bfdPort(r, placed.get(bfdPortName(r.name)) ?? [], currentPriority.get(bfdPortName(r.name)));
      for (const [netName, lrpName] of r.externals) {
        const net = this.extNets.get(netName)!;
        // the port's address: an lrp-type OvnEip named like the port, else what it has, else the next free one
        const eip = this.get<OvnEip>('OvnEip', lrpName);
        const existing = this.findByName('Logical_Router_Port', lrpName);
        const nic = netName === defaultNet ? r.nic : undefined;
        const addrs: Ip[] = [];
        for (const c of net.cidrs) {
          const fam = c.family;
          const given = eip && eip.type === 'lrp' ? (fam === 4 ? eip.v4Ip : eip.v6Ip) : undefined;
          let ip: Ip | undefined = given ? parseIp(given) : nic?.ip?.family === fam ? nic.ip : undefined;
          if (ip && !existing?.networks.some((n) => parseIpOrCidr(n)?.ip.text === ip!.text)) {
            // an lrp OvnEip's address or the ConfigMap's nic-ip, not the port's address yet: it must be in the
            // network and free (reserved for this port counts as free)
            const ok = given
              ? this.claim(eip!, `spec.v${fam}Ip`, net, ip.text, netName, `Vpc/${r.name}`)
              : this.claim(this.config!, 'data.nic-ip', net, ip.text, netName, `Vpc/${r.name}`);
            if (!ok) continue;
          }
          if (!ip && existing) {
            for (const n of existing.networks) {
              const p = parseIpOrCidr(n);
              if (p && p.family === fam && cidrContains(c, p.ip)) ip = p.ip;
            }
          }
          if (!ip) ip = this.ledgerLookup(netName, 'Vpc', r.name, fam);
          if (!ip) ip = this.allocate(net, fam);
          if (!ip) {
            this.problem({ kind: 'Vpc', name: r.name }, 'spec.enableExternal', `no free IPv${fam} address left in external network ${netName} (${c.text})`);
            continue;
          }
          this.takenOn(netName).add(ip.text);
          addrs.push(ip);
          this.reservations.push({ switchRef: net.lsRef, switchName: netName, ip: ip.text, kind: 'Vpc', name: r.name });
        }
        if (eip && eip.type === 'lrp') {
          this.eipAddr.set(eip.name, { net, ...famPick(addrs), from: objectId('Vpc', r.name) });
          lrpEips.add(eip.name);
        }
        const networks = addrs.map((ip) => `${ip.text}/${net.cidrs.find((c) => c.family === ip.family)!.prefix}`);
        const mac = eip?.macAddress ?? nic?.mac ?? existing?.mac ?? macFor(lrpName);
        const list = placed.get(lrpName) ?? [];
        const priorities = gatewayPriorities(list, currentPriority.get(lrpName));
        const chassis = list.map((ch, i) => ({ chassis: ch, priority: priorities[i] }));
        this.put('Vpc', r.name, externalPortRows({ router: r.name, routerRef: r.ref, network: netName, switchRef: net.lsRef, mac, networks, chassis }, this.keyOf('Vpc', r.name)));
        // default route(s) via the default external network's gateway
        if (r.defaultRoute && netName === defaultNet) {
          const gwAddr = this.config?.externalGwAddr ? parseIpOrCidr(this.config.externalGwAddr)?.ip : undefined;
          for (const c of net.cidrs) {
            const gw = (gwAddr && gwAddr.family === c.family ? gwAddr : undefined) ?? net.gateways.find((g) => g.family === c.family);
            if (gw) this.put('Vpc', r.name, [defaultRouteRow({ router: r.name, routerRef: r.ref, family: c.family, nexthop: gw.text })]);
          }
        }
      }
    });
    return lrpEips;
  }

  /**
   * When a new port is placed: the active gateway ports per chassis among
   * those NB has and this plan does not render (a plan of some routers), so
   * that new ports spread as in a plan of all. Read from NB as it is (not
   * recorded for any object: a port once placed keeps its chassis).
   */
  private otherLoad(ports: readonly string[], current: ReadonlyMap<string, readonly string[]>): Map<string, number> | undefined {
    if (ports.every((p) => (current.get(p) ?? []).length > 0)) return undefined;
    return otherActiveLoad(this.facts, new Set(ports));
  }

  /** Kube-OVN's Vpc bfdPort (gateway/rows.ts bfdPortRows), on the chassis placed for it. */
  private bfdPort(r: Router, chassis: readonly string[], current: ReadonlyMap<string, number> | undefined): void {
    const name = bfdPortName(r.name);
    const priorities = gatewayPriorities(chassis, current);
    const mac = this.findByName('Logical_Router_Port', name)?.mac ?? macFor(name);
    const slots = chassis.map((ch, i) => ({ chassis: ch, priority: priorities[i] }));
    this.put('Vpc', r.name, bfdPortRows({ router: r.name, routerRef: r.ref, networks: r.bfdPort!, mac, chassis: slots }, this.keyOf('Vpc', r.name)));
  }

  // ------------------------------------------------------------ addresses

  /** The address of a family the object holds in a switch's ledger. */
  private ledgerLookup(sw: string, kind: string, name: string, fam: Family): Ip | undefined {
    const row = this.switchRow(sw);
    if (!row) return undefined;
    for (const ip of this.facts.reservationsOf(`${this.opts.owner}/${kind}/${name}`).get(row._uuid) ?? []) {
      const p = parseIp(ip);
      if (p && p.family === fam) return p;
    }
    return undefined;
  }

  private excluded(s: Subnet, ip: Ip): boolean {
    for (const e of s.excludeIps) {
      const r = parseIpRange(e);
      if (r && r.family === ip.family && ip.value >= r.first && ip.value <= r.last) return true;
    }
    return false;
  }

  /** The next free address of a family in a network (first host upwards). */
  private allocate(net: { subnet: Subnet; cidrs: Cidr[] }, fam: Family): Ip | undefined {
    const c = net.cidrs.find((x) => x.family === fam);
    if (!c) return undefined;
    const sw = net.subnet.name;
    // addresses below the cursor were found taken by an earlier allocation of this plan
    const cursorKey = `${sw}/${fam}`;
    const first = this.cursor.get(cursorKey) ?? cidrFirstHost(c).value;
    const last = cidrLastHost(c).value;
    for (let v = first; v <= last; v++) {
      const ip = parseIp(formatIp(fam, v))!;
      if (this.reservedBy(sw, ip.text) !== undefined || this.inUseOn(sw, ip.text) || this.excluded(net.subnet, ip) || this.ipUsedInNb(ip)) continue;
      this.cursor.set(cursorKey, v + 1n);
      return ip;
    }
    this.cursor.set(cursorKey, last + 1n);
    return undefined;
  }

  /**
   * Take a given address: it must be inside the network and not used by something else.
   * `holder` ("kind/name", default the object's own) is who the address is reserved for.
   */
  private claim(o: ManifestObject, field: string, net: { subnet: Subnet; cidrs: Cidr[] }, text: string, sw: string, holder = `${o.kind}/${o.name}`): Ip | undefined {
    const ip = parseIp(text)!;
    const c = net.cidrs.find((x) => cidrContains(x, ip));
    if (!c) {
      this.problem(o, field, `${ip.text} is outside network ${net.subnet.name} (${net.subnet.cidrBlock.join(', ')})`);
      return undefined;
    }
    const mine = `${this.opts.owner}/${holder}`;
    const reserved = this.reservedBy(sw, ip.text);
    if (reserved && reserved !== mine) {
      this.problem(o, field, `${ip.text} is already reserved by ${reserved}`);
      return undefined;
    }
    if (!reserved && this.inUseOn(sw, ip.text)) {
      this.problem(o, field, `${ip.text} is already in use on ${sw}`);
      return undefined;
    }
    if (!reserved && this.ipUsedInNb(ip)) {
      this.problem(o, field, `${ip.text} is already in use in NB (a router port or NAT external IP)`);
      return undefined;
    }
    return ip;
  }

  private eip(e: OvnEip, lrpEips: ReadonlySet<string>): void {
    const netName = e.externalSubnet ?? this.defaultExternal();
    if (!netName) return this.problem(e, 'spec.externalSubnet', 'not given and there is no default external network');
    const net = this.extNets.get(netName);
    if (!net) return this.problem(e, 'spec.externalSubnet', `external network "${netName}" not found (a Subnet with a vlan and no vpc)`);
    if (e.type === 'lrp') {
      if (!lrpEips.has(e.name)) {
        this.problem(e, 'spec.type', `type lrp names a router port "<vpc>-<external network>"; no Vpc with enableExternal attaches network ${netName} as "${e.name}"`);
      }
      return;
    }
    const got = this.reserve(e, net, net.lsRef, [
      [4, e.v4Ip, 'spec.v4Ip'],
      [6, e.v6Ip, 'spec.v6Ip'],
    ], 'spec.externalSubnet');
    this.eipAddr.set(e.name, { net, ...famPick(got) });
    if (e.type === 'lsp') {
      const mac = e.macAddress ?? this.findByName('Logical_Switch_Port', e.name)?.addresses[0]?.split(' ')[0] ?? macFor(e.name);
      this.addRow('OvnEip', e.name, 'port', {
        table: 'Logical_Switch_Port',
        label: `Logical_Switch_Port ${e.name} (lsp EIP ${got.map((g) => g.text).join(' ')})`,
        parent: { table: 'Logical_Switch', ref: net.lsRef, column: 'ports' },
        columns: { name: e.name, addresses: [[mac, ...got.map((g) => g.text)].join(' ')] },
        ensureName: e.name,
      });
    }
  }

  /**
   * The addresses of an EIP or VIP, per family of its network: the given one
   * (claimed), else the one it already holds in the ledger, else the next
   * free one; each reserved in the network switch's ledger.
   */
  private reserve(
    o: OvnEip | Vip,
    net: { subnet: Subnet; cidrs: Cidr[] },
    switchRef: string,
    wanted: readonly (readonly [Family, string | undefined, string])[],
    poolField: string,
  ): Ip[] {
    const sw = net.subnet.name;
    const got: Ip[] = [];
    for (const [fam, given, field] of wanted) {
      if (!net.cidrs.some((c) => c.family === fam)) {
        if (given) this.problem(o, field, `network ${sw} has no IPv${fam} CIDR`);
        continue;
      }
      let ip: Ip | undefined;
      if (given) ip = this.claim(o, field, net, given, sw);
      else {
        ip = this.ledgerLookup(sw, o.kind, o.name, fam) ?? this.allocate(net, fam);
        if (!ip) this.problem(o, poolField, `no free IPv${fam} address left in ${sw}`);
      }
      if (!ip) continue;
      this.takenOn(sw).add(ip.text);
      got.push(ip);
      this.reservations.push({ switchRef, switchName: sw, ip: ip.text, kind: o.kind, name: o.name });
    }
    return got;
  }

  private vip(v: Vip): void {
    const s = this.get<Subnet>('Subnet', v.subnet);
    if (!s || !s.vpc) return this.problem(v, 'spec.subnet', `internal Subnet "${v.subnet}" (a Subnet with a vpc) not found (neither in the input nor applied before)`);
    const net = { subnet: s, cidrs: s.cidrBlock.map((c) => parseCidr(c)!) };
    const got = this.reserve(v, net, key('Subnet', s.name, 'switch'), [
      [4, v.v4ip, 'spec.v4ip'],
      [6, v.v6ip, 'spec.v6ip'],
    ], 'spec.subnet');
    this.vipAddr.set(v.name, { ...famPick(got), router: s.vpc });
  }

  /** A BFD row of Vpc v from a router port to a next hop (one per port and peer, shared by its routes). */
  private bfdRow(v: Vpc, port: string, dst: string, timers: BfdTimers): ReturnType<typeof ref> {
    const bk = key('Vpc', v.name, bfdPart(port, dst));
    if (!this.bfdKeys.has(bk)) {
      this.bfdKeys.add(bk);
      this.put('Vpc', v.name, [bfdRow(port, dst, timers)]);
    }
    return ref(bk);
  }
  private readonly bfdKeys = new Set<string>();

  private routes(v: Vpc): void {
    const r = this.routers.get(v.name)!;
    if (v.enableBfd) {
      // Kube-OVN: BFD from the default external port to the external network's gateway, so a gateway
      // chassis that lost its uplink shows as down (the BFD row's status); its timers are kube-ovn-controller's defaults
      const def = this.defaultExternal();
      const port = def ? r.externals.get(def) : undefined;
      if (!v.enableExternal || !port) this.problem(v, 'spec.enableBfd', 'needs spec.enableExternal: true and a default external network (BFD runs from its router port to its gateway)');
      else for (const gw of this.extNets.get(def!)!.gateways) this.bfdRow(v, port, gw.text, KUBE_OVN_BFD);
    }
    v.staticRoutes.forEach((sr, i) => {
      const policy = sr.policy === 'policySrc' ? 'src-ip' : 'dst-ip';
      let bfdRef: ReturnType<typeof ref> | undefined;
      if (sr.bfd) {
        const port = this.portFor(r, sr.nextHopIP);
        if (!port) {
          this.problem(v, `spec.staticRoutes[${i}].nextHopIP`, `${sr.nextHopIP} is on no network of a router port of ${v.name}, so BFD has no port to run on`);
          return;
        }
        bfdRef = this.bfdRow(v, port, sr.nextHopIP, sr.bfd);
      } else if (sr.bfdId) {
        const b = this.nb.table('BFD').get(sr.bfdId);
        if (!b) return this.problem(v, `spec.staticRoutes[${i}].bfdId`, `no BFD row ${sr.bfdId} in NB`);
        if (b.dst_ip !== sr.nextHopIP) return this.problem(v, `spec.staticRoutes[${i}].bfdId`, `BFD ${sr.bfdId} watches ${b.dst_ip}, not the next hop ${sr.nextHopIP}`);
        bfdRef = ref(`uuid:${sr.bfdId}`);
      }
      // options:ecmp_symmetric_reply only when asked (the key is removed from our row that has it otherwise)
      const symmetric = sr.ecmpMode === 'ecmp_symmetric_reply';
      this.put('Vpc', v.name, [staticRouteRow({ router: v.name, routerRef: r.ref, cidr: sr.cidr, nexthop: sr.nextHopIP, policy, ...(sr.routeTable ? { routeTable: sr.routeTable } : {}), ...(bfdRef ? { bfd: bfdRef } : {}), symmetric })]);
    });
    v.policyRoutes.forEach((pr) => {
      this.put('Vpc', v.name, [policyRow({ router: v.name, routerRef: r.ref, priority: pr.priority, match: pr.match, action: pr.action, nexthops: pr.nextHopIP })]);
    });
  }

  /** The router port (declared here or in NB) whose network holds an IP. */
  private portFor(r: Router, ipText: string): string | undefined {
    const ip = parseIp(ipText);
    if (!ip) return undefined;
    for (const [netName, lrp] of r.externals) {
      if (this.extNets.get(netName)!.cidrs.some((c) => cidrContains(c, ip))) return lrp;
    }
    for (const s of this.all<Subnet>('Subnet')) {
      if (s.vpc !== r.name) continue;
      this.use('Subnet', s.name);
      if (s.cidrBlock.some((c) => cidrContains(parseCidr(c)!, ip))) return `${r.name}-${s.name}`;
    }
    return undefined;
  }

  // ------------------------------------------------------------ NAT

  /** The internal address(es) and router of a FIP/SNAT/DNAT target. */
  private target(
    o: OvnFip | OvnDnatRule | OvnSnatRule,
    ipType: 'vip' | undefined,
  ): { router: string; v4?: string; v6?: string; lsp?: LogicalSwitchPortRow } | undefined {
    if (o.ipName) {
      if (ipType === 'vip') {
        if (this.refusedDep(o, 'spec.ipName', 'Vip', o.ipName)) return undefined;
        const v = this.vipAddr.get(o.ipName);
        if (!v) return this.problem(o, 'spec.ipName', `Vip "${o.ipName}" not found (neither in the input nor applied before)`), undefined;
        return { router: v.router!, ...(v.v4 ? { v4: v.v4.text } : {}), ...(v.v6 ? { v6: v.v6.text } : {}) };
      }
      const lsp = this.findByName('Logical_Switch_Port', o.ipName);
      if (!lsp) {
        this.problem(o, 'spec.ipName', `no Logical_Switch_Port "${o.ipName}" in NB (workload ports are made by the CNI; is the pod running?)`, true);
        return undefined;
      }
      const ips = lspIps(lsp);
      if (ips.length === 0) {
        this.problem(o, 'spec.ipName', `Logical_Switch_Port "${o.ipName}" has no IP address in addresses or dynamic_addresses`, true);
        return undefined;
      }
      const router = this.routerOfPort(lsp);
      if (!router) {
        this.problem(o, 'spec.ipName', `the switch of port "${o.ipName}" is connected to no router`, true);
        return undefined;
      }
      const v4 = ips.find((i) => i.family === 4)?.text;
      const v6 = ips.find((i) => i.family === 6)?.text;
      return { router, lsp, ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
    }
    if (o.kind === 'OvnSnatRule' && o.vpcSubnet) {
      const s = this.get<Subnet>('Subnet', o.vpcSubnet);
      if (this.refusedDep(o, 'spec.vpcSubnet', 'Subnet', o.vpcSubnet)) return undefined;
      if (!s || !s.vpc) return this.problem(o, 'spec.vpcSubnet', `internal Subnet "${o.vpcSubnet}" (a Subnet with a vpc) not found (neither in the input nor applied before)`), undefined;
      const v4 = s.cidrBlock.find((c) => parseCidr(c)!.family === 4);
      const v6 = s.cidrBlock.find((c) => parseCidr(c)!.family === 6);
      return { router: s.vpc, ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
    }
    const vpc = o.vpc!;
    if (this.refusedDep(o, 'spec.vpc', 'Vpc', vpc)) return undefined;
    if (!this.routers.has(vpc) && !this.findByName('Logical_Router', vpc)) {
      this.problem(o, 'spec.vpc', `no Vpc "${vpc}" in the manifest and no Logical_Router "${vpc}" in NB`);
      return undefined;
    }
    if (o.kind === 'OvnSnatRule') return { router: vpc, ...(o.v4IpCidr ? { v4: o.v4IpCidr } : {}), ...(o.v6IpCidr ? { v6: o.v6IpCidr } : {}) };
    return { router: vpc, ...(o.v4Ip ? { v4: o.v4Ip } : {}), ...(o.v6Ip ? { v6: o.v6Ip } : {}) };
  }

  private routerOfPort(lsp: LogicalSwitchPortRow): string | undefined {
    const ls = this.nb.table('Logical_Switch').lookup('ports', lsp._uuid)[0];
    if (!ls) return undefined;
    const sub = this.get<Subnet>('Subnet', ls.name);
    if (sub?.vpc) {
      this.use('Vpc', sub.vpc);
      return sub.vpc;
    }
    // a router-type port of this switch names its router port; that port's router
    for (const pu of ls.ports) {
      const p = this.nb.table('Logical_Switch_Port').get(pu);
      const rp = p?.type === 'router' ? p.options.get('router-port') : undefined;
      const lrp = rp ? this.findByName('Logical_Router_Port', rp) : undefined;
      const lr = lrp ? this.nb.table('Logical_Router').lookup('ports', lrp._uuid)[0] : undefined;
      if (lr) {
        this.use('Vpc', lr.name);
        return lr.name;
      }
    }
    return undefined;
  }

  /** Resolves the EIP of a rule and checks it may be used for NAT on that router. */
  private natEip(o: OvnFip | OvnSnatRule | OvnDnatRule, router: string): { v4?: Ip; v6?: Ip; net: ExtNet; lrp: string | undefined } | undefined {
    const e = this.get<OvnEip>('OvnEip', o.ovnEip);
    if (!e) return this.problem(o, 'spec.ovnEip', `OvnEip "${o.ovnEip}" not found (neither in the input nor applied before)`), undefined;
    if (this.refusedDep(o, 'spec.ovnEip', 'OvnEip', e.name)) return undefined;
    if (e.type === 'lsp') return this.problem(o, 'spec.ovnEip', `OvnEip "${e.name}" is of type lsp (an ECMP next hop port) and cannot be used for NAT`), undefined;
    const a = this.eipAddr.get(e.name);
    if (!a) return undefined; // the EIP's own problem is reported
    const r = this.routers.get(router);
    const lrp = r?.externals.get(a.net.subnet.name);
    if (!lrp) {
      const attached = r ? [...r.externals.keys()] : [];
      this.problem(
        o,
        'spec.ovnEip',
        `${[a.v4?.text, a.v6?.text].filter(Boolean).join(', ')} (OvnEip ${e.name}) is on external network ${a.net.subnet.name}, which Vpc ${router} is not attached to (attached: ${attached.length ? attached.join(', ') : 'none'})`,
      );
      return undefined;
    }
    return { ...a, lrp };
  }

  private natRow(
    o: OvnFip | OvnSnatRule,
    router: string,
    fam: Family,
    type: 'snat' | 'dnat_and_snat',
    externalIp: string,
    logicalIp: string,
    lrp: string | undefined,
    extra: Record<string, unknown>,
  ): void {
    const r = this.routers.get(router);
    const multi = r ? r.externals.size > 1 : false;
    const part = `nat:${fam}`;
    this.addRow(o.kind, o.name, part, {
      table: 'NAT',
      label: `NAT ${type} ${externalIp} <-> ${logicalIp} (router ${router})`,
      parent: { table: 'Logical_Router', ref: r ? r.ref : `name:${router}`, column: 'nat' },
      columns: {
        type,
        external_ip: externalIp,
        logical_ip: logicalIp,
        gateway_port: multi && lrp ? ref(key('Vpc', router, `external:${this.netOfPort(router, lrp)}:port`)) : null,
        ...extra,
      },
    });
  }

  private netOfPort(router: string, lrp: string): string {
    for (const [n, p] of this.routers.get(router)!.externals) if (p === lrp) return n;
    return '';
  }

  /**
   * What a FIP/SNAT/DNAT maps: its internal target and EIP, checked, the EIP
   * counted as used, and the (external, internal) address per family both
   * have. Undefined (with the problem reported) when there is nothing to map.
   */
  private natPairs(
    o: OvnFip | OvnSnatRule | OvnDnatRule,
    ipType: 'vip' | undefined,
    eipUse: Map<string, string[]>,
  ): { router: string; lsp: LogicalSwitchPortRow | undefined; lrp: string | undefined; pairs: { fam: Family; ext: Ip; int: string }[] } | undefined {
    const t = this.target(o, ipType);
    if (!t) return undefined;
    const e = this.natEip(o, t.router);
    if (!e) return undefined;
    this.useEip(o, eipUse);
    const pairs: { fam: Family; ext: Ip; int: string }[] = [];
    for (const fam of [4, 6] as const) {
      const ext = fam === 4 ? e.v4 : e.v6;
      const int = fam === 4 ? t.v4 : t.v6;
      if (ext && int) pairs.push({ fam, ext, int });
    }
    if (pairs.length === 0) return this.mixed(o, e, t), undefined;
    return { router: t.router, lsp: t.lsp, lrp: e.lrp, pairs };
  }

  private fip(f: OvnFip, eipUse: Map<string, string[]>): void {
    const n = this.natPairs(f, f.ipType, eipUse);
    if (!n) return;
    const type = f.type ?? this.config?.type ?? 'centralized';
    for (const { fam, ext, int } of n.pairs) {
      const extra: Record<string, unknown> = { logical_port: null, external_mac: null };
      // options:stateless is set when asked for, and the key removed when no longer (other option keys are left alone)
      extra.options = new Map([['stateless', f.stateless ? 'true' : null]]);
      if (type === 'distributed') {
        if (!n.lsp) {
          this.problem(f, 'spec.type', 'distributed needs ipName naming a workload port (its MAC and chassis); a VIP or a bare IP stays centralized');
          return;
        }
        extra.logical_port = n.lsp.name;
        extra.external_mac = macFor(`${f.name}/fip`);
      }
      this.natRow(f, n.router, fam, 'dnat_and_snat', ext.text, int, n.lrp, extra);
    }
  }

  private mixed(o: ManifestObject, e: { v4?: Ip; v6?: Ip }, t: { v4?: string; v6?: string }): void {
    const ef = [e.v4 ? 'IPv4' : '', e.v6 ? 'IPv6' : ''].filter(Boolean).join('+') || 'none';
    const tf = [t.v4 ? 'IPv4' : '', t.v6 ? 'IPv6' : ''].filter(Boolean).join('+') || 'none';
    this.problem(o, 'spec.ovnEip', `IPv4 and IPv6 mixed: the EIP has ${ef}, the internal address has ${tf}; a NAT rule maps one family to the same family`);
  }

  private useEip(o: OvnFip | OvnDnatRule | OvnSnatRule, eipUse: Map<string, string[]>): void {
    const users = eipUse.get(o.ovnEip) ?? [];
    for (const u of users) this.useId(u);
    const fip = users.find((u) => u.startsWith('OvnFip/'));
    if (o.kind === 'OvnFip' && users.some((u) => u.startsWith('OvnFip/') || u.startsWith('OvnDnatRule/'))) {
      this.problem(o, 'spec.ovnEip', `OvnEip "${o.ovnEip}" is already used by ${users.join(', ')}; a floating IP needs an EIP of its own`);
    } else if (o.kind === 'OvnDnatRule' && fip) {
      this.problem(o, 'spec.ovnEip', `OvnEip "${o.ovnEip}" is already used by ${fip} (a floating IP maps all its ports)`);
    }
    users.push(`${o.kind}/${o.name}`);
    eipUse.set(o.ovnEip, users);
  }

  /** SNATed internal addresses: "router gateway-port logical-ip" -> the OvnSnatRule that has it. */
  private readonly snatted = new Map<string, string>();

  private snat(s: OvnSnatRule, eipUse: Map<string, string[]>): void {
    const n = this.natPairs(s, undefined, eipUse);
    if (!n) return;
    for (const { int } of n.pairs) {
      // two snat rows for one logical_ip out of one port compile to two flows of equal match and priority:
      // OVN would use either (ovn-nbctl lr-nat-add refuses it too); several EIPs need several external networks
      const k = `${n.router} ${n.lrp ?? ''} ${int}`;
      const other = this.snatted.get(k);
      if (other !== undefined) {
        this.use('OvnSnatRule', other);
        const field = s.vpcSubnet ? 'spec.vpcSubnet' : s.ipName ? 'spec.ipName' : int.includes(':') ? 'spec.v6IpCidr' : 'spec.v4IpCidr';
        return this.problem(s, field, `${int} is already SNATed by OvnSnatRule ${other} through ${n.lrp ?? `router ${n.router}`}; OVN would use either rule's EIP (two flows of equal priority): give each EIP its own external network`);
      }
      this.snatted.set(k, s.name);
    }
    for (const { fam, ext, int } of n.pairs) {
      this.natRow(s, n.router, fam, 'snat', ext.text, int, n.lrp, {
        external_port_range: s.externalPortRange ?? '',
        allowed_ext_ips: this.extIpSet(s, 'allowed', fam),
        exempted_ext_ips: this.extIpSet(s, 'exempted', fam),
      });
    }
  }

  /**
   * The Address_Set of an SNAT's allowedExtIps / exemptedExtIps for one
   * address family (an address set holds one type of address), as the
   * reference its NAT row keeps; null when the rule has none. Named
   * "natgw.snat.<rule, '-' as '_'>.<allowed|exempted>.ip<4|6>" (address set
   * names allow [a-zA-Z_.0-9]; a DNS-1123 name maps one to one).
   */
  private extIpSet(s: OvnSnatRule, which: 'allowed' | 'exempted', fam: Family): ReturnType<typeof ref> | null {
    const field = which === 'allowed' ? 'allowedExtIps' : 'exemptedExtIps';
    const list = s[field];
    if (!list) return null;
    const addresses = list.filter((a) => familyOf(a) === fam);
    if (addresses.length === 0) {
      // no exemption for this family is just that; an allow-list without it would SNAT none of its traffic
      if (which === 'allowed') this.problem(s, `spec.${field}`, `has no IPv${fam} address, but the rule SNATs IPv${fam} (${fam === 4 ? 'v4IpCidr' : 'v6IpCidr'}); an empty allow-list would stop all of its IPv${fam} SNAT`);
      return null;
    }
    const part = `${which}:${fam}`;
    const name = `natgw.snat.${s.name.replace(/-/g, '_')}.${which}.ip${fam}`;
    this.addRow(s.kind, s.name, part, {
      table: 'Address_Set',
      label: `Address_Set ${name} (${which} external IPs of OvnSnatRule ${s.name})`,
      columns: { name, addresses },
    });
    return ref(key(s.kind, s.name, part));
  }

  private dnat(d: OvnDnatRule, eipUse: Map<string, string[]>): void {
    const n = this.natPairs(d, d.ipType, eipUse);
    if (!n) return;
    const vips = new Map<string, string>();
    for (const { fam, ext, int } of n.pairs) {
      const x = fam === 4 ? `${ext.text}:${d.externalPort}` : `[${ext.text}]:${d.externalPort}`;
      const y = fam === 4 ? `${int}:${d.internalPort}` : `[${int}]:${d.internalPort}`;
      vips.set(x, y);
    }
    // one EIP:port:protocol may be forwarded only once
    for (const x of vips.keys()) {
      const other = this.lbVips.get(`${d.protocol} ${x}`);
      if (other) this.useId(other.replace(' ', '/'));
      if (other) this.problem(d, 'spec.externalPort', `${d.protocol} ${x} is already forwarded by ${other}`);
      else this.lbVips.set(`${d.protocol} ${x}`, `OvnDnatRule ${d.name}`);
    }
    const r = this.routers.get(n.router);
    this.addRow('OvnDnatRule', d.name, 'lb', {
      table: 'Load_Balancer',
      label: `Load_Balancer ${d.name} (${d.protocol} ${[...vips].map(([a, b]) => `${a} -> ${b}`).join(', ')}, router ${n.router})`,
      columns: { name: d.name, protocol: d.protocol, vips },
      // attached to the router through the router's load_balancer set (see plan.ts: "attach")
      parent: { table: 'Logical_Router', ref: r ? r.ref : `name:${n.router}`, column: 'load_balancer' },
    });
  }
}

function famPick(ips: readonly Ip[]): { v4?: Ip; v6?: Ip } {
  const v4 = ips.find((i) => i.family === 4);
  const v6 = ips.find((i) => i.family === 6);
  return { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
}

/** The IPs of a switch port ("MAC IP [IP...]" entries, or dynamic_addresses). */
export function lspIps(p: LogicalSwitchPortRow): Ip[] {
  const out: Ip[] = [];
  for (const a of [...p.addresses, ...(p.dynamic_addresses ? [p.dynamic_addresses] : [])]) {
    for (const w of a.split(/\s+/).slice(1)) {
      const ip = parseIp(w.split('/')[0]);
      if (ip && !out.some((x) => x.text === ip.text)) out.push(ip);
    }
  }
  return out;
}
