/**
 * The OVSDB client (src/ovsdb/client.ts, jsonrpc.ts) against a real
 * ovsdb-server: every transaction operation, the server's errors as typed
 * errors, cancel, and a server dying mid-transaction. Results are checked
 * with ovn-nbctl / ovsdb-tool.
 *
 * A hand-written fake server is used only for faults a real ovsdb-server does
 * not produce on demand: a peer that stalls or hangs up after taking a
 * transaction, a silent peer (inactivity probe), a server-initiated echo, and
 * a server lacking monitor_cond_since / monitor_cond.
 */
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { JsonRpcSession } from '../src/ovsdb/jsonrpc.js';
import { ops, where, mutation } from '../src/ovsdb/operations.js';
import { UUID_RE } from '../src/ovsdb/schema.js';
import {
  CommitUnknownError,
  ConnectionClosedError,
  RequestTimeoutError,
  RpcError,
  TransactionError,
} from '../src/ovsdb/errors.js';
import { findBinary, run } from '../tools/sandbox-lib.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { NB, NB_SCHEMA_JSON, fakeClient, fakeServer, handshake, type FakeConn } from './helpers/fake-server.js';
import { catchAsync, until } from './helpers/util.js';

const NO_SUCH_UUID = '11111111-2222-4333-8444-555555555555';

function sessionOf(client: OvsdbClient): JsonRpcSession {
  const s = (client as unknown as { session: JsonRpcSession | undefined }).session;
  if (!s) throw new Error('client has no session');
  return s;
}

// ======================================================================== real server

