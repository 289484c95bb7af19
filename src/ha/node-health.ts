/**
 * A gateway node's own health (issue 16 §2), checked by the ovn-natgwd on
 * that node every `intervalMs`; the node holds its node lock only while
 * healthy (NodeLock), so that the leader learns of an unhealthy node as of a
 * dead one, within one round trip of the check that failed.
 *
 * Checks (each named as in the config's `checks`):
 * - `ovn-controller`: its pidfile in OVN_RUNDIR names a live process, and
 *   its unixctl `connection-status` says `connected` (to SB). A dead
 *   ovn-controller does not stop the data plane (ovs-vswitchd keeps its
 *   flows, BFD keeps running: OVN moves nothing), but the node no longer
 *   follows changes; it counts as unhealthy only after `controllerGraceMs`,
 *   so that a restart of ovn-controller (an upgrade) moves nothing.
 * - `ovs-vswitchd`: its pidfile in OVS_RUNDIR names a live process that
 *   answers its unixctl `version` (a dead or hung ovs-vswitchd is a dead data
 *   plane: OVN's BFD moves the active port in ~3 s, and the node must leave
 *   every gateway set).
 * - `bridge-mappings`: the local Open_vSwitch's `ovn-bridge-mappings` maps
 *   each provider network served (`providerNetworks`, default every mapped
 *   one) to a bridge that exists.
 * - `uplink`: each of `uplinks` is up (/sys/class/net/IF/operstate: up, or
 *   unknown as dummy and tun devices report).
 * - `ip-forward`: /proc/sys/net/ipv4/ip_forward is 1, for a node serving
 *   centralized egress (seed 004: forwarded traffic is dropped otherwise).
 * /proc and /sys are the daemon's own network namespace's.
 */
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JsonRpcSession } from '../ovsdb/jsonrpc.js';

export const HEALTH_CHECKS = ['ovn-controller', 'ovs-vswitchd', 'bridge-mappings', 'uplink', 'ip-forward'] as const;
export type HealthCheckName = (typeof HEALTH_CHECKS)[number];

export interface HealthConfig {
  /** the checks run (default ovn-controller, ovs-vswitchd and bridge-mappings, with uplink when uplinks are given) */
  checks?: HealthCheckName[];
  /** ovn-controller's run directory (default $OVN_RUNDIR or /var/run/ovn) */
  ovnRundir?: string;
  /** ovs-vswitchd's run directory (default $OVS_RUNDIR or /var/run/openvswitch) */
  ovsRundir?: string;
  /** the local Open_vSwitch database (default unix:$OVS_RUNDIR/db.sock or unix:/var/run/openvswitch/db.sock) */
  ovsDb?: string;
  /** the provider networks this node serves (default: every one in ovn-bridge-mappings) */
  providerNetworks?: string[];
  /** the uplink interfaces whose link must be up */
  uplinks?: string[];
  /** ms between checks (default 500) */
  intervalMs?: number;
  /** ms ovn-controller may be down before the node is unhealthy (default 10000) */
  controllerGraceMs?: number;
}

export interface CheckResult {
  check: HealthCheckName;
  ok: boolean;
  /** what was found, in words */
  detail: string;
}

