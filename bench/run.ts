/**
 * Benchmark harness: `npm run bench [-- options]`.
 *
 * Figures go to stdout, one per line: `bench <scenario> <contender> key=value ...`;
 * progress goes to stderr.
 *
 * Scenarios:
 *  apply    apply the shared workload (bench/workload.ts) into a fresh, empty NB
 *           sandbox with each contender: raw (pipelined pre-built transactions,
 *           the "raw limit"), ovn-natgw (typed builders), ovn-natgw-declarative
 *           (manifest objects -> plan -> one transaction, then a no-change
 *           re-apply: line `bench reapply ...`), ovn-nbctl, ovsdbapp.
 *  replica  fill a fresh NB sandbox with ~100k NAT rows, then build a full NB
 *           replica with each contender, each in its own child process:
 *           server-send (raw bytes of one monitor_cond reply), json-parse,
 *           ovsdb-client-dump, python-idl, ovn-natgw.
 *
 * Options (flags win over env):
 *  --only apply|replica|change|socket|failover  run one scenario (default: all)
 *  --failover-routers a,b  the failover scenario's router counts (default 1000,10000)
 *  --failover-rounds N     failovers measured (default 20)
 *  --change-fips a,b   the change scenario's FIP counts (default 10000,100000)
 *  --change-rounds N   changes of each kind (default 50)
 *  --routers N   (BENCH_ROUTERS, 1000)   --chassis N (BENCH_CHASSIS, 20)
 *  --fips N      (BENCH_FIPS, 10000)
 *  --replica-nat N     (BENCH_REPLICA_NAT, 100000)  NAT rows in the replica DB
 *  --replica-routers N (BENCH_REPLICA_ROUTERS, 1000) routers in the replica DB
 *  --replica-lean      (BENCH_REPLICA_LEAN=1) replica FIP NAT rows without the
 *                      Neutron-like external_ids (default: with them, ~300 B/row,
 *                      which brings the monitor reply near the 47 MB reference)
 *  --nbctl-chunk N     routers per ovn-nbctl invocation (100)
 *  --ovsdbapp-routers N  apply only the first N routers with ovsdbapp and scale (0 = all; default all)
 *  --raw-runs N        repetitions of the cheap raw measurements, min reported (3)
 *  --skip a,b          contenders to skip (e.g. --skip ovsdbapp,python-idl)
 */
import { spawn } from 'node:child_process';
import { missingPeer, skippedPeerLines } from './peers.js';
import { changeBench, percentile } from './contenders/change.js';
import { openSync, closeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { natgwApply } from './contenders/natgw.js';
import { declarativeApply } from './contenders/declarative.js';
import { cliBench } from './contenders/cli.js';
import { socketBench } from './contenders/socket.js';
import { failoverBench } from './contenders/failover.js';
import { indexMemory, runDrill } from './contenders/drill.js';
import { run as runTool } from '../tools/sandbox-lib.js';
import { DEFAULT_NBCTL_CHUNK, nbctlApply } from './contenders/nbctl.js';
import { connectUnix, countRows, rawApply, rpc } from './raw.js';
import { startSandbox, sandboxProvider, type Sandbox } from './sandbox.js';
import {
  buildWorkload,
  DEFAULT_WORKLOAD_OPTIONS,
  rawOneTransaction,
  rawTransactions,
  workloadOptionsFromEnv,
  type Workload,
  type WorkloadOptions,
} from './workload.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = '/usr/bin/python3'; // Debian's, with ovsdbapp and the OVS IDL
const TSX_LOADER = import.meta.resolve('tsx');

// ---------------------------------------------------------------------------
// options

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    'change-fips': { type: 'string' },
    'failover-routers': { type: 'string' },
    'failover-rounds': { type: 'string' },
    'drill-routers': { type: 'string' },
    'drill-rounds': { type: 'string' },
    'change-rounds': { type: 'string' },
    routers: { type: 'string' },
    chassis: { type: 'string' },
    fips: { type: 'string' },
    'replica-nat': { type: 'string' },
    'replica-routers': { type: 'string' },
    'nbctl-chunk': { type: 'string' },
    'ovsdbapp-routers': { type: 'string' },
    'raw-runs': { type: 'string' },
    'replica-lean': { type: 'boolean' },
    skip: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});
if (flags.help) {
  process.stderr.write('usage: npm run bench -- [--only apply|replica|change|socket|failover|drill] [--failover-routers a,b] [--failover-rounds N] [--drill-routers N] [--drill-rounds N] [--routers N] [--chassis N] [--fips N] [--replica-nat N] [--replica-routers N] [--nbctl-chunk N] [--ovsdbapp-routers N] [--raw-runs N] [--replica-lean] [--skip a,b]\n');
  process.exit(0);
}

