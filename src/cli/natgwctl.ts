/**
 * ovn-natgwctl: plan, apply, get and delete ovn-natgw objects directly on NB,
 * as kubectl does for Kubernetes objects and ovn-nbctl for NB rows.
 *
 *   ovn-natgwctl [--db NB] [--sb SB] [--owner NAME] COMMAND ...
 *     plan   -f FILE|DIR|- [-f ...] [--prune]     what apply would do
 *     apply  -f FILE|DIR|- [-f ...] [--prune]     create and update the objects given (with --prune: and remove the others)
 *     get    KIND [NAME...] [-o wide|name|json|yaml]
 *     delete KIND NAME... | -f FILE|DIR|-
 *
 * Exit status 0 on success, 1 on an error (bad input, a conflict, a database
 * that cannot be reached: nothing is written), 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { CommitUnknownError } from '../ovsdb/errors.js';
import { EmptyManifestError, NatGateway, type ApplyOptions } from '../nat/apply.js';
import { loadManifests, ManifestError } from '../nat/manifest.js';
import type { Manifest, ManifestObject } from '../nat/objects.js';
import { DEFAULT_OWNER, PlanError } from '../nat/rows.js';
import { DEFAULT_CLUSTER_ROUTER } from '../nat/desired.js';
import { MAX_GATEWAY_CHASSIS } from '../gateway/chassis.js';
import { listObjects } from '../nat/status.js';
import { SHORT_NAMES, kindInfo } from './kinds.js';
import { formatObjects, formatPlan, formatTable, type OutputFormat } from './output.js';
import { Progress } from './progress.js';
import { callDaemon, DaemonError, DEFAULT_DAEMON_SOCKET, followDaemon } from './daemon-client.js';
import { formatEvent, type NatgwEvent } from '../daemon/events.js';
import { formatFailover, formatStatus, type FailoverRecord, type StatusParts } from '../daemon/status-text.js';
import { existsSync } from 'node:fs';
import { sourceOf } from '../nat/manifest.js';
import yaml from 'js-yaml';
import type { Plan } from '../nat/plan.js';
import type { ObjectView } from '../nat/status.js';
import type { ChassisLoad } from '../gateway/load.js';

/** A mistake in how the command was called: exit status 2. */
class UsageError extends Error {}

/** A command that ran out of --timeout. */
class TimeoutError extends Error {}

type Out = NodeJS.WritableStream & { isTTY?: boolean };

interface Globals {
  db?: string;
  sb?: string;
  owner?: string;
  privateKey?: string;
  certificate?: string;
  caCert?: string;
  timeout: number;
  verbose?: boolean;
  target?: string;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const intIn = (name: string, lo: number, hi: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new InvalidArgumentError(`${name} must be an integer from ${lo} to ${hi}, got "${v}"`);
  return Number(v);
};
const seconds = (v: string) => {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError(`--timeout must be a number of seconds (0: no limit), got "${v}"`);
  return Number(v);
};
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** How long one step of connecting may take before the server counts as not answering (ovn-nbctl fails at once on a refused connection). */
const HANDSHAKE_MS = 5_000;

/** The context of one command run: its streams, progress line and the gateway it opened. */
class Run {
  readonly progress: Progress;
  phase = 'starting';
  /** the command being run (plan, apply, get, delete) */
  command = '';
  /** a transaction may be on its way: an error now leaves unknown whether it was committed */
  writing = false;
  gw: NatGateway | undefined;
  private timer: NodeJS.Timeout | undefined;
  private expire!: (e: Error) => void;
  /** rejects when --timeout runs out */
  readonly expired = new Promise<never>((_, reject) => (this.expire = reject));

  constructor(
    readonly out: Out,
    readonly err: Out,
  ) {
    this.progress = new Progress(err);
  }

  /** The command's options (global ones included), with --timeout armed. */
  globals(cmd: Command): Globals {
    this.command = cmd.name();
    const g = cmd.optsWithGlobals() as Globals;
    if (g.timeout > 0 && !this.timer) {
      this.timer = setTimeout(() => this.expire(new TimeoutError(`timed out after ${g.timeout} s (while ${this.phase})`)), g.timeout * 1000);
    }
    return g;
  }

  step(phase: string): void {
    this.phase = phase;
    this.progress.step(phase);
  }

