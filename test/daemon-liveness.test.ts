/**
 * Node liveness by the node locks (src/ha/liveness.ts) between real
 * ovn-natgwd processes on one NB: the leader, and the daemon of the gateway
 * node that carries vpc1's active gateway chassis (--chassis). That node's
 * daemon killed with -9 (its NB session ends), the leader is granted its
 * lock and fails over at once: ovn-nbctl shows the chassis gone from the
 * gateway port; a reconcile meanwhile does not put it back. The node's
 * daemon started again takes its lock back: the chassis returns, at the
 * lowest priority.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { callDaemon } from '../src/cli/daemon-client.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { tempDir, until } from './helpers/util.js';
import { runBin } from './helpers/bin.js';

const BIN = fileURLToPath(new URL('../bin/ovn-natgwd.js', import.meta.url));
const sb = await withSandbox(t);
const NODES = await addChassisRows(sb, 4);
const tmp = await tempDir(t, 'natgwd-liveness-');

interface Node {
  dir: string;
  sock: string;
  chassis?: string;
  child?: ChildProcess;
}
async function node(name: string, chassis?: string): Promise<Node> {
  const dir = path.join(tmp, name, 'manifests.d');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'network.yaml'), dualStackNetwork(NODES));
  return { dir, sock: path.join(tmp, name, 'natgwd.ctl'), ...(chassis ? { chassis } : {}) };
}
function start(n: Node): void {
  const args = [BIN, '--db', sb.nbRemote, '--sb', sb.sbRemote, '--manifests', n.dir, '--socket', n.sock, '--config', '/dev/null', '--log-level', 'info', ...(n.chassis ? ['--chassis', n.chassis] : [])];
  n.child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', process.env.NATGWD_TEST_LOG ? 'inherit' : 'ignore'] });
  const c = n.child;
  t.teardown(() => void c.kill('SIGKILL'));
}
const status = async (n: Node) => (await callDaemon(n.sock, 'status').catch(() => ({ ready: false }))) as { ready: boolean; role: string; dead: string[] };
const ready = (n: Node) => until(`${n.sock} ready`, async () => existsSync(n.sock) && (await status(n)).ready, 30_000);
const gcs = async () => (await nbctl(sb, 'lrp-get-gateway-chassis', 'vpc1-external204')).trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[0].replace('vpc1-external204-', ''));

const leader = await node('leader');
start(leader);
await ready(leader);
await until('the gateway port placed', async () => (await gcs()).length === 3);
const before = await gcs();
const victim = await node('victim', before[0]);
start(victim);
await ready(victim);

t.test("the active gateway node's daemon killed: the leader fails over at once", async (t) => {
  t.match(await status(leader), { role: 'leader' });
  t.match(await status(victim), { role: 'standby' }, `the daemon of ${victim.chassis} stands by`);
  // the leader has asked for the node's lock and waits behind it
  await until('the leader to watch the node', async () => ((await status(leader)) as unknown as { watched: string[] }).watched.includes(victim.chassis!));
  t.pass(`status of the leader: ${victim.chassis} watched (its node holds its lock)`);
  const t0 = Date.now();
  victim.child!.kill('SIGKILL');
  await until(`${victim.chassis} gone from the gateway port`, async () => !(await gcs()).includes(victim.chassis!), 10_000);
  t.comment(`the failover was in NB ${Date.now() - t0} ms after kill -9 of the node's daemon (ovn-nbctl polled)`);
  const after = await gcs();
  t.equal(after[0], before[1], 'ovn-nbctl lrp-get-gateway-chassis: the next one leads');
  t.equal(after.length, 3, 'a spare fills the lowest priority');
  t.same((await status(leader)).dead, [victim.chassis], 'status: the chassis is dead');
  const wide = await runBin(['-t', leader.sock, 'chassis', '-o', 'wide']);
  t.match(wide.stdout, /^CHASSIS\s+HOSTNAME\s+ACTIVE\s+STANDBY\s+BOUND\s+STATE\s+ACTIVE-PORTS\s+BOUND-PORTS$/m, 'ovn-natgwctl chassis -o wide: a STATE column');
  t.match(wide.stdout, new RegExp(`^${victim.chassis}\\s+\\S+\\s+0\\s+\\d+\\s+\\d+\\s+dead\\s`, 'm'), `${victim.chassis}: dead, leading nothing`);
  const events = ((await callDaemon(leader.sock, 'events')) as { recent: { type: string; cause?: string; state?: string; chassis?: unknown }[] }).recent;
  t.ok(events.some((e) => e.type === 'liveness' && e.state === 'dead'), 'a liveness event');
  t.ok(events.some((e) => e.type === 'failover' && e.cause === 'node-lock-released'), 'a failover event with its cause');
  // a reconcile now plans over the same live set: it does not put the dead chassis back
  await callDaemon(leader.sock, 'reconcile');
  t.same(await gcs(), after, 'a reconcile keeps the failover');
});

t.test('the node back: it takes its lock back, the chassis returns at the lowest priority', async (t) => {
  const after = await gcs();
  start(victim);
  await ready(victim);
  await until('the leader to see it return', async () => (await status(leader)).dead.length === 0, 10_000);
  await callDaemon(leader.sock, 'reconcile');
  const now = await gcs();
  t.equal(now[0], after[0], 'the active stays (no move back)');
  t.same(now, after, 'the set was full: nothing to give it');
});

t.test('ovn-natgwctl drain / undrain / failovers through the daemon', async (t) => {
  const before = await gcs();
  const d = await runBin(['-t', leader.sock, 'drain', before[0]]);
  t.equal(d.code, 0, d.stderr);
  t.match(d.stdout, new RegExp(`^moved off ${before[0]}: Vpc/vpc1$`, 'm'), 'says what moved off');
  t.match(d.stdout, new RegExp(`^draining: ${before[0]}$`, 'm'), 'and what is draining');
  const after = await gcs();
  t.same([after[0], after.at(-1)], [before[1], before[0]], 'ovn-nbctl: the next one leads, the drained chassis is the lowest standby');
  await callDaemon(leader.sock, 'reconcile');
  t.same(await gcs(), after, 'a reconcile keeps the drain');
  const u = await runBin(['-t', leader.sock, 'undrain', before[0]]);
  t.match(u.stdout, /^draining: \(none\)$/m, 'undrained');
  const rb = await runBin(['-t', leader.sock, 'rebalance']);
  t.equal(rb.code, 0, rb.stderr);
  t.match(rb.stdout, /^(balanced: nothing to move|vpc1-external204: \S+ -> \S+)$/m, 'ovn-natgwctl rebalance: its moves, or none (one gateway port)');
  const f = await runBin(['-t', leader.sock, 'failovers']);
  t.match(f.stdout, /node-lock-released .*Vpc\/vpc1 [\d.]+ ms \(queued [\d.]+, plan [\d.]+, caught up [\d.]+, commit [\d.]+\)$/m, 'ovn-natgwctl failovers: the one liveness made, with where its time went');
  const none = await runBin(['drain', 'x'], { OVN_NB_DB: sb.nbRemote });
  t.equal(none.code, 2, 'without the daemon: a usage error');
  t.match(none.stderr, /drain: no ovn-natgwd: give -t SOCKET/);
});