function intOpt(name: string, flag: string | undefined, env: string | undefined, def: number, min = 0): number {
  const s = flag ?? (env === '' ? undefined : env);
  if (s === undefined) return def;
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min} (got ${s})`);
  return v;
}

const envW = workloadOptionsFromEnv();
const opts: WorkloadOptions = {
  routers: intOpt('routers', flags.routers, undefined, envW.routers ?? DEFAULT_WORKLOAD_OPTIONS.routers, 1),
  chassis: intOpt('chassis', flags.chassis, undefined, envW.chassis ?? DEFAULT_WORKLOAD_OPTIONS.chassis, 1),
  fips: intOpt('fips', flags.fips, undefined, envW.fips ?? DEFAULT_WORKLOAD_OPTIONS.fips, 0),
  fipExternalIds: false,
};
const replicaNat = intOpt('replica-nat', flags['replica-nat'], process.env.BENCH_REPLICA_NAT, 100000, 1);
const replicaRouters = intOpt('replica-routers', flags['replica-routers'], process.env.BENCH_REPLICA_ROUTERS, 1000, 1);
const nbctlChunk = intOpt('nbctl-chunk', flags['nbctl-chunk'], process.env.BENCH_NBCTL_CHUNK, DEFAULT_NBCTL_CHUNK, 1);
const ovsdbappRouters = intOpt('ovsdbapp-routers', flags['ovsdbapp-routers'], process.env.BENCH_OVSDBAPP_ROUTERS, 0, 0);
const replicaLean = flags['replica-lean'] ?? ['1', 'true'].includes(process.env.BENCH_REPLICA_LEAN ?? '');
const rawRuns = intOpt('raw-runs', flags['raw-runs'], process.env.BENCH_RAW_RUNS, 3, 1);
const skip = new Set((flags.skip ?? process.env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const only = flags.only ?? process.env.BENCH_ONLY;
if (only !== undefined && !['apply', 'replica', 'change', 'socket', 'failover', 'drill'].includes(only)) throw new Error(`--only must be apply, replica, change, socket, failover or drill (got ${only})`);
const drillRouters = intOpt('drill-routers', flags['drill-routers'], process.env.BENCH_DRILL_ROUTERS, 100, 1);
const drillRounds = intOpt('drill-rounds', flags['drill-rounds'], process.env.BENCH_DRILL_ROUNDS, 5, 1);
const changeFips = (flags['change-fips'] ?? process.env.BENCH_CHANGE_FIPS ?? '10000,100000').split(',').map((x) => intOpt('change-fips', x.trim(), undefined, 0, 2000));
const failoverRouters = (flags['failover-routers'] ?? process.env.BENCH_FAILOVER_ROUTERS ?? '1000,10000').split(',').map((x) => intOpt('failover-routers', x.trim(), undefined, 0, 20));
const failoverRounds = intOpt('failover-rounds', flags['failover-rounds'], process.env.BENCH_FAILOVER_ROUNDS, 20, 1);
const changeRounds = intOpt('change-rounds', flags['change-rounds'], process.env.BENCH_CHANGE_ROUNDS, 50, 1);
if (replicaNat < replicaRouters) throw new Error('--replica-nat must be >= --replica-routers (each router has one SNAT)');

// ---------------------------------------------------------------------------
// output

type Fields = Record<string, string | number | boolean | undefined>;

function fmt(v: string | number | boolean): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
  }
  if (typeof v === 'string' && /[\s"=]/.test(v)) return JSON.stringify(v);
  return String(v);
}

function figure(scenario: string, contender: string, fields: Fields): void {
  const kv = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fmt(v!)}`);
  process.stdout.write(`bench ${scenario} ${contender} ${kv.join(' ')}`.trimEnd() + '\n');
}

function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

const ratio = (x: number, base: number | undefined) => (base && base > 0 ? x / base : undefined);
const mb = (bytes: number) => bytes / (1024 * 1024);

function isNotImplemented(e: unknown): boolean {
  return /not.implemented/i.test((e as Error)?.message ?? String(e));
}

const peerMissing = new Map<string, Promise<string | undefined>>();

