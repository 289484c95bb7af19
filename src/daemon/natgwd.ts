/**
 * ovn-natgwd: the resident NAT gateway manager of a gateway node. It keeps
 * NB (and SB) replicas, reconciles the manifest directory (the owner's whole
 * desired state) into NB, puts back what drifts, and answers on its admin
 * socket (JSON-RPC 2.0, and ovs-appctl's unixctl protocol).
 *
 * Startup is read-only until the replicas are complete: the first plan is
 * made against the whole of NB, so a restart with nothing changed sends no
 * transaction. SIGHUP reloads the config and the manifests (a bad config is
 * refused and the old one kept); SIGTERM and SIGINT stop taking requests,
 * let a transaction in flight finish, close the socket and exit 0.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { rm, writeFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import pino, { type Logger } from 'pino';
import { NatGateway } from '../nat/apply.js';
import { loadManifests, ManifestError, parseManifest, sourceOf } from '../nat/manifest.js';
import type { ManifestObject } from '../nat/objects.js';
import { PlanError, idOf } from '../nat/rows.js';
import yaml from 'js-yaml';
import path from 'node:path';
import { rename } from 'node:fs/promises';
import { listObjects } from '../nat/status.js';
import { AdminServer, INVALID_PARAMS, RpcError } from './admin.js';
import { ConfigError, DEFAULT_CONFIG_FILE, DEFAULT_MANIFESTS, DEFAULT_SOCKET, LOG_LEVELS, loadConfig, type DaemonConfig } from './config.js';
import { Reconciler, StandbyError } from './reconciler.js';
import { Notifier } from './notify.js';
import { Metrics } from './metrics.js';
import { Events } from './events.js';
import { Readiness } from './readiness.js';
import { NodeLiveness, NodeLock, nodePingLock, type DeathCause } from '../ha/liveness.js';
import { NodeHealth, type HealthState } from '../ha/node-health.js';
import { GatewayIndex } from '../ha/index.js';
import { BfdCrossCheck, type StaleSession } from '../ha/bfd-check.js';
import { withdrawSessionOps } from '../gateway/bfd-status.js';
import { isGatewayCapable } from '../gateway/chassis.js';
import type { DirObject } from './directory.js';
import type { Plan } from '../nat/plan.js';
import { formatFailover, formatStatus, type FailoverRecord, type StatusParts } from './status-text.js';

/** The kinds `get` lists. */
const KINDS = ['OvnEip', 'OvnFip', 'OvnSnatRule', 'OvnDnatRule', 'Vip', 'Vpc', 'Subnet', 'Vlan', 'ProviderNetwork', 'ConfigMap'];

type Flags = Partial<DaemonConfig> & { config?: string; pidfile?: string; detach?: boolean; logFile?: string };

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** OVS vlog levels as ovs-appctl vlog/set takes them, to pino's. */
const VLOG: Record<string, DaemonConfig['logLevel']> = { emer: 'fatal', err: 'error', warn: 'warn', info: 'info', dbg: 'debug', off: 'fatal' };

/** A flag's number (ms, a count), a number when it is digits (else kept, for the config's check to refuse, naming the flag). */
const msFlag = (v: string): number => (/^\d+$/.test(v) ? Number(v) : (v as unknown as number));

