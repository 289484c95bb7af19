/**
 * Liveness of gateway nodes (src/ha/liveness.ts, node-health.ts) between
 * real ovn-natgwd processes on one NB: a leader, and a daemon per gateway
 * node (--chassis). What an operator sees, checked with ovn-nbctl and the
 * daemons' status and events:
 * - a silent node (its daemon stopped with SIGSTOP: no TCP close, its lock
 *   still held) is suspect, then dead after three unanswered pings, and
 *   failed over; back (SIGCONT) it is returning, held down, then alive, and
 *   with failback preempt it leads its port again;
 * - a node flapping stays out of every gateway set until it has stayed for
 *   its hold-down;
 * - a node's own health (in its own network namespace: ip_forward, the
 *   uplink's link) failing lets its lock go: the leader fails it over;
 * - two nodes failing at once, then every gateway node: a gateway set is
 *   never emptied, and all back, the sets are whole again.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { tempDir, until } from './helpers/util.js';
import { runBin } from './helpers/bin.js';
import { daemonEvents, daemonFiles, daemonReady, daemonStatus, startDaemon, type TestDaemon } from './helpers/daemons.js';

const exec = promisify(execFile);
const sb = await withSandbox(t);
const NODES = await addChassisRows(sb, 4);
const tmp = await tempDir(t, 'ha-liveness-');
// (long enough that the CLI, started within it on a loaded machine, still sees the node returning)
const HOLD = 4000;
const gcs = async () =>
  (await nbctl(sb, 'lrp-get-gateway-chassis', 'vpc1-external204'))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/)[0].replace('vpc1-external204-', ''));
const common = ['--db', sb.nbRemote, '--sb', sb.sbRemote, '--log-level', 'info'];
const manifests = { 'network.yaml': dualStackNetwork(NODES) };

const leader = await daemonFiles(tmp, 'leader', manifests, [...common, '--config', '/dev/null', '--ping-ms', '100', '--hold-down-ms', String(HOLD), '--failback', 'preempt']);
startDaemon(t, leader);
await daemonReady(leader);
await until('the gateway port placed', async () => (await gcs()).length === 3);

const nodes = new Map<string, TestDaemon>();
async function nodeDaemon(chassis: string, extra: { config?: string; netns?: string } = {}): Promise<TestDaemon> {
  const d = await daemonFiles(tmp, `node-${chassis}-${nodes.size}`, manifests, [...common, '--config', extra.config ?? '/dev/null', '--chassis', chassis], extra.netns);
  nodes.set(chassis, d);
  startDaemon(t, d);
  await daemonReady(d);
  await until(`the leader to watch ${chassis}`, async () => (await daemonStatus(leader)).liveness[chassis] === 'alive');
  return d;
}
const stateOf = async (c: string) => (await daemonStatus(leader)).liveness[c];
const allIn = async (state: string) => {
  const l = (await daemonStatus(leader)).liveness;
  return NODES.every((c) => l[c] === state);
};
const signal = (d: TestDaemon, s: NodeJS.Signals) => d.child!.kill(s);

t.test('a silent node: suspect, dead, failed over; back: returning, held down, then it leads again (preempt)', async (t) => {
  const before = await gcs();
  const victim = await nodeDaemon(before[0]);
  const c = before[0];
  const t0 = Date.now();
  signal(victim, 'SIGSTOP');
  await until(`${c} gone from the gateway port`, async () => !(await gcs()).includes(c), 10_000);
  const ms = Date.now() - t0;
  t.comment(`SIGSTOP of the node's daemon to the failover in NB: ${ms} ms (pings every 100 ms, dead after 3 unanswered; ovn-nbctl polled)`);
  const after = await gcs();
  t.equal(after[0], before[1], 'ovn-nbctl: the next one leads');
  t.equal(after.length, 3, 'and a spare fills the lowest priority');
  const ev = await daemonEvents(leader);
  const mine = ev.filter((e) => e.type === 'liveness' && e.chassis === c).map((e) => `${e.state}${e.cause ? `:${e.cause}` : ''}`);
  t.same(mine.slice(-2), ['suspect', 'dead:silent'], 'events: suspect, then dead (silent)');
  t.ok(ev.some((e) => e.type === 'failover' && e.cause === 'node-silent'), 'a failover event with its cause: node-silent');

  signal(victim, 'SIGCONT');
  await until(`${c} returning`, async () => (await stateOf(c)) === 'returning', 5000);
  // (the set first, then the CLI, whose start is the slower)
  t.notOk((await gcs()).includes(c), 'in hold-down: not yet back in the set');
  const wide = await runBin(['-t', leader.sock, 'chassis', '-o', 'wide']);
  t.match(wide.stdout, new RegExp(`^${c}\\s.*\\sreturning\\s`, 'm'), 'ovn-natgwctl chassis -o wide: returning');
  await until(`${c} alive after its hold-down`, async () => (await stateOf(c)) === 'alive', HOLD + 5000);
  await until(`${c} leading again (failback preempt)`, async () => (await gcs())[0] === c, 5000);
  const back = await gcs();
  t.equal(back.length, 3, 'ovn-nbctl: it leads its port again, the set still of three');
  t.ok((await daemonEvents(leader)).some((e) => e.type === 'failback' && e.chassis === c), 'a failback event');
});

t.test('a flapping node stays out until it has stayed for its hold-down', async (t) => {
  const c = (await gcs())[0];
  const victim = nodes.get(c)!;
  const seen = new Set<string>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      for (const x of await gcs()) seen.add(x);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  // three outages, each long enough to be found dead, each return shorter than the hold-down
  signal(victim, 'SIGSTOP');
  await until(`${c} gone`, async () => !(await gcs()).includes(c), 10_000);
  seen.clear();
  for (let i = 0; i < 2; i++) {
    signal(victim, 'SIGCONT');
    await until(`${c} returning`, async () => (await stateOf(c)) === 'returning', 5000);
    await new Promise((r) => setTimeout(r, HOLD / 4));
    signal(victim, 'SIGSTOP');
    await until(`${c} dead again`, async () => (await stateOf(c)) === 'dead', 5000);
  }
  signal(victim, 'SIGCONT');
  await until(`${c} returning`, async () => (await stateOf(c)) === 'returning', 5000);
  polling = false;
  await poll;
  t.notOk(seen.has(c), `while it flapped ${c} was in no gateway set (ovn-nbctl polled every 50 ms)`);
  const ev = (await daemonEvents(leader)).filter((e) => e.type === 'liveness' && e.chassis === c).map((e) => e.state);
  const tail = ev.slice(ev.lastIndexOf('alive') + 1);
  t.same(tail.filter((s) => s !== 'suspect'), ['dead', 'returning', 'dead', 'returning', 'dead', 'returning'], 'events: dead and returning, no alive in between');
  const failovers = (await daemonEvents(leader)).filter((e) => e.type === 'failover' && (e.chassis as string[]).includes(c));
  t.ok(failovers.length >= 1, 'the first outage failed over');
  await until(`${c} alive after it stayed`, async () => (await stateOf(c)) === 'alive', HOLD + 5000);
  t.pass('alive once it stayed for the hold-down');
});

t.test('a node hung while pinged, then killed: its lock says so at once, the pings do not have to find it', async (t) => {
  const c = (await gcs())[0];
  const victim = nodes.get(c)!;
  const since = Date.now();
  // hung for two and a half ping intervals: a ping is out, unanswered, when the node dies
  signal(victim, 'SIGSTOP');
  await new Promise((r) => setTimeout(r, 250));
  const t0 = Date.now();
  signal(victim, 'SIGKILL');
  await until(`${c} gone from the gateway port`, async () => !(await gcs()).includes(c), 10_000);
  t.comment(`SIGKILL of the hung node's daemon to the failover in NB: ${Date.now() - t0} ms (ovn-nbctl polled)`);
  const mine = (await daemonEvents(leader))
    .filter((e) => e.type === 'liveness' && e.chassis === c && e.state === 'dead' && Date.parse(String(e.time)) >= since)
    .map((e) => e.cause);
  t.same(mine, ['released'], "events: dead, released (its session's end), not silent (three unanswered pings)");
  await nodeDaemon(c);
  await until(`${c} alive after its hold-down`, async () => (await stateOf(c)) === 'alive', HOLD + 5000);
  await until(`${c} leading again (failback preempt)`, async () => (await gcs())[0] === c, 5000);
});

t.test("a node's own health in its network namespace: ip_forward off, then the uplink down, each fails it over", async (t) => {
  const ns = `natgw-ha-${process.pid}`;
  try {
    await exec('ip', ['netns', 'add', ns]);
  } catch (e) {
    t.plan(0, `network namespaces are not available here: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  t.teardown(() => exec('ip', ['netns', 'del', ns]).catch(() => undefined));
  const inNs = (...args: string[]) => exec('ip', ['netns', 'exec', ns, ...args]);
  await inNs('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await inNs('ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
  await inNs('ip', 'link', 'set', 'up0', 'up');
  await inNs('ip', 'link', 'set', 'up1', 'up');
  const c = (await gcs())[0];
  // this chassis's node daemon: the old one stopped, a new one in the namespace with health checks
  nodes.get(c)?.child?.kill('SIGKILL');
  await until(`${c} failed over`, async () => !(await gcs()).includes(c), 10_000);
  const config = path.join(tmp, 'health.yaml');
  await writeFile(config, 'health:\n  checks: [ip-forward, uplink]\n  uplinks: [up0]\n  intervalMs: 100\n');
  const d = await nodeDaemon(c, { config, netns: ns });
  t.match((await daemonStatus(d)).health, { healthy: true }, "the node's status: healthy");
  await until(`${c} alive after its hold-down`, async () => (await stateOf(c)) === 'alive', HOLD + 5000);
  await until(`${c} back in the set`, async () => (await gcs()).includes(c), 5000);

  const lead = (await gcs())[0];
  t.equal(lead, c, `${c} leads again (preempt)`);
  let t0 = Date.now();
  await inNs('sysctl', '-qw', 'net.ipv4.ip_forward=0');
  await until(`${c} failed over (ip_forward)`, async () => !(await gcs()).includes(c), 10_000);
  t.comment(`ip_forward=0 in the node's namespace to the failover in NB: ${Date.now() - t0} ms (checks every 100 ms)`);
  t.match((await daemonStatus(d)).health, { healthy: false, reason: /ip-forward: net\.ipv4\.ip_forward = 0/ }, "the node's status says why");
  t.ok((await daemonEvents(leader)).some((e) => e.type === 'failover' && e.cause === 'node-lock-released' && (e.chassis as string[]).includes(c)), 'the leader failed it over: its lock released');
  await inNs('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await until(`${c} returning`, async () => (await stateOf(c)) === 'returning', 5000);
  await until(`${c} alive`, async () => (await stateOf(c)) === 'alive', HOLD + 5000);
  await until(`${c} leads again`, async () => (await gcs())[0] === c, 5000);

  t0 = Date.now();
  await inNs('ip', 'link', 'set', 'up1', 'down');
  await until(`${c} failed over (uplink)`, async () => !(await gcs()).includes(c), 10_000);
  t.comment(`the uplink's peer down to the failover in NB: ${Date.now() - t0} ms`);
  t.match((await daemonStatus(d)).health, { healthy: false, reason: /uplink: up0 lowerlayerdown/ }, "the node's status: the uplink has no carrier");
  await inNs('ip', 'link', 'set', 'up1', 'up');
  await until(`${c} returning`, async () => (await stateOf(c)) === 'returning', 5000);
  // (the namespace goes with this test: the node's daemon runs outside it from here)
  d.child!.kill('SIGKILL');
  await until(`${c} dead`, async () => (await stateOf(c)) === 'dead', 5000);
  await nodeDaemon(c);
});

t.test('two nodes at once, then every gateway node: a set is never emptied; all back, it is whole again', async (t) => {
  for (const c of NODES) if (!nodes.get(c)?.child || nodes.get(c)!.child!.exitCode !== null || nodes.get(c)!.child!.signalCode !== null) await nodeDaemon(c);
  await until('every node alive', async () => allIn('alive'), HOLD + 10_000);
  await until('a full set', async () => (await gcs()).length === 3, 5000);
  const before = await gcs();
  for (const c of before.slice(0, 2)) nodes.get(c)!.child!.kill('SIGKILL');
  await until('both gone', async () => !(await gcs()).some((c) => before.slice(0, 2).includes(c)), 10_000);
  const two = await gcs();
  t.equal(two[0], before[2], 'ovn-nbctl: the third leads');
  t.equal(two.length, 2, 'with the one spare: two chassis left alive, both in the set');

  const rest = NODES.filter((c) => !before.slice(0, 2).includes(c));
  for (const c of rest) nodes.get(c)!.child!.kill('SIGKILL');
  await until('every node dead', async () => allIn('dead'), 10_000);
  await new Promise((r) => setTimeout(r, 500));
  const none = await gcs();
  t.ok(none.length >= 1, `every gateway node down: the set is not emptied (${none.join(', ')})`);
  t.match((await runBin(['-t', leader.sock, 'chassis', '-o', 'wide'])).stdout, new RegExp(`^${rest[0]}\\s.*\\sdead\\s`, 'm'), 'chassis -o wide: dead');

  for (const c of NODES) {
    startDaemon(t, nodes.get(c)!);
  }
  await until('every node alive again', async () => allIn('alive'), HOLD + 15_000);
  await until('the set whole again', async () => (await gcs()).length === 3, 10_000);
  t.equal((await gcs()).length, 3, 'ovn-nbctl: three chassis again');
});
