/**
 * ovn-natgw-drill: a failover drill on real ovn-controllers (issue 16 §7).
 *
 * Starts a local OVN (NB, SB, ovn-northd) with G simulated gateway chassis
 * and a hypervisor (src/sandbox/chassis-lib.ts: each its own Open_vSwitch
 * ovsdb-server, ovs-vswitchd and ovn-controller), an ovn-natgwd on every
 * gateway node (--chassis, its own health checks, one of them the leader),
 * builds R routers, each with a subnet that leaves by its EIPs (SNAT, a FIP)
 * and one with centralized egress to the gateway nodes (their ports on the
 * router's join switch), through them, and the workloads the CNI would add,
 * then runs each kind of drill N times and measures, per drill, from the
 * fault: detection (the leader's liveness event), the failover's NB commit,
 * NB showing no port led by the victim, the chassisredirect bindings moved
 * off it in SB (by OVN), the egress reroutes rewritten, and redundancy
 * restored (every port with K live chassis). After each drill the victim is
 * brought back, and the gateways rebalanced, before the next.
 *
 * Kinds:
 * - kill-node: every process of a gateway node at once (SIGKILL), its ovn-natgwd with them;
 * - stop-node: every process of a node stopped (SIGSTOP): no TCP close, found by the leader's pings;
 * - kill-vswitchd: its ovs-vswitchd only (the data plane): OVN's BFD moves the binding,
 *   the node's health check lets its lock go, ovn-natgw takes it out of every set;
 * - kill-controller: its ovn-controller only: its flows keep forwarding and BFD stays up, so OVN
 *   moves nothing; ovn-natgw waits controllerGraceMs (a restart, an upgrade) and then fails it over;
 * - kill-leader: the leader's ovn-natgwd: the next one takes the leader lock; measured to its first write;
 * - drain: the operator's drain of a node (the actives move off, it stays as the lowest standby).
 *
 * Against a given NB/SB (--nb, --sb, --target: a deployment's ovn-natgwd
 * sockets): what exists is drilled, with drains only (attach()); nothing is
 * built or killed, and SB is not written.
 *
 * Prints progress on stderr, a table of p50/p95/p99 per measure and kind,
 * and a verdict: no port on a dead active, every port with K live chassis,
 * the spread within one of even after the rebalance, and, after each
 * failover and drain, ovn-trace from the moved routers' subnets
 * (drill-trace.ts): a FIP's and a SNAT'd workload still leave by the
 * gateway port with their EIP, the egress subnet reaches a live node. `-o json`: every
 * measurement and a top-level `verdict` of pass or fail. Exit status 1 on
 * any violation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { closeSync, existsSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Command, CommanderError } from 'commander';
import { OvsdbClient } from '../ovsdb/client.js';
import type { NbTables } from '../models/ovn-nb.js';
import type { NbView } from '../nat/nb-view.js';
import type { SbTables } from '../models/ovn-sb.js';
import type { Replica } from '../ovsdb/replica.js';
import type { TlsFiles } from '../ovsdb/transport.js';
import { GatewayIndex, INDEX_BFD_COLUMNS, INDEX_NB_TABLES } from '../ha/index.js';
import { callDaemon } from './daemon-client.js';
import { askedArp, checkProbe, probesOf, TRACE_NB_TABLES } from './drill-trace.js';
import { ovnTrace } from '../sandbox/ovn-trace.js';
import { findBinary, run as runTool, startSandbox, type Sandbox } from '../sandbox/sandbox-lib.js';
import { addChassis, type SimChassis, type SimNetwork } from '../sandbox/chassis-lib.js';

export const DRILL_KINDS = ['kill-node', 'stop-node', 'kill-vswitchd', 'kill-controller', 'kill-leader', 'drain'] as const;
export type DrillKind = (typeof DRILL_KINDS)[number];

interface Options {
  routers: number;
  gateways: number;
  k: number;
  drills: number;
  kinds: DrillKind[];
  output: 'table' | 'json';
  holdDownMs: number;
  pingMs: number;
  controllerGraceMs: number;
  keep: boolean;
  /** against a given NB/SB (with the ovn-natgwd sockets there): drains only */
  nb?: string;
  sb?: string;
  targets: string[];
  tls?: TlsFiles;
}