function parseArgs(argv: string[]): Flags {
  const p = new Command('ovn-natgwd')
    .description('the resident NAT gateway manager: reconciles a manifest directory into OVN NB, with an admin socket')
    .version(version(), '-V, --version')
    .option('--config <file>', `the config file (default ${DEFAULT_CONFIG_FILE})`)
    .option('--db <remote>', 'NB database (default OVN_NB_DB)')
    .option('--sb <remote>', 'SB database (default OVN_SB_DB)')
    .option('--manifests <dir>', `the manifest directory (default ${DEFAULT_MANIFESTS})`)
    .option('--socket <path>', `the admin socket (default ${DEFAULT_SOCKET})`)
    .option('--socket-group <group>', 'the group of the admin socket (name or gid)')
    .option('--owner <name>', 'the owner of the rows written (external_ids ovn-natgw:owner)')
    .addOption(new Option('--log-level <level>', 'the log level').choices(LOG_LEVELS as unknown as string[]))
    // (the letters of the OVN tools, as ovn-northd and ovn-nbctl take them: -p key, -c certificate, -C CA)
    .option('-p, --private-key <file>', 'TLS private key (for ssl: remotes)')
    .option('-c, --certificate <file>', 'TLS certificate')
    .option('-C, --ca-cert <file>', 'TLS CA certificate')
    .option('--gateway-chassis <k>', 'chassis per gateway port, 1 to 5 (default 3)')
    .option('--cluster-router <name>', "the default VPC's router (default ovn-cluster, Kube-OVN's)")
    .option('--chassis <name>', "this node's SB chassis: its daemon holds the chassis's node lock while it runs, so the leader learns at once when the node dies")
    .option('--node-absent-ms <ms>', 'with requireNodeDaemons: ms a node lock may stay untaken before its chassis is dead (default 3000)')
    .option('--node-reconnect-grace-ms <ms>', "after the leader's NB session came back: ms a node lock held before and free now is waited for before its chassis is dead (default 10000; 0: never)")
    .addOption(new Option('--failback <mode>', 'what a chassis back after a failure gets: preempt (the ports it led move back, as OVN does) or no-preempt (default)').choices(['preempt', 'no-preempt']))
    .option('--ping-ms <ms>', "ms between the leader's pings of each node's lock (a silent node is dead after 3 unanswered; 0: none; default 250)")
    .option('--hold-down-ms <ms>', 'ms a chassis back after a failure waits before it counts as live (default 10000)')
    .option('--leader-lock <name>', 'the NB lock of the daemon that writes; the others stand by (default ovn_natgw_leader; "" for none)')
    .option('--metrics <[host:]port>', 'serve GET /metrics over HTTP here (host default 127.0.0.1; none by default)')
    .option('--pidfile <file>', 'write the pid to this file (removed on exit)')
    .option('--detach', 'run in the background, as the OVS daemons: the command returns once the daemon is ready (or has failed)')
    .option('--log-file <file>', 'with --detach: append the logs to this file (default: discarded)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  p.parse(argv, { from: 'user' });
  const o = p.opts<Record<string, string | undefined>>();
  const tls = o.privateKey || o.certificate || o.caCert ? { privateKey: o.privateKey ?? '', certificate: o.certificate ?? '', caCert: o.caCert ?? '' } : undefined;
  return {
    ...(o.config ? { config: o.config } : {}),
    ...(o.db ? { nb: o.db } : {}),
    ...(o.sb ? { sb: o.sb } : {}),
    ...(o.manifests ? { manifests: o.manifests } : {}),
    ...(o.socket ? { socket: o.socket } : {}),
    ...(o.socketGroup ? { socketGroup: o.socketGroup } : {}),
    ...(o.owner ? { owner: o.owner } : {}),
    ...(o.logLevel ? { logLevel: o.logLevel as DaemonConfig['logLevel'] } : {}),
    ...(tls ? { tls } : {}),
    ...(o.pidfile ? { pidfile: o.pidfile } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.leaderLock !== undefined ? { leaderLock: o.leaderLock } : {}),
    ...(o.chassis ? { chassis: o.chassis } : {}),
    ...(o.gatewayChassis !== undefined ? { gatewayChassis: msFlag(o.gatewayChassis) } : {}),
    ...(o.clusterRouter ? { clusterRouter: o.clusterRouter } : {}),
    ...(o.failback ? { failback: o.failback as 'preempt' | 'no-preempt' } : {}),
    ...(o.pingMs !== undefined ? { pingMs: msFlag(o.pingMs) } : {}),
    ...(o.holdDownMs !== undefined ? { holdDownMs: msFlag(o.holdDownMs) } : {}),
    ...(o.nodeAbsentMs !== undefined ? { nodeAbsentMs: msFlag(o.nodeAbsentMs) } : {}),
    ...(o.nodeReconnectGraceMs !== undefined ? { nodeReconnectGraceMs: msFlag(o.nodeReconnectGraceMs) } : {}),
    ...(o.detach ? { detach: true } : {}),
    ...(o.logFile ? { logFile: o.logFile } : {}),
  };
}

/** A group name or number as a gid (from /etc/group). */
function gidOf(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  if (!line) throw new ConfigError(`socketGroup: no group "${group}" in /etc/group`);
  return Number(line.split(':')[2]);
}

export async function main(argv: string[]): Promise<void> {
  let flags: Flags;
  try {
    flags = parseArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    throw e;
  }
  let config: DaemonConfig;
  try {
    config = await loadConfig(flags);
    if (config.socketGroup !== undefined) gidOf(config.socketGroup);
  } catch (e) {
    process.stderr.write(`ovn-natgwd: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (flags.detach) return detach(argv, config, flags);
  const logger = pino({ name: 'ovn-natgwd', level: config.logLevel }, pino.destination(2));
  const d = new Daemon(config, flags, logger);
  try {
    await d.start();
  } catch (e) {
    logger.fatal({ err: (e as Error).message }, 'cannot start');
    await d.close();
    process.exit(1);
  }
}

let gcFn: ((o?: object) => void) | undefined;
const COMPACT_GIVEN = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--compact[-_]on[-_]every[-_]full[-_]gc$/.test(a));

/** A full garbage collection now (V8's gc, exposed at run time: no flag on the command line). */
function fullGc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as (o?: object) => void;
  }
  // compacting: the pages a start or a full plan filled with garbage are moved together and given back
  // (a plain full gc frees the objects, but leaves the old space's pages half empty and committed)
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gcFn();
  } finally {
    // (left on when the operator gave it to node)
    if (!COMPACT_GIVEN) setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

class Daemon {
  private readonly gw: NatGateway;
  private readonly admin: AdminServer;
  private reconciler: Reconciler | undefined;
  private readonly started = Date.now();
  private ready = false;
  private stopping: Promise<void> | undefined;
  private readonly notify: Notifier;
  private readonly metrics = new Metrics();
  private readonly events: Events;
  private metricsPort: number | undefined;
  private lastGc = 0;
  /** each object's readiness, kept from the plans: its changes are events */
  private readonly readiness: Readiness;

  constructor(
    private config: DaemonConfig,
    private readonly flags: Flags,
    private readonly logger: Logger,
  ) {
    this.gw = new NatGateway({
      nb: config.nb,
      ...(config.sb ? { sb: config.sb } : {}),
      ...(config.tls ? { tls: config.tls } : {}),
      logger,
      timeoutMs: 2_000_000_000,
      gatewayBindings: true,
      // every write asserts the leader lock: a daemon that lost it (and does not know yet) cannot write
      ...(config.leaderLock ? { lock: config.leaderLock } : {}),
    });
    this.notify = new Notifier(logger);
    this.events = new Events(logger);
    this.readiness = new Readiness(
      () => this.gw.view(),
      () => this.config.owner,
      () => {
        const chassis = this.gw.chassisNames();
        return { reservations: this.gw.reservations(), ...(chassis ? { chassis } : {}) };
      },
      (c) => this.events.emit({ type: 'ready', ...c }),
    );
    this.admin = new AdminServer({ path: config.socket, ...(config.socketGroup !== undefined ? { gid: gidOf(config.socketGroup) } : {}), logger });
    this.methods();
  }

  async start(): Promise<void> {
    process.on('SIGTERM', () => void this.stop('SIGTERM'));
    process.on('SIGINT', () => void this.stop('SIGINT'));
    process.on('SIGHUP', () => void this.reload().catch(() => undefined)); // (refused: logged, the old config stays)
    try {
      await this.admin.listen();
    } catch (e) {
      this.logger.fatal({ socket: this.config.socket, err: (e as Error).message }, 'cannot listen on the admin socket');
      process.exit(1);
    }
    if (this.flags.pidfile) await writeFile(this.flags.pidfile, `${process.pid}\n`);
    if (this.config.metrics) {
      try {
        this.metricsPort = await this.metrics.listen(this.config.metrics, () => this.refreshMetrics());
      } catch (e) {
        throw new Error(`metrics: cannot listen on ${this.config.metrics}: ${(e as Error).message}`);
      }
    }
    this.logger.info({ nb: this.config.nb, sb: this.config.sb, owner: this.config.owner, manifests: this.config.manifests, socket: this.config.socket, version: version() }, 'starting: reading NB (and SB); nothing is written before the replicas are complete');
    this.notify.send('STATUS=reading NB and SB');
    await this.gw.connect();
    if (this.stopping) return;
    this.watchEvents();
    this.watchSessions();
    this.crossCheckBfd();
    this.indexGateways();
    this.reconciler = new Reconciler(this.gw, this.reconcileOptions());
    // one daemon of several writes: the holder of the leader lock; the others stand by, replicas warm
    // this node's own lock: its chassis's node lock, held while the node is healthy (taken from a leader that holds it as dead)
    if (this.config.chassis) await this.holdNodeLock(this.config.chassis);
    const lock = this.config.leaderLock;
    const leader = lock ? await this.gw.nbClient.lock(lock) : true;
    this.setRole(leader ? 'leader' : 'standby');
    const first = await this.reconciler.start(!leader);
    if (lock) {
      this.gw.nbClient.on('locked', (name: string) => name === lock && void this.lead());
      this.gw.nbClient.on('stolen', (name: string) => name === lock && this.standBy());
    }
    // the first reconcile read and planned everything: its garbage collected before READY, so that
    // the resident set is what the daemon holds, not the peak of a start
    fullGc();
    this.ready = true;
    const what = !first ? `standby: another ovn-natgwd holds lock ${lock}` : first.ok ? 'reconciled' : `reconcile failed: ${(first.error ?? '').slice(0, 200)}`;
    this.notify.send('READY=1', `STATUS=${what}`);
    this.notify.startWatchdog(() => this.gw.nbClient.connected && (!this.gw.sbClient || this.gw.sbClient.connected));
    if (this.role === 'leader') void this.watchNodes();
    this.gw.sb?.onChange((e) => {
      if (e.table !== 'Chassis' || this.role !== 'leader') return;
      this.watchNodesSoon();
      // a gateway chassis's row deleted: its ovn-controller exited for good (ovn-appctl exit, not
      // --restart), and OVN unbinds its ports; failed over at once, as a dead node
      const name = String((e.row as { name?: unknown }).name);
      if (e.kind === 'delete' && isGatewayCapable(e.row as never)) {
        this.logger.warn({ chassis: name }, 'liveness: the SB Chassis row of a gateway chassis was deleted (its ovn-controller exited): failing over');
        this.events.emit({ type: 'liveness', chassis: name, state: 'dead', cause: 'sb-chassis-deleted' });
        void this.failover([name], 'sb-chassis-deleted').catch((err: Error) => this.logger.error({ chassis: name, err: err.message }, 'failover failed'));
      }
    });
    this.logger.info({ role: this.role, ...(first ? { transacted: first.transacted, ok: first.ok, ...(first.error ? { error: first.error } : {}) } : {}) }, 'ready');
  }

  /** the hot index (src/ha/index.ts): per chassis the gateway ports it is in, active or standby; kept from every commit */
  readonly index = new GatewayIndex(() => this.gw.gatewayPorts());

  /** Feeds the index what the replicas hold now, then each commit (O(change)). */
  private indexGateways(): void {
    this.index.follow(this.gw.nb, this.gw.sb);
  }

  /** stale BFD sessions (ovn-org/ovn#320), found from the index's SB side; the leader withdraws them */
  private bfdCheck: BfdCrossCheck | undefined;
  /** the stale sessions told already (uuid -> reason and owner): one event each, not one per commit */
  private readonly staleTold = new Map<string, string>();

  private crossCheckBfd(): void {
    if (!this.gw.sbClient) return;
    this.bfdCheck = new BfdCrossCheck({
      index: this.index,
      isDead: (c) => this.liveness?.stateOf(c) === 'dead',
      onStale: (stale) => this.staleBfd(stale).catch((e: Error) => this.logger.error({ err: e.message }, 'stale BFD sessions: the withdrawal failed')),
    });
    this.index.onPortsChanged((ports) => this.bfdCheck?.portsChanged(ports));
  }

  /**
   * BFD sessions up while nobody can run them: with staleBfd withdraw (the
   * default) their SB status is set down in one guarded transaction, which
   * ovn-northd copies to NB and so drops their routes from ECMP; with report,
   * an event and a log line. Only the leader acts.
   */
  private async staleBfd(stale: StaleSession[]): Promise<void> {
    if (this.role !== 'leader' || this.stopping) return;
    const fresh = stale.filter((s) => this.staleTold.get(s.uuid) !== `${s.reason}:${s.owner ?? ''}:${s.status}`);
    const withdraw = (this.config.staleBfd ?? 'withdraw') === 'withdraw';
    if (!withdraw && fresh.length === 0) return;
    let action: 'withdrawn' | 'reported' = 'reported';
    let error: string | undefined;
    if (withdraw) {
      try {
        await this.gw.sbClient!.transact(withdrawSessionOps(stale), { comment: 'ovn-natgw: BFD status withdrawn: nobody runs the session (ovn-org/ovn#320)' });
        action = 'withdrawn';
      } catch (e) {
        // (a wait failed: the port was claimed or the status written meanwhile; the next commit looks again)
        error = (e as Error).message;
      }
    }
    for (const s of withdraw ? stale : fresh) {
      this.staleTold.set(s.uuid, `${s.reason}:${s.owner ?? ''}:${s.status}`);
      if (this.staleTold.size > 10_000) this.staleTold.delete(this.staleTold.keys().next().value!);
      const why = s.reason === 'owner-dead' ? `its port is bound to ${s.owner}, which is dead` : `its port has been bound to no chassis for longer than its detection time (${s.detectMs} ms)`;
      this.logger.warn({ logical_port: s.logical_port, dst_ip: s.dst_ip, status: s.status, reason: s.reason, ...(s.owner ? { owner: s.owner } : {}), action, ...(error ? { err: error } : {}) }, `BFD session says ${s.status} but nobody runs it: ${why}; ${action === 'withdrawn' ? 'its SB status set down (ovn-northd drops its routes)' : 'not withdrawn'}`);
      this.events.emit({ type: 'bfd-stale', logical_port: s.logical_port, dst_ip: s.dst_ip, status: s.status, reason: s.reason, owner: s.owner ?? null, action, ...(error ? { error } : {}) });
      this.metrics.staleBfd.inc({ action });
    }
  }

  /** per chassis failed over: the gateway ports it led then (a failback with preempt gives them back) */
  private readonly ledBefore = new Map<string, string[]>();

  /**
   * A chassis past its hold-down: with failback preempt, the ports it led
   * before it failed move back to it (one transaction); with no-preempt (the
   * default) a reconcile gives it free slots at the lowest priority only.
   */
  private async failback(chassis: string): Promise<void> {
    const ports = this.ledBefore.get(chassis);
    this.ledBefore.delete(chassis);
    if (this.config.failback !== 'preempt' || !ports?.length || this.role !== 'leader') {
      this.reconciler?.trigger('liveness');
      return;
    }
    const live = this.liveSet();
    const t0 = performance.now();
    const r = await this.gw.failback(chassis, ports, { ...this.writeOptions(), ...(live ? { live } : {}) });
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    this.logger.warn({ chassis, moves: r.moves, ms }, 'failback (preempt): the ports it led move back to it');
    this.events.emit({ type: 'failback', chassis, moves: r.moves, ms });
  }

  /** this node's lock (with --chassis) and its health checks (with health:) */
  private nodeLock: NodeLock | undefined;
  private health: NodeHealth | undefined;

  /** Holds this node's lock while the node is healthy (its checks, when configured, first run now). */
  private async holdNodeLock(chassis: string): Promise<void> {
    const lock = new NodeLock(this.gw.nbClient, chassis);
    this.nodeLock = lock;
    if (this.config.health) {
      this.health = new NodeHealth(this.config.health, (s) => void this.healthChanged(s));
      const s = await this.health.start();
      this.metrics.nodeHealthy.set(s.healthy ? 1 : 0);
      if (!s.healthy) {
        this.logger.warn({ chassis, reason: s.reason }, 'node health: unhealthy: the node lock is not taken (the leader fails this chassis over)');
        await lock.setHealthy(false);
      }
    }
    await lock.start();
  }

  private async healthChanged(s: HealthState): Promise<void> {
    const chassis = this.config.chassis;
    if (s.healthy) this.logger.warn({ chassis, checks: s.checks }, 'node health: healthy again: taking the node lock back');
    else this.logger.warn({ chassis, reason: s.reason }, 'node health: unhealthy: letting the node lock go (the leader fails this chassis over)');
    this.events.emit({ type: 'health', chassis, healthy: s.healthy, ...(s.healthy ? {} : { reason: s.reason }) });
    this.metrics.nodeHealthy.set(s.healthy ? 1 : 0);
    await this.nodeLock?.setHealthy(s.healthy);
  }

  /** leader: holds the leader lock (or none is configured) and writes; standby: reads only */
  private role: 'leader' | 'standby' = 'standby';

  private setRole(role: 'leader' | 'standby'): void {
    const before = this.role;
    this.role = role;
    // a drain asked of the leader before this one is kept (NB holds the drained chassis)
    if (role === 'leader' && before !== 'leader') this.loadDrained();
    this.metrics.leader.set(role === 'leader' ? 1 : 0);
    if (before !== role && this.ready) this.events.emit({ type: 'role', role, lock: this.config.leaderLock });
  }

  /** the leader's watch of the other gateway nodes (their node locks) */
  private liveness: NodeLiveness | undefined;
  private watchTimer: NodeJS.Timeout | undefined;

  /** The gateway chassis of SB but this node's: their node locks asked for (the leader only). */
  private async watchNodes(): Promise<void> {
    if (this.role !== 'leader' || this.stopping) return;
    this.liveness ??= new NodeLiveness(
      this.gw.nbClient,
      {
        onWatched: (c) => this.logger.info({ chassis: c }, 'liveness: the node holds its lock: watched'),
        onUnpingable: (c) => this.logger.warn({ chassis: c }, `liveness: the node's daemon holds no ping lock (${nodePingLock(c)}; an older ovn-natgwd?): it is not pinged, so a node stopped without closing its session is not found; upgrade it`),
        onSuspect: (c, silentMs) => {
          this.logger.warn({ chassis: c, silent_ms: silentMs }, 'liveness: the node did not answer a ping of its lock: suspect (it keeps its slots)');
          this.events.emit({ type: 'liveness', chassis: c, state: 'suspect', silent_ms: silentMs });
        },
        onDead: (c, cause: DeathCause, silentMs) => {
          const why =
            cause === 'released'
              ? 'the node released its lock (its NB session ended, or it is unhealthy)'
              : cause === 'silent'
                ? `the node has not answered its lock's pings for ${silentMs} ms (stopped, or cut off)`
                : cause === 'vanished'
                  ? `the node held its lock before this daemon's NB session dropped, and nobody has taken it back in the ${silentMs} ms since it came back (the node died meanwhile)`
                  : `no ovn-natgwd has taken the node's lock for ${silentMs} ms (requireNodeDaemons)`;
          this.logger.warn({ chassis: c, cause, ...(silentMs !== undefined ? { silent_ms: silentMs } : {}) }, `liveness: ${why}: dead; failing over`);
          this.events.emit({ type: 'liveness', chassis: c, state: 'dead', cause, ...(silentMs !== undefined ? { silent_ms: silentMs } : {}) });
          void this.failover([c], cause === 'released' ? 'node-lock-released' : cause === 'silent' ? 'node-silent' : cause === 'vanished' ? 'node-vanished' : 'node-absent').catch((e: Error) => this.logger.error({ chassis: c, err: e.message }, 'failover failed'));
          this.bfdCheck?.chassisDead(c);
        },
        onReturned: (c) => {
          this.logger.warn({ chassis: c, hold_down_ms: this.config.holdDownMs ?? 10_000 }, 'liveness: the node took its lock back: returning (in hold-down: no slot until it stays)');
          this.events.emit({ type: 'liveness', chassis: c, state: 'returning' });
        },
        onAlive: (c, from) => {
          this.logger.info({ chassis: c, from }, from === 'returning' ? 'liveness: the node stayed through its hold-down: alive (free slots at the lowest priority)' : 'liveness: the node answered again: alive');
          this.events.emit({ type: 'liveness', chassis: c, state: 'alive', from });
          if (from === 'returning') void this.failback(c).catch((e: Error) => this.logger.error({ chassis: c, err: e.message }, 'failback failed'));
        },
        onPong: (_c, rtt) => this.metrics.livenessRtt.observe(rtt / 1000),
      },
      {
        ...(this.config.pingMs !== undefined ? { pingMs: this.config.pingMs } : {}),
        ...(this.config.holdDownMs !== undefined ? { holdDownMs: this.config.holdDownMs } : {}),
        ...(this.config.requireNodeDaemons ? { requireNodes: true } : {}),
        ...(this.config.nodeAbsentMs !== undefined ? { absentMs: this.config.nodeAbsentMs } : {}),
        ...(this.config.nodeReconnectGraceMs !== undefined ? { reconnectGraceMs: this.config.nodeReconnectGraceMs } : {}),
      },
    );
    const gateways = this.gw.chassis().filter(isGatewayCapable).map((c) => c.name).filter((n) => n !== this.config.chassis);
    await this.liveness.watch(gateways).catch((e: Error) => this.logger.warn({ err: e.message }, 'liveness: cannot ask for the node locks'));
  }

  private watchNodesSoon(): void {
    if (this.watchTimer) return;
    this.watchTimer = setTimeout(() => {
      this.watchTimer = undefined;
      void this.watchNodes();
    }, 200);
    this.watchTimer.unref();
  }

  /** The leader lock granted (the leader went, or our session came back): the whole directory planned, against NB as it is. */
  private async lead(): Promise<void> {
    if (this.role === 'leader' || this.stopping) return;
    this.setRole('leader');
    this.logger.warn({ lock: this.config.leaderLock }, 'leader lock granted: this daemon writes now; planning the whole directory');
    this.notify.send('STATUS=leader: reconciling');
    void this.watchNodes();
    this.bfdCheck?.check(this.index.sessionPorts());
    await this.reconciler?.resume('leader');
    this.notify.send(`STATUS=leader: ${this.reconciler?.last?.ok ? 'reconciled' : `reconcile failed: ${(this.reconciler?.last?.error ?? '').slice(0, 200)}`}`);
  }

  /** The leader lock lost (stolen, or our NB session went): nothing more is written until it is granted again. */
  private standBy(): void {
    if (this.role === 'standby') return;
    this.setRole('standby');
    this.reconciler?.pause();
    const l = this.liveness;
    this.liveness = undefined;
    void l?.stop();
    this.logger.warn({ lock: this.config.leaderLock }, 'leader lock lost: standing by (nothing is written until it is granted again)');
    this.notify.send(`STATUS=standby: lock ${this.config.leaderLock} lost`);
  }

  private reconcileOptions() {
    return {
      dir: this.config.manifests,
      owner: this.config.owner,
      ...(this.config.gatewayChassis !== undefined ? { gatewayChassis: this.config.gatewayChassis } : {}),
      ...(this.config.clusterRouter ? { clusterRouter: this.config.clusterRouter } : {}),
      logger: this.logger,
      metrics: this.metrics,
      onEvent: (e: { type: 'applied' | 'drift-repaired' | 'refused'; [k: string]: unknown }) => this.events.emit(e),
      draining: () => this.draining,
      suspect: () => this.suspectSet(),
      live: () => this.liveSet(),
      onPlanned: (plan: Plan, objects: ReadonlyMap<string, DirObject>, first: boolean) => {
        // a plan of the whole state looks at every object (one scan per kind); a change, at what it planned
        this.readiness.update(objects, plan.scope, plan.waiting, first);
        // a plan of the whole state (a reload, SB changed) leaves its garbage: collected soon, at most every 30 s
        if (!plan.scope && !first && Date.now() - this.lastGc > 30_000) {
          this.lastGc = Date.now();
          setTimeout(fullGc, 100).unref();
        }
        if (first) {
          const notReady = this.readiness.notReady();
          this.logger.info({ objects: objects.size, not_ready: notReady.length, ...(notReady.length ? { first_not_ready: notReady.slice(0, 20).map(([id, why]) => `${id}: ${why}`) } : {}) }, 'readiness of the objects');
        }
      },
    };
  }

  /** Gateway ports moving between chassis (SB), BFD sessions changing status (NB), as events. */
  private watchEvents(): void {
    const chassisName = (uuid: unknown) => (typeof uuid === 'string' ? (this.gw.sb?.table('Chassis').get(uuid)?.name ?? uuid) : null);
    this.gw.sb?.onChange((e) => {
      if (e.table !== 'Port_Binding') return;
      const row = e.row as unknown as { logical_port: string; chassis: string | null };
      const old = e.old as unknown as { chassis: string | null } | undefined;
      const now = e.kind === 'delete' ? null : row.chassis;
      const before = e.kind === 'insert' ? null : (old ?? row).chassis;
      if (e.kind === 'update' && now === before) return;
      if (now === null && before === null) return;
      this.events.emit({ type: 'gateway', port: row.logical_port.replace(/^cr-/, ''), chassis: chassisName(now), previous: chassisName(before) });
    });
    this.gw.nb.onChange((e) => {
      // a session's first status (a new row with one: the server may send a row's insert and its first
      // status as one update) and every change of it
      if (e.table !== 'BFD' || e.kind === 'delete') return;
      const row = e.row as unknown as { logical_port: string; dst_ip: string; status: string | null };
      const before = e.kind === 'insert' ? null : (e.old as unknown as { status: string | null }).status;
      if (row.status === before || (e.kind === 'insert' && !row.status)) return;
      this.events.emit({ type: 'bfd', logical_port: row.logical_port, dst_ip: row.dst_ip, status: row.status ?? 'unknown', previous: before ?? null });
    });
  }

  /** Reconnects counted, and the replicas' lag probed every 5 s (a catch-up echo, timed). */
  private watchSessions(): void {
    const clients = [['OVN_Northbound', this.gw.nbClient], ...(this.gw.sbClient ? [['OVN_Southbound', this.gw.sbClient] as const] : [])] as const;
    for (const [db, c] of clients) {
      c.on('connected', () => this.metrics.reconnects.inc({ db }));
      c.on('disconnected', (reason: unknown) => this.logger.warn({ db, reason: String(reason) }, 'database session lost; reconnecting (NB is not written meanwhile)'));
    }
    const probe = setInterval(() => {
      for (const [db, c] of clients) {
        if (!c.connected) continue;
        const t = performance.now();
        c.caughtUp().then(
          () => this.metrics.lag.set({ db }, (performance.now() - t) / 1000),
          () => undefined,
        );
      }
    }, 5000);
    probe.unref();
    this.stopProbe = () => clearInterval(probe);
  }
  private stopProbe: () => void = () => undefined;

  private refreshMetrics(): void {
    const m = this.metrics;
    m.ready.set(this.ready ? 1 : 0);
    m.connected.set({ db: 'OVN_Northbound' }, this.gw.nbClient.connected ? 1 : 0);
    if (this.gw.sbClient) m.connected.set({ db: 'OVN_Southbound' }, this.gw.sbClient.connected ? 1 : 0);
    m.objects.reset();
    for (const [kind, c] of this.readiness.counts()) {
      m.objects.set({ kind, ready: 'true' }, c.ready);
      m.objects.set({ kind, ready: 'false' }, c.notReady);
    }
    if (this.ready) for (const t of REPORTED_TABLES) m.rows.set({ table: t }, this.gw.nb.table(t).size);
  }

  private async reload(): Promise<string> {
    let next: DaemonConfig;
    try {
      next = await loadConfig(this.flags);
      if (next.socketGroup !== undefined) gidOf(next.socketGroup);
    } catch (e) {
      this.logger.error({ err: (e as Error).message }, 'reload: the new config is refused; the old one stays');
      throw e;
    }
    const fixed = (['nb', 'sb', 'socket', 'socketGroup', 'tls'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.config[k]));
    if (fixed.length) this.logger.warn({ keys: fixed }, 'reload: these keys take effect at the next start');
    this.config = { ...next, ...Object.fromEntries(fixed.map((k) => [k, this.config[k]])) };
    this.logger.level = this.config.logLevel;
    this.reconciler?.reconfigure(this.reconcileOptions());
    this.logger.info({ manifests: this.config.manifests, owner: this.config.owner }, 'reloaded; planning the manifests again');
    await this.reconciler?.run('reload');
    return 'reloaded';
  }

  /** A chassis as liveness and the operator see it: dead, returning, suspect, draining, alive (watched: its node answers), this node, or unknown. */
  private chassisState(c: string): string {
    const l = this.liveness?.stateOf(c) ?? 'unknown';
    if (l === 'dead' || l === 'returning' || l === 'suspect') return l;
    if (this.draining.has(c)) return 'draining';
    if (c === this.config.chassis) return this.health && !this.health.current.healthy ? 'unhealthy' : 'this-node';
    return l === 'alive' ? 'alive' : 'unknown';
  }

  private status(): Record<string, unknown> {
    const r = this.reconciler;
    return {
      version: version(),
      pid: process.pid,
      uptime_s: Math.round((Date.now() - this.started) / 1000),
      ready: this.ready,
      owner: this.config.owner,
      role: this.role,
      lock: this.config.leaderLock || null,
      chassis: this.config.chassis ?? null,
      watched: this.liveness?.watched() ?? [],
      draining: [...this.draining],
      dead: this.liveness?.dead() ?? [],
      liveness: Object.fromEntries(this.liveness?.states() ?? []),
      health: this.health ? { healthy: this.health.current.healthy, since: new Date(this.health.current.since).toISOString(), reason: this.health.current.reason || null, checks: this.health.current.checks } : null,
      nb: { remote: this.config.nb, connected: this.gw.nbClient.connected, rows: this.ready ? countRows(this.gw) : undefined },
      sb: this.config.sb ? { remote: this.config.sb, connected: this.gw.sbClient?.connected ?? false } : null,
      manifests: { dir: this.config.manifests, objects: r?.appliedObjects()?.size ?? 0, not_ready: this.readiness.notReadyCount, refused: r?.refused ?? null },
      last_reconcile: r?.last ?? null,
      last_write: r?.lastWrite ?? null,
      counts: r?.counts ?? null,
      clients: this.admin.clientCount,
      metrics: this.metricsPort !== undefined ? { listen: this.config.metrics, port: this.metricsPort } : null,
      memory_mb: (() => {
        const m = process.memoryUsage();
        return { rss: Math.round(m.rss / 2 ** 20), heap_total: Math.round(m.heapTotal / 2 ** 20), heap_used: Math.round(m.heapUsed / 2 ** 20), external: Math.round(m.external / 2 ** 20) };
      })(),
      log_level: this.logger.level,
    };
  }

  private methods(): void {
    const a = this.admin;
    a.register('status', { rpc: () => this.status() });
    a.register('natgw/status', {
      unixctl: () => formatStatus(this.status() as unknown as StatusParts),
    });
    a.register('get', {
      rpc: (p) => {
        if (!this.ready) throw new RpcError(-32000, 'not ready: the replicas are still being read');
        const kind = p.kind;
        if (typeof kind !== 'string' || !KINDS.includes(kind)) throw new RpcError(INVALID_PARAMS, `kind: must be one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
        const chassis = this.gw.chassisNames();
        const list = listObjects(this.gw.view(), this.config.owner, kind, this.gw.stored(this.config.owner), chassis ? { chassis } : {});
        // objects of the directory NB has nothing of yet (waiting for a workload port): listed, not ready, with why
        const listed = new Set(list.map((v) => v.status.name));
        for (const o of this.reconciler?.appliedObjects()?.values() ?? []) {
          if (o.kind !== kind || listed.has(o.name)) continue;
          const reason = this.readiness.reasonOf(idOf(o)) || 'not applied yet';
          list.push({ status: { kind, name: o.name, vpc: '', v4Eip: '', v4Ip: '', v6Eip: '', v6Ip: '', ready: false, reason, rows: [] } });
        }
        return list.sort((a, b) => (a.status.name < b.status.name ? -1 : 1));
      },
    });
    a.register('put', { rpc: (p) => this.put(p) });
    // (a manifest text of any number of objects: the same method under the name kubectl and the CLI use)
    a.register('apply', { rpc: (p) => this.put(p) });
    a.register('list', {
      // every object of the directory as applied, with its file and readiness (optionally of one kind)
      rpc: (p) => {
        if (p.kind !== undefined && (typeof p.kind !== 'string' || !KINDS.includes(p.kind))) throw new RpcError(INVALID_PARAMS, `kind: must be one of ${KINDS.join(', ')}, got ${JSON.stringify(p.kind)}`);
        const out: { kind: string; name: string; file: string; ready: boolean | null; reason?: string }[] = [];
        for (const o of this.reconciler?.appliedObjects()?.values() ?? []) {
          if (p.kind !== undefined && o.kind !== p.kind) continue;
          out.push({ kind: o.kind, name: o.name, file: o.file, ready: o.reason === undefined ? null : o.reason === '', ...(o.reason ? { reason: o.reason } : {}) });
        }
        return out.sort((x, y) => (x.kind === y.kind ? (x.name < y.name ? -1 : 1) : x.kind < y.kind ? -1 : 1));
      },
    });
    a.register('failover', {
      rpc: async (p) => {
        const list = p.chassis;
        if (!Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === 'string' && c !== '')) throw new RpcError(INVALID_PARAMS, 'chassis: must be a non-empty array of chassis names');
        return this.failover(list as string[], 'requested');
      },
    });
    a.register('natgw/failover', {
      usage: 'CHASSIS...',
      unixctl: async (args) => {
        if (args.length === 0) throw new Error('usage: natgw/failover CHASSIS...');
        const r = await this.failover(args, 'requested');
        return `${r.transacted ? `moved: ${r.objects.join(' ')}` : 'nothing to move'} (${r.ms} ms)\n`;
      },
    });
    a.register('failovers', { rpc: () => this.failovers });
    a.register('rebalance', { rpc: () => this.rebalance() });
    a.register('natgw/rebalance', {
      unixctl: async () => {
        const r = await this.rebalance();
        return r.moves.length ? r.moves.map((m) => `${m.port}: ${m.from} -> ${m.to}\n`).join('') : 'balanced: nothing to move\n';
      },
    });
    for (const [name, on] of [['drain', true], ['undrain', false]] as const) {
      a.register(name, {
        rpc: (p) => {
          if (typeof p.chassis !== 'string' || p.chassis === '') throw new RpcError(INVALID_PARAMS, 'chassis: must be a chassis name');
          return this.drain(p.chassis, on);
        },
      });
      a.register(`natgw/${name}`, {
        usage: 'CHASSIS',
        unixctl: async (args) => {
          if (args.length !== 1) throw new Error(`usage: natgw/${name} CHASSIS`);
          const r = await this.drain(args[0], on);
          return on ? `${r.transacted ? `moved off: ${r.objects.join(' ')}` : 'nothing led by it'}; draining: ${r.draining.join(' ')}\n` : `draining: ${r.draining.join(' ') || '(none)'}\n`;
        },
      });
    }
    a.register('natgw/failovers', { unixctl: () => this.failovers.map(formatFailover).join('') });
    a.register('chassis', {
      rpc: () => {
        if (!this.ready) throw new RpcError(-32000, 'not ready: the replicas are still being read');
        // with what liveness and the operator say of each (chassisState)
        return this.gw.gatewayLoad().map((c) => ({ ...c, state: this.chassisState(c.chassis) }));
      },
    });
    a.register('events', {
      // the events kept; with follow, every new one as an "event" notification until the client leaves
      rpc: (p, client) => {
        if (p.follow !== undefined && typeof p.follow !== 'boolean') throw new RpcError(INVALID_PARAMS, 'follow: must be true or false');
        if (p.follow) {
          const off = this.events.subscribe((e) => client.notify('event', e));
          client.onClose(off);
        }
        return { recent: this.events.recent() };
      },
    });
    a.register('metrics', {
      rpc: () => {
        this.refreshMetrics();
        return this.metrics.text();
      },
    });
    a.register('delete', { rpc: (p) => this.remove(p) });
    a.register('plan', {
      // without params: the manifest directory as it is now; with {manifest}: those objects as a put would apply them
      rpc: async (p) => {
        if (!this.ready || !this.reconciler) throw new RpcError(-32000, 'not ready: the replicas are still being read');
        if (p.manifest !== undefined) {
          const given = this.givenObjects(p);
          const plan = this.reconciler.planGiven(given);
          return { changes: plan.changes, specs: plan.specs, warnings: plan.warnings, planned: plan.scope ?? null };
        }
        const m = await loadManifests([this.config.manifests]);
        const plan = this.gw.plan(m, { owner: this.config.owner });
        return { changes: plan.changes, specs: plan.specs, warnings: plan.warnings, planned: plan.scope ?? null };
      },
    });
    a.register('reconcile', {
      rpc: async () => {
        if (!this.reconciler) throw new RpcError(-32000, 'not ready: the replicas are still being read');
        await this.reconciler.run('request');
        return this.reconciler.last;
      },
      unixctl: async () => {
        if (!this.reconciler) throw new Error('not ready: the replicas are still being read');
        await this.reconciler.run('request');
        const l = this.reconciler.last!;
        return `${l.ok ? (l.transacted ? `applied: ${l.changes.length} changes` : 'nothing to change') : `failed: ${l.error}`}\n`;
      },
    });
    a.register('reload', {
      rpc: () => this.reload(),
      unixctl: async () => `${await this.reload()}\n`,
    });
    const setLevel = (level: string): string => {
      if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new RpcError(INVALID_PARAMS, `level: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
      this.logger.level = level;
      return level;
    };
    a.register('log-level', {
      rpc: (p) => {
        if (p.level === undefined) return this.logger.level;
        if (typeof p.level !== 'string') throw new RpcError(INVALID_PARAMS, 'level: must be a string');
        return setLevel(p.level);
      },
    });
    a.register('vlog/set', {
      usage: '[LEVEL | ANY:ANY:LEVEL]',
      unixctl: (args) => {
        for (const arg of args) {
          const lv = arg.split(':').pop()!.toLowerCase();
          setLevel(VLOG[lv] ?? lv);
        }
        return '';
      },
    });
    a.register('vlog/list', { unixctl: () => `log level: ${this.logger.level}\n` });
    a.register('version', { unixctl: () => `ovn-natgwd ${version()}\n`, rpc: () => version() });
    a.register('exit', {
      unixctl: () => {
        setImmediate(() => void this.stop('exit'));
        return '';
      },
      rpc: () => {
        setImmediate(() => void this.stop('exit'));
        return 'exiting';
      },
    });
  }

  /** Throws (an RpcError saying why) unless this daemon may write now: ready, and the leader. */
  private mayWrite(): void {
    if (!this.ready) throw new RpcError(-32000, 'not ready: the replicas are still being read');
    if (this.role === 'standby') throw new RpcError(-32000, `nothing was written: ${new StandbyError().message}`);
  }

  /** The options a failover, drain or rebalance plans with, as the reconciles do (the same placement inputs). */
  private writeOptions(): { owner: string; gatewayChassis?: number; clusterRouter?: string; draining?: ReadonlySet<string>; suspect?: ReadonlySet<string> } {
    const suspect = this.suspectSet();
    return {
      owner: this.config.owner,
      ...(this.config.gatewayChassis !== undefined ? { gatewayChassis: this.config.gatewayChassis } : {}),
      ...(this.config.clusterRouter ? { clusterRouter: this.config.clusterRouter } : {}),
      ...(this.draining.size ? { draining: this.draining } : {}),
      ...(suspect.size ? { suspect } : {}),
    };
  }

  /** The chassis whose node missed a ping and is not dead yet: they keep their slots, new ones go elsewhere. */
  private suspectSet(): ReadonlySet<string> {
    return new Set((this.liveness?.states() ?? []).filter(([, s]) => s === 'suspect').map(([c]) => c));
  }

  /** The chassis taken as up: every SB chassis but those liveness found dead or holds down (returning); undefined while none is. */
  private liveSet(): ReadonlySet<string> | undefined {
    const dead = new Set(this.liveness?.down() ?? []);
    return dead.size ? new Set(this.gw.chassis().map((c) => c.name).filter((n) => !dead.has(n))) : undefined;
  }

  /** chassis being drained (asked for; kept in NB until undrained, so that a new leader or a restart keeps them) */
  private readonly draining = new Set<string>();

  /** The drained chassis as NB keeps them (NB_Global external_ids), taken as this daemon's own (once it leads, or at its start). */
  private loadDrained(): void {
    // (before the replicas are read there is nothing to take: done again once they are, at READY)
    if (!this.gw.nb) return;
    const kept = this.gw.drainedOf(this.config.owner);
    const changed = kept.length !== this.draining.size || kept.some((c) => !this.draining.has(c));
    this.draining.clear();
    for (const c of kept) this.draining.add(c);
    if (changed && kept.length) this.logger.info({ draining: kept }, 'draining: the chassis drained before, as NB keeps them');
  }

  /** Drain: actives off `chassis` in one transaction (it stays as the lowest standby); undrain: it may lead again (nothing moves by itself). */
  private async drain(chassis: string, on: boolean): Promise<{ transacted: boolean; objects: string[]; draining: string[] }> {
    this.mayWrite();
    if (!on) {
      this.draining.delete(chassis);
      await this.gw.setDrained(this.config.owner, this.draining);
      this.events.emit({ type: 'drain', chassis, draining: false });
      return { transacted: false, objects: [], draining: [...this.draining] };
    }
    const r = await this.gw.drain(chassis, this.writeOptions());
    this.draining.add(chassis);
    await this.gw.setDrained(this.config.owner, this.draining);
    this.events.emit({ type: 'drain', chassis, draining: true, objects: r.objects });
    return { transacted: r.transacted, objects: r.objects, draining: [...this.draining] };
  }

  /** Rebalance: the fewest moves of actives to bring the gateway chassis within one of each other, one transaction. */
  private async rebalance(): Promise<{ transacted: boolean; moves: { port: string; from: string; to: string }[] }> {
    this.mayWrite();
    const live = this.liveSet();
    const r = await this.gw.rebalance({ ...this.writeOptions(), ...(live ? { live } : {}) });
    if (r.moves.length) this.events.emit({ type: 'rebalance', moves: r.moves });
    return { transacted: r.transacted, moves: r.moves };
  }

  /** the last failovers (at most 100), newest last */
  private readonly failovers: (FailoverRecord & { transacted: boolean })[] = [];

  /**
   * A failover of `chassis` (taken as dead): their gateway slots and egress
   * next hops moved to the chassis left, in one transaction (NatGateway.failover),
   * an event and a log line with the cause, the objects moved and the time.
   * Liveness asks for it (a node lock released, a node silent or absent), and
   * so may an operator (`failover`, `ovs-appctl natgw/failover`); a later
   * reconcile over the same live set keeps the new actives.
   */
  private async failover(chassis: string[], cause: string): Promise<{ transacted: boolean; objects: string[]; ms: number }> {
    this.mayWrite();
    const t0 = performance.now();
    for (const c of chassis) {
      const led = this.index.portsOf(c).filter((p) => p.active && !p.port.startsWith('group:')).map((p) => p.port);
      if (led.length) this.ledBefore.set(c, led);
    }
    // (with the chassis liveness takes as down, dead or returning in hold-down: none of them may fill
    // a slot, as in the reconciles' live set, so that a reconcile does not undo what this writes)
    const r = await this.gw.failover([...new Set([...(this.liveness?.down() ?? []), ...chassis])], this.writeOptions());
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    const timings = r.timings;
    const f = { at: new Date().toISOString(), cause, chassis, objects: r.objects, transacted: r.transacted, ms, ...(timings ? { timings } : {}) };
    this.failovers.push(f);
    if (this.failovers.length > 100) this.failovers.shift();
    this.metrics.failovers.inc({ cause });
    this.logger.warn({ cause, chassis, objects: r.objects, transacted: r.transacted, ms, ...(timings ? { timings } : {}) }, 'failover written');
    this.events.emit({ type: 'failover', ...f, changes: r.plan.changes.map((c) => `${c.action} ${c.label}`).slice(0, 200) });
    return { transacted: r.transacted, objects: r.objects, ms };
  }

  /** The file of an object put through the socket, in the manifest directory. */
  private fileOf(o: { kind: string; name: string }): string {
    return path.join(this.config.manifests, `natgwctl-${o.kind}-${o.name}.yaml`);
  }

  /** The directory's objects by id: as last applied, else read now (refused: the directory's problem, as an RpcError). */
  private directory(): ReadonlyMap<string, DirObject> {
    this.mayWrite();
    if (!this.reconciler) throw new RpcError(-32000, 'not ready: the replicas are still being read');
    const objects = this.reconciler.appliedObjects();
    if (!objects || this.reconciler.refused) throw new RpcError(-32000, `the manifest directory is refused (${this.reconciler.refused ?? 'nothing applied yet'}); fix it first`);
    return objects;
  }

  /**
   * Objects given through the socket (ovn-natgwctl apply -t): applied as a
   * merge (a plan of them and what depends on them; a refusal writes
   * nothing), and kept in the directory, one file each
   * (natgwctl-KIND-NAME.yaml), so that the directory stays the whole desired
   * state (a restart keeps them). An object defined
   * in another file of the directory is refused: change it there.
   */
  /** The objects of a put's or a plan's `manifest` text (refused: an RpcError naming why; one defined in another file of the directory too). */
  private givenObjects(p: Record<string, unknown>): ManifestObject[] {
    if (typeof p.manifest !== 'string' || p.manifest === '') throw new RpcError(INVALID_PARAMS, 'manifest: must be the text of a manifest (YAML or JSON)');
    let given: ManifestObject[];
    try {
      given = parseManifest(p.manifest, typeof p.file === 'string' ? p.file : '<socket>').objects;
    } catch (e) {
      throw new RpcError(INVALID_PARAMS, e instanceof ManifestError ? `manifest: nothing was written:\n${e.message}` : `manifest: ${(e as Error).message}`);
    }
    if (given.length === 0) throw new RpcError(INVALID_PARAMS, 'manifest: no objects');
    const dir = this.directory();
    for (const o of given) {
      const there = dir.get(idOf(o));
      if (there && path.resolve(there.file) !== this.fileOf(o)) throw new RpcError(INVALID_PARAMS, `${o.kind} ${o.name}: defined in ${there.file}; change it there`);
    }
    return given;
  }

  private async put(p: Record<string, unknown>): Promise<unknown> {
    const given = this.givenObjects(p);
    // the files first under temporary names (a directory that cannot be written fails here: nothing
    // sent), then the directory as it will be applied (a refusal: nothing written), then the files in
    // place. Each file its own write and rename, at once (an EIP and its FIP are two); every one is
    // settled before a failure is told, and a temporary name is listed before its write begins, so
    // that cleaning up finds each. (Not overlapped with the plan: the gateway's write queue, which a
    // failover may be waiting in, never waits on the disk.)
    const tmps: [string, string][] = [];
    try {
      await allSettledOrThrow(
        given.map((o) => {
          const file = this.fileOf(o);
          const tmp = tempName(file);
          tmps.push([tmp, file]);
          return writeFile(tmp, yaml.dump(sourceOf(o) ?? o, { lineWidth: -1 }));
        }),
      );
      return await this.applyChecked('put', {
        objects: given,
        mode: 'merge',
        files: async () => {
          // (in the objects' order: the directory takes the i-th file as the i-th object's)
          const files = given.map((o) => this.fileOf(o));
          this.reconciler!.wrote(files.map((f) => path.basename(f)));
          const moving = tmps.splice(0);
          const done = await Promise.allSettled(moving.map(([tmp, file]) => rename(tmp, file)));
          done.forEach((r, i) => r.status === 'rejected' && tmps.push(moving[i]));
          const bad = done.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (bad) throw bad.reason;
          return files;
        },
      });
    } finally {
      for (const [tmp] of tmps) await rm(tmp, { force: true });
    }
  }

  /** Objects put through the socket, deleted: their files removed, after a plan without them. */
  private async remove(p: Record<string, unknown>): Promise<unknown> {
    const list = p.objects;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'object' && x !== null && typeof (x as { kind?: unknown }).kind === 'string' && typeof (x as { name?: unknown }).name === 'string')) {
      throw new RpcError(INVALID_PARAMS, 'objects: must be a non-empty array of {kind, name}');
    }
    const ids = list as { kind: string; name: string }[];
    const dir = this.directory();
    for (const o of ids) {
      const there = dir.get(idOf(o));
      if (!there) throw new RpcError(INVALID_PARAMS, `${o.kind} ${o.name}: not found in ${this.config.manifests}`);
      if (path.resolve(there.file) !== this.fileOf(o)) throw new RpcError(INVALID_PARAMS, `${o.kind} ${o.name}: defined in ${there.file}; remove it there`);
    }
    if (new Set(ids.map(idOf)).size >= dir.size) throw new RpcError(INVALID_PARAMS, 'objects: deleting them would leave the directory without objects, which is refused');
    return this.applyChecked('delete', {
      objects: ids as ManifestObject[],
      mode: 'delete',
      files: async () => {
        const files = ids.map((o) => this.fileOf(o));
        this.reconciler!.wrote(files.map((f) => path.basename(f)));
        for (const f of files) await rm(f, { force: true });
        return files;
      },
    });
  }

  /** The directory's objects as they will be, applied (its problems: an RpcError, nothing written). */
  private async applyChecked(reason: string, change: Parameters<Reconciler['applyGiven']>[1]): Promise<unknown> {
    try {
      const { last, plan } = await this.reconciler!.applyGiven(reason, change);
      return { plan: { changes: plan.changes, specs: plan.specs, warnings: plan.warnings }, reconcile: last };
    } catch (e) {
      if (e instanceof PlanError) throw new RpcError(INVALID_PARAMS, `nothing was written:\n${e.message}`);
      if (e instanceof StandbyError) throw new RpcError(-32000, `nothing was written: ${e.message}`);
      throw e;
    }
  }

  /** Closes the socket and the connections (a start that failed). */
  async close(): Promise<void> {
    await this.admin.close().catch(() => undefined);
    await this.metrics.close().catch(() => undefined);
    await this.gw.close().catch(() => undefined);
    if (this.flags.pidfile) await rm(this.flags.pidfile, { force: true });
  }

  /** Stops: no new requests, a transaction in flight finishes (at most 4 s), everything closed, exit 0. */
  stop(why: string): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ why }, 'stopping');
      this.notify.stop();
      this.stopProbe();
      this.notify.send('STOPPING=1');
      const hard = setTimeout(() => {
        this.logger.error('stop: gave up waiting after 4.5 s');
        process.exit(1);
      }, 4500);
      hard.unref();
      await this.admin.close().catch(() => undefined);
      await this.metrics.close().catch(() => undefined);
      this.health?.stop();
      this.bfdCheck?.stop();
      await this.reconciler?.stop();
      await Promise.race([this.gw.idle(), new Promise((r) => setTimeout(r, 4000).unref())]);
      await this.gw.close().catch(() => undefined);
      if (this.flags.pidfile) await rm(this.flags.pidfile, { force: true });
      this.logger.info('stopped');
      this.logger.flush?.();
      process.exit(0);
    })();
    return this.stopping;
  }
}

