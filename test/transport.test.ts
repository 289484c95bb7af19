/**
 * Transports and connection policy against real ovsdb-servers:
 *  - tcp:IP:PORT and tcp:[IPv6]:PORT to a server listening on a port it chose
 *    itself (ptcp:0), checked with ovn-nbctl over the same remote;
 *  - the remote parser's errors (each names the remote and the reason);
 *  - the reconnect backoff schedule (a pure function, with an injected random
 *    source), and a reconnecting client that finds a server appearing on a
 *    unix socket that did not exist when it started;
 *  - leader-only mode on a 3-member Raft cluster: a follower is refused, a
 *    survivor whose two peers were killed is refused as disconnected, and the
 *    judging function on real _Server.Database rows (including "stale").
 */
import t, { type Test } from 'tap';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { OvsdbClient, backoffStep, judgeServer, type ServerDbRow } from '../src/ovsdb/client.js';
import { ConnectionClosedError, RemoteError } from '../src/ovsdb/errors.js';
import { ops } from '../src/ovsdb/operations.js';
import { dial, parseRemote, parseRemotes, READ_BUFFER_BYTES } from '../src/ovsdb/transport.js';
import { findBinary, isAlive, run } from '../tools/sandbox-lib.js';
import { nbctl, ovsdbClientDump, withSandbox } from './helpers/sandbox.js';
import { spawnOvsdbServer } from './helpers/ovsdb-server.js';
import { catchAsync, prng, tempDir, until, waitFor } from './helpers/util.js';

const NB = 'OVN_Northbound';

// ---------------------------------------------------------------- helpers

/** The ports a ptcp:0:HOST server reports in its log ("0:127.0.0.1: listening on port N"), by host. */
async function listeningPorts(log: string, hosts: string[]): Promise<Map<string, number>> {
  const ports = new Map<string, number>();
  await until(`ovsdb-server to log its ports for ${hosts.join(', ')}`, async () => {
    const text = await readFile(log, 'utf8').catch(() => '');
    for (const m of text.matchAll(/\|INFO\|0:(\S+): listening on port (\d+)/g)) ports.set(m[1], Number(m[2]));
    return hosts.every((h) => ports.has(h));
  });
  return ports;
}

/** Whether this machine can listen on ::1 (undefined), or why not. */
function ipv6LoopbackProblem(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e) => resolve(`::1 is not usable on this machine (${e.message})`));
    s.listen(0, '::1', () => s.close(() => resolve(undefined)));
  });
}