/** Runs one contender; a failure prints an error (or skipped) figure and the run goes on. */
async function contender(scenario: string, name: string, fn: () => Promise<void>): Promise<void> {
  if (skip.has(name)) {
    figure(scenario, name, { skipped: 'by-option' });
    return;
  }
  if (!peerMissing.has(name)) peerMissing.set(name, missingPeer(name, PYTHON));
  const pkg = await peerMissing.get(name);
  if (pkg) {
    const lines = skippedPeerLines(scenario, name, PYTHON, pkg);
    process.stdout.write(lines.figure + '\n');
    process.stderr.write(lines.note + '\n');
    return;
  }
  progress(`${scenario} ${name} ...`);
  const t0 = performance.now();
  try {
    await fn();
  } catch (e) {
    if (isNotImplemented(e)) {
      figure(scenario, name, { skipped: 'not-implemented' });
    } else {
      const msg = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);
      figure(scenario, name, { error: msg });
      progress(`${scenario} ${name} failed: ${(e as Error)?.stack ?? String(e)}`);
      process.exitCode = 1;
    }
  }
  progress(`${scenario} ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------
// sandboxes: every one started is stopped, also on error / signals

const live = new Set<Sandbox>();

async function withSandbox<T>(fn: (sb: Sandbox) => Promise<T>): Promise<T> {
  const sb = await startSandbox({ northd: false, watchdog: true });
  live.add(sb);
  try {
    return await fn(sb);
  } finally {
    live.delete(sb);
    await sb.stop();
  }
}

async function stopAll(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.allSettled(all.map((s) => s.stop()));
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    progress(`${sig}: stopping sandboxes`);
    void stopAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------
// helpers

const WORKLOAD_TABLES = ['Logical_Router', 'Logical_Router_Port', 'Gateway_Chassis', 'NAT', 'Logical_Router_Static_Route'] as const;

function subset(w: Workload, n: number): Workload {
  if (n <= 0 || n >= w.routers.length) return w;
  const routers = w.routers.slice(0, n);
  const fips = routers.reduce((s, r) => s + r.fips.length, 0);
  const gc = routers.reduce((s, r) => s + r.port.gatewayChassis.length, 0);
  const routes = routers.reduce((s, r) => s + r.routes.length, 0);
  return {
    ...w,
    routers,
    totals: { routers: n, ports: n, gatewayChassis: gc, nat: n + fips, snat: n, fips, routes, rows: n + n + gc + n + fips + routes },
  };
}

/** Checks that the NB holds exactly the workload's rows. */
async function verifyApplied(nbRemote: string, w: Workload): Promise<void> {
  const got = await countRows(nbRemote, [...WORKLOAD_TABLES]);
  const want: Record<string, number> = {
    Logical_Router: w.totals.routers,
    Logical_Router_Port: w.totals.ports,
    Gateway_Chassis: w.totals.gatewayChassis,
    NAT: w.totals.nat,
    Logical_Router_Static_Route: w.totals.routes,
  };
  const bad = WORKLOAD_TABLES.filter((t) => got[t] !== want[t]).map((t) => `${t} ${got[t]}/${want[t]}`);
  if (bad.length) throw new Error(`verification failed: ${bad.join(', ')}`);
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Spawns a child; stdout captured (or sent to /dev/null), stderr captured; wall time measured around it. */
function runChild(file: string, args: string[], opts: { stdoutToNull?: boolean; timeoutMs?: number } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const devnull = opts.stdoutToNull ? openSync('/dev/null', 'w') : undefined;
    const t0 = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', devnull ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 900_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      if (devnull !== undefined) closeSync(devnull);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (devnull !== undefined) closeSync(devnull);
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** Runs a child that prints one JSON object as its last stdout line. */
async function jsonChild<T>(file: string, args: string[]): Promise<T> {
  const r = await runChild(file, args);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: (T & { error?: string }) | undefined;
  try {
    parsed = JSON.parse(last) as T & { error?: string };
  } catch {
    /* handled below */
  }
  if (parsed?.error) throw new Error(parsed.error);
  if (r.code !== 0 || !parsed) {
    throw new Error(`${file} ${args.slice(0, 3).join(' ')} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || last}`);
  }
  return parsed;
}

const tsxChild = <T>(script: string, args: string[]) => jsonChild<T>(process.execPath, ['--import', TSX_LOADER, join(HERE, script), ...args]);

const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------------------
// scenarios

/** the in-process declarative apply's seconds, which the installed CLI's bulk apply is compared with */
let declarativeSeconds: number | undefined;

async function applyScenario(): Promise<void> {
  const w = buildWorkload(opts);
  const txns = rawTransactions(w);
  const base = { routers: w.totals.routers, chassis: opts.chassis, fips: w.totals.fips };
  progress(`apply workload: ${w.totals.routers} routers, ${w.totals.fips} FIPs, ${w.totals.rows} rows, ${txns.length} transactions`);
  let rawSeconds: number | undefined;

  /** pre-built requests written straight to a fresh NB, rawRuns times, each checked after */
  const rawRunsOf = async (requests: string[]) => {
    const runs: number[] = [];
    let last: Awaited<ReturnType<typeof rawApply>> | undefined;
    for (let k = 0; k < rawRuns; k++) {
      await withSandbox(async (sb) => {
        last = await rawApply(sb.nbRemote, requests);
        await verifyApplied(sb.nbRemote, w);
        runs.push(last.seconds);
      });
    }
    return { runs, last: last! };
  };

  await contender('apply', 'raw', async () => {
    const { runs, last } = await rawRunsOf(txns);
    rawSeconds = min(runs);
    figure('apply', 'raw', {
      ...base,
      rows: w.totals.rows,
      seconds: rawSeconds,
      median_seconds: runs.length > 1 ? median(runs) : undefined,
      runs: runs.length,
      request_mb: mb(last.requestBytes),
    });
  });

  let rawOneSeconds: number | undefined;
  await contender('apply', 'raw-one-transaction', async () => {
    // the same rows pre-built as ONE transaction: the floor for an all-or-nothing apply
    const { runs } = await rawRunsOf([rawOneTransaction(w)]);
    rawOneSeconds = min(runs);
    figure('apply', 'raw-one-transaction', { ...base, rows: w.totals.rows, seconds: rawOneSeconds, median_seconds: runs.length > 1 ? median(runs) : undefined, runs: runs.length, ratio_to_raw: ratio(rawOneSeconds, rawSeconds) });
  });

  await contender('apply', 'ovn-natgw', async () => {
    // timed like the raw limit: from the first transaction sent to the last reply,
    // connect excluded (reported apart), best of the same number of runs
    const runs: number[] = [];
    let connect = 0;
    for (let k = 0; k < rawRuns; k++) {
      await withSandbox(async (sb) => {
        const r = await natgwApply(sb.nbRemote, w);
        await verifyApplied(sb.nbRemote, w);
        runs.push(r.applySeconds);
        connect = r.connectSeconds;
      });
    }
    const seconds = min(runs);
    figure('apply', 'ovn-natgw', { ...base, seconds, median_seconds: runs.length > 1 ? median(runs) : undefined, runs: runs.length, connect_seconds: connect, ratio_to_raw: ratio(seconds, rawSeconds) });
  });

  await contender('apply', 'ovn-natgw-declarative', async () => {
    // the workload as manifest objects: plan against a live replica, ONE transaction,
    // then a second apply that must find nothing to change (see contenders/declarative.ts)
    await withSandbox(async (sb) => {
      const cmds = w.chassis.flatMap((c, i) => ['--', 'chassis-add', c, 'geneve', `127.1.${(i >> 8) & 255}.${(i & 255) + 1}`]);
      await runTool('ovn-sbctl', ['--db', sb.sbRemote, ...cmds]);
      const r = await declarativeApply(sb.nbRemote, sb.sbRemote, w);
      await verifyApplied(sb.nbRemote, w);
      declarativeSeconds = r.applySeconds;
      figure('apply', 'ovn-natgw-declarative', {
        ...base,
        seconds: r.applySeconds,
        plan_seconds: r.planSeconds,
        connect_seconds: r.connectSeconds,
        ops: r.ops,
        transactions: 1,
        converged: r.converged,
        ratio_to_raw: ratio(r.applySeconds, rawSeconds),
        ratio_to_raw_one_transaction: ratio(r.applySeconds, rawOneSeconds),
      });
      // the replay: the exact transaction it sent, pre-encoded, on a fresh NB (same chassis), timed to its reply
      const replaySeconds = await withSandbox(async (fresh) => {
        const sock = await connectUnix(fresh.nbRemote);
        try {
          const g = (await rpc<{ rows: { _uuid: [string, string] }[] }[]>(sock, 'transact', ['OVN_Northbound', { op: 'select', table: 'NB_Global', where: [], columns: ['_uuid'] }]))[0].rows[0]?._uuid[1];
          const text = g && r.nbGlobal ? r.request.split(r.nbGlobal).join(g) : r.request;
          const t0 = performance.now();
          const reply = await rpc<unknown[]>(sock, 'transact', (JSON.parse(text) as { params: unknown[] }).params, 'replay');
          const s = (performance.now() - t0) / 1000;
          const bad = reply.find((x) => x && typeof x === 'object' && 'error' in (x as object));
          if (bad) throw new Error(`the replay failed: ${JSON.stringify(bad)}`);
          return s;
        } finally {
          sock.destroy();
        }
      });
      figure('apply', 'ovn-natgw-declarative-replay', { ...base, seconds: replaySeconds, request_mb: Buffer.byteLength(r.request) / 1048576 });
      figure('apply', 'ovn-natgw-declarative', { ...base, yaml_seconds: r.yamlSeconds, verify_seconds: r.verifySeconds, ratio_to_replay: ratio(r.applySeconds, replaySeconds) });
      if (r.reapplyTransacted) throw new Error('the re-apply of an unchanged manifest sent a transaction');
      if (r.replanOps !== 0) throw new Error(`the full re-plan of an unchanged manifest found ${r.replanOps} operations`);
      figure('reapply', 'ovn-natgw-declarative', { ...base, seconds: r.reapplySeconds, transactions: 0, full_replan_seconds: r.replanSeconds });
      figure('change', 'ovn-natgw-declarative', { kind: 'one-changed', fips: w.totals.fips, objects: r.objects, seconds: r.oneChangedSeconds, planned_objects: r.oneChangedScope });
    });
  });

  await contender('apply', 'ovn-natgwctl', async () => {
    // the installed CLI on the workload as Kube-OVN YAML files (contenders/cli.ts)
    await withSandbox(async (sb) => {
      const r = await cliBench(w, sb, 5);
      figure('apply', 'ovn-natgwctl', { ...base, files: r.files, seconds: r.bulkSeconds, ratio_to_raw: ratio(r.bulkSeconds, rawSeconds), ratio_to_declarative: ratio(r.bulkSeconds, declarativeSeconds) });
      figure('change', 'ovn-natgwctl', { kind: 'fip-file', fips: w.totals.fips, n: r.oneFipSeconds.length, seconds: median(r.oneFipSeconds), ratio_to_nbctl: ratio(median(r.oneFipSeconds), median(r.nbctlSeconds)) });
      figure('change', 'ovn-natgwctl', { kind: 'prune-one-changed', fips: w.totals.fips, n: r.pruneOneSeconds.length, seconds: median(r.pruneOneSeconds), ratio_to_nbctl: ratio(median(r.pruneOneSeconds), median(r.nbctlSeconds)) });
      figure('change', 'ovn-nbctl', { kind: 'lr-nat-add', fips: w.totals.fips, n: r.nbctlSeconds.length, seconds: median(r.nbctlSeconds) });
      figure('socket', 'cli', { kind: 'add', fips: w.totals.fips, n: r.socketFipSeconds.length, seconds: median(r.socketFipSeconds), ratio_to_nbctl: ratio(median(r.socketFipSeconds), median(r.nbctlSeconds)) });
      figure('socket', 'ovn-natgwd', { kind: 'rss', fips: w.totals.fips, rss_mb: Math.round(r.daemonRssMb) });
    });
  });

  await contender('apply', 'ovn-nbctl', async () => {
    await withSandbox(async (sb) => {
      const r = await nbctlApply(sb.nbRemote, w, nbctlChunk);
      await verifyApplied(sb.nbRemote, w);
      figure('apply', 'ovn-nbctl', {
        ...base,
        chunk: nbctlChunk,
        invocations: r.invocations,
        seconds: r.seconds,
        ratio_to_raw: ratio(r.seconds, rawSeconds),
      });
    });
  });

  await contender('apply', 'ovsdbapp', async () => {
    const ws = subset(w, ovsdbappRouters);
    const dir = await mkdtemp(join(tmpdir(), 'natgw-bench-'));
    try {
      const file = join(dir, 'workload.json');
      await writeFile(file, JSON.stringify(ws));
      await withSandbox(async (sb) => {
        const r = await jsonChild<{ seconds: number; routers: number; connect_seconds: number; rss_mb: number }>(PYTHON, [
          join(HERE, 'peers', 'ovsdbapp_apply.py'),
          sb.nbRemote,
          file,
        ]);
        await verifyApplied(sb.nbRemote, ws);
        const partial = ws.routers.length < w.routers.length;
        // scaled linearly to the full workload when only a subset was applied
        const seconds = partial ? (r.seconds * w.routers.length) / ws.routers.length : r.seconds;
        figure('apply', 'ovsdbapp', {
          ...base,
          applied_routers: partial ? ws.routers.length : undefined,
          measured_seconds: partial ? r.seconds : undefined,
          seconds,
          scaled: partial ? true : undefined,
          ratio_to_raw: ratio(seconds, rawSeconds),
          txns: ws.routers.length,
          rss_mb: r.rss_mb,
        });
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

async function replicaScenario(): Promise<void> {
  const wr = buildWorkload({ routers: replicaRouters, chassis: opts.chassis, fips: replicaNat - replicaRouters, fipExternalIds: !replicaLean });
  progress(`replica: filling NB with ${wr.totals.nat} NAT rows (${wr.totals.rows} workload rows) ...`);
  await withSandbox(async (sb) => {
    const fill = await rawApply(sb.nbRemote, rawTransactions(wr));
    await verifyApplied(sb.nbRemote, wr);
    figure('replica', 'fill', {
      routers: wr.totals.routers,
      nat: wr.totals.nat,
      rows: wr.totals.rows,
      nat_external_ids: !replicaLean,
      seconds: fill.seconds,
    });

    let sendSeconds: number | undefined;
    let totalRows: number | undefined;

    type RawOut = { seconds: number; bytes: number; rss_mb: number; rows?: number; parse_seconds?: number };

    await contender('replica', 'server-send', async () => {
      const runs: RawOut[] = [];
      for (let k = 0; k < rawRuns; k++) runs.push(await tsxChild<RawOut>('child-raw-replica.ts', [sb.nbRemote, 'server-send']));
      const secs = runs.map((r) => r.seconds);
      sendSeconds = min(secs);
      figure('replica', 'server-send', {
        nat: wr.totals.nat,
        seconds: sendSeconds,
        median_seconds: runs.length > 1 ? median(secs) : undefined,
        runs: runs.length,
        mb: mb(runs[0].bytes),
        bytes: runs[0].bytes,
        rss_mb: runs[0].rss_mb,
      });
    });

    await contender('replica', 'json-parse', async () => {
      const r = await tsxChild<RawOut>('child-raw-replica.ts', [sb.nbRemote, 'json-parse']);
      totalRows = r.rows;
      figure('replica', 'json-parse', {
        rows: r.rows,
        seconds: r.seconds,
        parse_seconds: r.parse_seconds,
        rss_mb: r.rss_mb,
        mb: mb(r.bytes),
        ratio_to_send: ratio(r.seconds, sendSeconds),
      });
    });

    await contender('replica', 'ovsdb-client-dump', async () => {
      for (const format of ['table', 'json'] as const) {
        const args = ['dump', ...(format === 'json' ? ['-f', 'json'] : []), sb.nbRemote, 'OVN_Northbound'];
        const r = await runChild('ovsdb-client', args, { stdoutToNull: true });
        if (r.code !== 0) throw new Error(`ovsdb-client ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
        figure('replica', 'ovsdb-client-dump', { format, seconds: r.seconds, ratio_to_send: ratio(r.seconds, sendSeconds) });
      }
    });

    await contender('replica', 'python-idl', async () => {
      const r = await jsonChild<{ seconds: number; rows: number; rss_mb: number; json_parser: string }>(PYTHON, [
        join(HERE, 'peers', 'idl_replica.py'),
        sb.nbRemote,
      ]);
      figure('replica', 'python-idl', {
        rows: r.rows,
        seconds: r.seconds,
        rss_mb: r.rss_mb,
        json_parser: r.json_parser,
        ratio_to_send: ratio(r.seconds, sendSeconds),
      });
    });

    await contender('replica', 'ovn-natgw', async () => {
      // best of the same number of runs as server-send; peak RSS is the largest seen.
      // sync_seconds runs from the monitor request to ready, the span server-send
      // and json-parse time (their connect and get_schema are not timed): it is
      // what ratio_to_send compares. seconds adds our connect, the _Server check
      // and get_schema (total_ratio_to_send).
      // Each run is paired with a server-send run just before it: the server's time
      // to build the reply drifts by ±10% between runs, and within one bench run
      // (sends right after the fill can be 10% faster than minutes later), so
      // best against best compares different server states; a pair sees the
      // same one (paired_ratio_median, paired_total_ratio_median).
      type Out = { seconds: number; sync_seconds: number; rows: number; rss_mb: number };
      const runs: Out[] = [];
      const paired: number[] = [];
      const pairedTotal: number[] = [];
      for (let k = 0; k < rawRuns; k++) {
        const send = await tsxChild<RawOut>('child-raw-replica.ts', [sb.nbRemote, 'server-send']);
        const ours = await tsxChild<Out>('child-replica.ts', [sb.nbRemote]);
        runs.push(ours);
        paired.push(ours.sync_seconds / send.seconds);
        pairedTotal.push(ours.seconds / send.seconds);
      }
      const r = runs.reduce((a, b) => (b.sync_seconds < a.sync_seconds ? b : a));
      const fastest = min(runs.map((x) => x.seconds));
      figure('replica', 'ovn-natgw', {
        rows: r.rows,
        sync_seconds: r.sync_seconds,
        median_sync_seconds: runs.length > 1 ? median(runs.map((x) => x.sync_seconds)) : undefined,
        seconds: fastest,
        median_seconds: runs.length > 1 ? median(runs.map((x) => x.seconds)) : undefined,
        runs: runs.length,
        rss_mb: Math.max(...runs.map((x) => x.rss_mb)),
        ratio_to_send: ratio(r.sync_seconds, sendSeconds),
        total_ratio_to_send: ratio(fastest, sendSeconds),
        paired_ratios: paired.map((x) => x.toFixed(2)).join('/'),
        paired_ratio_median: Number(median(paired).toFixed(2)),
        paired_total_ratio_median: Number(median(pairedTotal).toFixed(2)),
        rows_expected: totalRows !== undefined && r.rows !== totalRows ? totalRows : undefined,
      });
    });
  });
}

