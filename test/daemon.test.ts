/**
 * ovn-natgwd as a process on the sandbox: its admin socket (mode 0660; the
 * real ovs-appctl; JSON-RPC 2.0 with errors naming method and reason), the
 * manifest directory reconciled as it changes (a file added, changed,
 * removed), drift put back, an empty directory refused with NB kept, a bad
 * config refused at start and on SIGHUP, SIGTERM exiting 0 with the socket
 * gone, and a restart after kill -9 sending no transaction. Checked with
 * ovn-nbctl.
 */
import t, { type Test } from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { runBin } from './helpers/bin.js';
import { JsonStreamParser } from '../src/ovsdb/framing.js';
import { prng, tempDir, until } from './helpers/util.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/ovn-natgwd.js', import.meta.url));
const sb = await withSandbox(t);
await addChassisRows(sb, 3);
const tmp = await tempDir(t, 'natgwd-');
const dir = path.join(tmp, 'manifests.d');
await mkdir(dir);
await writeFile(path.join(dir, 'network.yaml'), dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']));
const sock = path.join(tmp, 'natgwd.ctl');
const config = path.join(tmp, 'ovn-natgwd.yaml');
await writeFile(config, `nb: ${sb.nbRemote}\nsb: ${sb.sbRemote}\nmanifests: ${dir}\nsocket: ${sock}\nmetrics: 127.0.0.1:0\nlogLevel: info\n`);

interface Proc {
  child: ChildProcess;
  exit: Promise<number | null>;
  stderr: () => string;
}
function start(args: string[] = ['--config', config]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  if (process.env.NATGWD_TEST_LOG) child.stderr!.pipe(process.stderr);
  return { child, exit, stderr: () => err };
}

/** One JSON-RPC 2.0 request on the socket, or raw bytes; the first reply (or null when the connection closes first; `end`: we close our side after writing). */
function request(body: string, end = false): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let buf = '';
    c.on('error', reject);
    c.on('data', (b) => {
      buf += b.toString();
      try {
        const v = JSON.parse(buf) as Record<string, unknown>;
        c.destroy();
        resolve(v);
      } catch {
        // more to come
      }
    });
    c.on('close', () => resolve(buf ? (JSON.parse(buf) as Record<string, unknown>) : null));
    c.write(body);
    if (end) c.end();
  });
}
const rpc = async (method: string, params?: unknown) => request(JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined ? { params } : {}) }));
const status = async () => ((await rpc('status'))?.result ?? {}) as { ready: boolean; counts: Record<string, number>; last_reconcile: { transacted: boolean; ok: boolean; reason: string; error?: string } | null; manifests: { refused: string | null; objects: number }; log_level: string };
const appctl = async (...args: string[]) => (await exec('ovs-appctl', ['-t', sock, ...args])).stdout;
const natList = async () => (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').filter((l) => l.includes('10.5.204.2'));
const fip = (ip: string) =>
  `kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: eip-1}\nspec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.201}\n---\nkind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: fip-1}\nspec: {ovnEip: eip-1, vpc: vpc1, v4Ip: ${ip}}\n`;

/** The daemon's events from now on (`events` with follow, on a connection of its own, closed with the test). */
async function follow(t: Test): Promise<() => Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  const c = createConnection(sock);
  t.teardown(() => void c.destroy());
  // notifications and the answer, back to back on the stream: the project's own JSON framer splits them
  const parser = new JsonStreamParser((m) => seen.push(m as Record<string, unknown>), { leafLevel: 1 });
  c.on('data', (b: Buffer) => parser.push(b));
  await new Promise<void>((r) => c.on('connect', () => r()));
  c.write(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'events', params: { follow: true } }));
  await until('the answer', () => seen.some((m) => m.id === 7));
  return () => seen.filter((m) => m.method === 'event').map((m) => m.params as Record<string, unknown>);
}

let d = start();
await until('the daemon to be ready', async () => existsSync(sock) && (await status().catch(() => ({ ready: false }))).ready, 30_000);