const NATGWD = fileURLToPath(new URL('../../bin/ovn-natgwd.js', import.meta.url));
const say = (msg: string) => process.stderr.write(`drill: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A gateway node's next hop for centralized egress: its port on each router's join switch (Kube-OVN's node-<name> at 100.64.0.x). */
const nodeIp = (i: number) => `100.64.0.${i + 1}`;
/** The provider network's upstream router (the routers' default route). */
const UPSTREAM = { ip: '10.5.0.1', mac: '0a:00:00:00:00:fe' };
const hex2 = (n: number) => (n & 255).toString(16).padStart(2, '0');
/** Router i's subnets: NAT (SNAT, a FIP), join, centralized egress. */
const netOf = (i: number) => `10.${100 + Math.floor(i / 256)}.${i % 256}`;
const egressNetOf = (i: number) => `10.${150 + Math.floor(i / 256)}.${i % 256}`;

/**
 * The drill's desired state: R routers on G gateway nodes, each with a
 * subnet that leaves by its EIPs (SNAT, and a FIP for its workload .10), and
 * a subnet with centralized egress to the gateway nodes (a reroute to their
 * ports on the router's join switch). Kube-OVN keeps the two apart too: a
 * centralized subnet leaves through its node, not by an EIP.
 */
export function drillManifest(routers: number, gateways: readonly string[]): string {
  const K = 'apiVersion: kubeovn.io/v1\n';
  const docs = [
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ovn-external-gw-config, namespace: kube-system}\ndata:\n  enable-external-gw: "true"\n  external-gw-nodes: "${gateways.join(',')}"\n  type: centralized\n  external-gw-addr: "10.5.0.1/16"\n`,
    `${K}kind: ProviderNetwork\nmetadata: {name: physnet1}\nspec: {defaultInterface: eth1}\n`,
    `${K}kind: Vlan\nmetadata: {name: vlan0}\nspec: {id: 0, provider: physnet1}\n`,
    `${K}kind: Subnet\nmetadata: {name: physnet1}\nspec: {protocol: IPv4, cidrBlock: 10.5.0.0/16, gateway: 10.5.0.1, vlan: vlan0, excludeIps: [10.5.0.1..10.5.0.10]}\n`,
  ];
  const hops = gateways.map((g, i) => `${g}:${nodeIp(i + 1)}`).join(',');
  for (let i = 0; i < routers; i++) {
    const v = `drill-${i}`;
    docs.push(
      `${K}kind: Vpc\nmetadata: {name: ${v}}\nspec: {enableExternal: true}\n`,
      `${K}kind: Subnet\nmetadata: {name: ${v}-net}\nspec: {cidrBlock: ${netOf(i)}.0/24, vpc: ${v}}\n`,
      `${K}kind: Subnet\nmetadata: {name: ${v}-join}\nspec: {cidrBlock: 100.64.0.0/16, vpc: ${v}}\n`,
      `${K}kind: Subnet\nmetadata: {name: ${v}-egress}\nspec: {cidrBlock: ${egressNetOf(i)}.0/24, vpc: ${v}, gatewayType: centralized, gatewayNode: "${hops}"}\n`,
      `${K}kind: OvnEip\nmetadata: {name: ${v}-snat}\nspec: {externalSubnet: physnet1, type: nat}\n`,
      `${K}kind: OvnSnatRule\nmetadata: {name: ${v}-snat}\nspec: {ovnEip: ${v}-snat, vpcSubnet: ${v}-net}\n`,
      `${K}kind: OvnEip\nmetadata: {name: ${v}-fip}\nspec: {externalSubnet: physnet1, type: nat}\n`,
      `${K}kind: OvnFip\nmetadata: {name: ${v}-fip}\nspec: {ovnEip: ${v}-fip, vpc: ${v}, v4Ip: ${netOf(i)}.10}\n`,
    );
  }
  return docs.join('---\n');
}

/**
 * What Kube-OVN's CNI would add for the drill's routers, as ovn-nbctl
 * arguments: per router a workload with the FIP (.10), one SNAT'd only
 * (.20), one in the egress subnet, and each gateway node's port on its join
 * switch.
 */
export function drillWorkloads(routers: number, gateways: readonly string[]): string[][] {
  const cmds: string[][] = [];
  for (let i = 0; i < routers; i++) {
    const v = `drill-${i}`;
    const mac = (k: number, n: number) => `0a:${hex2(i >> 8)}:${hex2(i)}:00:${hex2(k)}:${hex2(n)}`;
    const lsp = (sw: string, name: string, addr: string) => ['lsp-add', sw, name, '--', 'lsp-set-addresses', name, addr];
    cmds.push(lsp(`${v}-net`, `${v}-vm`, `${mac(1, 10)} ${netOf(i)}.10`), lsp(`${v}-net`, `${v}-pod`, `${mac(1, 20)} ${netOf(i)}.20`), lsp(`${v}-egress`, `${v}-epod`, `${mac(2, 10)} ${egressNetOf(i)}.10`));
    gateways.forEach((g, n) => cmds.push(lsp(`${v}-join`, `${v}-node-${g}`, `${mac(3, n + 1)} ${nodeIp(n + 1)}`)));
  }
  return cmds;
}

interface NodeDaemon {
  chassis: string;
  dir: string;
  sock: string;
  config: string;
  log: string;
  child?: ChildProcess;
}

/** What the drill sees of NB and SB: the hot index over its own replicas, and waits for a condition, timed at the commit that made it true. */
class Observer {
  readonly index = new GatewayIndex();
  private waits: { pred: () => boolean; resolve: (t: number) => void }[] = [];
  nb!: Replica<NbTables>;
  sb!: Replica<SbTables>;
  private readonly nbc: OvsdbClient;
  private readonly sbc: OvsdbClient;

  constructor(nb: string, sb: string, tls?: TlsFiles) {
    this.nbc = new OvsdbClient({ remote: nb, database: 'OVN_Northbound', ...(tls ? { tls } : {}) });
    this.sbc = new OvsdbClient({ remote: sb, database: 'OVN_Southbound', ...(tls ? { tls } : {}) });
  }

  async start(): Promise<void> {
    // (the index's tables, and what the traces read: routers, their NAT, switches and their ports)
    this.nb = this.nbc.replica<NbTables>({ tables: Object.fromEntries([...INDEX_NB_TABLES, ...TRACE_NB_TABLES].map((x) => [x, true])) });
    this.sb = this.sbc.replica<SbTables>({ tables: { Chassis: { columns: ['name'] }, Port_Binding: { columns: ['logical_port', 'chassis', 'type'], where: [['type', '==', 'chassisredirect']] }, BFD: { columns: INDEX_BFD_COLUMNS } } });
    await Promise.all([this.nbc.connect(20_000), this.sbc.connect(20_000), this.nb.ready, this.sb.ready]);
    this.index.follow(this.nb, this.sb, () => this.check());
  }