/** A pino logger whose records are kept in memory (the client's log is something a user sees). */
function memoryLogger() {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

async function nbctlAt(remote: string, ...args: string[]): Promise<string> {
  return (await run(await findBinary('ovn-nbctl'), [`--db=${remote}`, '--timeout=20', ...args], { timeoutMs: 30_000 })).stdout.trim();
}

// ---------------------------------------------------------------- 1. tcp

t.test('tcp: a real ovsdb-server on ptcp:0 (port chosen by the server at run time)', async (t) => {
  const dir = await tempDir(t, 'natgw-tcp-');
  const v6Problem = await ipv6LoopbackProblem();
  const listen = ['ptcp:0:127.0.0.1', ...(v6Problem ? [] : ['ptcp:0:[::1]'])];
  const { pid, log } = await spawnOvsdbServer(t, { dir, remotes: listen });
  const ports = await listeningPorts(log, v6Problem ? ['127.0.0.1'] : ['127.0.0.1', '[::1]']);
  t.comment(`ovsdb-server pid ${pid}, ports ${JSON.stringify([...ports])}${v6Problem ? `; ${v6Problem}` : ''}`);

  /** Connect, transact, keep a replica, and check both against ovn-nbctl over the same remote. */
  async function roundTrip(t: Test, remote: string, name: string) {
    const client = new OvsdbClient({ remote, database: NB, reconnect: false, requestTimeoutMs: 15_000 });
    t.teardown(() => client.close());
    const rep = client.replica<{ Logical_Router: { name: string; external_ids: Map<string, string> } }>({
      tables: { Logical_Router: { columns: ['name', 'external_ids'] } },
    });
    await client.connect(20_000);
    await rep.ready;
    t.ok(client.connected, `connected over ${remote}`);
    t.equal(client.remote, remote, 'the remote in use is the tcp one');
    t.ok((await client.listDbs()).includes(NB), 'list_dbs over tcp');

    const [res] = await client.transact([ops.insert('Logical_Router', { name, external_ids: { via: 'tcp' } })]);
    t.match(res.uuid, /^[0-9a-f-]{36}$/, 'insert committed');
    t.equal(await nbctlAt(remote, 'get', 'Logical_Router', name, 'external_ids'), '{via=tcp}', `ovn-nbctl --db=${remote} sees the row`);
    t.equal(await nbctlAt(remote, 'get', 'Logical_Router', name, '_uuid'), res.uuid, 'with the uuid the transaction returned');

    // a change made by a user with ovn-nbctl over tcp reaches the replica
    await nbctlAt(remote, 'lr-add', `${name}-by-nbctl`);
    t.ok(await waitFor(() => rep.table('Logical_Router').filter((r) => r.name === `${name}-by-nbctl`).length === 1), 'an ovn-nbctl write reaches the replica');
    const listed = (await nbctlAt(remote, '--bare', '--columns=name', 'list', 'Logical_Router')).split('\n').filter(Boolean).sort();
    t.strictSame([...rep.table('Logical_Router').values()].map((r) => r.name).sort(), listed, 'replica == ovn-nbctl list');
    await client.close();
    t.notOk(client.connected, 'closed');
  }

  t.test('tcp:127.0.0.1:PORT', (t) => roundTrip(t, `tcp:127.0.0.1:${ports.get('127.0.0.1')}`, 'tcp4-r1'));

  t.test('tcp:[::1]:PORT', { skip: v6Problem ?? false }, (t) => roundTrip(t, `tcp:[::1]:${ports.get('[::1]')}`, 'tcp6-r1'));

  t.test('a tcp remote nobody listens on: connect rejects, naming the remote and the cause', async (t) => {
    // a port the kernel gave us and we closed again
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const remote = `tcp:127.0.0.1:${port}`;
    const client = new OvsdbClient({ remote, database: NB, reconnect: false });
    t.teardown(() => client.close());
    const e = await catchAsync(client.connect(20_000));
    t.type(e, ConnectionClosedError);
    t.match((e as Error).message, `could not connect to any remote (${remote}): ${remote}: connect ECONNREFUSED 127.0.0.1:${port}`);
    t.notOk(client.connected);
  });

  t.test('the server is still ours and alive', async (t) => {
    t.ok(await isAlive(pid));
  });
});

// ---------------------------------------------------------------- 2. remote parser

t.test("tcp: ovsdb-server's own inactivity probes (echo) are answered; the connection stays", async (t) => {
  // ovsdb-server probes an idle tcp client every 5 s and drops it after an
  // unanswered one; its jsonrpc debug log shows each echo and its reply
  const dir = await tempDir(t, 'natgw-echo-');
  const { log } = await spawnOvsdbServer(t, { dir, remotes: ['ptcp:0:127.0.0.1'], extraArgs: ['-vjsonrpc:file:dbg'] });
  const port = (await listeningPorts(log, ['127.0.0.1'])).get('127.0.0.1');
  const remote = `tcp:127.0.0.1:${port}`;
  // our own probe off, so that only the server probes
  const client = new OvsdbClient({ remote, database: NB, reconnect: false, probeIntervalMs: 0 });
  t.teardown(() => client.close());
  const drops: Error[] = [];
  client.on('disconnected', (e: Error) => drops.push(e));
  await client.connect(20_000);
  const echoes = (text: string) => ({
    sent: text.match(/send request, method="echo"/g)?.length ?? 0,
    answered: text.match(/received reply, result=\[\], id="echo"/g)?.length ?? 0,
  });
  let seen = { sent: 0, answered: 0 };
  await until('two server echoes answered', async () => (seen = echoes(await readFile(log, 'utf8'))).answered >= 2, 60_000);
  t.ok(seen.answered >= 2 && seen.answered >= seen.sent - 1, `the server sent ${seen.sent} echo requests; ${seen.answered} answered`);
  const text = await readFile(log, 'utf8');
  t.notMatch(text, /no response to inactivity probe/, 'the server never gave up on us');
  t.ok(client.connected, 'still connected');
  t.strictSame(drops, [], 'no disconnect');
  t.ok((await client.listDbs()).includes(NB), 'and the session still answers');
});

t.test('unix: reads into one reused buffer reach the reader whole and in order, also those before read()', async (t) => {
  const dir = await tempDir(t, 'natgw-read-');
  const sockPath = path.join(dir, 'peer.sock');
  const early = Buffer.from('bytes sent before anyone reads|');
  const bulk = randomBytes(READ_BUFFER_BYTES * 3 + 12345); // several full reads and a partial one
  const server = net.createServer((c) => {
    c.write(early);
    // the rest only once the client asks, so that `early` is read before read() is called
    c.once('data', () => c.end(bulk));
  });
  await new Promise<void>((res) => server.listen(sockPath, res));
  t.teardown(() => new Promise<void>((res) => server.close(() => res())));

  const link = await dial(parseRemote(`unix:${sockPath}`), { timeoutMs: 5000 });
  const parts: Buffer[] = [];
  let reads = 0;
  const closed = new Promise<void>((res) => link.sock.once('close', () => res()));
  // the early bytes arrive while nobody reads: wait until the socket has taken them in
  await until('the early bytes to be read from the socket', () => link.sock.bytesRead >= early.length);
  link.read((chunk) => {
    reads++;
    parts.push(Buffer.from(chunk)); // a chunk is valid during the call only
  });
  link.sock.write('go');
  await closed;
  const got = Buffer.concat(parts);
  t.equal(got.length, early.length + bulk.length, 'every byte delivered once');
  t.ok(got.subarray(0, early.length).equals(early), 'the bytes read before read() come first');
  t.ok(got.subarray(early.length).equals(bulk), 'then the rest, in order and intact');
  t.ok(reads >= 4, `the bulk took several reads of at most ${READ_BUFFER_BYTES} bytes (${reads} reads)`);
  t.ok(parts.every((p) => p.length <= READ_BUFFER_BYTES), 'no read is larger than the read buffer');
});

t.test('remote parser: every error names the remote and the reason', async (t) => {
  const bad: [string, string][] = [
    ['tcp:127.0.0.1', 'remote "tcp:127.0.0.1": missing port'],
    ['tcp:127.0.0.1:', 'remote "tcp:127.0.0.1:": missing port'],
    ['ssl:[::1]', 'remote "ssl:[::1]": missing port'],
    ['tcp::6641', 'remote "tcp::6641": missing host'],
    ['tcp:127.0.0.1:0', 'remote "tcp:127.0.0.1:0": port 0 out of range 1-65535'],
    ['tcp:127.0.0.1:65536', 'remote "tcp:127.0.0.1:65536": port 65536 out of range 1-65535'],
    ['ssl:[::1]:99999', 'remote "ssl:[::1]:99999": port 99999 out of range 1-65535'],
    ['tcp:127.0.0.1:66x', 'remote "tcp:127.0.0.1:66x": port "66x" is not a number'],
    // Number() would have read these as 16 and 1000
    ['tcp:127.0.0.1:0x10', 'remote "tcp:127.0.0.1:0x10": port "0x10" is not a number'],
    ['tcp:127.0.0.1:1e3', 'remote "tcp:127.0.0.1:1e3": port "1e3" is not a number'],
    // would have read as host "2001:db8:", port 1
    ['tcp:2001:db8::1', 'remote "tcp:2001:db8::1": an IPv6 address must be in brackets'],
    ['tcp:[::1:6641', 'remote "tcp:[::1:6641": no "]" after the IPv6 address'],
    ['http:127.0.0.1:80', 'remote "http:127.0.0.1:80": unknown method "http" (expected tcp:, ssl: or unix:)'],
    ['pssl:6641', 'remote "pssl:6641": unknown method "pssl"'],
    ['/run/ovn/ovnnb_db.sock', 'remote "/run/ovn/ovnnb_db.sock": no method'],
    ['unix:', 'remote "unix:": unix: needs a socket path'],
    ['unix:/a.sock,,unix:/b.sock', 'remote list "unix:/a.sock,,unix:/b.sock": element 2 is empty'],
    ['unix:/a.sock,', 'remote list "unix:/a.sock,": element 2 is empty'],
    [',unix:/a.sock', 'remote list ",unix:/a.sock": element 1 is empty'],
    ['unix:/a.sock, ,unix:/b.sock', 'remote list "unix:/a.sock, ,unix:/b.sock": element 2 is empty'],
    ['unix:/a.sock,tcp:10.0.0.1', 'remote "tcp:10.0.0.1": missing port'],
    ['', 'no remote given'],
  ];
  for (const [text, msg] of bad) {
    const thrown = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err as Error;
      }
      return undefined;
    };
    const direct = thrown(() => parseRemotes(text));
    t.type(direct, RemoteError, `parseRemotes(${JSON.stringify(text)}) throws a RemoteError`);
    // what a user sees: the constructor refuses the option
    const e = thrown(() => new OvsdbClient({ remote: text, database: NB }));
    t.type(e, RemoteError, `new OvsdbClient({ remote: ${JSON.stringify(text)} }) throws a RemoteError`);
    t.ok(e?.message.startsWith(msg), `message: ${e?.message}`);
    t.equal(e?.message, direct?.message);
  }

  // and the good forms still parse (a parser that refused everything would pass the loop above)
  t.strictSame(parseRemotes(' tcp:127.0.0.1:6641 , ssl:[::1]:6642,unix:/run/ovn/ovnnb_db.sock'), [
    { kind: 'tcp', host: '127.0.0.1', port: 6641, text: 'tcp:127.0.0.1:6641' },
    { kind: 'ssl', host: '::1', port: 6642, text: 'ssl:[::1]:6642' },
    { kind: 'unix', path: '/run/ovn/ovnnb_db.sock', text: 'unix:/run/ovn/ovnnb_db.sock' },
  ]);
  t.strictSame(parseRemote('tcp:ovn-central.example:1'), { kind: 'tcp', host: 'ovn-central.example', port: 1, text: 'tcp:ovn-central.example:1' });
  t.strictSame(parseRemote('ssl:10.0.0.1:65535'), { kind: 'ssl', host: '10.0.0.1', port: 65535, text: 'ssl:10.0.0.1:65535' });
});