// ---------------------------------------------------------------------------
// change: one FIP added, rebound, removed on a warm store (contenders/change.ts)

async function changeScenario(): Promise<void> {
  for (const fips of changeFips) {
    await contender('change', 'ovn-natgw', async () => {
      const r = await changeBench({ routers: opts.routers, fips, rounds: changeRounds }, async () => {
        const sb = await startSandbox({ watchdog: true });
        live.add(sb);
        return { ...sb, stop: async () => (await sb.stop(), live.delete(sb), undefined) } as Sandbox;
      }, progress);
      figure('change', 'ovn-natgw', { kind: 'bulk', fips, seconds: r.bulkSeconds });
      for (const run of r.runs) {
        const p50 = percentile(run.ours, 50);
        const rawP50 = percentile(run.raw, 50);
        figure('change', 'ovn-natgw', { kind: run.kind, fips, n: run.ours.length, p50_ms: p50, p99_ms: percentile(run.ours, 99), bytes: percentile(run.bytes, 50), bytes_max: Math.max(...run.bytes), ratio_to_raw: ratio(p50, rawP50) });
        figure('change', 'raw', { kind: run.kind, fips, n: run.raw.length, p50_ms: rawP50, p99_ms: percentile(run.raw, 99) });
      }
      figure('change', 'ovn-nbctl', { kind: 'lr-nat-add', fips, n: r.nbctlMs.length, p50_ms: percentile(r.nbctlMs, 50) });
    });
  }
}