  private check(): void {
    const now = performance.now();
    this.waits = this.waits.filter((w) => {
      if (!w.pred()) return true;
      w.resolve(now);
      return false;
    });
  }

  /** Resolves with the time (performance.now) of the commit that made `pred` true (now, if it is), or undefined after ms. */
  when(pred: () => boolean, ms = 60_000): Promise<number | undefined> {
    if (pred()) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const w = { pred, resolve: (t: number) => resolve(t) };
      this.waits.push(w);
      setTimeout(() => {
        this.waits = this.waits.filter((x) => x !== w);
        resolve(undefined);
      }, ms).unref();
    });
  }

  /** The gateway ports (router ports with Gateway_Chassis). */
  ports(): string[] {
    return [...this.nb.table('Logical_Router_Port').values()].filter((p) => p.gateway_chassis.length > 0).map((p) => p.name);
  }

  /** The router a router port (or a policy) is on. */
  routerOf(pred: (r: NbTables['Logical_Router']) => boolean): string | undefined {
    for (const r of this.nb.table('Logical_Router').values()) if (pred(r)) return r.name;
    return undefined;
  }

  /** The next hops of every reroute policy. */
  nexthops(): string[][] {
    return [...this.nb.table('Logical_Router_Policy').values()].filter((p) => p.action === 'reroute').map((p) => [...p.nexthops]);
  }

  async close(): Promise<void> {
    await this.nbc.close();
    await this.sbc.close();
  }
}

interface Measure {
  kind: DrillKind;
  round: number;
  victim: string;
  /** ms from the fault; absent: not reached within the drill's wait */
  detection?: number;
  nb_commit?: number;
  nb_visible?: number;
  sb_moved?: number;
  egress_rewritten?: number;
  redundancy_restored?: number;
  leader_takeover?: number;
  first_write?: number;
  violations: string[];
  /** router/probe traced with ovn-trace after the failover and found leaving as it should */
  traced?: string[];
  note?: string;
}

const MEASURES = ['detection', 'nb_commit', 'nb_visible', 'sb_moved', 'egress_rewritten', 'redundancy_restored', 'leader_takeover', 'first_write'] as const;

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

class Drill {
  /** the drill's own OVN (absent against a given NB/SB) */
  sb?: Sandbox;
  nbRemote = '';
  sbRemote = '';
  net?: SimNetwork;
  chassis: SimChassis[] = [];
  gateways: SimChassis[] = [];
  /** the gateway chassis' names: the drill's simulated ones, or those the given NB's gateway ports use */
  names: string[] = [];
  daemons = new Map<string, NodeDaemon>();
  obs!: Observer;
  tmp!: string;
  readonly results: Measure[] = [];
  readonly violations: string[] = [];

  constructor(private readonly o: Options) {}

  /**
   * Against a given NB/SB: the gateway ports that exist, the ovn-natgwd
   * sockets given (one of them the leader); nothing is built, and nothing
   * but drains (with undrain and rebalance after each) is written.
   */
  async attach(): Promise<void> {
    this.nbRemote = this.o.nb!;
    this.sbRemote = this.o.sb!;
    say(`attaching to NB ${this.nbRemote} and SB ${this.sbRemote}`);
    this.obs = new Observer(this.nbRemote, this.sbRemote, this.o.tls);
    await this.obs.start();
    for (const sock of this.o.targets) {
      const st = (await callDaemon(sock, 'status').catch((e: Error) => {
        throw new Error(`--target ${sock}: ${e.message}`);
      })) as { chassis?: string | null };
      this.daemons.set(sock, { chassis: st.chassis ?? sock, dir: '', sock, config: '', log: '' });
    }
    const ports = this.obs.ports();
    if (!ports.length) throw new Error(`NB ${this.nbRemote} has no gateway port (a router port with Gateway_Chassis) to drill`);
    this.names = [...new Set(ports.flatMap((p) => this.obs.index.chassisOf(p).map((c) => c.chassis)))].sort();
    if (this.o.k === 0) this.o.k = Math.max(...ports.map((p) => this.obs.index.chassisOf(p).length));
    this.o.routers = ports.length;
    say(`${ports.length} gateway ports on ${this.names.length} gateway chassis (${this.names.join(', ')}), K=${this.o.k}`);
  }