// ---------------------------------------------------------------- 3. backoff

t.test('backoff: doubles from min, capped at max, jitter takes off at most half', async (t) => {
  const min = 100;
  const max = 1000;
  const walk = (random: () => number, steps: number, start = min) => {
    const out: { cur: number; delayMs: number; nextMs: number }[] = [];
    let cur = start;
    for (let i = 0; i < steps; i++) {
      const s = backoffStep(cur, max, random);
      out.push({ cur, ...s });
      cur = s.nextMs;
    }
    return out;
  };

  // no jitter drawn (random 0): exactly half of the backoff; the backoff doubles, then stays at max
  t.strictSame(
    walk(() => 0, 7).map((s) => [s.delayMs, s.nextMs]),
    [
      [50, 200],
      [100, 400],
      [200, 800],
      [400, 1000],
      [500, 1000],
      [500, 1000],
      [500, 1000],
    ],
  );
  // the largest draw: just under the full backoff, never above max
  const top = walk(() => 1 - Number.EPSILON, 6);
  t.strictSame(top.map((s) => s.nextMs), [200, 400, 800, 1000, 1000, 1000]);
  for (const s of top) t.ok(s.delayMs < s.cur && s.delayMs > s.cur * 0.999, `delay ${s.delayMs} just under ${s.cur}`);

  // a seeded random source: every delay within [backoff/2, backoff), never above max; the jitter really varies
  const steps = walk(prng(42), 2000);
  const outside = steps.filter((s) => !(s.delayMs >= s.cur / 2 && s.delayMs < s.cur && s.delayMs <= max));
  t.strictSame(outside, [], 'every delay within its jitter bounds');
  const atCap = steps.filter((s) => s.cur === max).map((s) => s.delayMs / max);
  t.ok(atCap.length > 1900, 'the backoff reaches the cap and stays there');
  t.ok(new Set(atCap).size > 1000, 'jitter: the delays at the cap differ');
  t.ok(Math.min(...atCap) < 0.52 && Math.max(...atCap) > 0.98, `jitter spans the range (${Math.min(...atCap)} .. ${Math.max(...atCap)} of max)`);
  t.strictSame(walk(prng(42), 50), walk(prng(42), 50), 'the same seed gives the same schedule');

  // min above max: the cap still holds from the first delay on
  const inverted = walk(() => 1 - Number.EPSILON, 3, 5000);
  t.ok(inverted.every((s) => s.delayMs <= max && s.nextMs === max), `capped even when min > max: ${JSON.stringify(inverted)}`);
});