async function failoverScenario(): Promise<void> {
  for (const routers of failoverRouters) {
    await contender('failover', 'ovn-natgw', async () => {
      const peer = skip.has('ovsdbapp') ? 'skipped by option' : await missingPeer('ovsdbapp', PYTHON);
      const r = await failoverBench({ routers, rounds: failoverRounds, ...(peer ? {} : { python: PYTHON }) }, async () => {
        const sb = await startSandbox({ watchdog: true });
        live.add(sb);
        return { ...sb, stop: async () => (await sb.stop(), live.delete(sb), undefined) } as Sandbox;
      }, progress);
      const p50 = percentile(r.ours, 50);
      const rawP50 = percentile(r.raw, 50);
      figure('failover', 'ovn-natgw', { routers, n: r.ours.length, p50_ms: p50, p99_ms: percentile(r.ours, 99), slots: percentile(r.ports, 50), bytes: percentile(r.bytes, 50), ratio_to_raw: ratio(p50, rawP50) });
      figure('failover', 'raw', { routers, n: r.raw.length, p50_ms: rawP50, p99_ms: percentile(r.raw, 99) });
      const monP50 = percentile(r.rawMonitored, 50);
      figure('failover', 'raw-monitored', { routers, n: r.rawMonitored.length, p50_ms: monP50, p99_ms: percentile(r.rawMonitored, 99), ours_ratio: ratio(p50, monP50) });
      const two = percentile(r.two.ours, 50);
      const twoRaw = percentile(r.two.raw, 50);
      figure('failover', 'ovn-natgw', { routers, dead: 2, n: r.two.ours.length, p50_ms: two, p99_ms: percentile(r.two.ours, 99), slots: percentile(r.two.ports, 50), bytes: percentile(r.two.bytes, 50), ratio_to_raw: ratio(two, twoRaw) });
      figure('failover', 'raw', { routers, dead: 2, n: r.two.raw.length, p50_ms: twoRaw, p99_ms: percentile(r.two.raw, 99) });
      if (peer) figure('failover', 'ovsdbapp', { routers, skipped: peer.replace(/\s+/g, '-') });
      else if (r.ovsdbapp && 'error' in r.ovsdbapp) figure('failover', 'ovsdbapp', { routers, error: r.ovsdbapp.error.replace(/\s+/g, '-').slice(0, 120) });
      else if (r.ovsdbapp) {
        const o = percentile(r.ovsdbapp.ms, 50);
        figure('failover', 'ovsdbapp', { routers, n: r.ovsdbapp.ms.length, p50_ms: o, p99_ms: percentile(r.ovsdbapp.ms, 99), slots: percentile(r.ovsdbapp.ports, 50), ratio_to_raw: ratio(o, rawP50) });
      }
    });
  }
}