  async setUp(): Promise<void> {
    this.tmp = await mkdtemp(path.join(os.tmpdir(), 'natgw-drill-'));
    say(`starting OVN (NB, SB, ovn-northd) in ${this.tmp}`);
    this.sb = await startSandbox({ dir: path.join(this.tmp, 'ovn') });
    this.nbRemote = this.sb.nbRemote;
    this.sbRemote = this.sb.sbRemote;
    say(`starting ${this.o.gateways} gateway chassis and a hypervisor (ovsdb-server, ovs-vswitchd, ovn-controller each)`);
    const { net, chassis } = await addChassis(this.sb, this.o.gateways + 1, this.o.gateways);
    this.net = net;
    this.chassis = chassis;
    this.gateways = chassis.slice(0, this.o.gateways);
    this.names = this.gateways.map((g) => g.name);
    this.obs = new Observer(this.nbRemote, this.sbRemote);
    await this.obs.start();
    const manifest = drillManifest(this.o.routers, this.gateways.map((g) => g.name));
    for (const g of this.gateways) {
      const dir = path.join(this.tmp, `natgwd-${g.name}`);
      await mkdir(path.join(dir, 'manifests.d'), { recursive: true });
      await writeFile(path.join(dir, 'manifests.d', 'drill.yaml'), manifest);
      const config = path.join(dir, 'ovn-natgwd.yaml');
      await writeFile(
        config,
        [
          `nb: ${this.nbRemote}`,
          `sb: ${this.sbRemote}`,
          `manifests: ${path.join(dir, 'manifests.d')}`,
          `socket: ${path.join(dir, 'natgwd.ctl')}`,
          `chassis: ${g.name}`,
          `gatewayChassis: ${this.o.k}`,
          `pingMs: ${this.o.pingMs}`,
          `holdDownMs: ${this.o.holdDownMs}`,
          'requireNodeDaemons: true',
          // (the nodes' daemons start after the leader's, each reading its replicas first: on 2 loaded
          // cores that can pass 3 s, and a node failed over as absent at the start skews every drill)
          'nodeAbsentMs: 15000',
          'failback: no-preempt',
          'logLevel: info',
          'health:',
          '  checks: [ovn-controller, ovs-vswitchd, bridge-mappings]',
          `  ovnRundir: ${g.dir}`,
          `  ovsRundir: ${g.dir}`,
          `  ovsDb: unix:${g.dir}/db.sock`,
          '  intervalMs: 100',
          `  controllerGraceMs: ${this.o.controllerGraceMs}`,
          '',
        ].join('\n'),
      );
      this.daemons.set(g.name, { chassis: g.name, dir, sock: path.join(dir, 'natgwd.ctl'), config, log: path.join(dir, 'ovn-natgwd.log') });
    }
    say(`starting ovn-natgwd on each gateway node; ${this.o.routers} routers with SNAT, a FIP and centralized egress`);
    // (the last gateway's daemon first: it takes the leader lock, and gw1, where centralized egress
    // goes first, is a node the drills can take down without taking the leader with it)
    const order = [...this.daemons.values()].reverse();
    this.startDaemon(order[0]);
    await this.ready(order[0]);
    for (const d of order.slice(1)) this.startDaemon(d);
    for (const d of order.slice(1)) await this.ready(d);
    await this.steady('the routers placed');
    say("adding each router's workloads and the gateway nodes' join ports (what the CNI adds)");
    const cmds = drillWorkloads(this.o.routers, this.gateways.map((g) => g.name));
    for (let i = 0; i < cmds.length; i += 200) await this.nbctl(...cmds.slice(i, i + 200).flatMap((c, j) => (j ? ['--', ...c] : c)));
    say('waiting for the chassisredirect bindings (ovn-controller claims)');
    const bound = await this.obs.when(() => this.obs.ports().every((p) => this.obs.index.boundOf(p) === this.obs.index.activeOf(p)), 120_000);
    if (bound === undefined) throw new Error('the chassisredirect ports were not all bound to their active chassis within 120 s');
  }

  async nbctl(...args: string[]): Promise<string> {
    return (await runTool(await findBinary('ovn-nbctl'), [`--db=${this.nbRemote}`, '--timeout=30', ...args], { timeoutMs: 40_000 })).stdout;
  }

  async sbctl(...args: string[]): Promise<string> {
    return (await runTool(await findBinary('ovn-sbctl'), [`--db=${this.sbRemote}`, '--timeout=30', ...args], { timeoutMs: 40_000 })).stdout.trim();
  }

  /**
   * ovn-trace from the routers' subnets once ovn-northd has compiled what the
   * failover wrote: a FIP's and a SNAT'd workload leave by the gateway port
   * with their EIP, the egress subnet reaches a live gateway node (none of
   * `deadIps`). The upstream gateway's MAC_Binding, which ovn-trace needs to
   * send the packet rather than an ARP, is planted once per router. Returns
   * what was traced and what went wrong.
   */
  async trace(routers: readonly string[], deadIps: ReadonlySet<string>): Promise<{ traced: string[]; violations: string[]; unverified: string[] }> {
    // (ovn-northd has compiled what NB holds now; a given NB is not written to, so not waited on: a moment instead)
    if (this.o.nb) await sleep(1000);
    else await this.nbctl('--wait=sb', 'sync');
    const traced: string[] = [];
    const violations: string[] = [];
    const unverified: string[] = [];
    for (const r of routers) {
      await this.upstreamMac(r);
      const probes = probesOf(this.obs.nb as unknown as NbView, r);
      if (!probes.some((p) => p.kind === 'fip') || !probes.some((p) => p.kind === 'snat')) violations.push(`${r}: no FIP and SNAT'd workload to trace (${probes.map((p) => p.kind).join(', ') || 'none'})`);
      for (const p of probes) {
        const out = await ovnTrace(this.sbRemote, p.microflow);
        const bad = checkProbe(p, out, deadIps);
        // (in a given SB the upstream's MAC may not be learned yet: the router asks for it, and the packet's source is not shown)
        if (bad && this.o.nb && askedArp(out)) unverified.push(`${r}/${p.kind}`);
        else if (bad) violations.push(`ovn-trace ${r}: ${bad}`);
        else traced.push(`${r}/${p.kind}`);
      }
    }
    return { traced, violations, unverified };
  }

  private readonly planted = new Set<string>();
  private async upstreamMac(router: string): Promise<void> {
    if (this.o.nb || this.planted.has(router)) return;
    const gw = [...this.obs.nb.table('Logical_Router_Port').values()].find((p) => p.gateway_chassis.length > 0 && this.obs.routerOf((x) => x.ports.includes(p._uuid)) === router);
    const dp = await this.sbctl('--bare', '--columns=_uuid', 'find', 'Datapath_Binding', `external_ids:name=${router}`);
    if (!gw || !dp) return;
    await this.sbctl('create', 'MAC_Binding', `logical_port=${gw.name}`, `ip="${UPSTREAM.ip}"`, `mac="${UPSTREAM.mac}"`, `datapath=${dp}`);
    this.planted.add(router);
  }