t.test('backoff: a reconnecting client finds a server that appears later on its unix socket', async (t) => {
  const dir = await tempDir(t, 'natgw-late-');
  const sock = path.join(dir, 'late.sock');
  const remote = `unix:${sock}`;
  const { logger, records } = memoryLogger();
  const client = new OvsdbClient({ remote, database: NB, reconnect: true, minBackoffMs: 20, maxBackoffMs: 200, logger });
  t.teardown(() => client.close());
  const connects: string[] = [];
  client.on('connected', (r: string) => connects.push(r));
  const failures = () => records.filter((r) => r.msg === 'connection attempt failed' && r.remote === remote);

  const connecting = client.connect(60_000);
  let settled = false;
  connecting.then(
    () => (settled = true),
    () => (settled = true),
  );
  await until('two failed attempts in the client log', () => failures().length >= 2);
  t.notOk(settled, 'connect() still pending while no server exists');
  t.notOk(client.connected);
  t.match(failures()[0].err, `${remote}: connect ENOENT ${sock}`, 'the log says why: no such socket');

  const before = failures().length;
  const { pid } = await spawnOvsdbServer(t, { dir, remotes: [`punix:${sock}`] });
  t.comment(`ovsdb-server pid ${pid} appeared after ${before} failed attempts`);
  await connecting;
  t.ok(client.connected, 'connected once the server appeared');
  t.strictSame(connects, [remote], "one 'connected' event, for that remote");
  t.ok(failures().length >= 2, `attempts before success: ${failures().length} failed + 1`);
  t.ok(records.some((r) => r.msg === 'connected' && r.remote === remote), "the log says 'connected'");

  const [res] = await client.transact([ops.insert('Logical_Switch', { name: 'late-ls' })]);
  t.equal(await nbctlAt(remote, 'get', 'Logical_Switch', 'late-ls', '_uuid'), res.uuid, 'ovn-nbctl sees what the client wrote');
  await client.close();
});