t.test('the admin socket: mode 0660, ovs-appctl, JSON-RPC', async (t) => {
  t.equal((await stat(sock)).mode & 0o777, 0o660, 'mode 0660');
  t.match(await appctl('list-commands'), /natgw\/status/, 'ovs-appctl list-commands');
  t.match(await appctl('natgw/status'), /^ready: true$/m, 'ovs-appctl natgw/status');
  t.match(await appctl('version'), /^ovn-natgwd \d+\.\d+\.\d+/, 'ovs-appctl version');
  await appctl('vlog/set', 'ANY:ANY:dbg');
  t.equal((await status()).log_level, 'debug', 'vlog/set changes the level');
  await appctl('vlog/set', 'info');
  // the same through JSON-RPC: the level set, read back, and a bad one refused naming the level
  t.equal((await rpc('log-level', { level: 'warn' }))?.result, 'warn', 'log-level {level}: set');
  t.equal((await status()).log_level, 'warn', 'status shows it');
  t.equal((await rpc('log-level'))?.result, 'warn', 'log-level without params: the level now');
  t.match((await rpc('log-level', { level: 'loud' }))?.error, { code: -32602, message: /level: must be one of .*got "loud"/ }, 'an unknown level refused, named');
  t.equal((await status()).log_level, 'warn', 'and the level unchanged');
  await rpc('log-level', { level: 'info' });
  const bad = await exec('ovs-appctl', ['-t', sock, 'no/such']).catch((e: { stderr: string; code: number }) => e);
  t.match((bad as { stderr: string }).stderr, /"no\/such" is not a valid command/, 'ovs-appctl: an unknown command is named');
  const s = await status();
  t.ok(s.ready && s.last_reconcile?.ok && s.last_reconcile.transacted, 'the first reconcile applied the directory');
  t.match(await nbctl(sb, 'show', 'vpc1'), /port vpc1-external204/, 'ovn-nbctl show vpc1: the gateway port');
  t.match((await rpc('nope'))?.error, { code: -32601, message: /method "nope": unknown/ }, 'unknown method: named');
  t.match((await rpc('get', { kind: 'Nope' }))?.error, { code: -32602, message: /get: kind: must be one of/ }, 'bad params: named');
  t.match((await rpc('status', [1]))?.error, { code: -32602, message: /status: params: must be an object/ });
  // 64 clients connected and silent: the 65th is told why and closed; once they leave, status answers again
  const idle = await Promise.all(Array.from({ length: 64 }, () => new Promise<import('node:net').Socket>((r, no) => {
    const c = createConnection(sock, () => r(c));
    c.on('error', no);
  })));
  try {
    await until('the daemon to count the 64', async () => {
      const r = await request(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'status' }));
      return (r?.error as { message?: string } | undefined)?.message !== undefined;
    }, 5000);
    const refused = await request(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'status' }));
    t.match(refused?.error, { message: /too many clients \(at most 64\)/ }, 'the 65th client: too many clients, named, and closed');
  } finally {
    for (const c of idle) c.destroy();
  }
  await until('status again once they left', async () => ((await status().catch(() => ({ ready: false }))) as { ready: boolean }).ready, 5000);
  t.pass('status answers again once the idle clients are gone');
  t.equal(await request('{"jsonrpc": "2.0", "id": 1, "method": ', true), null, 'a half message and a close: nothing answered');
  t.match(await request('{"jsonrpc" "2.0"}'), { error: { code: -32700, message: /malformed/ } }, 'malformed JSON: an error, then the connection is closed');
  t.match(await request(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'status', params: { x: 'y'.repeat(2 * 1024 * 1024) } })), { error: { code: -32700 } }, 'a message over the size limit is refused');
  // metrics: over the socket and on the loopback HTTP listener the config asks for
  const port = ((await rpc('status'))?.result as { metrics: { port: number } }).metrics.port;
  t.ok(port > 0, `metrics listening on 127.0.0.1:${port}`);
  const http = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(http.status, 200);
  const text = await http.text();
  t.match(text, /^ovn_natgw_transactions_total\{reason="start"\} 1$/m, 'the first reconcile\'s transaction counted');
  t.match(text, /^ovn_natgw_ready 1$/m, 'ready');
  t.match(text, /^ovn_natgw_replica_rows\{table="Logical_Router"\} 1$/m, 'replica rows');
  t.match(text, /^ovn_natgw_apply_seconds_bucket\{le="0\.5",reason="start"\} \d+$/m, 'the apply latency histogram');
  t.match((await rpc('metrics'))?.result, /ovn_natgw_reconciles_total\{reason="start"\} 1/, 'the socket\'s metrics method');
  t.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404, 'only /metrics');
  const got = (await rpc('get', { kind: 'Vpc' }))?.result as { status: { name: string; ready: boolean } }[];
  t.same(got.map((o) => [o.status.name, o.status.ready]), [['vpc1', true]], 'get Vpc');
  t.ok((await status()).ready, 'still answering');
});