  startDaemon(d: NodeDaemon): void {
    const fd = openSync(d.log, 'a');
    d.child = spawn(process.execPath, [NATGWD, '--config', d.config], { stdio: ['ignore', fd, fd], env: { ...process.env, OVN_NB_DB: '', OVN_SB_DB: '' } });
    closeSync(fd); // (the daemon has its own copy)
  }

  async status(d: NodeDaemon): Promise<{ ready?: boolean; role?: string; liveness?: Record<string, string> } | undefined> {
    if (!existsSync(d.sock)) return undefined;
    return (await callDaemon(d.sock, 'status').catch(() => undefined)) as never;
  }

  async ready(d: NodeDaemon, ms = 60_000): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if ((await this.status(d))?.ready) return;
      await sleep(100);
    }
    throw new Error(`ovn-natgwd of ${d.chassis} not ready within ${ms / 1000} s (its log: ${d.log})`);
  }

  async leader(): Promise<NodeDaemon | undefined> {
    for (const d of this.daemons.values()) if ((!d.child || d.child.exitCode === null) && (await this.status(d))?.role === 'leader') return d;
    return undefined;
  }

  /** Every port with K live chassis, and every node alive in the leader's eyes. */
  async steady(what: string, ms = 120_000): Promise<void> {
    const t0 = Date.now();
    let why = '';
    while (Date.now() - t0 < ms) {
      why = await this.unsteady();
      if (!why) return;
      await sleep(200);
    }
    throw new Error(`not steady within ${ms / 1000} s: ${what} (${why})`);
  }

  /** Why it is not steady now (a leader, every gateway alive in its eyes, every port with K chassis and bound to its active), or '' when it is. */
  async unsteady(): Promise<string> {
    const l = await this.leader();
    if (!l) return 'no leader among the ovn-natgwd';
    const st = await this.status(l);
    // (in a given deployment a chassis may have no node daemon: unknown to the leader's node locks, it is as live as SB says)
    const ok = this.o.nb ? ['alive', 'unknown', undefined] : ['alive'];
    const notAlive = this.names.filter((n) => n !== l.chassis && !ok.includes(st?.liveness?.[n]));
    if (notAlive.length) return `not alive to the leader: ${notAlive.map((n) => `${n}=${st?.liveness?.[n] ?? 'unknown'}`).join(' ')}`;
    const ports = this.obs.ports();
    if (!this.o.nb && ports.length !== this.o.routers) return `${ports.length} gateway ports of ${this.o.routers}`;
    for (const p of ports) {
      const n = this.obs.index.chassisOf(p).length;
      if (n !== this.o.k) return `${p} has ${n} chassis, not ${this.o.k}`;
      // (and SB has each chassisredirect port where NB says: ovn-controller claimed it)
      if (this.obs.index.boundOf(p) !== this.obs.index.activeOf(p)) return `${p} is bound to ${this.obs.index.boundOf(p) ?? 'no chassis'} in SB, led by ${this.obs.index.activeOf(p)} in NB`;
    }
    return '';
  }

  /** The victim: a gateway node other than `not` that egress reroutes go to, if any, then the one leading the most ports. */
  busiest(not?: string): string {
    const load = this.obs.index.load();
    const hops = new Set(this.obs.nexthops().flat());
    const score = (n: string) => (this.gateways.length && hops.has(nodeIp(this.names.indexOf(n) + 1)) ? 1_000_000 : 0) + (load.get(n)?.active ?? 0);
    return this.names
      .filter((n) => n !== not)
      .sort((a, b) => score(b) - score(a) || (a < b ? -1 : 1))[0];
  }

  /** The leader's first event of this type for the victim after t0 (epoch ms), as ms from t0. */
  async eventAfter(l: NodeDaemon, t0: number, pred: (e: Record<string, unknown>) => boolean): Promise<{ ms: number; e: Record<string, unknown> } | undefined> {
    const r = (await callDaemon(l.sock, 'events').catch(() => ({ recent: [] }))) as { recent: Record<string, unknown>[] };
    for (const e of r.recent) {
      const at = Date.parse(String(e.time));
      if (at >= t0 - 1 && pred(e)) return { ms: at - t0, e };
    }
    return undefined;
  }

  async run(kind: DrillKind, round: number): Promise<Measure> {
    await this.steady('before the drill');
    const l = await this.leader();
    if (!l) throw new Error('no leader');
    // (a drain of the leader's own node kills nothing: against a given NB/SB any chassis may be drained)
    const victim = kind === 'kill-leader' ? l.chassis : this.busiest(this.o.nb ? undefined : l.chassis);
    const g = this.gateways.find((x) => x.name === victim)!;
    const d = this.daemons.get(victim)!;
    const m: Measure = { kind, round, victim, violations: [] };
    // (the victim's egress next hop: the drill's node address; unknown in a given NB)
    const ip = this.o.nb ? '' : nodeIp(this.names.indexOf(victim) + 1);
    const ports = this.obs.ports();
    const led = ports.filter((p) => this.obs.index.activeOf(p) === victim);
    say(`${kind} #${round + 1}: ${victim} (leads ${led.length} of ${ports.length} ports)`);
    const noneLed = () => !this.obs.ports().some((p) => this.obs.index.activeOf(p) === victim);
    const noneBound = () => !led.some((p) => this.obs.index.boundOf(p) === victim);
    const noHop = () => !ip || !this.obs.nexthops().some((h) => h.includes(ip));
    // (measured only where there is something to measure: a reroute to the victim, a binding on it)
    const hadHop = !noHop();
    const hadBinding = !noneBound();
    // (traced afterwards: a router whose port the victim led, and one whose egress went to it)
    const moved = [
      ...new Set(
        [
          this.obs.routerOf((r) => led.some((p) => r.ports.some((u) => this.obs.nb.table('Logical_Router_Port').get(u)?.name === p))),
          this.obs.routerOf((r) => r.policies.some((u) => this.obs.nb.table('Logical_Router_Policy').get(u)?.nexthops.includes(ip))),
        ].filter((r) => r !== undefined),
      ),
    ];
    const traceMoved = async () => {
      const tr = await this.trace(moved, kind === 'drain' ? new Set() : new Set([ip]));
      m.traced = tr.traced;
      m.violations.push(...tr.violations);
      if (tr.unverified.length) m.note = `${m.note ? `${m.note}; ` : ''}ovn-trace showed an ARP for the next hop, not the packet (no MAC_Binding in SB yet): ${tr.unverified.join(' ')}`;
    };
    // (with the victim out, K chassis per port if a spare is left, else every other one)
    const left = Math.min(this.o.k, this.o.gateways - 1);
    const restored = () => this.obs.ports().every((p) => this.obs.index.chassisOf(p).length === left && !this.obs.index.chassisOf(p).some((c) => c.chassis === victim));
    const wall = Date.now();
    const t0 = performance.now();
    const at = (t: number | undefined) => (t === undefined ? undefined : Math.round((t - t0) * 10) / 10);
    const waitMs = kind === 'kill-controller' ? this.o.controllerGraceMs + 20_000 : 20_000;
    if (kind === 'kill-leader') {
      d.child!.kill('SIGKILL');
      // the first write the new leader makes: a FIP (to an address no workload has) put through its socket, retried until one takes it
      const others = [...this.daemons.values()].filter((x) => x !== d);
      let took: number | undefined;
      const fip = `apiVersion: kubeovn.io/v1\nkind: OvnEip\nmetadata: {name: drill-extra-${round}}\nspec: {externalSubnet: physnet1, type: nat}\n---\napiVersion: kubeovn.io/v1\nkind: OvnFip\nmetadata: {name: drill-extra-${round}}\nspec: {ovnEip: drill-extra-${round}, vpc: drill-0, v4Ip: 10.100.0.${100 + round}}\n`;
      while (took === undefined && performance.now() - t0 < waitMs) {
        for (const o of others) {
          const st = await this.status(o);
          if (st?.role === 'leader') {
            m.leader_takeover ??= at(performance.now());
            const r = await callDaemon(o.sock, 'put', { manifest: fip }).catch(() => undefined);
            if (r !== undefined) {
              took = performance.now();
              break;
            }
          }
        }
        if (took === undefined) await sleep(10);
      }
      m.first_write = at(took);
      if (took === undefined) m.violations.push(`no daemon took the leader lock and wrote within ${waitMs / 1000} s`);
      m.note = 'the gateway sets stay as they are: only the leader daemon died, its node is alive';
      this.startDaemon(d);
      await this.ready(d);
      return m;
    }
    if (kind === 'drain') {
      await callDaemon(l.sock, 'drain', { chassis: victim });
      m.nb_commit = at(performance.now());
      m.nb_visible = at(await this.obs.when(noneLed, waitMs));
      m.sb_moved = at(await this.obs.when(noneBound, waitMs));
      if (m.nb_visible === undefined) m.violations.push(`${victim} still leads ports after the drain`);
      if (!this.obs.ports().every((p) => this.obs.index.chassisOf(p).length === this.o.k)) m.violations.push('a port lost a chassis in the drain');
      await traceMoved();
      await callDaemon(l.sock, 'undrain', { chassis: victim });
      await callDaemon(l.sock, 'rebalance');
      return m;
    }
    // (watched from before the fault: each time is the commit that made it so)
    const watches = Promise.all([this.obs.when(noneLed, waitMs), this.obs.when(noneBound, waitMs), this.obs.when(noHop, waitMs), this.obs.when(restored, waitMs)]);
    if (kind === 'kill-node') {
      d.child!.kill('SIGKILL');
      await g.kill('all');
    } else if (kind === 'stop-node') {
      d.child!.kill('SIGSTOP');
      await g.signal('all', 'SIGSTOP');
    } else if (kind === 'kill-vswitchd') await g.kill('ovs-vswitchd');
    else if (kind === 'kill-controller') await g.kill('ovn-controller');
    const [nbVisible, sbMoved, egress, full] = await watches;
    m.nb_visible = at(nbVisible);
    if (hadBinding) m.sb_moved = at(sbMoved);
    if (hadHop) m.egress_rewritten = at(egress);
    else m.note = `${victim} was no reroute's next hop (centralized egress uses the first ready node)`;
    if (hadHop && egress === undefined) m.violations.push(`a reroute still sends to ${victim} (${ip}) after ${waitMs / 1000} s`);
    m.redundancy_restored = at(full);
    const dead = await this.eventAfter(l, wall, (e) => e.type === 'liveness' && e.chassis === victim && e.state === 'dead');
    m.detection = dead?.ms;
    const fo = await this.eventAfter(l, wall, (e) => e.type === 'failover' && Array.isArray(e.chassis) && (e.chassis as string[]).includes(victim));
    if (fo) m.nb_commit = Math.round((Date.parse(String(fo.e.at)) - wall) * 10) / 10;
    if (nbVisible === undefined) m.violations.push(`a port is still led by ${victim} (dead) after ${waitMs / 1000} s`);
    if (full === undefined) m.violations.push(`not every port has ${left} live chassis after ${waitMs / 1000} s`);
    if (hadBinding && sbMoved === undefined) m.violations.push(`a gateway port is still bound to ${victim} in SB after ${waitMs / 1000} s`);
    await traceMoved();
    if (kind === 'kill-controller') m.note = `${m.note ? `${m.note}; ` : ''}its flows kept forwarding (OVN moved nothing); ovn-natgw waited controllerGraceMs=${this.o.controllerGraceMs} before failing it over`;
    // back: the node's processes, its daemon; then alive through its hold-down, and rebalanced
    if (kind === 'stop-node') {
      await g.signal('all', 'SIGCONT');
      d.child!.kill('SIGCONT');
    } else await g.restart();
    if (kind === 'kill-node') this.startDaemon(d);
    await this.ready(d);
    await this.steadyAlive(victim);
    await callDaemon(l.sock, 'rebalance');
    return m;
  }

  /** The victim alive again in the leader's eyes (past its hold-down) and every set full again. */
  async steadyAlive(victim: string): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < this.o.holdDownMs + 60_000) {
      const l = await this.leader();
      const st = l ? await this.status(l) : undefined;
      if (st?.liveness?.[victim] === 'alive') break;
      await sleep(200);
    }
    await this.steady(`${victim} back`);
  }

  /** The verdict after every drill: nobody dead leads, every set full, the spread within one. */
  async verdict(): Promise<void> {
    await this.steady('the end');
    const l = await this.leader();
    if (l) await callDaemon(l.sock, 'rebalance').catch(() => undefined);
    await sleep(500);
    const load = this.obs.index.load();
    const actives = this.names.map((n) => load.get(n)?.active ?? 0);
    if (Math.max(...actives) - Math.min(...actives) > 1) this.violations.push(`the spread of actives is not within one of even: ${this.names.map((n, i) => `${n}=${actives[i]}`).join(' ')}`);
    for (const p of this.obs.ports()) {
      if (this.obs.index.chassisOf(p).length !== this.o.k) this.violations.push(`${p} has ${this.obs.index.chassisOf(p).length} chassis, not ${this.o.k}`);
    }
  }

  async tearDown(): Promise<void> {
    for (const d of this.daemons.values()) {
      try {
        d.child?.kill('SIGCONT');
        d.child?.kill('SIGTERM');
      } catch {
        // gone
      }
    }
    await sleep(300);
    for (const d of this.daemons.values()) if (d.child?.exitCode === null) d.child.kill('SIGKILL');
    await this.obs?.close().catch(() => undefined);
    for (const c of this.chassis) await c.stop().catch(() => undefined);
    await this.net?.stop().catch(() => undefined);
    await this.sb?.stop().catch(() => undefined);
    if (!this.tmp) return;
    if (!this.o.keep) await rm(this.tmp, { recursive: true, force: true });
    else say(`kept ${this.tmp}`);
  }
}