t.test('against a real ovsdb-server', async (t) => {
  const sb = await withSandbox(t, { northd: false });
  const client = new OvsdbClient({ remote: sb.nbRemote, database: NB, requestTimeoutMs: 15_000, minBackoffMs: 100, maxBackoffMs: 500 });
  t.teardown(() => client.close());
  await client.connect(20_000);

  const names = async (table: string) =>
    (await nbctl(sb, '--bare', '--columns=name', 'list', table))
      .split('\n')
      .filter(Boolean)
      .sort();

  t.test('connect, list_dbs, get_schema, echo', async (t) => {
    t.ok(client.connected, 'connected');
    t.equal(client.remote, sb.nbRemote);
    const dbs = await client.listDbs();
    t.ok(dbs.includes(NB), `list_dbs has ${NB}`);
    t.ok(dbs.includes('_Server'), 'list_dbs has _Server');
    const schema = await client.getSchema();
    t.equal(schema.name, NB);
    t.equal(schema.version, NB_SCHEMA_JSON.version, 'the version of the installed schema');
    t.ok(schema.tables.has('NAT'));
    t.equal(client.schema?.version, schema.version, 'client.schema was fetched on connect');
    const server = await client.getSchema('_Server');
    t.ok(server.tables.has('Database'), 'the _Server schema');
    t.strictSame(await client.echo(['hello', 1, { x: [] }]), ['hello', 1, { x: [] }], 'echo returns its params');
    const e = await catchAsync(client.getSchema('No_Such_Db'));
    t.type(e, RpcError, 'get_schema of an unknown database');
    t.equal((e as RpcError).code, 'unknown database');
  });

  let natUuid = '';
  let r1Uuid = '';

  t.test('insert with a named-uuid referenced from another insert; select decodes rows', async (t) => {
    const res = await client.transact([
      ops.insert('NAT', { type: 'snat', external_ip: '172.16.0.1', logical_ip: '10.0.0.0/24', external_ids: new Map([['natgw:id', 'n1']]) }, 'nat1'),
      ops.insert('Logical_Router', { name: 'r1', nat: ['nat1'], external_ids: { owner: 'test' } }, 'r1'),
    ]);
    t.equal(res.length, 2, 'one result per operation');
    natUuid = res[0].uuid!;
    r1Uuid = res[1].uuid!;
    t.match(natUuid, UUID_RE);
    t.match(r1Uuid, UUID_RE);
    t.equal(await nbctl(sb, 'get', 'Logical_Router', 'r1', '_uuid'), r1Uuid, 'ovn-nbctl sees the router under the returned uuid');
    t.equal(await nbctl(sb, '--bare', '--columns=nat', 'list', 'Logical_Router', 'r1'), natUuid, 'the router references the NAT of the same transaction');
    t.match(await nbctl(sb, 'lr-nat-list', 'r1'), /snat\s+172\.16\.0\.1\s+10\.0\.0\.0\/24/);

    const [sel] = await client.transact([ops.select('Logical_Router', [where.eq('name', 'r1')], ['_uuid', 'name', 'nat', 'ports', 'enabled', 'external_ids'])]);
    t.equal(sel.rows?.length, 1);
    const row = sel.rows![0];
    t.strictSame(Object.keys(row).sort(), ['_uuid', 'enabled', 'external_ids', 'name', 'nat', 'ports'], 'only the selected columns');
    t.equal(row._uuid, r1Uuid);
    t.equal(row.name, 'r1');
    t.strictSame(row.nat, [natUuid], 'set of uuids');
    t.strictSame(row.ports, [], 'empty set');
    t.equal(row.enabled, null, 'empty optional');
    t.type(row.external_ids, Map);
    t.strictSame([...(row.external_ids as Map<string, string>)], [['owner', 'test']]);

    const [all] = await client.transact([ops.select('NAT', [where.uuid(natUuid)])]);
    const nat = all.rows![0];
    t.equal(nat.type, 'snat');
    t.equal(nat.gateway_port, null);
    t.strictSame([...(nat.external_ids as Map<string, string>)], [['natgw:id', 'n1']]);
    t.match(nat._version, UUID_RE, 'select without columns includes _version');

    const [none] = await client.transact([ops.select('Logical_Router', [where.eq('name', 'nope')])]);
    t.strictSame(none.rows, [], 'no match: no rows');
  });

  t.test('update returns the count', async (t) => {
    const [u] = await client.transact([ops.update('Logical_Router', [where.eq('name', 'r1')], { external_ids: { owner: 'test', k: 'v' }, enabled: true })]);
    t.equal(u.count, 1);
    t.equal(await nbctl(sb, 'get', 'Logical_Router', 'r1', 'external_ids'), '{k=v, owner=test}');
    t.equal(await nbctl(sb, 'get', 'Logical_Router', 'r1', 'enabled'), 'true');
    const [none] = await client.transact([ops.update('Logical_Router', [where.eq('name', 'nope')], { enabled: false })]);
    t.equal(none.count, 0, 'no match: count 0');
  });

  t.test('mutate: set insert/delete, map insert/delete by keys, integer +=', async (t) => {
    const [as] = await client.transact([ops.insert('Address_Set', { name: 'as1', addresses: ['10.0.0.1'] })]);
    const [m1] = await client.transact([ops.mutate('Address_Set', [where.eq('name', 'as1')], [mutation.insert('addresses', ['10.0.0.2', '10.0.0.3']), mutation.delete('addresses', ['10.0.0.1'])])]);
    t.equal(m1.count, 1);
    t.equal(await nbctl(sb, 'get', 'Address_Set', as.uuid!, 'addresses'), '["10.0.0.2", "10.0.0.3"]', 'set insert and delete');

    const [m2] = await client.transact([ops.mutate('Logical_Router', [where.uuid(r1Uuid)], [mutation.insert('external_ids', new Map([['a', '1'], ['b', '2'], ['k', 'not-overwritten']])), mutation.delete('external_ids', ['owner', 'b'])])]);
    t.equal(m2.count, 1);
    t.equal(await nbctl(sb, 'get', 'Logical_Router', 'r1', 'external_ids'), '{a="1", k=v}', 'map insert (existing keys kept) and delete by key list');
    await client.transact([ops.mutate('Logical_Router', [where.uuid(r1Uuid)], [mutation.delete('external_ids', { a: 'other' }), mutation.delete('external_ids', { k: 'v' })])]);
    t.equal(await nbctl(sb, 'get', 'Logical_Router', 'r1', 'external_ids'), '{a="1"}', 'map delete by key/value pairs deletes only exact pairs');

    const [acl] = await client.transact([
      ops.insert('ACL', { priority: 100, direction: 'to-lport', match: 'ip4', action: 'drop' }, 'acl'),
      ops.insert('Logical_Switch', { name: 'sw1', acls: ['acl'] }),
    ]);
    const [m3] = await client.transact([ops.mutate('ACL', [where.uuid(acl.uuid!)], [mutation.add('priority', 5)])]);
    t.equal(m3.count, 1);
    t.equal(await nbctl(sb, 'get', 'ACL', acl.uuid!, 'priority'), '105', 'integer +=');

    // a mutation the server refuses: the result would leave the column's range
    const e = await catchAsync(client.transact([ops.comment('before'), ops.mutate('ACL', [where.uuid(acl.uuid!)], [mutation.add('priority', 32700)])]));
    t.type(e, TransactionError, 'out-of-range result: TransactionError');
    const te = e as TransactionError;
    t.equal(te.failures.length, 1);
    t.equal(te.failures[0].opIndex, 1, 'names the mutate operation');
    t.match(te.failures[0].op, { op: 'mutate', table: 'ACL' });
    t.match(te.message, /operation 1 \(mutate ACL\)/);
    t.equal(await nbctl(sb, 'get', 'ACL', acl.uuid!, 'priority'), '105', 'unchanged');
  });

  t.test('delete returns the count', async (t) => {
    const [d] = await client.transact([ops.delete('Address_Set', [where.eq('name', 'as1')])]);
    t.equal(d.count, 1);
    t.strictSame(await names('Address_Set'), [], 'ovn-nbctl: gone');
    const [d0] = await client.transact([ops.delete('Address_Set', [where.eq('name', 'as1')])]);
    t.equal(d0.count, 0);
  });

  t.test('wait: until == holds; until != with timeout 0 fails as a conflict', async (t) => {
    const ok = await client.transact([
      ops.wait('Logical_Router', [where.eq('name', 'r1')], '==', [{ name: 'r1' }]),
      ops.insert('Logical_Router', { name: 'r-after-wait' }),
    ]);
    t.equal(ok.length, 2);
    t.ok((await names('Logical_Router')).includes('r-after-wait'), 'committed after a satisfied wait');

    const e = await catchAsync(
      client.transact([
        ops.comment('conflict check'),
        ops.wait('Logical_Router', [where.eq('name', 'r1')], '!=', [{ name: 'r1' }], ['name'], 0),
        ops.insert('Logical_Router', { name: 'r-never' }),
      ]),
    );
    t.type(e, TransactionError);
    const te = e as TransactionError;
    t.ok(te.isConflict, 'isConflict');
    t.equal(te.code, 'timed out');
    t.equal(te.failures[0].opIndex, 1, 'the index of the wait operation');
    t.match(te.failures[0].op, { op: 'wait', table: 'Logical_Router', until: '!=' });
    t.match(te.message, /operation 1 \(wait Logical_Router\): timed out/);
    t.notOk((await names('Logical_Router')).includes('r-never'), 'nothing of it was written');

    const other = await catchAsync(client.transact([ops.abort()]));
    t.notOk((other as TransactionError).isConflict, 'an abort is not a conflict');
  });

  t.test('commit, comment', async (t) => {
    const res = await client.transact([ops.insert('Logical_Router', { name: 'r-durable' }), ops.commit(true), ops.comment('natgw: commented txn')], { comment: 'natgw: from options' });
    t.equal(res.length, 3, 'results for the caller\'s operations only');
    t.ok((await names('Logical_Router')).includes('r-durable'));
    const log = (await run(await findBinary('ovsdb-tool'), ['show-log', '-m', sb.members.nb[0].dbFile])).stdout;
    const rec = log.split(/\n(?=record )/).find((r) => r.includes('r-durable'));
    t.ok(rec, 'ovsdb-tool show-log has the transaction');
    t.match(rec, /natgw: commented txn/, 'comment operation recorded');
    t.match(rec, /natgw: from options/, 'comment option recorded');
  });

  t.test('abort: TransactionError "aborted", nothing written', async (t) => {
    const e = await catchAsync(client.transact([ops.insert('Logical_Router', { name: 'r-aborted' }), ops.abort()]));
    t.type(e, TransactionError);
    const te = e as TransactionError;
    t.equal(te.code, 'aborted');
    t.equal(te.failures[0].opIndex, 1);
    t.notOk((await names('Logical_Router')).includes('r-aborted'), 'ovn-nbctl: not there');
  });

  t.test('assert without the lock: "not owner"', async (t) => {
    const e = await catchAsync(client.transact([ops.assert('natgw'), ops.insert('Logical_Router', { name: 'r-locked' })]));
    t.type(e, TransactionError);
    t.equal((e as TransactionError).code, 'not owner');
    t.equal((e as TransactionError).failures[0].opIndex, 0);
    const e2 = await catchAsync(client.transact([ops.insert('Logical_Router', { name: 'r-locked' })], { assertLock: 'natgw' }));
    t.type(e2, TransactionError);
    t.equal((e2 as TransactionError).code, 'not owner', 'assertLock option');
    t.match((e2 as TransactionError).failures[0].op, { op: 'assert', lock: 'natgw' });
    t.notOk((await names('Logical_Router')).includes('r-locked'));
  });

  t.test('commit-time errors: referential integrity, constraint violation', async (t) => {
    const e = await catchAsync(client.transact([ops.insert('Logical_Router', { name: 'r-ref', nat: [NO_SUCH_UUID] })]));
    t.type(e, TransactionError);
    const te = e as TransactionError;
    t.equal(te.failures.length, 1);
    t.equal(te.failures[0].opIndex, -1, 'opIndex -1: the commit itself failed');
    t.equal(te.failures[0].error, 'referential integrity violation');
    t.equal(te.failures[0].op, undefined);
    t.match(te.failures[0].details, NO_SUCH_UUID);
    t.match(te.message, /commit: referential integrity violation/);
    t.notOk((await names('Logical_Router')).includes('r-ref'), 'nothing written');

    // Address_Set has a unique index on name
    const e2 = await catchAsync(client.transact([ops.insert('Address_Set', { name: 'dup' }), ops.insert('Address_Set', { name: 'dup' })]));
    t.type(e2, TransactionError, 'two rows with the same indexed name');
    t.equal((e2 as TransactionError).code, 'constraint violation');
    t.equal((e2 as TransactionError).failures[0].opIndex, -1);
    t.strictSame(await names('Address_Set'), []);

    await client.transact([ops.insert('Address_Set', { name: 'dup' })]);
    const e3 = await catchAsync(client.transact([ops.insert('Address_Set', { name: 'dup' })]));
    t.equal((e3 as TransactionError).code, 'constraint violation', 'a second row with an existing name');
    t.strictSame(await names('Address_Set'), ['dup'], 'ovn-nbctl: still one');
  });

  t.test('cancel a transaction blocked in a wait', async (t) => {
    const session = sessionOf(client);
    const id = session.peekNextId();
    const p = client.transact(
      [ops.wait('Logical_Router', [where.eq('name', 'never-exists')], '==', [{ name: 'never-exists' }], ['name'], 600_000), ops.insert('Logical_Router', { name: 'r-cancelled' })],
      { timeoutMs: 120_000 },
    );
    const settled = catchAsync(p);
    await until('the transact request to be sent', () => session.peekNextId() > id);
    client.cancel(id);
    const e = await settled;
    t.type(e, RpcError, 'the transact rejects');
    t.equal((e as RpcError).code, 'canceled', 'the server answered "canceled"');
    t.notOk((await names('Logical_Router')).includes('r-cancelled'), 'nothing written');
    t.ok(client.connected, 'the connection is still up');
    const [sel] = await client.transact([ops.select('Logical_Router', [where.eq('name', 'r1')], ['name'])]);
    t.equal(sel.rows?.length, 1, 'and usable');
  });

  t.test('maxMessageBytes: a monitor reply over the limit ends that session with an error naming the limit', async (t) => {
    // ~500 KB of Address_Set rows (the handshake's largest message, the NB schema, is ~33 KB)
    const rows = Array.from({ length: 600 }, (_, i) => ops.insert('Address_Set', { name: `big_${i}`, addresses: Array.from({ length: 40 }, (_, k) => `10.${i >> 8}.${i & 255}.${k}`) }));
    await client.transact(rows);
    t.teardown(() => client.transact(rows.map((_, i) => ops.delete('Address_Set', [where.eq('name', `big_${i}`)]))));
    const LIMIT = 256 * 1024;
    const small = new OvsdbClient({ remote: sb.nbRemote, database: NB, reconnect: false, maxMessageBytes: LIMIT });
    t.teardown(() => small.close());
    const drops: Error[] = [];
    small.on('disconnected', (e: Error) => drops.push(e));
    await small.connect(20_000);
    t.ok((await small.listDbs()).includes(NB), 'small messages pass');
    const rep = small.replica({ tables: { Address_Set: { columns: ['name', 'addresses'] } } });
    const e = await catchAsync(rep.ready);
    t.match((e as Error)?.message, `message exceeds the maximum message size of ${LIMIT} bytes`, 'the replica fails, naming the limit');
    await until('the disconnect', () => drops.length === 1);
    t.equal(drops[0].name, 'MessageTooLargeError', 'the session was closed for it');
    t.notOk(small.connected, 'not connected (reconnect off)');
    // the same monitor within a larger limit
    const roomy = new OvsdbClient({ remote: sb.nbRemote, database: NB, reconnect: false, maxMessageBytes: 4 * LIMIT });
    t.teardown(() => roomy.close());
    const rep2 = roomy.replica<{ Address_Set: { name: string } }>({ tables: { Address_Set: { columns: ['name'] } } });
    await roomy.connect(20_000);
    await rep2.ready;
    t.equal(rep2.table('Address_Set').filter((r) => r.name.startsWith('big_')).length, 600, 'with a larger limit the same rows arrive');
  });

  t.test('the server dies while a transaction is pending: CommitUnknownError', async (t) => {
    const session = sessionOf(client);
    const id = session.peekNextId();
    const p = catchAsync(
      client.transact([ops.wait('Logical_Router', [where.eq('name', 'never-exists')], '==', [{ name: 'never-exists' }], ['name'], 600_000), ops.insert('Logical_Router', { name: 'r-unknown' })], {
        timeoutMs: 120_000,
      }),
    );
    await until('the transact request to be sent', () => session.peekNextId() > id);
    // the request is on the wire; make sure the server has it before killing it
    await client.echo();
    const disconnected = once(client, 'disconnected');
    await sb.killMember('nb', 0);
    const e = await p;
    t.type(e, CommitUnknownError, 'outcome unknown');
    t.type((e as CommitUnknownError).cause, ConnectionClosedError);
    t.match((e as Error).message, /outcome unknown/);
    await disconnected;
    t.notOk(client.connected);

    // the client reconnects by itself once the server is back; re-reading tells the outcome
    await sb.startMember('nb', 0);
    await client.connect(30_000);
    const [sel] = await client.transact([ops.select('Logical_Router', [where.eq('name', 'r-unknown')])]);
    t.strictSame(sel.rows, [], 'here: not committed');
    t.notOk((await names('Logical_Router')).includes('r-unknown'), 'ovn-nbctl agrees');
  });
});

