/**
 * The README's first command, `npm run start:sandbox`: a local OVN (NB + SB
 * ovsdb-server, ovn-northd) in a temp dir, an example router, and the
 * manager's main job printing a live summary on stdout that follows changes;
 * Ctrl-C stops the manager and every process the sandbox started.
 *
 * The npm script is `bash tools/ensure-ovn.sh && tsx tools/dev.ts`. The test
 * runs the same entry point with the same (no) arguments, `tsx tools/dev.ts`,
 * but not ensure-ovn.sh first: that step may run apt-get and stop system
 * OVN/OVS services, which a test must not do (the binaries are there, or the
 * other tests fail anyway). It runs as a terminal job would: in its own process
 * group, and Ctrl-C is SIGINT to that group. TMPDIR points at the test's own
 * temp dir, so the sandbox is made there.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, loadSandbox } from '../tools/sandbox-lib.js';
import { nbctl } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

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

t.test('npm run start:sandbox: live summary follows ovn-nbctl, Ctrl-C exits 0 and stops every sandbox process', async (t) => {
  const tmp = await mkdtemp('/tmp/natgw-dev-');
  let stdout = '';
  let stderr = '';
  const child = spawn(tsx, ['tools/dev.ts'], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp, LOG_LEVEL: 'info', OVN_NB_DB: '', OVN_SB_DB: '' },
    detached: true, // its own process group, as a job in a terminal
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => (exit = { code, signal }));
  let sbDir: string | undefined;
  t.teardown(async () => {
    // only on failure is anything left: our child's process group, then the pids the sandbox recorded
    if (!exit && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (sbDir) await (await loadSandbox(sbDir).catch(() => undefined))?.stop();
    if (!t.passing()) t.comment(`stdout:\n${stdout}\nstderr:\n${stderr.slice(-4000)}`);
    await rm(tmp, { recursive: true, force: true });
  });
  const failFast = () => {
    if (exit) throw new Error(`tools/dev.ts exited early (${JSON.stringify(exit)}):\n${stderr.slice(-2000)}`);
  };

  // 1. it starts the sandbox in our temp dir and tells where
  await until('the sandbox dir and OVN_NB_DB on stderr', () => (failFast(), /^export OVN_SB_DB=\S+$/m.test(stderr)), 60_000);
  sbDir = /^sandbox in (\S+)$/m.exec(stderr)?.[1];
  const nbRemote = /^export OVN_NB_DB=(\S+)$/m.exec(stderr)![1];
  t.ok(sbDir && path.dirname(sbDir) === tmp, `the sandbox is in the test's temp dir (${sbDir})`);
  t.equal(nbRemote, `unix:${sbDir}/nb.sock`, 'OVN_NB_DB is a unix socket in it');

  // 2. the live summary of the example router
  await until('the first summary on stdout', () => (failFast(), summaries(stdout).length > 0), 60_000);
  const first = summaries(stdout)[0];
  t.equal(first.head, 'summary: routers=1 router_ports=1 gateway_chassis=2 static_routes=1 nat=2 (snat=1 dnat=0 dnat_and_snat=1)');
  t.strictSame(first.routers.get('r1'), { ports: 1, nat: ['dnat_and_snat:172.16.0.11', 'snat:172.16.0.10'] }, 'router r1 with its SNAT and floating IP');
  await until('following changes', () => stderr.includes('following changes'));

  // every process the sandbox started, as it recorded them
  const state = JSON.parse(await readFile(path.join(sbDir!, 'sandbox.json'), 'utf8')) as {
    northdPid?: number;
    watchdogPid?: number;
    members: { nb: { pid: number }[]; sb: { pid: number }[] };
  };
  const pids = [state.northdPid, state.watchdogPid, ...state.members.nb.map((m) => m.pid), ...state.members.sb.map((m) => m.pid)].filter(
    (p): p is number => typeof p === 'number' && p > 0,
  );
  t.equal(pids.length, 3, 'NB and SB ovsdb-server and ovn-northd recorded');
  for (const p of pids) t.ok(await isAlive(p), `pid ${p} runs`);

  // 3. a change made with ovn-nbctl (as the README suggests) shows in the summary
  let seen = stdout.length;
  await nbctl({ nbRemote }, 'lr-add', 'r2', '--', 'lr-nat-add', 'r2', 'snat', '172.16.0.30', '10.0.2.0/24', '--', 'lr-nat-add', 'r1', 'dnat_and_snat', '172.16.0.20', '10.0.1.20');
  await until('a summary with the new router', () => summaries(stdout.slice(seen)).length > 0);
  let lines = stdout.slice(seen).split('\n');
  t.ok(lines.includes('insert Logical_Router r2'), 'a line for the new router');
  t.ok(lines.includes('insert NAT snat 172.16.0.30 <-> 10.0.2.0/24'), 'a line for its SNAT');
  t.ok(lines.includes('insert NAT dnat_and_snat 172.16.0.20 <-> 10.0.1.20'), "a line for r1's new floating IP");
  let last = summaries(stdout.slice(seen)).at(-1)!;
  t.equal(last.head, 'summary: routers=2 router_ports=1 gateway_chassis=2 static_routes=1 nat=4 (snat=2 dnat=0 dnat_and_snat=2)');
  t.strictSame(last.routers.get('r1')?.nat, ['dnat_and_snat:172.16.0.11', 'dnat_and_snat:172.16.0.20', 'snat:172.16.0.10']);
  t.strictSame(last.routers.get('r2'), { ports: 0, nat: ['snat:172.16.0.30'] });

  seen = stdout.length;
  await nbctl({ nbRemote }, 'lr-del', 'r2');
  await until('a summary without it', () => summaries(stdout.slice(seen)).length > 0);
  lines = stdout.slice(seen).split('\n');
  t.ok(lines.includes('delete Logical_Router r2') && lines.includes('delete NAT snat 172.16.0.30 <-> 10.0.2.0/24'), 'lines for the deletes');
  last = summaries(stdout.slice(seen)).at(-1)!;
  t.equal(last.head, 'summary: routers=1 router_ports=1 gateway_chassis=2 static_routes=1 nat=3 (snat=1 dnat=0 dnat_and_snat=2)');
  t.strictSame([...last.routers.keys()], ['r1']);

  // 4. Ctrl-C: SIGINT to the job's process group
  process.kill(-child.pid!, 'SIGINT');
  await until('the manager to exit', () => exit !== undefined, 30_000);
  t.strictSame(exit, { code: 0, signal: null }, 'exit status 0');
  for (const p of pids) t.notOk(await isAlive(p), `sandbox pid ${p} is gone`);
  t.throws(() => process.kill(-child.pid!, 0), { code: 'ESRCH' }, 'nothing is left in the process group');
  // and no process anywhere still runs from the sandbox dir
  const left: string[] = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const cmd = await readFile(`/proc/${ent}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(sbDir!)) left.push(`${ent}: ${cmd.split('\0').join(' ')}`);
  }
  t.strictSame(left, [], 'no process mentions the sandbox dir');
  const after = JSON.parse(await readFile(path.join(sbDir!, 'sandbox.json'), 'utf8')) as { stoppedAt?: string };
  t.ok(after.stoppedAt, 'sandbox.json records the stop');
});