/** The failover drill on simulated chassis: a node killed or stopped to its egress reroute rewritten, the leader killed to the new leader's first write; and the hot index's memory. */
async function drillScenario(): Promise<void> {
  await contender('drill', 'ovn-natgw', async () => {
    const r = await runDrill(['--routers', String(drillRouters), '--gateways', '3', '--drills', String(drillRounds), '--kinds', 'kill-node,stop-node,kill-vswitchd,kill-leader'], progress);
    const of = (kind: string, key: string) => r.drills.filter((d) => d.kind === kind).map((d) => d[key]).filter((x): x is number => typeof x === 'number');
    const line = (kind: string, what: string, key: string) => {
      const xs = of(what, key);
      if (xs.length) figure('drill', kind, { routers: drillRouters, n: xs.length, p50_ms: percentile(xs, 50), p99_ms: percentile(xs, 99) });
    };
    line('egress-reroute', 'kill-node', 'egress_rewritten');
    line('detection', 'kill-node', 'detection');
    line('silent-node-egress-reroute', 'stop-node', 'egress_rewritten');
    line('silent-node-detection', 'stop-node', 'detection');
    line('vswitchd-egress-reroute', 'kill-vswitchd', 'egress_rewritten');
    line('redundancy-restored', 'kill-node', 'redundancy_restored');
    line('leader-first-write', 'kill-leader', 'first_write');
    figure('drill', 'verdict', { value: r.verdict, violations: r.violations.length });
    for (const v of r.violations) progress(`drill violation: ${v}`);
    for (const routers of [1000, 10000]) {
      const m = indexMemory(routers);
      figure('drill', 'index-memory', { routers, mb: mb(m.bytes), bytes_per_router: Math.round(m.perRouter) });
    }
  });
}