/**
 * --detach: the daemon started again in the background (its own session,
 * stdio away from the terminal, logs to --log-file), this process waiting
 * until it answers ready on its socket (exit 0, its pid printed) or exits
 * (its exit status). Node cannot fork; a child with the same arguments less
 * --detach is the same daemon.
 */
async function detach(argv: string[], config: DaemonConfig, flags: Flags): Promise<void> {
  const { spawn } = await import('node:child_process');
  const { openSync } = await import('node:fs');
  const args = argv.filter((a) => a !== '--detach');
  const out = flags.logFile ? openSync(flags.logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { detached: true, stdio: ['ignore', out, out] });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const { callDaemon } = await import('../cli/daemon-client.js');
  for (let i = 0; i < 600; i++) {
    if (exited !== undefined) {
      process.stderr.write(`ovn-natgwd: the daemon exited with status ${exited} before it was ready${flags.logFile ? ` (see ${flags.logFile})` : ''}\n`);
      process.exit(exited || 1);
    }
    const s = (await callDaemon(config.socket, 'status').catch(() => undefined)) as { ready?: boolean; pid?: number } | undefined;
    if (s?.ready && s.pid === child.pid) {
      child.unref();
      process.stdout.write(`${child.pid}\n`);
      process.exit(0);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write('ovn-natgwd: the daemon was not ready after 60 s; it keeps running in the background\n');
  child.unref();
  process.exit(1);
}

/** A file's text written under a temporary name beside it (renamed into place once the change is applied). */
/** Where a file of the directory is written before it is put in place (ending in .tmp: the directory's reader skips it). */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

/** Waits for all; then the first failure, if any, is thrown. */
async function allSettledOrThrow(ps: readonly Promise<unknown>[]): Promise<void> {
  const bad = (await Promise.allSettled(ps)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}

/** The NB tables whose replica sizes the status and the metrics report. */
const REPORTED_TABLES = ['Logical_Router', 'Logical_Switch', 'Logical_Router_Port', 'Logical_Switch_Port', 'NAT', 'Gateway_Chassis', 'Load_Balancer'] as const;

function countRows(gw: NatGateway): number {
  return REPORTED_TABLES.reduce((n, t) => n + gw.nb.table(t).size, 0);
}
