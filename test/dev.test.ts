/**
 * The README's first command, `npm run start:sandbox`: a local OVN (NB + SB
 * ovsdb-server, ovn-northd) in a temp dir, an example router, and the
 * manager's main job printing a live summary on stdout that follows changes
 * (its plain-text lines on stdout, the pino JSON log on stderr). Whatever
 * signal stops it, every process the sandbox started stops and the temp dir
 * goes, unless --keep.
 *
 * The test runs `npm run start:sandbox` itself (npm from PATH; its
 * ensure-ovn.sh finds everything installed, as `npm test` ran it first) and
 * signals the top pid, npm's, as a process manager or `kill` would: SIGINT,
 * SIGTERM, and SIGKILL (npm then passes nothing on). TMPDIR points at the
 * test's own temp dir, so the sandbox is made there.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, loadSandbox } from '../tools/sandbox-lib.js';
import { nbctl } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Summary {
  head: string;
  routers: Map<string, { ports: number; nat: string[] }>;
}

/** The summary blocks printed so far (a block: the "summary:" line and its "  router" lines), complete ones only. */
function summaries(stdout: string): Summary[] {
  const lines = stdout.split('\n');
  lines.pop(); // an unfinished line
  const out: Summary[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('summary: ')) continue;
    const want = Number(/routers=(\d+)/.exec(lines[i])?.[1]);
    const routers = new Map<string, { ports: number; nat: string[] }>();
    for (let j = i + 1; j < lines.length && lines[j].startsWith('  router '); j++) {
      const m = /^ {2}router (\S+): ports=(\d+) nat=(.*)$/.exec(lines[j]);
      if (m) routers.set(m[1], { ports: Number(m[2]), nat: m[3] === '-' ? [] : m[3].split(',').sort() });
    }
    if (routers.size === want) out.push({ head: lines[i], routers });
  }
  return out;
}

/** `npm run start:sandbox -- ARGS` in its own process group, with TMPDIR in a temp dir of ours. */
async function startJob(t: Test, args: string[] = []) {
  const tmp = await mkdtemp('/tmp/natgw-dev-');
  const job = { stdout: '', stderr: '', exit: undefined as { code: number | null; signal: NodeJS.Signals | null } | undefined, sbDir: undefined as string | undefined, tmp };
  const child = spawn('npm', ['run', 'start:sandbox', ...(args.length ? ['--', ...args] : [])], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp, LOG_LEVEL: 'info', OVN_NB_DB: '', OVN_SB_DB: '' },
    detached: true, // its own process group, so that a failed test can clean it up whole
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (job.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (job.stderr += d));
  child.on('exit', (code, signal) => (job.exit = { code, signal }));
  t.teardown(async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    if (job.sbDir) await (await loadSandbox(job.sbDir).catch(() => undefined))?.stop();
    if (!t.passing()) t.comment(`stdout:\n${job.stdout}\nstderr:\n${job.stderr.slice(-4000)}`);
    await rm(tmp, { recursive: true, force: true });
  });
  await until('the sandbox dir and OVN_SB_DB on stdout', () => {
    if (job.exit) throw new Error(`start:sandbox exited early (${JSON.stringify(job.exit)}):\n${job.stderr.slice(-2000)}`);
    return /^export OVN_SB_DB=\S+$/m.test(job.stdout);
  }, 90_000);
  job.sbDir = /^sandbox in (\S+)/m.exec(job.stdout)?.[1];
  await until('following changes', () => job.stdout.includes('following changes'), 60_000);
  const state = JSON.parse(await readFile(path.join(job.sbDir!, 'sandbox.json'), 'utf8')) as {
    northdPid?: number;
    watchdogPid?: number;
    members: { nb: { pid: number }[]; sb: { pid: number }[] };
  };
  const pids = [state.northdPid, state.watchdogPid, ...state.members.nb.map((m) => m.pid), ...state.members.sb.map((m) => m.pid)].filter(
    (p): p is number => typeof p === 'number' && p > 0,
  );
  return { job, child, pids };
}