// ======================================================================== fake servers

t.test('fake: the peer takes a transaction and hangs up without answering -> CommitUnknownError', async (t) => {
  const fake = await fakeServer(t, (msg, conn) => {
    if (handshake(msg, conn)) return;
    if (msg.method === 'transact') conn.sock.destroy();
  });
  const client = fakeClient(t, fake.remote);
  await client.connect(10_000);
  const e = await catchAsync(client.transact([ops.insert('Logical_Router', { name: 'r1' })]));
  t.type(e, CommitUnknownError);
  t.type((e as CommitUnknownError).cause, ConnectionClosedError);
  t.match((e as Error).message, /transaction outcome unknown/);
  const tx = fake.received.find((m) => m.method === 'transact');
  t.match(tx?.params, [NB, { op: 'insert', table: 'Logical_Router', row: { name: 'r1' } }], 'the peer did receive the transaction');
  t.notOk(client.connected);
});

t.test('fake: a stalled peer -> RequestTimeoutError, and CommitUnknownError for transact', async (t) => {
  const fake = await fakeServer(t, (msg, conn) => {
    handshake(msg, conn); // anything else: never answered
  });
  const client = fakeClient(t, fake.remote);
  await client.connect(10_000);

  const e1 = await catchAsync(client.request('echo', ['x'], 250));
  t.type(e1, RequestTimeoutError, 'a request without a reply times out');
  t.match(e1, { method: 'echo', timeoutMs: 250 });

  const e2 = await catchAsync(client.transact([ops.insert('Logical_Router', { name: 'r1' })], { timeoutMs: 250 }));
  t.type(e2, CommitUnknownError, 'a transaction without a reply: outcome unknown');
  t.type((e2 as CommitUnknownError).cause, RequestTimeoutError);
  t.match((e2 as CommitUnknownError).cause, { method: 'transact', timeoutMs: 250 });
  t.ok(fake.received.some((m) => m.method === 'transact'), 'the transaction was sent');
});