t.test('the directory reconciled: a file added, changed, removed; drift put back; an empty directory refused', async (t) => {
  await writeFile(path.join(dir, 'fip.yaml'), fip('192.168.0.11'));
  await until('the FIP in NB', async () => (await natList()).some((l) => l.includes('192.168.0.11')));
  t.pass('a file added: its FIP is in NB');
  await writeFile(path.join(dir, 'fip.yaml'), fip('192.168.0.12'));
  await until('the FIP rebound', async () => (await natList()).some((l) => l.includes('192.168.0.12')));
  t.same(((await rpc('status'))?.result as { last_write: { reason: string } }).last_write.reason, 'manifests', 'written by the reconcile of the directory');
  t.pass('a file changed: the FIP rebound');
  await nbctl(sb, 'lr-nat-del', 'vpc1', 'dnat_and_snat', '10.5.204.201');
  await until('the FIP put back', async () => (await natList()).some((l) => l.includes('192.168.0.12')));
  t.ok((await status()).counts.driftRepairs >= 1, 'counted as a drift repair');
  const before = await nbctl(sb, 'show');
  await rename(dir, `${dir}.away`);
  await mkdir(dir);
  await until('the empty directory refused', async () => (await status()).manifests.refused !== null);
  t.match((await status()).last_reconcile?.error, /manifest directory refused, the last state is kept/);
  t.equal(await nbctl(sb, 'show'), before, 'ovn-nbctl show: NB unchanged');
  await rm(dir, { recursive: true });
  await rename(`${dir}.away`, dir);
  await rpc('reconcile');
  t.equal((await status()).manifests.refused, null, 'the directory back: accepted');
  await rm(path.join(dir, 'fip.yaml'));
  await until('the FIP gone', async () => (await natList()).length === 0);
  t.pass('a file removed: its FIP is removed');
});