async function socketScenario(): Promise<void> {
  await contender('socket', 'ovn-natgwd', async () => {
    const r = await socketBench({ routers: opts.routers, fips: opts.fips, rounds: changeRounds }, async () => {
      const sb = await startSandbox({ watchdog: true });
      live.add(sb);
      return { ...sb, stop: async () => (await sb.stop(), live.delete(sb), undefined) } as Sandbox;
    }, progress);
    figure('socket', 'ovn-natgwd', { kind: 'ready', fips: opts.fips, seconds: r.readySeconds });
    for (const run of r.runs) figure('socket', 'ovn-natgwd', { kind: run.kind, fips: opts.fips, n: run.ms.length, p50_ms: percentile(run.ms, 50), p99_ms: percentile(run.ms, 99) });
    figure('socket', 'ovn-nbctl', { kind: 'lr-nat-add', fips: opts.fips, n: r.nbctlMs.length, p50_ms: percentile(r.nbctlMs, 50), p99_ms: percentile(r.nbctlMs, 99) });
    figure('socket', 'ovn-nbctl-daemon', { kind: 'lr-nat-add', fips: opts.fips, n: r.nbctlDaemonMs.length, p50_ms: percentile(r.nbctlDaemonMs, 50), p99_ms: percentile(r.nbctlDaemonMs, 99) });
    for (const run of r.inProcess) {
      const sockP50 = percentile(r.runs.find((x) => x.kind === run.kind)!.ms, 50);
      const p50 = percentile(run.ms, 50);
      figure('socket', 'in-process', { kind: run.kind, fips: opts.fips, n: run.ms.length, p50_ms: p50, p99_ms: percentile(run.ms, 99), socket_ratio: ratio(sockP50, p50) });
    }
    figure('socket', 'ovn-natgwd', { kind: 'rss', fips: opts.fips, rss_mb: Math.round(r.rssMb) });
  });
}

// ---------------------------------------------------------------------------

const tStart = performance.now();
try {
  progress(
    `options: routers=${opts.routers} chassis=${opts.chassis} fips=${opts.fips} replica-nat=${replicaNat} ` +
      `replica-routers=${replicaRouters} replica-lean=${replicaLean} only=${only ?? 'all'}`,
  );
  if (only === undefined || only === 'apply') await applyScenario();
  if (only === undefined || only === 'replica') await replicaScenario();
  if (only === undefined || only === 'change') await changeScenario();
  if (only === undefined || only === 'socket') await socketScenario();
  if (only === undefined || only === 'failover') await failoverScenario();
  if (only === undefined || only === 'drill') await drillScenario();
  progress(`sandbox provider: ${sandboxProvider}; total ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
} catch (e) {
  progress(`fatal: ${(e as Error)?.stack ?? String(e)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