  /** Connects to NB (and SB when given): fails at once with the cause when one cannot be reached. */
  async connect(g: Globals, needSb: boolean): Promise<NatGateway> {
    const nb = g.db ?? process.env.OVN_NB_DB;
    if (!nb) throw new UsageError('no NB database: give --db or set OVN_NB_DB');
    const sb = needSb ? (g.sb ?? process.env.OVN_SB_DB) : undefined;
    const tls = g.privateKey || g.certificate || g.caCert ? { privateKey: g.privateKey ?? '', certificate: g.certificate ?? '', caCert: g.caCert ?? '' } : undefined;
    // (a shorter --timeout ends the command first, naming what it was doing)
    const handshake = HANDSHAKE_MS;
    const gw = new NatGateway({
      nb,
      ...(sb ? { sb } : {}),
      ...(tls ? { tls } : {}),
      logger: pino({ level: process.env.LOG_LEVEL ?? (g.verbose ? 'info' : 'error') }, pino.destination(2)),
      reconnect: false,
      handshakeTimeoutMs: handshake,
      ...(this.command === 'chassis' ? { gatewayBindings: true } : {}),
      timeoutMs: 0x7fffffff,
    });
    this.gw = gw;
    this.step(`connecting to NB ${nb}${sb ? ` and SB ${sb}` : ''}`);
    try {
      await gw.connect();
    } catch (e) {
      throw new Error(`cannot connect: ${(e as Error).message}`);
    }
    if (g.verbose) this.err.write(`connected to NB ${gw.nbClient.remote}${sb ? ` and SB ${gw.sbClient?.remote}` : ' (no SB: gateway chassis are not checked)'}\n`);
    return gw;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.progress.done();
    await this.gw?.close();
  }
}

/** The daemon's socket to talk to: -t, else the default one when it exists (said with --verbose). */
function daemonTarget(run: Run, g: Globals): string | undefined {
  const t = g.target ?? (existsSync(DEFAULT_DAEMON_SOCKET) ? DEFAULT_DAEMON_SOCKET : undefined);
  if (t && g.verbose) run.err.write(`talking to ovn-natgwd at ${t}\n`);
  return t;
}

/** Manifests from -f arguments, refused when they hold no object (an empty input never deletes or applies anything). */
async function readInput(run: Run, files: string[]): Promise<Manifest> {
  run.step(`reading ${files.join(', ')}`);
  const m = await loadManifests(files);
  for (const n of m.notices) run.err.write(`notice: ${n.kind} ${n.name}: ${n.field ? `${n.field}: ` : ''}${n.message}\n`);
  if (m.objects.length === 0) throw new EmptyManifestError(`no objects in ${files.join(', ')}`);
  return m;
}

function applyOptions(g: Globals, o: { gatewayChassis?: number; clusterRouter?: string }, mode: ApplyOptions['mode']): ApplyOptions {
  return {
    owner: g.owner ?? DEFAULT_OWNER,
    mode,
    nbWarnings: true,
    ...(o.gatewayChassis !== undefined ? { gatewayChassis: o.gatewayChassis } : {}),
    ...(o.clusterRouter ? { clusterRouter: o.clusterRouter } : {}),
  };
}

function warn(run: Run, warnings: readonly string[]): void {
  for (const w of warnings) run.err.write(`warning: ${w}\n`);
}

const HELP_AFTER = `
Kinds: ${SHORT_NAMES} (or kubectl's names: ovnfips, ovn-eips, ovnsnatrules.kubeovn.io, ...)
Environment: OVN_NB_DB, OVN_SB_DB (as --db, --sb), LOG_LEVEL (pino JSON logs on stderr).
Exit status: 0 done, 1 error (nothing was written), 2 usage error.`;

/** The command line, built for one run. */
function program(run: Run): Command {
  const globals = (cmd: Command) => run.globals(cmd);
  const p = new Command('ovn-natgwctl')
    .description('Plan, apply, get and delete ovn-natgw objects (Kube-OVN NAT gateway manifests) directly on OVN NB.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: ovn-natgwctl COMMAND --help)')
    .addHelpText('after', HELP_AFTER)
    .option('--db <REMOTE>', 'NB database (default $OVN_NB_DB), e.g. unix:/run/ovn/ovnnb_db.sock or tcp:IP:6641')
    .option('--sb <REMOTE>', 'SB database (default $OVN_SB_DB): to check and place gateway chassis')
    .option('--owner <NAME>', `whose objects these are; each owner's objects are separate (default ${DEFAULT_OWNER})`)
    .option('-p, --private-key <FILE>', 'TLS private key, for ssl: remotes')
    .option('-c, --certificate <FILE>', 'TLS certificate')
    .option('-C, --ca-cert <FILE>', 'TLS CA certificate')
    .addOption(new Option('--timeout <SECONDS>', 'give up after this long, as ovn-nbctl --timeout (0: no limit)').argParser(seconds).default(0))
    .option('-v, --verbose', 'say more on stderr (which databases, pino info logs)')
    .option('-t, --target <SOCKET>', `talk to ovn-natgwd on this admin socket (default ${DEFAULT_DAEMON_SOCKET} when it exists; else work on NB directly)`)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => run.out.write(s),
      writeErr: (s) => run.err.write(s),
      outputError: (s, write) => write(`ovn-natgwctl: ${s.replace(/^error: /, '')}`),
    });

  const planOpts = (c: Command) =>
    c
      .requiredOption('-f, --filename <FILE>', 'a manifest file, a directory of *.yaml/*.yml/*.json, or - for stdin (repeatable)', collect)
      .option('--prune', 'the input is the owner\'s whole state: also remove the owned objects that are not in it (as kubectl apply --prune)')
      .addOption(new Option('--gateway-chassis <K>', `gateway chassis per gateway port (1..${MAX_GATEWAY_CHASSIS}, default 3)`).argParser(intIn('--gateway-chassis', 1, MAX_GATEWAY_CHASSIS)))
      .option('--cluster-router <NAME>', `Kube-OVN's default VPC router, attached by enable-external-gw (default ${DEFAULT_CLUSTER_ROUTER})`);

  planOpts(p.command('plan').description('show what apply would do with the same flags; writes nothing')).action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const manifest = await readInput(run, o.filename);
    const target = daemonTarget(run, g);
    if (target) {
      // what `apply -f` through the daemon would do: its plan of these objects, as a put applies them
      if (o.prune) throw new UsageError("plan --prune: ovn-natgwd's manifest directory is the whole state; change the directory instead (or leave out -t)");
      run.step(`planning ${manifest.objects.length} objects through ovn-natgwd`);
      const text = manifest.objects.map((x) => yaml.dump(sourceOf(x) ?? x, { lineWidth: -1 })).join('---\n');
      const r = (await callDaemon(target, 'plan', { manifest: text })) as Pick<Plan, 'changes' | 'specs' | 'warnings'>;
      run.progress.done();
      warn(run, r.warnings);
      run.out.write(formatPlan({ ...r, ops: [] }, 'plan', run.out.isTTY === true));
      return;
    }
    const gw = await run.connect(g, true);
    run.step(`planning ${manifest.objects.length} objects`);
    const plan = gw.plan(manifest, applyOptions(g, o, o.prune ? 'replace' : 'merge'));
    run.progress.done();
    warn(run, plan.warnings);
    run.out.write(formatPlan(plan, 'plan', run.out.isTTY === true));
  });

  planOpts(p.command('apply').description('create and update the objects given, in one transaction; nothing else is removed without --prune'))
    .option('-q, --quiet', 'print nothing on success')
    .action(async (o, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await readInput(run, o.filename);
      const target = daemonTarget(run, g);
      if (target) {
        if (o.prune) throw new UsageError("apply --prune: ovn-natgwd's manifest directory is the whole state; change the directory instead (or leave out -t)");
        run.step(`applying ${manifest.objects.length} objects through ovn-natgwd`);
        run.writing = true;
        const text = manifest.objects.map((x) => yaml.dump(sourceOf(x) ?? x, { lineWidth: -1 })).join('---\n');
        const r = (await callDaemon(target, 'put', { manifest: text })) as { plan: Pick<Plan, 'changes' | 'specs' | 'warnings'>; reconcile: { ok: boolean; error?: string } };
        run.progress.done();
        warn(run, r.plan.warnings);
        if (!o.quiet) run.out.write(formatPlan({ ...r.plan, ops: [] }, 'applied', run.out.isTTY === true));
        if (!r.reconcile.ok) throw new Error(`ovn-natgwd wrote the objects to its directory, but its reconcile failed: ${r.reconcile.error}`);
        return;
      }
      const gw = await run.connect(g, true);
      run.step(`applying ${manifest.objects.length} objects`);
      run.writing = true;
      const r = await gw.apply(manifest, applyOptions(g, o, o.prune ? 'replace' : 'merge'));
      run.progress.done();
      warn(run, r.plan.warnings);
      if (!o.quiet) run.out.write(formatPlan(r.plan, 'applied', run.out.isTTY === true));
      if (r.converged === false) run.err.write('warning: a plan made after the commit still finds changes (another writer changed NB meanwhile?); apply again\n');
    });

  p.command('get')
    .description('list objects, or show some, as NB holds them (kubectl get)')
    .argument('<KIND>', `what to list: ${SHORT_NAMES} (or their kubectl names)`)
    .argument('[NAME...]', 'only these objects')
    .addOption(new Option('-o, --output <FORMAT>', 'table (default), wide, name, json or yaml').choices(['table', 'wide', 'name', 'json', 'yaml']).default('table'))
    .action(async (kindArg: string, names: string[], o: { output: OutputFormat }, cmd: Command) => {
      const g = globals(cmd);
      const info = kindInfo(kindArg);
      if (!info) throw new UsageError(`get: unknown kind "${kindArg}" (kinds: ${SHORT_NAMES})`);
      const target = daemonTarget(run, g);
      const gw = target ? undefined : await run.connect(g, true);
      const owner = g.owner ?? DEFAULT_OWNER;
      run.step('reading');
      let list: ObjectView[];
      if (target) list = (await callDaemon(target, 'get', { kind: info.kind })) as ObjectView[];
      else {
        const chassis = gw!.chassisNames();
        list = listObjects(gw!.view(), owner, info.kind, gw!.stored(owner), chassis ? { chassis } : {});
      }
      run.progress.done();
      const missing = names.filter((n) => !list.some((v) => v.status.name === n));
      if (names.length) list = list.filter((v) => names.includes(v.status.name));
      if (gw && !gw.hasSb && ['Vpc', 'OvnFip', 'OvnSnatRule', 'OvnDnatRule'].includes(info.kind)) {
        run.err.write('note: SB not given (--sb or OVN_SB_DB): READY does not check that the gateway chassis are SB chassis\n');
      }
      if (list.length === 0 && names.length === 0) run.err.write('No resources found.\n');
      else if (list.length > 0) {
        run.out.write(o.output === 'table' || o.output === 'wide' ? formatTable(info.kind, list, o.output === 'wide') : formatObjects(o.output, list, owner, names.length === 1));
      }
      if (missing.length) throw new Error(missing.map((n) => `${info.kind} "${n}" not found (owner ${owner})`).join('\n'));
    });

  p.command('delete')
    .description('delete objects and their rows, in one transaction; refused while another object uses one of them')
    .argument('[KIND]', `the kind: ${SHORT_NAMES}`)
    .argument('[NAME...]', 'the objects')
    .option('-f, --filename <FILE>', 'delete the objects of these manifests (repeatable)', collect)
    .action(async (kindArg: string | undefined, names: string[], o: { filename?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      let objects: ManifestObject[];
      if (o.filename?.length) {
        if (kindArg !== undefined) throw new UsageError('delete: give either -f FILE or KIND NAME..., not both');
        objects = (await readInput(run, o.filename)).objects;
      } else {
        if (kindArg === undefined || names.length === 0) throw new UsageError('delete: give KIND NAME... or -f FILE');
        const info = kindInfo(kindArg);
        if (!info) throw new UsageError(`delete: unknown kind "${kindArg}" (kinds: ${SHORT_NAMES})`);
        objects = names.map((name) => ({ kind: info.kind, name }) as ManifestObject);
      }
      const target = daemonTarget(run, g);
      if (target) {
        run.step(`deleting ${objects.length} objects through ovn-natgwd`);
        run.writing = true;
        const r = (await callDaemon(target, 'delete', { objects: objects.map((x) => ({ kind: x.kind, name: x.name })) })) as { plan: Pick<Plan, 'changes' | 'specs' | 'warnings'>; reconcile: { ok: boolean; error?: string } };
        run.progress.done();
        warn(run, r.plan.warnings);
        run.out.write(formatPlan({ ...r.plan, ops: [] }, 'deleted', run.out.isTTY === true));
        if (!r.reconcile.ok) throw new Error(`ovn-natgwd removed the objects from its directory, but its reconcile failed: ${r.reconcile.error}`);
        return;
      }
      const gw = await run.connect(g, true);
      run.step(`deleting ${objects.length} objects`);
      run.writing = true;
      const r = await gw.apply({ objects, notices: [] }, { owner: g.owner ?? DEFAULT_OWNER, mode: 'delete' });
      run.progress.done();
      warn(run, r.plan.warnings);
      run.out.write(formatPlan(r.plan, 'deleted', run.out.isTTY === true));
    });

  p.command('status')
    .description("ovn-natgwd's status: connections, manifests, last reconcile (needs the daemon: -t SOCKET)")
    .addOption(new Option('-o, --output <FORMAT>', 'text (default) or json').choices(['text', 'json']).default('text'))
    .action(async (o: { output: string }, cmd: Command) => {
      const g = globals(cmd);
      const target = daemonTarget(run, g);
      if (!target) throw new UsageError(`status: no ovn-natgwd: give -t SOCKET (${DEFAULT_DAEMON_SOCKET} does not exist)`);
      const s = (await callDaemon(target, 'status')) as Record<string, unknown>;
      if (o.output === 'json') return void run.out.write(`${JSON.stringify(s, null, 2)}\n`);
      run.out.write(formatStatus(s as unknown as StatusParts));
    });

  p.command('chassis')
    .description('the gateway chassis: how many gateway ports each is active and standby for, and bound to (SB)')
    .addOption(new Option('-o, --output <FORMAT>', 'table (default), wide (the ports named) or json').choices(['table', 'wide', 'json']).default('table'))
    .action(async (o: { output: string }, cmd: Command) => {
      const g = globals(cmd);
      const target = daemonTarget(run, g);
      let load: ChassisLoad[];
      if (target) load = (await callDaemon(target, 'chassis')) as ChassisLoad[];
      else {
        const gw = await run.connect(g, true);
        if (!gw.hasSb) throw new UsageError('chassis: needs SB (--sb or OVN_SB_DB), or the daemon (-t SOCKET)');
        run.step('reading');
        load = gw.gatewayLoad();
        run.progress.done();
      }
      if (o.output === 'json') return void run.out.write(`${JSON.stringify(load, null, 2)}\n`);
      // (-o wide through the daemon: the liveness state too: alive, suspect, dead, returning, draining, this-node, unhealthy, unknown)
      const state = (c: ChassisLoad) => (c as ChassisLoad & { state?: string }).state ?? '-';
      const rows = load.map((c) => [c.chassis, c.hostname || '-', String(c.active.length), String(c.standby.length), String(c.bound.length), ...(o.output === 'wide' ? [state(c), c.active.join(',') || '-', c.bound.join(',') || '-'] : [])]);
      const head = ['CHASSIS', 'HOSTNAME', 'ACTIVE', 'STANDBY', 'BOUND', ...(o.output === 'wide' ? ['STATE', 'ACTIVE-PORTS', 'BOUND-PORTS'] : [])];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const r of [head, ...rows]) run.out.write(`${r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]))).join('   ')}\n`);
    });

  p.command('events')
    .description("ovn-natgwd's events: changes applied, drift repaired, gateway ports moving, BFD sessions (needs the daemon: -t SOCKET)")
    .option('-f, --follow', 'keep printing new events until interrupted')
    .addOption(new Option('-o, --output <FORMAT>', 'text (default) or json (one object a line)').choices(['text', 'json']).default('text'))
    .action(async (o: { follow?: boolean; output: string }, cmd: Command) => {
      const g = globals(cmd);
      const target = daemonTarget(run, g);
      if (!target) throw new UsageError(`events: no ovn-natgwd: give -t SOCKET (${DEFAULT_DAEMON_SOCKET} does not exist)`);
      const show = (e: NatgwEvent) => run.out.write(`${o.output === 'json' ? JSON.stringify(e) : formatEvent(e)}\n`);
      if (!o.follow) {
        const r = (await callDaemon(target, 'events')) as { recent: NatgwEvent[] };
        for (const e of r.recent) show(e);
        if (r.recent.length === 0) run.err.write('No events yet.\n');
        return;
      }
      await followDaemon(target, 'events', { follow: true }, (r) => (r as { recent: NatgwEvent[] }).recent.forEach(show), (m, params) => m === 'event' && show(params as NatgwEvent));
    });

  /** The daemon's socket, for a command only the daemon carries out (it needs the leader's state). */
  const target = (cmd: Command, name: string): string => {
    const t = daemonTarget(run, globals(cmd));
    if (!t) throw new UsageError(`${name}: no ovn-natgwd: give -t SOCKET (${DEFAULT_DAEMON_SOCKET} does not exist)`);
    return t;
  };
  for (const [name, on] of [['drain', true], ['undrain', false]] as const) {
    p.command(name)
      .argument('<chassis>', 'the SB chassis')
      .description(on ? 'move the gateway ports a chassis leads to others in one transaction; it stays as their lowest standby (needs the daemon)' : 'let a drained chassis lead again (nothing moves back by itself; needs the daemon)')
      .action(async (chassis: string, _o: unknown, cmd: Command) => {
        const r = (await callDaemon(target(cmd, name), name, { chassis })) as { transacted: boolean; objects: string[]; draining: string[] };
        run.out.write(on ? `${r.transacted ? `moved off ${chassis}: ${r.objects.join(' ')}` : `${chassis} leads no gateway port`}\n` : `${chassis} undrained\n`);
        run.out.write(`draining: ${r.draining.join(' ') || '(none)'}\n`);
      });
  }
  p.command('rebalance')
    .description('move the fewest actives to bring the gateway chassis within one active port of each other, in one transaction (needs the daemon)')
    .action(async (_o: unknown, cmd: Command) => {
      const r = (await callDaemon(target(cmd, 'rebalance'), 'rebalance')) as { moves: { port: string; from: string; to: string }[] };
      if (r.moves.length === 0) return void run.out.write('balanced: nothing to move\n');
      for (const m of r.moves) run.out.write(`${m.port}: ${m.from} -> ${m.to}\n`);
    });
  p.command('failover')
    .argument('<chassis...>', 'the SB chassis to take as dead')
    .description('fail the gateways of these chassis over now, as if they had died: one transaction (needs the daemon)')
    .action(async (chassis: string[], _o: unknown, cmd: Command) => {
      const r = (await callDaemon(target(cmd, 'failover'), 'failover', { chassis })) as { transacted: boolean; objects: string[]; ms: number };
      run.out.write(`${r.transacted ? `moved: ${r.objects.join(' ')}` : 'nothing to move'} (${r.ms} ms)\n`);
    });
  p.command('failovers')
    .description('the failovers of the daemon, newest last (needs the daemon)')
    .addOption(new Option('-o, --output <FORMAT>', 'text (default) or json').choices(['text', 'json']).default('text'))
    .action(async (o: { output: string }, cmd: Command) => {
      const list = (await callDaemon(target(cmd, 'failovers'), 'failovers')) as FailoverRecord[];
      if (o.output === 'json') return void run.out.write(`${JSON.stringify(list, null, 2)}\n`);
      if (list.length === 0) return void run.err.write('No failovers yet.\n');
      for (const f of list) run.out.write(formatFailover(f));
    });

  p.on('command:*', (ops: string[]) => {
    throw new UsageError(`unknown command "${ops[0]}" (commands: plan, apply, get, delete, status, events, chassis, drain, undrain, rebalance, failover, failovers; see --help)`);
  });
  return p;
}