t.test('config: refused at start naming the key (NB untouched); SIGHUP with a bad config keeps the old one', async (t) => {
  const badFile = path.join(tmp, 'bad.yaml');
  await writeFile(badFile, `nb: ${sb.nbRemote}\nmanifest: ${dir}\n`);
  const before = await nbctl(sb, 'show');
  const other = start(['--config', badFile, '--socket', path.join(tmp, 'other.ctl')]);
  t.equal(await other.exit, 2, 'exit status 2');
  t.match(other.stderr(), /bad\.yaml: manifest: unknown key \(known: nb, sb, owner, manifests/, 'names the key');
  t.equal(await nbctl(sb, 'show'), before, 'NB untouched');
  const good = await readFile(config, 'utf8');
  await writeFile(config, `${good}gatewayChassis: 9\n`);
  d.child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(d.child.exitCode, null, 'still running');
  t.equal((await status()).log_level, 'info', 'the old config stays');
  await writeFile(config, good.replace('logLevel: info', 'logLevel: debug'));
  d.child.kill('SIGHUP');
  await until('the new config', async () => (await status()).log_level === 'debug');
  t.pass('a good config is taken on SIGHUP');
  await until('the reload\'s plan logged', () => /"msg":"reload: the plan/.test(d.stderr()));
  // (the apply's own line: "applied", or at debug "nothing to change", with reason reload)
  await until('the reload applied', () => d.stderr().split('\n').some((l) => l.includes('"reason":"reload"') && /"msg":"(applied|nothing to change)"/.test(l)));
  const lines = d.stderr().split('\n');
  const planned = lines.findIndex((l) => l.includes('"msg":"reload: the plan'));
  const applied = lines.findIndex((l) => l.includes('"reason":"reload"') && /"msg":"(applied|nothing to change)"/.test(l));
  t.ok(planned >= 0 && applied > planned, `SIGHUP: the plan of the manifests is logged (line ${planned}), then applied (line ${applied})`);
});

t.test('ovn-natgwctl -t SOCKET: apply, get, status, delete through the daemon; refusals write nothing', async (t) => {
  const ctl = (...args: string[]) => runBin(['-t', sock, ...args]);
  const file = path.join(tmp, 'fip-2.yaml');
  await writeFile(file, fip('192.168.0.21').replaceAll('eip-1', 'eip-2').replaceAll('fip-1', 'fip-2').replace('10.5.204.201', '10.5.204.202'));
  const applied = await ctl('apply', '-f', file);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /^\+ NAT dnat_and_snat 10\.5\.204\.202 <-> 192\.168\.0\.21 \(router vpc1\)$/m, 'apply: the plan as the daemon applied it');
  t.ok(existsSync(path.join(dir, 'natgwctl-OvnFip-fip-2.yaml')) && existsSync(path.join(dir, 'natgwctl-OvnEip-eip-2.yaml')), 'kept in the manifest directory, a file per object');
  t.ok((await natList()).some((l) => l.includes('10.5.204.202') && l.includes('192.168.0.21')), 'ovn-nbctl lr-nat-list: the FIP');
  const got = await ctl('get', 'ofip');
  t.match(got.stdout, /^fip-2\s+vpc1\s+10\.5\.204\.202\s+192\.168\.0\.21\s+true/m, 'get fip through the daemon');
  t.match((await ctl('status')).stdout, /^ready: true$/m, 'status');
  // plan through the daemon: what apply would do, nothing written
  const planFile = path.join(tmp, 'fip-3.yaml');
  await writeFile(planFile, fip('192.168.0.22').replaceAll('eip-1', 'eip-3').replaceAll('fip-1', 'fip-3').replace('10.5.204.201', '10.5.204.203'));
  const nbBefore = await nbctl(sb, 'show');
  const planned = await ctl('plan', '-f', planFile);
  t.equal(planned.code, 0, planned.stderr);
  t.match(planned.stdout, /^\+ NAT dnat_and_snat 10\.5\.204\.203 <-> 192\.168\.0\.22 \(router vpc1\)$/m, 'plan -t: the daemon\'s plan of the objects');
  t.equal(await nbctl(sb, 'show'), nbBefore, 'plan -t: NB unchanged');
  t.notOk(existsSync(path.join(dir, 'natgwctl-OvnFip-fip-3.yaml')), 'plan -t: no file written');
  const listed = (await rpc('list', { kind: 'OvnFip' }))?.result as { name: string; file: string; ready: boolean | null }[];
  t.match(listed.find((x) => x.name === 'fip-2'), { file: path.join(dir, 'natgwctl-OvnFip-fip-2.yaml'), ready: true }, 'list: the FIP with its file and readiness');
  t.notOk(listed.some((x) => x.name === 'fip-3'), 'list: the planned FIP is not there');
  const before = await nbctl(sb, 'show');
  const bad = path.join(tmp, 'bad-fip.yaml');
  await writeFile(bad, 'kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: fip-x}\nspec: {ovnEip: no-such-eip, vpc: vpc1, v4Ip: 192.168.0.30}\n');
  const refused = await ctl('apply', '-f', bad);
  t.equal(refused.code, 1, 'refused: exit 1');
  t.match(refused.stderr, /nothing was written:[\s\S]*OvnFip fip-x.*spec\.ovnEip: OvnEip "no-such-eip" not found/, 'the error names object, field and reason');
  t.notOk(existsSync(path.join(dir, 'natgwctl-OvnFip-fip-x.yaml')), 'no file written');
  const vpc = path.join(tmp, 'vpc.yaml');
  await writeFile(vpc, 'kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: vpc1}\nspec: {enableExternal: true}\n');
  t.match((await ctl('apply', '-f', vpc)).stderr, /Vpc vpc1: defined in .*network\.yaml; change it there/, 'an object of another file of the directory is refused');
  t.match((await ctl('apply', '--prune', '-f', file)).stderr, /--prune: ovn-natgwd's manifest directory is the whole state/, '--prune is refused through the daemon');
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged by the refusals');
  t.match((await ctl('delete', 'oeip', 'eip-2')).stderr, /nothing was written:[\s\S]*OvnFip fip-2.*OvnEip "eip-2" not found/, 'deleting an EIP a FIP uses is refused');
  const deleted = await ctl('delete', 'ofip', 'fip-2');
  t.equal(deleted.code, 0, deleted.stderr);
  t.match(deleted.stdout, /^- NAT dnat_and_snat 10\.5\.204\.202/m, 'delete: the NAT row goes');
  t.equal((await ctl('delete', 'oeip', 'eip-2')).code, 0);
  t.notOk(existsSync(path.join(dir, 'natgwctl-OvnFip-fip-2.yaml')), 'its file is removed');
  t.notOk((await natList()).some((l) => l.includes('10.5.204.202')), 'ovn-nbctl: gone');
  const noDaemon = await runBin(['-t', path.join(tmp, 'none.ctl'), 'status']);
  t.match(noDaemon.stderr, /cannot reach ovn-natgwd at .*none\.ctl: no such socket/, 'no daemon there: said at once');
});

t.test('put: a file that cannot be written (written while the plan is made) sends nothing and leaves no file', async (t) => {
  // the FIP's temporary file is in the way (a directory where it goes): its EIP's is written first
  const blocked = path.join(dir, `.natgwctl-OvnFip-fip-blk.yaml.${d.child.pid}.tmp`);
  await mkdir(blocked);
  t.teardown(() => rm(blocked, { recursive: true, force: true }));
  const before = await nbctl(sb, 'show');
  const r = await rpc('put', { manifest: fip('192.168.0.41').replaceAll('eip-1', 'eip-blk').replaceAll('fip-1', 'fip-blk').replace('10.5.204.201', '10.5.204.209') });
  t.match(JSON.stringify(r?.error ?? null), /EISDIR|illegal operation on a directory/, `refused with the file system's reason: ${JSON.stringify(r?.error ?? r?.result).slice(0, 200)}`);
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged (ovn-nbctl show)');
  t.notOk((await natList()).some((l) => l.includes('10.5.204.209')), 'no NAT row for it');
  const left = (await readdir(dir)).filter((f) => f.includes('-blk') && path.join(dir, f) !== blocked);
  t.same(left, [], 'no file of it left in the directory (its EIP\'s temporary file removed)');
  t.match((await status()).last_reconcile, { ok: true }, 'the daemon goes on');
});

t.test('events: on the socket as they happen (follow) and kept for ovn-natgwctl events', async (t) => {
  const events = await follow(t);
  await rpc('put', { manifest: fip('192.168.0.31').replaceAll('eip-1', 'eip-ev').replaceAll('fip-1', 'fip-ev').replace('10.5.204.201', '10.5.204.205') });
  await until('an applied event', () => events().some((e) => e.type === 'applied' && e.reason === 'put'));
  await nbctl(sb, 'lr-nat-del', 'vpc1', 'dnat_and_snat', '10.5.204.205');
  await until('a drift-repaired event', () => events().some((e) => e.type === 'drift-repaired'));
  t.ok((events().find((e) => e.type === 'drift-repaired')!.changes as string[]).some((x) => x.includes('+ NAT dnat_and_snat 10.5.204.205')), 'it says what was put back');
  const ch = (await exec('ovn-sbctl', [`--db=${sb.sbRemote}`, '--bare', '--columns=_uuid', 'find', 'Chassis', 'name=pc-node-2'])).stdout.trim();
  await until('northd to bind the gateway port', async () => (await exec('ovn-sbctl', [`--db=${sb.sbRemote}`, '--bare', '--columns=_uuid', 'find', 'Port_Binding', 'logical_port=cr-vpc1-external204'])).stdout.trim() !== '');
  await exec('ovn-sbctl', [`--db=${sb.sbRemote}`, 'set', 'Port_Binding', 'cr-vpc1-external204', `chassis=${ch}`]);
  await until('a gateway event', () => events().some((e) => e.type === 'gateway' && e.port === 'vpc1-external204' && e.chassis === 'pc-node-2'));
  t.pass('a gateway port bound to a chassis (SB Port_Binding of cr-vpc1-external204): its chassis named');
  // (ovn-northd sets a new session's status, and puts it back when another writer changes it; the
  // server may send those writes to the daemon as one update: the status it then sees is an event)
  const bfd = (await nbctl(sb, 'create', 'BFD', 'logical_port=vpc1-external204', 'dst_ip=10.5.204.99')).trim();
  await nbctl(sb, 'set', 'BFD', bfd, 'status=up');
  await until('a bfd event', () => events().some((e) => e.type === 'bfd' && e.dst_ip === '10.5.204.99' && typeof e.status === 'string'));
  t.pass('a BFD session status change');
  await nbctl(sb, 'destroy', 'BFD', bfd);
  const listed = await runBin(['-t', sock, 'events']);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /gateway vpc1-external204: now on pc-node-2/, 'ovn-natgwctl events: the gateway move');
  t.match(listed.stdout, /drift-repaired \(drift\): \+ NAT dnat_and_snat 10\.5\.204\.205/, 'and the drift repair');
  t.match(listed.stdout, /bfd vpc1-external204 -> 10\.5\.204\.99: \S+/, 'and the BFD status');
  await rpc('delete', { objects: [{ kind: 'OvnFip', name: 'fip-ev' }, { kind: 'OvnEip', name: 'eip-ev' }] });

  // the gateway chassis' load, through the daemon and directly on NB and SB: the same table
  const rows = (out: string) => out.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
  const viaDaemon = await runBin(['-t', sock, 'chassis']);
  t.equal(viaDaemon.code, 0, viaDaemon.stderr);
  t.match(viaDaemon.stdout, /^CHASSIS\s+HOSTNAME\s+ACTIVE\s+STANDBY\s+BOUND$/m, 'ovn-natgwctl chassis: its header');
  const r = rows(viaDaemon.stdout);
  t.same(r.map((x) => x[0]), ['pc-node-1', 'pc-node-2', 'pc-node-3'], 'every SB chassis');
  t.same([r.reduce((n, x) => n + Number(x[2]), 0), r.reduce((n, x) => n + Number(x[3]), 0)], [1, 2], 'vpc1-external204: one active, two standby');
  t.equal(r.find((x) => x[0] === 'pc-node-2')![4], '1', 'bound on pc-node-2, as SB says');
  const direct = await runBin(['chassis'], { OVN_NB_DB: sb.nbRemote, OVN_SB_DB: sb.sbRemote });
  t.equal(direct.code, 0, direct.stderr);
  t.same(rows(direct.stdout), r, 'the same without the daemon');
});

t.test('a FIP whose workload port is not there yet waits (the rest is applied); the port added, it is applied and ready', async (t) => {
  const events = await follow(t);
  const readyEvents = (object: string) => events().filter((e) => e.type === 'ready' && e.object === object) as unknown as { ready: boolean; reason?: string; was: string }[];
  const K = 'apiVersion: kubeovn.io/v1\n';
  await writeFile(
    path.join(dir, 'waiting.yaml'),
    `${K}kind: OvnEip\nmetadata: {name: eip-w}\nspec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.206}\n---\n${K}kind: OvnFip\nmetadata: {name: fip-w}\nspec: {ovnEip: eip-w, ipName: pod-w.default}\n---\n` +
      `${K}kind: OvnEip\nmetadata: {name: eip-x}\nspec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.207}\n---\n${K}kind: OvnFip\nmetadata: {name: fip-x}\nspec: {ovnEip: eip-x, vpc: vpc1, v4Ip: 192.168.0.78}\n`,
  );
  await until('the FIP beside it applied', async () => (await natList()).some((l) => l.includes('10.5.204.207')));
  t.notOk((await natList()).some((l) => l.includes('10.5.204.206')), 'ovn-nbctl lr-nat-list: no NAT row for the waiting FIP');
  const last = (await status()).last_reconcile as { ok: boolean; waiting?: string[] };
  t.ok(last.ok, 'the directory is not refused for it');
  t.match(last.waiting?.join('\n') ?? '', /OvnFip fip-w .*spec\.ipName: no Logical_Switch_Port "pod-w\.default"/, 'status says what it waits for');
  await until('a not-ready event', () => readyEvents('OvnFip/fip-w').length > 0);
  t.match(readyEvents('OvnFip/fip-w')[0], { ready: false, was: 'new', reason: /^waiting: spec\.ipName: no Logical_Switch_Port "pod-w\.default"/ }, 'event: OvnFip/fip-w not ready, waiting');
  await until('a ready event for the other', () => readyEvents('OvnFip/fip-x').some((e) => e.ready));
  const got = ((await rpc('get', { kind: 'OvnFip' }))?.result as { status: { name: string; ready: boolean; reason: string } }[]).find((o) => o.status.name === 'fip-w');
  t.match(got?.status, { ready: false, reason: /waiting/ }, 'get OvnFip: listed, not ready, with why');
  // the CNI adds the pod's port: planned then, without a restart or a file change
  const transactions = (await status()).counts.transactions;
  await nbctl(sb, 'lsp-add', 'vpc1-subnet1', 'pod-w.default', '--', 'lsp-set-addresses', 'pod-w.default', '00:00:00:00:00:77 192.168.0.77');
  await until('the waiting FIP applied', async () => (await natList()).some((l) => l.includes('10.5.204.206') && l.includes('192.168.0.77')));
  t.pass('ovn-nbctl lr-nat-list: 10.5.204.206 -> 192.168.0.77, once the port is there');
  t.ok((await status()).counts.transactions > transactions, 'written by the daemon');
  await until('a ready event', () => readyEvents('OvnFip/fip-w').some((e) => e.ready));
  t.match(readyEvents('OvnFip/fip-w').at(-1), { ready: true, was: 'not ready' }, 'event: OvnFip/fip-w ready');
  t.match((await rpc('metrics'))?.result as string, /^ovn_natgw_objects\{kind="OvnFip",ready="true"\} [1-9]\d*$/m, 'metrics: objects by kind and readiness');
  const shown = await runBin(['-t', sock, 'events']);
  t.match(shown.stdout, /OvnFip\/fip-w: not ready: waiting: spec\.ipName/, 'ovn-natgwctl events: the wait');
  t.match(shown.stdout, /OvnFip\/fip-w: ready$/m, 'and the ready');
  // the pod goes: the FIP is left as it is (never torn down for a missing port), not ready, waiting again
  const n = readyEvents('OvnFip/fip-w').length;
  await nbctl(sb, 'lsp-del', 'pod-w.default');
  await until('a not-ready event again', () => readyEvents('OvnFip/fip-w').length > n);
  t.match(readyEvents('OvnFip/fip-w').at(-1), { ready: false, was: 'ready', reason: /^waiting: spec\.ipName: no Logical_Switch_Port/ }, 'event: not ready, waiting again');
  t.ok((await natList()).some((l) => l.includes('10.5.204.206')), 'its NAT row is kept');
  await rm(path.join(dir, 'waiting.yaml'));
  await until('both FIPs gone', async () => !(await natList()).some((l) => l.includes('10.5.204.206') || l.includes('10.5.204.207')));
});

t.test('10^5 random and mutated messages: the daemon still answers status, NB unchanged', async (t) => {
  const before = await nbctl(sb, 'show');
  const rnd = prng(15);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  // never a method that stops, reloads or writes (the fuzz must not be able to ask for those)
  const methods = ['status', 'get', 'version', 'log-level', 'natgw/status', 'list-commands', 'vlog/list', 'nope', '', 'STATUS', 'get/x'];
  const values = (): unknown => pick([null, true, 0, -1, 1e308, 'x', '', [], {}, [1, 'a'], { kind: 'Vpc' }, { kind: 7 }, { level: 'loud' }, 'ä\u0000"\\', 'y'.repeat(Math.floor(rnd() * 2000))]);
  const message = (): string => {
    const r = rnd();
    if (r < 0.4) return JSON.stringify({ jsonrpc: pick(['2.0', '1.0', 2, undefined]), id: pick([1, 'a', null, undefined, {}, [1], 1.5]), method: pick([...methods, 3, null]), params: values() });
    if (r < 0.7) return JSON.stringify({ id: pick([0, 'x', null]), method: pick(methods), params: pick([[], ['a'], [1], 'x', {}, [['deep']]]) });
    if (r < 0.8) return JSON.stringify(values());
    if (r < 0.9) { const d = 1 + Math.floor(rnd() * 3000); return '['.repeat(d) + ']'.repeat(d); }
    return JSON.stringify(pick([{ a: 1 }, [1, 2, 3], 'str', 42]));
  };
  const mutate = (m: string): string => {
    const b = [...m];
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) b[Math.floor(rnd() * b.length)] = pick(['{', '}', '"', ',', ':', '\\', 'x', ']', '\u00ff']);
    return b.join('');
  };
  let sent = 0;
  const connection = () =>
    new Promise<void>((resolve) => {
      const c = createConnection(sock);
      c.on('data', () => undefined);
      c.on('error', () => resolve());
      c.on('close', () => resolve());
      c.on('connect', () => {
        const parts: string[] = [];
        const n = 200 + Math.floor(rnd() * 800);
        for (let i = 0; i < n; i++) parts.push(message());
        sent += n;
        const tail = rnd();
        // end with a mutated message (the daemon closes), half a message, or an abrupt close
        if (tail < 0.4) parts.push(mutate(message()));
        else if (tail < 0.7) parts.push(message().slice(0, 7));
        c.write(parts.join(''));
        if (tail < 0.85) c.end();
        else setTimeout(() => c.destroy(), 5);
      });
    });
  while (sent < 100_000) await Promise.all([connection(), connection(), connection(), connection()]);
  t.ok(sent >= 100_000, `${sent} messages sent`);
  const st = await status();
  t.ok(st.ready, 'status still answers: ready');
  t.equal(await nbctl(sb, 'show'), before, 'ovn-nbctl show: NB unchanged');
  t.equal(d.child.exitCode, null, 'the daemon is running');
});