// ---------------------------------------------------------------- 4. leader-only on a Raft cluster

const SERVER_COLUMNS = ['name', 'model', 'connected', 'leader', 'index', 'schema', 'sid', 'cid'];

/** The member's _Server.Database row for OVN_Northbound, decoded by the client itself (as its _Server check sees it). */
async function serverRow(t: Test, remote: string): Promise<ServerDbRow> {
  const c = new OvsdbClient({ remote, database: '_Server', leaderOnly: false, reconnect: false });
  t.teardown(() => c.close());
  const rep = c.replica<{ Database: ServerDbRow & { _uuid: string } }>({ tables: { Database: { columns: SERVER_COLUMNS } } });
  await c.connect(20_000);
  await rep.ready;
  const row = rep.table('Database').filter((r) => r.name === NB)[0];
  await c.close();
  if (!row) throw new Error(`${remote}: no _Server.Database row for ${NB}`);
  const { _uuid, ...rest } = row as ServerDbRow & { _uuid: string };
  return rest;
}

t.test('leader-only on a 3-member Raft cluster', async (t) => {
  const sb = await withSandbox(t, { cluster: 3, northd: false });
  const leader = await sb.leaderIndex('nb');
  const F = sb.members.nb.find((m) => m.index !== leader)!;
  const L = sb.members.nb.find((m) => m.index === leader)!;
  const others = sb.members.nb.filter((m) => m !== F);
  t.comment(`leader nb${leader}, follower under test nb${F.index} (${F.remote})`);

  // real rows, before and after some writes (for the "stale" check below)
  const leaderRowBefore = await serverRow(t, L.remote);
  for (let i = 0; i < 3; i++) await nbctl(sb, 'lr-add', `idx-${i}`);
  const leaderRowAfter = await serverRow(t, L.remote);
  const followerRow = await serverRow(t, F.remote);

  t.test('the real _Server.Database rows: the shape the judge is given', async (t) => {
    const dump = (await ovsdbClientDump(L.remote, '_Server', 'Database')).Database.find((r) => r.name === NB)!;
    t.comment(`ovsdb-client dump ${L.remote} _Server Database: ${JSON.stringify(dump)}`);
    t.comment(`decoded: ${JSON.stringify(leaderRowAfter)}`);
    t.strictSame(Object.keys(leaderRowAfter).sort(), [...SERVER_COLUMNS].sort());
    t.match(leaderRowAfter, { name: NB, model: 'clustered', connected: true, leader: true, index: Number, schema: String, sid: String, cid: String });
    t.match(followerRow, { name: NB, model: 'clustered', connected: true, leader: false, index: Number });
    t.equal(dump.model, 'clustered');
    t.equal(dump.leader, true);
    t.equal(dump.index, leaderRowAfter.index, 'the decoded index is the one ovsdb-client shows');
    t.strictSame(dump.sid, ['uuid', leaderRowAfter.sid]);
    t.ok(leaderRowAfter.index! > leaderRowBefore.index!, `the index grew with the writes (${leaderRowBefore.index} -> ${leaderRowAfter.index})`);
  });

  t.test('judgeServer on those rows (leader-only and not; stale)', async (t) => {
    const lo = { database: NB, leaderOnly: true, minIndex: 0 };
    const any = { database: NB, leaderOnly: false, minIndex: 0 };
    t.strictSame(judgeServer(leaderRowAfter, lo), { minIndex: leaderRowAfter.index }, 'the leader is usable; its index is remembered');
    t.strictSame(judgeServer(followerRow, lo), { reason: 'not the cluster leader', minIndex: 0 }, 'leader-only refuses a follower');
    t.strictSame(judgeServer(followerRow, any), { minIndex: followerRow.index }, 'a non-leader-only client takes the follower');
    // stale: the same server's row from before the writes, after the newer index was seen
    const seen = judgeServer(leaderRowAfter, lo).minIndex;
    t.strictSame(
      judgeServer(leaderRowBefore, { ...lo, minIndex: seen }),
      { reason: `stale data (index ${leaderRowBefore.index}, but ${seen} was seen before)`, minIndex: seen },
      'an index lower than one already seen is stale (leader-only)',
    );
    t.match(judgeServer(leaderRowBefore, { ...any, minIndex: seen }).reason, /^stale data/, 'stale for a non-leader-only client too');
    t.strictSame(judgeServer(leaderRowAfter, { ...lo, minIndex: seen }), { minIndex: seen }, 'the same index again is not stale');
    t.strictSame(judgeServer({ ...leaderRowAfter, schema: null }, lo).reason, 'not yet joined the cluster');
    t.strictSame(judgeServer(undefined, lo).reason, `database ${NB} is not listed in _Server`);
  });

  t.test('all members up: leader-only refuses the follower, a non-leader-only client uses it', async (t) => {
    const { logger, records } = memoryLogger();
    const lo = new OvsdbClient({ remote: F.remote, database: NB, reconnect: false, logger });
    t.teardown(() => lo.close());
    const e = await catchAsync(lo.connect(20_000));
    t.type(e, ConnectionClosedError, 'connect() rejects');
    t.match((e as Error).message, `could not connect to any remote (${F.remote}): ${F.remote}: not the cluster leader`);
    t.notOk(lo.connected, 'never ready');
    t.ok(records.some((r) => r.msg === 'connection attempt failed' && r.err === `${F.remote}: not the cluster leader`), 'and logs why');

    const lo2 = new OvsdbClient({ remote: [F.remote, ...others.map((m) => m.remote)].join(','), database: NB, reconnect: false });
    t.teardown(() => lo2.close());
    await lo2.connect(20_000);
    t.equal(lo2.remote, L.remote, 'given the whole list (follower first), leader-only ends on the leader');
    await lo2.close();

    const any = new OvsdbClient({ remote: F.remote, database: NB, leaderOnly: false, reconnect: false });
    t.teardown(() => any.close());
    const rep = any.replica<{ Logical_Router: { name: string } }>({ tables: { Logical_Router: { columns: ['name'] } } });
    await any.connect(20_000);
    await rep.ready;
    t.equal(any.remote, F.remote, 'leaderOnly false: connected to the follower');
    const [r] = await any.transact([ops.insert('Logical_Router', { name: 'via-follower' })]);
    t.match(r.uuid, /^[0-9a-f-]{36}$/);
    t.match(await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router'), /via-follower/, 'ovn-nbctl (leader) sees the write');
    await any.close();
  });

  t.test('two members killed by pid: the survivor is disconnected and refused', async (t) => {
    // a non-leader-only client settled on the survivor, reconnecting
    const { logger, records } = memoryLogger();
    const stay = new OvsdbClient({ remote: F.remote, database: NB, leaderOnly: false, minBackoffMs: 50, maxBackoffMs: 300, logger });
    t.teardown(() => stay.close());
    const reasons: string[] = [];
    stay.on('disconnected', (e: Error) => reasons.push(e.message));
    await stay.connect(20_000);
    t.equal(stay.remote, F.remote);

    for (const m of others) {
      t.comment(`killing nb${m.index} (pid ${m.pid})`);
      await sb.killMember('nb', m.index);
      t.notOk(await isAlive(m.pid), `nb${m.index} (pid ${m.pid}) is gone`);
    }
    // what a user sees in the survivor's _Server database
    await until(
      `nb${F.index} to report itself disconnected in _Server`,
      async () => (await ovsdbClientDump(F.remote, '_Server', 'Database')).Database.find((r) => r.name === NB)?.connected === false,
      60_000,
    );
    const row = await serverRow(t, F.remote);
    t.match(row, { model: 'clustered', connected: false, leader: false }, 'decoded survivor row: disconnected, not leader');
    t.equal(judgeServer(row, { database: NB, leaderOnly: true, minIndex: 0 }).reason, 'disconnected from the cluster');

    const lo = new OvsdbClient({ remote: F.remote, database: NB, reconnect: false });
    t.teardown(() => lo.close());
    const e = await catchAsync(lo.connect(20_000));
    t.type(e, ConnectionClosedError, 'a leader-only client refuses the survivor');
    t.match((e as Error).message, `${F.remote}: disconnected from the cluster`);
    t.notOk(lo.connected);

    // like ovsdb-cs / the Python IDL, a disconnected member is refused without leader-only too
    const any = new OvsdbClient({ remote: F.remote, database: NB, leaderOnly: false, reconnect: false });
    t.teardown(() => any.close());
    const e2 = await catchAsync(any.connect(20_000));
    t.type(e2, ConnectionClosedError, 'a non-leader-only client refuses it as well');
    t.match((e2 as Error).message, `${F.remote}: disconnected from the cluster`);

    // the client that was on it dropped it when its _Server row changed, and keeps being refused
    t.ok(await waitFor(() => reasons.length >= 1 && !stay.connected), 'the settled client dropped the survivor');
    t.match(reasons[0], `${F.remote}: disconnected from the cluster`, "'disconnected' says why");
    await until('the settled client to be refused again on reconnect', () =>
      records.some((r) => r.msg === 'connection attempt failed' && r.err === `${F.remote}: disconnected from the cluster`),
    );
    t.notOk(stay.connected, 'not connected while the survivor is alone');

    // quorum back: the same client is accepted again
    for (const m of others) await sb.startMember('nb', m.index);
    await until('the settled client to reconnect once the cluster has a leader again', () => stay.connected, 60_000);
    t.equal(stay.remote, F.remote);
    const [r] = await stay.transact([ops.insert('Logical_Router', { name: 'after-quorum' })]);
    t.match(r.uuid, /^[0-9a-f-]{36}$/, 'and writes through it commit');
    await stay.close();
  });
});