/** One request to a local JSON-RPC unix socket (an OVS/OVN unixctl socket or an ovsdb-server), then closed. */
export async function unixRequest(sockPath: string, method: string, params: unknown[], timeoutMs = 1000): Promise<unknown> {
  const sock = net.createConnection(sockPath);
  const connected = new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const timer = setTimeout(() => sock.destroy(new Error(`${sockPath}: no answer in ${timeoutMs} ms`)), timeoutMs);
  try {
    await connected;
    const s = new JsonRpcSession(sock);
    return await s.request(method, params, { timeoutMs });
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
}

const short = (e: unknown) => ((e as Error).message ?? String(e)).split('\n')[0];

/** An OVS/OVN daemon's pid from its pidfile, if that process runs; else why not. */
async function daemonPid(rundir: string, name: string): Promise<number | string> {
  const pid = Number((await readFile(path.join(rundir, `${name}.pid`), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return `not running (no pidfile in ${rundir})`;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return `not running (pid ${pid} gone)`;
  }
  return pid;
}

/** ovn-controller running (pidfile) and connected to SB (unixctl connection-status). */
export async function checkController(rundir: string): Promise<CheckResult> {
  const pid = await daemonPid(rundir, 'ovn-controller');
  if (typeof pid === 'string') return { check: 'ovn-controller', ok: false, detail: pid };
  try {
    const r = String(await unixRequest(path.join(rundir, `ovn-controller.${pid}.ctl`), 'connection-status', [])).trim();
    return { check: 'ovn-controller', ok: r === 'connected', detail: r === 'connected' ? `pid ${pid}, connected to SB` : `pid ${pid}, ${r || 'no status'}` };
  } catch (e) {
    return { check: 'ovn-controller', ok: false, detail: `pid ${pid}, not answering: ${short(e)}` };
  }
}

/** ovs-vswitchd running (pidfile) and answering (unixctl version). */
export async function checkVswitchd(rundir: string): Promise<CheckResult> {
  const pid = await daemonPid(rundir, 'ovs-vswitchd');
  if (typeof pid === 'string') return { check: 'ovs-vswitchd', ok: false, detail: pid };
  try {
    await unixRequest(path.join(rundir, `ovs-vswitchd.${pid}.ctl`), 'version', []);
    return { check: 'ovs-vswitchd', ok: true, detail: `pid ${pid}, answering` };
  } catch (e) {
    return { check: 'ovs-vswitchd', ok: false, detail: `pid ${pid}, not answering: ${short(e)}` };
  }
}

/** The path of a unix: remote (the only kind a node's local Open_vSwitch is read over here). */
function unixPath(remote: string): string {
  if (!remote.startsWith('unix:')) throw new Error(`ovsDb: must be unix:PATH, got ${JSON.stringify(remote)}`);
  return remote.slice(5);
}

/** Parses ovn-bridge-mappings ("physnet1:br-phys,physnet2:br-x"). */
export function parseBridgeMappings(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of text.split(',')) {
    const [net, br] = part.trim().split(':');
    if (net && br) m.set(net, br);
  }
  return m;
}

/** Each provider network served mapped to a bridge that exists, in the local Open_vSwitch. */
export async function checkBridgeMappings(ovsDb: string, want?: readonly string[]): Promise<CheckResult> {
  let r: unknown;
  try {
    r = await unixRequest(unixPath(ovsDb), 'transact', [
      'Open_vSwitch',
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['external_ids'] },
      { op: 'select', table: 'Bridge', where: [], columns: ['name'] },
    ]);
  } catch (e) {
    return { check: 'bridge-mappings', ok: false, detail: `cannot read ${ovsDb}: ${short(e)}` };
  }
  const [ovs, bridges] = r as [{ rows: { external_ids: [string, [string, string][]] }[] }, { rows: { name: string }[] }];
  const ids = new Map(ovs.rows[0]?.external_ids?.[1] ?? []);
  const mappings = parseBridgeMappings(ids.get('ovn-bridge-mappings') ?? '');
  const have = new Set(bridges.rows.map((b) => b.name));
  const nets = want?.length ? want : [...mappings.keys()];
  if (!nets.length) return { check: 'bridge-mappings', ok: false, detail: 'no ovn-bridge-mappings' };
  const bad: string[] = [];
  for (const n of nets) {
    const br = mappings.get(n);
    if (!br) bad.push(`${n}: not in ovn-bridge-mappings`);
    else if (!have.has(br)) bad.push(`${n}: bridge ${br} does not exist`);
  }
  return bad.length ? { check: 'bridge-mappings', ok: false, detail: bad.join('; ') } : { check: 'bridge-mappings', ok: true, detail: nets.map((n) => `${n}:${mappings.get(n)}`).join(',') };
}

/** An uplink's link state (operstate up, or unknown as dummy devices report). */
export async function checkUplink(iface: string, sys = '/sys/class/net'): Promise<CheckResult> {
  const s = (await readFile(path.join(sys, iface, 'operstate'), 'utf8').catch(() => 'absent')).trim();
  return { check: 'uplink', ok: s === 'up' || s === 'unknown', detail: `${iface} ${s}` };
}

/** net.ipv4.ip_forward of this network namespace. */
export async function checkIpForward(proc = '/proc'): Promise<CheckResult> {
  const v = (await readFile(path.join(proc, 'sys/net/ipv4/ip_forward'), 'utf8').catch(() => '?')).trim();
  return { check: 'ip-forward', ok: v === '1', detail: `net.ipv4.ip_forward = ${v}` };
}

export interface HealthState {
  healthy: boolean;
  /** since when (ms epoch) it is so */
  since: number;
  checks: CheckResult[];
  /** why it is unhealthy, in words (empty when healthy) */
  reason: string;
}

/** Runs the checks every intervalMs; tells when the node turns healthy or unhealthy. */
export class NodeHealth {
  private timer: NodeJS.Timeout | undefined;
  private state: HealthState = { healthy: true, since: Date.now(), checks: [], reason: '' };
  private controllerDownSince: number | undefined;
  readonly checks: HealthCheckName[];

  constructor(
    private readonly cfg: HealthConfig,
    private readonly onChange: (s: HealthState) => void,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.checks = cfg.checks ?? (['ovn-controller', 'ovs-vswitchd', 'bridge-mappings', ...(cfg.uplinks?.length ? (['uplink'] as const) : [])] as HealthCheckName[]);
  }

  get current(): HealthState {
    return this.state;
  }

  /** Checks once (the first state), then every intervalMs. */
  async start(): Promise<HealthState> {
    await this.run();
    this.timer = setInterval(() => {
      // each check on its own: one waiting on a stuck daemon (up to its timeout) delays no other
      for (const c of this.checks) void this.runOne(c);
    }, this.cfg.intervalMs ?? 500);
    this.timer.unref();
    return this.state;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** the last result of each check, and the checks in flight */
  private readonly last = new Map<HealthCheckName, CheckResult[]>();
  private readonly inFlight = new Set<HealthCheckName>();

  private check(c: HealthCheckName): Promise<CheckResult[]> {
    const rundir = this.cfg.ovnRundir ?? this.env.OVN_RUNDIR ?? '/var/run/ovn';
    const ovsRundir = this.cfg.ovsRundir ?? this.env.OVS_RUNDIR ?? '/var/run/openvswitch';
    const ovsDb = this.cfg.ovsDb ?? `unix:${path.join(ovsRundir, 'db.sock')}`;
    if (c === 'ovn-controller') return checkController(rundir).then((r) => [r]);
    if (c === 'ovs-vswitchd') return checkVswitchd(ovsRundir).then((r) => [r]);
    if (c === 'bridge-mappings') return checkBridgeMappings(ovsDb, this.cfg.providerNetworks).then((r) => [r]);
    if (c === 'uplink') return Promise.all((this.cfg.uplinks ?? []).map((u) => checkUplink(u)));
    return checkIpForward().then((r) => [r]);
  }

  private async runOne(c: HealthCheckName): Promise<void> {
    if (this.inFlight.has(c)) return;
    this.inFlight.add(c);
    try {
      this.last.set(c, await this.check(c));
    } finally {
      this.inFlight.delete(c);
    }
    this.decide();
  }

  /** Every check once, at once; the state decided from them. */
  async run(): Promise<HealthState> {
    await Promise.all(this.checks.map((c) => this.runOne(c)));
    return this.state;
  }

  /** The node's state from the last result of each check. */
  private decide(): void {
    const results = this.checks.flatMap((c) => this.last.get(c) ?? []);
    const now = Date.now();
    const ctl = results.find((r) => r.check === 'ovn-controller');
    if (ctl && !ctl.ok) this.controllerDownSince ??= now;
    else this.controllerDownSince = undefined;
    const grace = this.cfg.controllerGraceMs ?? 10_000;
    const failing = results.filter((r) => !r.ok && !(r.check === 'ovn-controller' && now - this.controllerDownSince! < grace));
    const healthy = failing.length === 0;
    const reason = failing.map((r) => `${r.check}: ${r.detail}`).join('; ');
    const changed = healthy !== this.state.healthy;
    this.state = { healthy, since: changed ? now : this.state.since, checks: results, reason };
    if (changed) this.onChange(this.state);
  }
}