t.test('systemd: the unit verifies; READY=1, WATCHDOG=1 and STOPPING=1 reach NOTIFY_SOCKET', async (t) => {
  const unit = fileURLToPath(new URL('../contrib/systemd/ovn-natgwd.service', import.meta.url));
  const verify = await exec('systemd-analyze', ['verify', unit], { cwd: tmp }).then(() => 0, (e: { code: number; stderr: string }) => (t.comment(e.stderr), e.code));
  t.equal(verify, 0, 'systemd-analyze verify passes');
  const text = await readFile(unit, 'utf8');
  for (const line of ['Type=notify', 'Restart=on-failure', 'RuntimeDirectory=ovn-natgw', 'NoNewPrivileges=yes', 'ProtectSystem=strict']) t.match(text, new RegExp(`^${line}$`, 'm'), line);
  t.match(text, /^WatchdogSec=\d+$/m, 'WatchdogSec');
  // a datagram listener on NOTIFY_SOCKET, as systemd has
  d.child.kill('SIGTERM');
  await d.exit;
  const notifySock = path.join(tmp, 'notify.sock');
  const listener = spawn('python3', ['-u', '-c', `import socket\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(${JSON.stringify(notifySock)})\nprint('listening', flush=True)\nwhile True:\n  print(s.recv(65536).decode().replace(chr(10), ' '), flush=True)\n`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void listener.kill('SIGKILL'));
  let got = '';
  listener.stdout!.on('data', (b: Buffer) => (got += b.toString()));
  await until('the listener', () => got.includes('listening'));
  const child = spawn(process.execPath, [BIN, '--config', config], { stdio: 'ignore', env: { ...process.env, NOTIFY_SOCKET: notifySock, WATCHDOG_USEC: '1000000' } });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.teardown(() => void child.kill('SIGKILL'));
  await until('READY=1', () => got.includes('READY=1'), 30_000);
  await until('two WATCHDOG=1', () => got.split('WATCHDOG=1').length > 2, 10_000);
  t.match(got, /STATUS=reading NB and SB[\s\S]*READY=1 STATUS=reconciled/, 'STATUS while reading, then READY=1 with a STATUS');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  await until('STOPPING=1', () => got.includes('STOPPING=1'), 5000);
  t.pass('STOPPING=1 on SIGTERM');
  d = start();
  await until('ready again', async () => existsSync(sock) && (await status().catch(() => ({ ready: false }))).ready, 30_000);
});

t.test('SIGTERM: exit 0, socket gone; kill -9 and a restart: no transaction', async (t) => {
  d.child.kill('SIGTERM');
  const t0 = Date.now();
  t.equal(await d.exit, 0, 'exit 0');
  t.ok(Date.now() - t0 < 5000, 'within 5 s');
  t.notOk(existsSync(sock), 'the socket is removed');
  d = start();
  await until('ready again', async () => existsSync(sock) && (await status().catch(() => ({ ready: false }))).ready, 30_000);
  d.child.kill('SIGKILL');
  await d.exit;
  t.ok(existsSync(sock), 'kill -9 leaves the socket file');
  const before = await nbctl(sb, 'show');
  d = start();
  await until('ready after kill -9', async () => (await status().catch(() => ({ ready: false }))).ready, 30_000);
  const s = await status();
  t.equal(s.counts.transactions, 0, 'the restart sent no transaction');
  t.equal(s.last_reconcile?.transacted, false);
  t.equal(await nbctl(sb, 'show'), before, 'ovn-nbctl show: unchanged');
  d.child.kill('SIGTERM');
  t.equal(await d.exit, 0);
});

t.test('--detach: the command returns once the daemon is ready, with its pid; the daemon runs on', async (t) => {
  const pidfile = path.join(tmp, 'natgwd.pid');
  const logFile = path.join(tmp, 'natgwd.log');
  const r = await exec(process.execPath, [BIN, '--config', config, '--detach', '--pidfile', pidfile, '--log-file', logFile]);
  const pid = Number(r.stdout.trim());
  t.ok(pid > 0 && pid !== process.pid, `printed the daemon's pid (${pid})`);
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  t.equal(Number((await readFile(pidfile, 'utf8')).trim()), pid, 'the pidfile names it');
  t.ok((await status()).ready, 'it answers on its socket, ready');
  t.match(await readFile(logFile, 'utf8'), /"msg":"ready"/, 'its logs go to --log-file');
  process.kill(pid, 'SIGTERM');
  await until('the daemon to stop', () => !existsSync(sock) && !existsSync(pidfile), 10_000);
  t.pass('SIGTERM: socket and pidfile removed');
});
