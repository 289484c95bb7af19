/**
 * Two ovn-natgwd on one NB, as on two gateway nodes, each with its own
 * directory of the same manifests: the first holds the NB lock
 * ovn_natgw_leader and writes; the second stands by (status, ovs-appctl,
 * metrics say so; a put through its socket is refused, a file added to its
 * directory is not written). The leader killed with -9, the standby is
 * granted the lock, plans its whole directory and writes what it holds;
 * the old leader back is the standby. Checked with ovn-nbctl.
 */
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { callDaemon } from '../src/cli/daemon-client.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { tempDir, until } from './helpers/util.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/ovn-natgwd.js', import.meta.url));
const sb = await withSandbox(t);
await addChassisRows(sb, 3);
const tmp = await tempDir(t, 'natgwd-leader-');
const K = 'apiVersion: kubeovn.io/v1\n';
const fip = (n: number) => `${K}kind: OvnEip\nmetadata: {name: eip-${n}}\nspec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.${200 + n}}\n---\n${K}kind: OvnFip\nmetadata: {name: fip-${n}}\nspec: {ovnEip: eip-${n}, vpc: vpc1, v4Ip: 192.168.0.${10 + n}}\n`;

interface Node {
  dir: string;
  sock: string;
  child?: ChildProcess;
}
async function node(name: string): Promise<Node> {
  const dir = path.join(tmp, name, 'manifests.d');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'network.yaml'), dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']));
  await writeFile(path.join(dir, 'fip-1.yaml'), fip(1));
  return { dir, sock: path.join(tmp, name, 'natgwd.ctl') };
}
function start(n: Node): void {
  n.child = spawn(process.execPath, [BIN, '--db', sb.nbRemote, '--sb', sb.sbRemote, '--manifests', n.dir, '--socket', n.sock, '--config', '/dev/null', '--log-level', 'info'], { stdio: ['ignore', 'ignore', process.env.NATGWD_TEST_LOG ? 'inherit' : 'ignore'] });
  const c = n.child;
  t.teardown(() => void c.kill('SIGKILL'));
}
type Status = { ready: boolean; role: string; lock: string | null; last_reconcile: { ok: boolean } | null };
const status = async (n: Node) => (await callDaemon(n.sock, 'status').catch(() => ({ ready: false }))) as Status;
const ready = (n: Node) => until(`${n.sock} ready`, async () => existsSync(n.sock) && (await status(n)).ready, 30_000);
const natList = async () => (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').filter((l) => l.includes('10.5.204.2'));

const a = await node('a');
const b = await node('b');
start(a);
await ready(a);
start(b);
await ready(b);

t.test('one leader writes, the other stands by', async (t) => {
  t.match(await status(a), { role: 'leader', lock: 'ovn_natgw_leader' }, 'the first: leader');
  t.match(await status(b), { role: 'standby', lock: 'ovn_natgw_leader', last_reconcile: null }, 'the second: standby, no reconcile');
  t.match((await exec('ovs-appctl', ['-t', b.sock, 'natgw/status'])).stdout, /^role: standby \(lock ovn_natgw_leader held by another ovn-natgwd\)$/m, 'ovs-appctl natgw/status says so');
  t.match(await callDaemon(b.sock, 'metrics'), /^ovn_natgw_leader 0$/m, 'metrics: ovn_natgw_leader 0 on the standby');
  t.match(await callDaemon(a.sock, 'metrics'), /^ovn_natgw_leader 1$/m, 'and 1 on the leader');
  t.ok((await natList()).some((l) => l.includes('10.5.204.201')), 'ovn-nbctl: the leader applied its directory');
  await t.rejects(callDaemon(b.sock, 'put', { manifest: fip(3) }), /nothing was written: this ovn-natgwd stands by/, 'a put on the standby is refused');
  // a file on the standby's node only: not written while it stands by
  await writeFile(path.join(b.dir, 'fip-2.yaml'), fip(2));
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk((await natList()).some((l) => l.includes('10.5.204.202') || l.includes('10.5.204.203')), 'ovn-nbctl: nothing of the standby written');
});

t.test('the leader killed: the standby takes the lock and writes its whole directory; the old leader back stands by', async (t) => {
  const t0 = Date.now();
  a.child!.kill('SIGKILL');
  await until('the standby to lead', async () => (await status(b)).role === 'leader', 10_000);
  t.comment(`the standby led ${Date.now() - t0} ms after kill -9 of the leader`);
  await until('its directory written', async () => (await natList()).some((l) => l.includes('10.5.204.202')));
  t.pass('ovn-nbctl lr-nat-list: fip-2 of the new leader\'s directory');
  t.ok((await natList()).some((l) => l.includes('10.5.204.201')), 'what the old leader wrote stays');
  const events = (await callDaemon(b.sock, 'events')) as { recent: { type: string; role?: string }[] };
  t.ok(events.recent.some((e) => e.type === 'role' && e.role === 'leader'), 'a role event: leader');
  start(a);
  await ready(a);
  t.match(await status(a), { role: 'standby' }, 'the old leader back: standby');
  t.match(await status(b), { role: 'leader' }, 'the new one stays leader');
});

t.test('failover through the socket: ovs-appctl natgw/failover on the leader; refused on the standby', async (t) => {
  const gcs = async () => (await nbctl(sb, 'lrp-get-gateway-chassis', 'vpc1-external204')).trim().split('\n').map((l) => l.trim().split(/\s+/)[0].replace('vpc1-external204-', ''));
  const before = await gcs();
  t.equal(before.length, 3, 'three gateway chassis');
  await t.rejects(callDaemon(a.sock, 'failover', { chassis: [before[0]] }), /stands by/, 'the standby refuses');
  const out = (await exec('ovs-appctl', ['-t', b.sock, 'natgw/failover', before[0]])).stdout;
  t.match(out, /^moved: Vpc\/vpc1 \([\d.]+ ms\)$/m, 'ovs-appctl natgw/failover: what moved, and the time');
  t.same(await gcs(), before.slice(1), 'ovn-nbctl lrp-get-gateway-chassis: the dead one gone, the next leads');
  const history = (await callDaemon(b.sock, 'failovers')) as { cause: string; chassis: string[]; objects: string[] }[];
  t.match(history.at(-1), { cause: 'requested', chassis: [before[0]], objects: ['Vpc/vpc1'] }, 'failovers: its history');
  const events = (await callDaemon(b.sock, 'events')) as { recent: { type: string }[] };
  t.ok(events.recent.some((e) => e.type === 'failover'), 'a failover event');
});

t.test('a drain kept in NB: the leader killed, the new leader keeps the chassis drained; undrain clears it', async (t) => {
  const gcs = async () => (await nbctl(sb, 'lrp-get-gateway-chassis', 'vpc1-external204')).trim().split('\n').map((l) => l.trim().split(/\s+/)[0].replace('vpc1-external204-', ''));
  const kept = async () => (await nbctl(sb, 'get', 'NB_Global', '.', 'external_ids')).trim();
  const active = (await gcs())[0];
  const drained = (await callDaemon(b.sock, 'drain', { chassis: active })) as { draining: string[] };
  t.same(drained.draining, [active], `drained ${active} on the leader`);
  t.match(await kept(), new RegExp(`"ovn-natgw:draining:ovn-natgw"="?${active}"?`), 'ovn-nbctl: NB_Global keeps the drained chassis');
  b.child!.kill('SIGKILL');
  await until('a to lead', async () => (await status(a)).role === 'leader', 10_000);
  t.same(((await callDaemon(a.sock, 'status')) as { draining: string[] }).draining, [active], 'the new leader keeps it drained');
  const after = await gcs();
  t.equal(after.at(-1), active, `ovn-nbctl: ${active} stays the lowest standby under the new leader (${after.join(', ')})`);
  const undrained = (await callDaemon(a.sock, 'undrain', { chassis: active })) as { draining: string[] };
  t.same(undrained.draining, [], 'undrained on the new leader');
  t.notMatch(await kept(), /ovn-natgw:draining/, 'ovn-nbctl: the key is gone from NB_Global');
  start(b);
  await ready(b);
});

t.test('a lock name that is no OVSDB <id> is refused at start, naming the key', async (t) => {
  const r = await exec(process.execPath, [BIN, '--db', sb.nbRemote, '--config', '/dev/null', '--leader-lock', 'ovn-natgw-leader', '--socket', path.join(tmp, 'x.ctl'), '--manifests', a.dir]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(r.code, 2, 'exit status 2');
  t.match(r.stderr, /--leader-lock: must be a lock name \(an OVSDB <id>/, 'names the flag and the reason');
});