/** The pids of processes whose command line mentions `s`. */
async function mentioning(s: string): Promise<string[]> {
  const left: string[] = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const cmd = await readFile(`/proc/${ent}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(s)) left.push(`${ent}: ${cmd.split('\0').join(' ')}`);
  }
  return left;
}

/** After a stop: no sandbox pid runs, nothing mentions the dir, and (without --keep) the dir is gone. */
async function allGone(t: Test, sbDir: string, pids: readonly number[], kept: boolean): Promise<void> {
  await until('every sandbox pid to be gone', async () => !(await Promise.all(pids.map((p) => isAlive(p)))).some(Boolean), 20_000).catch(() => {});
  for (const p of pids) t.notOk(await isAlive(p), `sandbox pid ${p} is gone`);
  t.strictSame(await mentioning(sbDir), [], 'no process mentions the sandbox dir');
  if (kept) t.ok(existsSync(path.join(sbDir, 'sandbox.json')), `--keep: the sandbox dir stays (${sbDir})`);
  else {
    await until('the sandbox dir to be removed', () => !existsSync(sbDir), 10_000).catch(() => {});
    t.notOk(existsSync(sbDir), 'the temp dir is removed');
  }
}

/** Nothing of the job's process group is left (npm, node, tsx's esbuild service). */
async function groupGone(t: Test, pgid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await until('nothing left in the process group', () => !alive(), 20_000).catch(() => {});
  t.notOk(alive(), 'nothing is left in the process group', { left: await mentioning('') .then((l) => l.filter((x) => x.includes('start:sandbox') || x.includes('tools/dev.ts') || x.includes('esbuild'))) });
}

t.test('npm run start:sandbox: live summary follows ovn-nbctl, SIGINT to npm exits 0 and stops every sandbox process', async (t) => {
  const { job, child, pids } = await startJob(t);
  const sbDir = job.sbDir!;
  const nbRemote = /^export OVN_NB_DB=(\S+)$/m.exec(job.stdout)![1];
  t.ok(path.dirname(sbDir) === job.tmp, `the sandbox is in the test's temp dir (${sbDir})`);
  t.equal(nbRemote, `unix:${sbDir}/nb.sock`, 'OVN_NB_DB is a unix socket in it');
  const logged = () =>
    job.stderr.split('\n').some((l) => {
      try {
        return l.startsWith('{') && Boolean((JSON.parse(l) as { msg?: string }).msg);
      } catch {
        return false; // (a line still being written)
      }
    });
  // (the manager logs when it has connected, which may come after the sandbox's lines on stdout)
  await until('a pino JSON line on stderr', logged, 10_000).catch(() => {});
  t.ok(logged(), 'the pino JSON log is on stderr');
  t.notMatch(job.stdout, /^\{/m, 'and none of it on stdout');

  // the live summary of the example router
  await until('the first summary on stdout', () => summaries(job.stdout).length > 0, 60_000);
  const first = summaries(job.stdout)[0];
  t.equal(first.head, 'summary: routers=1 router_ports=1 gateway_chassis=2 static_routes=1 nat=2 (snat=1 dnat=0 dnat_and_snat=1)');
  t.strictSame(first.routers.get('r1'), { ports: 1, nat: ['dnat_and_snat:172.16.0.11', 'snat:172.16.0.10'] }, 'router r1 with its SNAT and floating IP');

  // every process the sandbox started, as it recorded them: the servers, northd and the watchdog
  t.equal(pids.length, 4, 'NB and SB ovsdb-server, ovn-northd and the watchdog recorded');
  for (const p of pids) t.ok(await isAlive(p), `pid ${p} runs`);

  // a change made with ovn-nbctl (as the README suggests) shows in the summary
  let seen = job.stdout.length;
  await nbctl({ nbRemote }, 'lr-add', 'r2', '--', 'lr-nat-add', 'r2', 'snat', '172.16.0.30', '10.0.2.0/24', '--', 'lr-nat-add', 'r1', 'dnat_and_snat', '172.16.0.20', '10.0.1.20');
  await until('a summary with the new router', () => summaries(job.stdout.slice(seen)).length > 0);
  let lines = job.stdout.slice(seen).split('\n');
  t.ok(lines.includes('insert Logical_Router r2'), 'a line for the new router');
  t.ok(lines.includes('insert NAT snat 172.16.0.30 <-> 10.0.2.0/24'), 'a line for its SNAT');
  t.ok(lines.includes('insert NAT dnat_and_snat 172.16.0.20 <-> 10.0.1.20'), "a line for r1's new floating IP");
  let last = summaries(job.stdout.slice(seen)).at(-1)!;
  t.equal(last.head, 'summary: routers=2 router_ports=1 gateway_chassis=2 static_routes=1 nat=4 (snat=2 dnat=0 dnat_and_snat=2)');
  t.strictSame(last.routers.get('r1')?.nat, ['dnat_and_snat:172.16.0.11', 'dnat_and_snat:172.16.0.20', 'snat:172.16.0.10']);
  t.strictSame(last.routers.get('r2'), { ports: 0, nat: ['snat:172.16.0.30'] });

  seen = job.stdout.length;
  await nbctl({ nbRemote }, 'lr-del', 'r2');
  await until('a summary without it', () => summaries(job.stdout.slice(seen)).length > 0);
  lines = job.stdout.slice(seen).split('\n');
  t.ok(lines.includes('delete Logical_Router r2') && lines.includes('delete NAT snat 172.16.0.30 <-> 10.0.2.0/24'), 'lines for the deletes');
  last = summaries(job.stdout.slice(seen)).at(-1)!;
  t.equal(last.head, 'summary: routers=1 router_ports=1 gateway_chassis=2 static_routes=1 nat=3 (snat=1 dnat=0 dnat_and_snat=2)');
  t.strictSame([...last.routers.keys()], ['r1']);

  // SIGINT to npm's pid, the top of the job
  process.kill(child.pid!, 'SIGINT');
  await until('npm to exit', () => job.exit !== undefined, 30_000);
  await allGone(t, sbDir, pids, false);
  await groupGone(t, child.pid!);
  t.strictSame(job.exit, { code: 0, signal: null }, 'npm exits 0');
});

t.test('SIGTERM to npm with --keep: everything stops, the sandbox dir stays with its logs', async (t) => {
  const { job, child, pids } = await startJob(t, ['--keep', '--empty']);
  process.kill(child.pid!, 'SIGTERM');
  await until('npm to exit', () => job.exit !== undefined, 30_000);
  await allGone(t, job.sbDir!, pids, true);
  const after = JSON.parse(await readFile(path.join(job.sbDir!, 'sandbox.json'), 'utf8')) as { stoppedAt?: string };
  t.ok(after.stoppedAt, 'sandbox.json records the stop');
  t.match(job.stdout, new RegExp(`^sandbox kept in ${job.sbDir!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 'it says where');
});

t.test('SIGKILL to npm (no signal passed on): the manager sees its parent go and stops everything', async (t) => {
  const { job, child, pids } = await startJob(t, ['--empty']);
  process.kill(child.pid!, 'SIGKILL');
  await allGone(t, job.sbDir!, pids, false);
  await groupGone(t, child.pid!);
});

t.test('SIGTERM to npm without --keep: the temp dir goes too', async (t) => {
  const { job, child, pids } = await startJob(t, ['--empty']);
  process.kill(child.pid!, 'SIGTERM');
  await until('npm to exit', () => job.exit !== undefined, 30_000);
  await allGone(t, job.sbDir!, pids, false);
});

t.test('SIGHUP to npm: the same', async (t) => {
  const { job, child, pids } = await startJob(t, ['--empty']);
  process.kill(child.pid!, 'SIGHUP');
  await allGone(t, job.sbDir!, pids, false);
  await groupGone(t, child.pid!);
});
