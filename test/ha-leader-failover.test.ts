/**
 * The leader killed mid-failover (issue 16 §8): two ovn-natgwd that may lead
 * and a daemon per gateway node (requireNodeDaemons), on one NB. The node
 * daemon of the active gateway chassis and the leader are killed with -9 a
 * few ms apart (0 to 20 ms: before, during or after the failover's commit),
 * each gap on a fresh sandbox; then three times in a row on one.
 * The standby takes the leader lock, finds the dead node's lock held by
 * nobody (absent) and fails it over: ovn-nbctl shows no row lost or doubled
 * (the gateway port with K distinct chassis and distinct priorities, none
 * the dead one; the NAT rows and router policies as many as before).
 */
import t, { type Test } from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { tempDir, until } from './helpers/util.js';
import { daemonFiles, daemonReady, daemonStatus, startDaemon, type TestDaemon } from './helpers/daemons.js';

async function round(t: Test, gap: number, repeats = 1): Promise<void> {
const sb = await withSandbox(t);
const NODES = await addChassisRows(sb, 4);
const tmp = await tempDir(t, `ha-leader-fo-${gap}-`);
const K = 'apiVersion: kubeovn.io/v1\n';
const fips = [1, 2, 3].map((n) => `${K}kind: OvnEip\nmetadata: {name: eip-${n}}\nspec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.${200 + n}}\n---\n${K}kind: OvnFip\nmetadata: {name: fip-${n}}\nspec: {ovnEip: eip-${n}, vpc: vpc1, v4Ip: 192.168.0.${10 + n}}\n`).join('---\n');
const manifests = { 'network.yaml': dualStackNetwork(NODES), 'fips.yaml': fips };
const common = ['--db', sb.nbRemote, '--sb', sb.sbRemote, '--log-level', 'info', '--ping-ms', '100', '--hold-down-ms', '1000'];
const gcs = async () =>
  (await nbctl(sb, '--format=csv', '--data=bare', '--no-headings', '--columns=name,chassis_name,priority', 'list', 'Gateway_Chassis'))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(','))
    .filter(([n]) => n.startsWith('vpc1-external204-'))
    .map(([, c, p]) => ({ chassis: c, priority: Number(p) }))
    .sort((a, b) => b.priority - a.priority);
const count = async (table: string) => (await nbctl(sb, '--bare', '--columns=_uuid', 'list', table)).split('\n').filter(Boolean).length;

// (requireNodeDaemons has no flag: a config file)
const cfg = path.join(tmp, 'require.yaml');
await writeFile(cfg, 'requireNodeDaemons: true\n');
// (--node-absent-ms at its default, given: the flag reaches liveness the way the file's key does)
const args = (extra: string[]) => [...common, '--config', cfg, '--node-absent-ms', '3000', ...extra];

const leaders: TestDaemon[] = [await daemonFiles(tmp, 'lead-a', manifests, args([])), await daemonFiles(tmp, 'lead-b', manifests, args([]))];
startDaemon(t, leaders[0]);
await daemonReady(leaders[0]);
startDaemon(t, leaders[1]);
await daemonReady(leaders[1]);
const nodes = new Map<string, TestDaemon>();
for (const c of NODES) {
  const d = await daemonFiles(tmp, `node-${c}`, manifests, args(['--chassis', c]));
  nodes.set(c, d);
  startDaemon(t, d);
  await daemonReady(d);
}
// (every daemon may lead: the node daemons too)
const all = () => [...leaders, ...nodes.values()];
const leaderOf = async () => {
  for (const d of all()) if (d.child?.exitCode === null && d.child.signalCode === null && (await daemonStatus(d)).role === 'leader') return d;
  return undefined;
};
await until('every node alive in the leader\'s eyes', async () => {
  const l = await leaderOf();
  const st = l && (await daemonStatus(l));
  return !!st && NODES.every((c) => st.liveness[c] === 'alive');
}, 20_000);
await until('the gateway port placed', async () => (await gcs()).length === 3);
const nats = await count('NAT');
const policies = await count('Logical_Router_Policy');
t.ok(nats >= 3, `NAT rows: ${nats}`);

  for (let r = 0; r < repeats; r++) {
    const before = await gcs();
    const victim = before[0].chassis;
    const l = (await leaderOf())!;
    const node = nodes.get(victim)!;
    t.comment(`the leader: ${l.name}; the victim: ${victim}`);
    node.child!.kill('SIGKILL');
    if (gap) await new Promise((r) => setTimeout(r, gap));
    l.child!.kill('SIGKILL');
    await until('another daemon leading', async () => (await leaderOf()) !== undefined, 10_000);
    t.comment(`the new leader: ${(await leaderOf())!.name}`);
    await until(`${victim} gone from the gateway port`, async () => !(await gcs()).some((g) => g.chassis === victim), 15_000);
    await until('the set full again', async () => (await gcs()).length === 3, 10_000);
    const after = await gcs();
    t.equal(new Set(after.map((g) => g.chassis)).size, 3, `ovn-nbctl: three distinct chassis (${after.map((g) => `${g.chassis}:${g.priority}`).join(' ')})`);
    t.equal(new Set(after.map((g) => g.priority)).size, 3, 'with distinct priorities');
    t.notOk(after.some((g) => g.chassis === victim), 'none of them the dead one');
    t.equal(after[0].chassis, before[1].chassis, `the next one leads (before: ${before.map((g) => g.chassis).join(' ')}; after: ${after.map((g) => g.chassis).join(' ')})`);
    t.equal(await count('NAT'), nats, 'NAT rows: none lost or doubled');
    t.equal(await count('Logical_Router_Policy'), policies, 'router policies: none lost or doubled');
    if (r === repeats - 1) break;
    // again, in the same sandbox: the two killed daemons back, every node alive in the new leader's eyes
    const other = (await leaderOf())!;
    for (const d of new Set([l, node])) {
      startDaemon(t, d);
      await daemonReady(d);
    }
    await until('every node alive again', async () => {
      const st = await daemonStatus(other);
      return NODES.every((c) => other === nodes.get(c) || st.liveness[c] === 'alive');
    }, 10_000);
  }
}

for (const gap of [0, 5, 10, 20]) t.test(`the active node's daemon killed, and ${gap} ms later the leader`, (t) => round(t, gap));
t.test('three times in a row in one sandbox (the killed daemons back each time)', (t) => round(t, 0, 3));