/** Runs one command line; resolves with the exit status. Output goes to `out`, errors and notices to `err`. */
export async function main(argv: string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const run = new Run(out, err);
  const p = program(run);
  try {
    const work = p.parseAsync(argv, { from: 'user' });
    work.catch(() => {});
    await Promise.race([work, run.expired]);
    return 0;
  } catch (e) {
    run.progress.done();
    return report(e as Error, err, run);
  } finally {
    await run.close().catch(() => {});
  }
}

/** The exit status and message of an error. */
function report(e: Error, err: Out, run: Run): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    // commander has printed its message (outputError)
    return 2;
  }
  if (e instanceof UsageError) {
    err.write(`ovn-natgwctl: ${e.message}\n`);
    return 2;
  }
  if (e instanceof ManifestError || e instanceof PlanError) {
    err.write(`ovn-natgwctl: ${run.command === 'plan' ? 'the plan is refused' : 'nothing was written'}:\n${e.message}\n`);
    return 1;
  }
  if (e instanceof DaemonError) {
    // (the daemon's own words: what was refused, or why it cannot be reached)
    err.write(`ovn-natgwctl: ${e.message}\n`);
    return 1;
  }
  if (run.writing && (e instanceof TimeoutError || e instanceof CommitUnknownError)) {
    err.write(`ovn-natgwctl: ${e.message}: whether the transaction was committed is unknown; see with "ovn-natgwctl plan" (an apply is safe to repeat)\n`);
    return 1;
  }
  err.write(`ovn-natgwctl: ${e.message}\n`);
  return 1;
}

/** The bin: runs the command line, then exits with its status once the output is written (never lingers). */
export async function run(argv: string[]): Promise<void> {
  const code = await main(argv);
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}

function flush(s: NodeJS.WriteStream): Promise<void> {
  return new Promise((res) => (s.writableLength === 0 ? res() : s.write('', () => res())));
}