t.test('fake: inactivity probe', async (t) => {
  t.test('a silent peer is dropped after the probe goes unanswered', async (t) => {
    const fake = await fakeServer(t, () => {});
    const sock = net.connect(fake.path);
    await once(sock, 'connect');
    const session = new JsonRpcSession(sock, { probeIntervalMs: 100 });
    t.teardown(() => session.close());
    const pending = catchAsync(session.request('list_dbs', []));
    const reason = await new Promise<Error>((res) => session.onClose(res));
    t.type(reason, ConnectionClosedError);
    t.match(reason.message, /inactivity probe: no answer for 200 ms/);
    t.notOk(session.isOpen);
    const pe = await pending;
    t.type(pe, ConnectionClosedError, 'pending requests fail');
    t.match((pe as Error).message, /inactivity probe/);
    const probes = fake.received.filter((m) => m.method === 'echo');
    t.equal(probes.length, 1, 'one echo probe was sent before giving up');
    t.match(probes[0].id, /^probe-/);
  });

  t.test('a peer that answers the probes stays connected', async (t) => {
    const fake = await fakeServer(t, (msg, conn) => {
      if (msg.method === 'echo') conn.send({ id: msg.id, result: msg.params, error: null });
    });
    const sock = net.connect(fake.path);
    await once(sock, 'connect');
    const session = new JsonRpcSession(sock, { probeIntervalMs: 100 });
    t.teardown(() => session.close());
    await until('three probes or a close', () => fake.received.filter((m) => m.method === 'echo').length >= 3 || !session.isOpen);
    t.ok(session.isOpen, `still open after ${fake.received.length} answered probes`);
    t.equal(session.closeReason, undefined);
  });
});