function table(results: readonly Measure[]): string {
  const lines = ['KIND             MEASURE               N     P50_MS     P95_MS     P99_MS'];
  for (const kind of DRILL_KINDS) {
    const rs = results.filter((r) => r.kind === kind);
    if (!rs.length) continue;
    for (const key of MEASURES) {
      const xs = rs.map((r) => r[key]).filter((x): x is number => typeof x === 'number');
      if (!xs.length) continue;
      lines.push(`${kind.padEnd(16)} ${key.padEnd(20)} ${String(xs.length).padStart(2)} ${percentile(xs, 50).toFixed(1).padStart(10)} ${percentile(xs, 95).toFixed(1).padStart(10)} ${percentile(xs, 99).toFixed(1).padStart(10)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function parseArgs(argv: string[]): Options {
  const num = (name: string, min: number, max: number) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderError(2, 'drill.usage', `${name}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  const p = new Command('ovn-natgw-drill')
    .description('a failover drill on simulated gateway chassis with real ovn-controllers and an ovn-natgwd per gateway node')
    .option('--routers <n>', 'routers (each with SNAT, a FIP and centralized egress)', num('--routers', 1, 10_000), 20)
    .option('--gateways <n>', 'gateway chassis', num('--gateways', 2, 10), 3)
    .option('--gateway-chassis <k>', 'chassis per gateway port (default: gateways - 1, at most 3)', num('--gateway-chassis', 1, 5))
    .option('--drills <n>', 'drills of each kind', num('--drills', 1, 100), 1)
    .option('--kinds <list>', `the kinds (${DRILL_KINDS.join(',')})`, DRILL_KINDS.join(','))
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--hold-down-ms <ms>', 'the hold-down of a returning chassis', num('--hold-down-ms', 0, 600_000), 3000)
    .option('--ping-ms <ms>', "the leader's pings of the node locks", num('--ping-ms', 10, 10_000), 100)
    .option('--controller-grace-ms <ms>', 'how long ovn-controller may be down before its node is failed over', num('--controller-grace-ms', 0, 600_000), 5000)
    .option('--keep', 'keep the sandbox directory (logs of every daemon)')
    .option('--nb <remote>', 'drill a given NB (with --sb and --target): the gateway ports that exist, drains only')
    .option('--sb <remote>', 'the given SB')
    .option('-t, --target <sockets>', "the ovn-natgwd admin sockets there, comma-separated (one of them the leader)")
    .option('-p, --private-key <file>', 'for ssl: remotes')
    .option('-c, --certificate <file>', 'for ssl: remotes')
    .option('-C, --ca-cert <file>', 'for ssl: remotes')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  p.parse(argv, { from: 'user' });
  const o = p.opts<Record<string, unknown>>();
  const given = o.nb !== undefined || o.sb !== undefined;
  const fromCli = (name: string) => p.getOptionValueSource(name) === 'cli';
  if (given) {
    if (o.nb === undefined || o.sb === undefined) throw new CommanderError(2, 'drill.usage', `${o.nb === undefined ? '--nb' : '--sb'}: needed too: a given NB/SB is drilled as a pair`);
    if (o.target === undefined) throw new CommanderError(2, 'drill.usage', '--target: needed with --nb/--sb: the ovn-natgwd admin sockets of that deployment (one of them the leader, which drains)');
    for (const f of ['routers', 'gateways', 'holdDownMs', 'pingMs', 'controllerGraceMs', 'keep']) {
      if (fromCli(f)) throw new CommanderError(2, 'drill.usage', `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: only for the drill's own sandbox; against a given NB/SB the drill uses what exists`);
    }
    if (!fromCli('kinds')) o.kinds = 'drain';
  }
  const kinds = String(o.kinds)
    .split(',')
    .filter(Boolean);
  for (const k of kinds) if (!(DRILL_KINDS as readonly string[]).includes(k)) throw new CommanderError(2, 'drill.usage', `--kinds: ${JSON.stringify(k)}: unknown kind (known: ${DRILL_KINDS.join(', ')})`);
  if (given) {
    const killing = kinds.filter((k) => k !== 'drain');
    if (killing.length) throw new CommanderError(2, 'drill.usage', `--kinds: ${killing.join(', ')}: against a given NB/SB the drill starts no processes, so it can kill none (only drain)`);
  }
  if (o.output !== 'table' && o.output !== 'json') throw new CommanderError(2, 'drill.usage', `--output: must be table or json, got ${JSON.stringify(o.output)}`);
  const gateways = o.gateways as number;
  const tls = o.privateKey || o.certificate || o.caCert ? { privateKey: String(o.privateKey ?? ''), certificate: String(o.certificate ?? ''), caCert: String(o.caCert ?? '') } : undefined;
  // (against a given NB: 0, the most chassis a port has there)
  const k = (o.gatewayChassis as number | undefined) ?? (given ? 0 : Math.min(3, gateways - 1));
  if (!given && k > gateways - 1) throw new CommanderError(2, 'drill.usage', `--gateway-chassis: ${k} needs at least ${k + 1} gateways (a spare to restore redundancy with), got --gateways ${gateways}`);
  return { routers: o.routers as number, gateways, k, drills: o.drills as number, kinds: kinds as DrillKind[], output: o.output, holdDownMs: o.holdDownMs as number, pingMs: o.pingMs as number, controllerGraceMs: o.controllerGraceMs as number, keep: !!o.keep, targets: [], ...(given ? { nb: String(o.nb), sb: String(o.sb), targets: String(o.target).split(',').filter(Boolean) } : {}), ...(tls ? { tls } : {}) };
}

export async function main(argv: string[]): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
      if (e.code === 'drill.usage') process.stderr.write(`ovn-natgw-drill: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const d = new Drill(o);
  const stop = () => void d.tearDown().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const started = Date.now();
  let error: string | undefined;
  try {
    if (o.nb) await d.attach();
    else await d.setUp();
    for (const kind of o.kinds) {
      for (let i = 0; i < o.drills; i++) {
        const m = await d.run(kind, i);
        d.results.push(m);
        const shown = MEASURES.filter((k) => m[k] !== undefined).map((k) => `${k}=${m[k]}ms`);
        say(`${kind} #${i + 1} on ${m.victim}: ${shown.join(' ') || '(nothing measured)'}${m.violations.length ? `; VIOLATION: ${m.violations.join('; ')}` : ''}`);
      }
    }
    await d.verdict();
  } catch (e) {
    error = (e as Error).message;
    say(`failed: ${error}`);
  }
  const violations = [...d.results.flatMap((r) => r.violations.map((v) => `${r.kind} #${r.round + 1}: ${v}`)), ...d.violations, ...(error ? [`the drill could not finish: ${error}`] : [])];
  const verdict = violations.length ? 'fail' : 'pass';
  if (o.output === 'json') {
    process.stdout.write(`${JSON.stringify({ verdict, violations, options: o, seconds: Math.round((Date.now() - started) / 100) / 10, drills: d.results }, null, 2)}\n`);
  } else {
    process.stdout.write(table(d.results));
    for (const r of d.results) if (r.note) process.stdout.write(`note: ${r.kind}: ${r.note}\n`);
    for (const r of d.results) if (r.traced?.length) process.stdout.write(`ovn-trace: ${r.kind} #${r.round + 1}: left as they should: ${r.traced.join(' ')}\n`);
    for (const v of violations) process.stdout.write(`violation: ${v}\n`);
    process.stdout.write(`verdict: ${verdict} (${d.results.length} drills, ${o.routers} ${o.nb ? 'gateway ports' : 'routers'} on ${d.names.length} gateways, K=${o.k})\n`);
  }
  await d.tearDown();
  process.exit(verdict === 'pass' ? 0 : 1);
}