t.test('fake: requests from the server are answered', async (t) => {
  const fake = await fakeServer(t, () => {});
  const accepted = new Promise<FakeConn>((res) => {
    const iv = setInterval(() => {
      if (fake.conns.length) {
        clearInterval(iv);
        res(fake.conns[0]);
      }
    }, 5);
  });
  const sock = net.connect(fake.path);
  await once(sock, 'connect');
  const session = new JsonRpcSession(sock);
  t.teardown(() => session.close());
  const conn = await accepted;
  conn.send({ method: 'echo', params: ['ping', 1, { a: [true] }], id: 'srv-1' });
  conn.send({ method: 'frobnicate', params: [], id: 42 });
  await until('two replies', () => conn.received.length >= 2);
  t.strictSame(conn.received[0], { id: 'srv-1', result: ['ping', 1, { a: [true] }], error: null }, 'echo answered with its params');
  t.match(conn.received[1], { id: 42, result: null, error: { error: 'unknown method' } }, 'other methods: "unknown method"');
  t.ok(session.isOpen);
});

type LrTables = { Logical_Router: { name: string; external_ids: ReadonlyMap<string, string> } };

t.test('fake: a server without monitor_cond_since', async (t) => {
  const U = '3f1c2b4a-1111-4222-8333-444455556666';

  t.test('falls back to monitor_cond', async (t) => {
    const fake = await fakeServer(t, (msg, conn) => {
      if (handshake(msg, conn)) return;
      if (msg.method === 'monitor_cond_since') conn.send({ id: msg.id, result: null, error: 'unknown method' });
      else if (msg.method === 'monitor_cond') {
        conn.send({ id: msg.id, result: { Logical_Router: { [U]: { initial: { name: 'r-fake', external_ids: ['map', [['k', 'v']]] } } } }, error: null });
      }
    });
    const client = fakeClient(t, fake.remote);
    const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name', 'external_ids'] } } });
    await client.connect(10_000);
    await rep.ready;
    t.equal((client as unknown as { monitorMethod: string }).monitorMethod, 'monitor_cond', 'client uses monitor_cond');
    t.strictSame(
      fake.received.map((m) => m.method),
      ['list_dbs', 'get_schema', 'monitor_cond_since', 'monitor_cond'],
      'tried monitor_cond_since first',
    );
    const mc = fake.received[3];
    t.strictSame(mc.params, [NB, rep.monitorId, { Logical_Router: [{ columns: ['name', 'external_ids'] }] }], 'monitor_cond request');
    const row = rep.table('Logical_Router').get(U);
    t.equal(row?.name, 'r-fake', 'replica has the initial row');
    t.strictSame([...(row?.external_ids ?? [])], [['k', 'v']]);

    // updates arrive as update2 notifications
    fake.conns[0].send({ id: null, method: 'update2', params: [rep.monitorId, { Logical_Router: { [U]: { modify: { name: 'r-renamed' } } } }] });
    await until('the update', () => rep.table('Logical_Router').get(U)?.name === 'r-renamed');
    t.equal(rep.table('Logical_Router').get(U)?.name, 'r-renamed', 'update2 applied');
  });

  t.test('and to monitor when monitor_cond is missing too', async (t) => {
    const fake = await fakeServer(t, (msg, conn) => {
      if (handshake(msg, conn)) return;
      if (msg.method === 'monitor_cond_since' || msg.method === 'monitor_cond') conn.send({ id: msg.id, result: null, error: { error: 'unknown method' } });
      else if (msg.method === 'monitor') conn.send({ id: msg.id, result: { Logical_Router: { [U]: { new: { name: 'r-old-style' } } } }, error: null });
    });
    const client = fakeClient(t, fake.remote);
    const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
    await client.connect(10_000);
    await rep.ready;
    t.equal((client as unknown as { monitorMethod: string }).monitorMethod, 'monitor');
    t.strictSame(
      fake.received.map((m) => m.method),
      ['list_dbs', 'get_schema', 'monitor_cond_since', 'monitor_cond', 'monitor'],
    );
    t.strictSame(fake.received[4].params, [NB, rep.monitorId, { Logical_Router: { columns: ['name'] } }], 'monitor request (no conditions)');
    t.equal(rep.table('Logical_Router').get(U)?.name, 'r-old-style');
    fake.conns[0].send({ id: null, method: 'update', params: [rep.monitorId, { Logical_Router: { [U]: { old: { name: 'r-old-style' }, new: { name: 'r-v1' } } } }] });
    await until('the update', () => rep.table('Logical_Router').get(U)?.name === 'r-v1');
    fake.conns[0].send({ id: null, method: 'update', params: [rep.monitorId, { Logical_Router: { [U]: { old: { name: 'r-v1' } } } }] });
    await until('the delete', () => rep.table('Logical_Router').size === 0);
    t.equal(rep.table('Logical_Router').size, 0, 'update (v1) delete applied');
  });
});
