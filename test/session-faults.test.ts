/**
 * Session faults a real ovsdb-server does not produce, through a live
 * OvsdbClient talking to a hand-written fake server on a unix socket in a
 * temp dir:
 *
 *   1. a malformed frame (not JSON; JSON that is not a JSON-RPC message);
 *   2. a message over the client's maxMessageBytes;
 *   3. the initial-sync timeout, separate from the per-request timeout;
 *   4. an update that contradicts the replica (full resync);
 *   5. the inactivity probe: off by default on unix sockets, on when asked.
 *
 * No fixed sleeps: every wait is on an event or a condition with a generous
 * bound; "later than the request timeout" is shown by another request with
 * the same timeout having timed out first.
 */
import t from 'tap';
import type { OvsdbClient } from '../src/ovsdb/client.js';
import { FramingError, MessageTooLargeError } from '../src/ovsdb/framing.js';
import type { ChangeEvent } from '../src/ovsdb/replica.js';
import { ZERO_UUID } from '../src/ovsdb/schema.js';
import { ConnectionClosedError, ReplicaInconsistentError, RequestTimeoutError } from '../src/ovsdb/errors.js';
import { NB_SCHEMA_JSON, fakeClient, fakeServer, handshake, type FakeConn, type Rpc } from './helpers/fake-server.js';
import { catchAsync, until } from './helpers/util.js';

const U1 = 'a1a1a1a1-0000-4000-8000-000000000001';
const U2 = 'a1a1a1a1-0000-4000-8000-000000000002';
const U3 = 'a1a1a1a1-0000-4000-8000-000000000003';
const U4 = 'a1a1a1a1-0000-4000-8000-000000000004';
const MISSING = 'deadbeef-0000-4000-8000-00000000dead';
const TXN1 = 'b2b2b2b2-0000-4000-8000-000000000001';
const TXN2 = 'b2b2b2b2-0000-4000-8000-000000000002';
const TXN3 = 'b2b2b2b2-0000-4000-8000-000000000003';
const TXN9 = 'b2b2b2b2-0000-4000-8000-000000000009';

type LrTables = { Logical_Router: { name: string; external_ids: ReadonlyMap<string, string> } };

/** What the client tells its user through events. */
function watch(client: OvsdbClient) {
  const w = { connects: 0, disconnects: [] as Error[] };
  client.on('connected', () => w.connects++);
  client.on('disconnected', (e: Error) => w.disconnects.push(e));
  return w;
}

const lrRows = (rows: Record<string, string>) => Object.fromEntries(Object.entries(rows).map(([u, name]) => [u, { initial: { name } }]));

/** The replica's Logical_Router table as { uuid: name }. */
function names(rep: { table(n: 'Logical_Router'): Iterable<{ _uuid: string; name: string }> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rep.table('Logical_Router')) out[r._uuid] = r.name;
  return out;
}

// ---------------------------------------------------------------- 1. malformed frames

t.test('a malformed frame drops the connection with a framing error; the client reconnects and works', async (t) => {
  const cases: { name: string; frame: (id: unknown) => string; reason: RegExp }[] = [
    { name: 'bytes that are not JSON', frame: () => 'HTTP/1.1 400 Bad Request\r\n\r\n', reason: /expected "\{" or "\[" at the start of a message, got "H"/ },
    { name: 'a reply with a bad token inside', frame: (id) => `{"id":${JSON.stringify(id)},"result":[nope],"error":null}`, reason: /malformed JSON/ },
    { name: 'JSON that is an array, not a JSON-RPC object', frame: () => '[1,2,3]', reason: /not a JSON-RPC message/ },
    { name: 'an object that is no request, reply or notification', frame: (id) => `{"id":${JSON.stringify(id)}}`, reason: /not a JSON-RPC message/ },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const fake = await fakeServer(t, (msg, conn) => {
        if (handshake(msg, conn)) return;
        if (msg.method !== 'echo') return;
        // the first connection answers the echo with the bad frame, later ones behave
        if (conn.n === 0) conn.write(c.frame(msg.id));
        else conn.send({ id: msg.id, result: msg.params, error: null });
      });
      const client = fakeClient(t, fake.remote, { reconnect: true });
      const w = watch(client);
      await client.connect(10_000);

      const e = await catchAsync(client.echo(['poison']));
      t.type(e, ConnectionClosedError, 'the pending request is rejected');
      t.match((e as Error).message, new RegExp(`^echo: ${c.reason.source}`), `it names the request and the fault: ${(e as Error).message}`);

      await until('the disconnected event', () => w.disconnects.length >= 1);
      t.type(w.disconnects[0], FramingError, 'disconnected event: a FramingError');
      t.match(w.disconnects[0].message, c.reason);
      await fake.conns[0].closed;
      t.pass('the client closed the connection that carried the bad frame');

      await until('the reconnection', () => w.connects >= 2 && client.connected);
      t.strictSame(await client.echo(['hello', 1]), ['hello', 1], 'the new connection works');
      t.equal(fake.conns.length, 2, 'one new connection');
      t.notOk(fake.conns[1].isClosed, 'and it stays open');
      t.equal(w.disconnects.length, 1, 'no further drop');
    });
  }
});

// ---------------------------------------------------------------- 2. maximum message size

t.test('maxMessageBytes through a live client', async (t) => {
  const MAX = 32 * 1024;

  t.test('a reply over the limit fails naming it and drops the connection', async (t) => {
    const fake = await fakeServer(t, (msg, conn) => {
      if (handshake(msg, conn)) return;
      if (msg.method === 'echo') conn.send({ id: msg.id, result: ['x'.repeat(msg.params![0] as number)], error: null });
    });
    const client = fakeClient(t, fake.remote, { maxMessageBytes: MAX });
    const w = watch(client);
    await client.connect(10_000);
    t.ok(JSON.stringify(NB_SCHEMA_JSON).length < MAX, 'the schema itself fits the limit');

    const fits = (await client.echo([MAX - 200])) as string[];
    t.equal(fits[0].length, MAX - 200, 'a reply just under the limit is fine');

    const e = await catchAsync(client.echo([200_000]));
    t.type(e, ConnectionClosedError, 'the request over the limit is rejected');
    t.match((e as Error).message, `echo: message exceeds the maximum message size of ${MAX} bytes`);
    await until('the disconnected event', () => w.disconnects.length >= 1);
    t.type(w.disconnects[0], MessageTooLargeError);
    t.equal((w.disconnects[0] as MessageTooLargeError).limit, MAX, 'the error carries the limit');
    await fake.conns[0].closed;
    t.notOk(client.connected, 'the connection is dropped');
  });

  t.test('an update over the limit is not half-applied to a replica', async (t) => {
    let monitorId = '';
    const fake = await fakeServer(t, (msg, conn) => {
      if (handshake(msg, conn)) return;
      if (msg.method === 'monitor_cond_since') {
        monitorId = msg.params![1] as string;
        conn.send({ id: msg.id, result: [false, TXN1, { Logical_Router: lrRows({ [U1]: 'r1' }) }], error: null });
      }
    });
    const client = fakeClient(t, fake.remote, { maxMessageBytes: MAX });
    const w = watch(client);
    const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name', 'external_ids'] } } });
    await client.connect(10_000);
    await rep.ready;
    t.strictSame(names(rep), { [U1]: 'r1' });
    const events: ChangeEvent[] = [];
    rep.onChange((e) => events.push(e));

    // one update3: a modify of r1 first, then enough inserts to pass the limit
    // several times (the first socket chunks are decoded before the limit trips)
    const rows: Record<string, unknown> = { [U1]: { modify: { name: 'r1-changed' } } };
    for (let i = 0; i < 3000; i++) {
      const u = `c0c0c0c0-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
      rows[u] = { insert: { name: `bulk-${i}`, external_ids: ['map', [['pad', 'p'.repeat(40)]]] } };
    }
    const update = JSON.stringify({ id: null, method: 'update3', params: [monitorId, TXN2, { Logical_Router: rows }] });
    t.ok(update.length > 4 * MAX, `the update (${update.length} bytes) is well over the limit`);
    fake.conns[0].write(update);

    await until('the disconnected event', () => w.disconnects.length >= 1);
    t.type(w.disconnects[0], MessageTooLargeError);
    t.match(w.disconnects[0].message, `maximum message size of ${MAX} bytes`);
    await fake.conns[0].closed;
    t.strictSame(names(rep), { [U1]: 'r1' }, 'the replica is as before the update: no insert, no modify');
    t.strictSame(events, [], 'no change event');
    t.equal(rep.lastTxnId, TXN1, 'the transaction id is not advanced');
  });
});

// ---------------------------------------------------------------- 3. sync timeout

t.test('the initial-sync timeout is separate from the request timeout', async (t) => {
  t.test('a monitor that is never answered fails ready after syncTimeoutMs', async (t) => {
    const fake = await fakeServer(t, (msg, conn) => {
      handshake(msg, conn); // the monitor request is never answered
    });
    // a long request timeout: a failure at 300 ms can only come from the sync timeout
    const client = fakeClient(t, fake.remote, { requestTimeoutMs: 60_000, syncTimeoutMs: 300 });
    const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
    const connecting = catchAsync(client.connect(30_000));

    const e = await catchAsync(rep.ready);
    t.type(e, RequestTimeoutError, 'ready rejects with a timeout');
    t.match(e, { method: 'monitor_cond_since', timeoutMs: 300 }, 'of the monitor request, after the sync timeout');
    t.match((e as Error).message, 'monitor_cond_since: no reply within 300 ms');
    t.notOk(rep.synced);
    t.strictSame(
      fake.conns[0].received.map((m) => m.method),
      ['list_dbs', 'get_schema', 'monitor_cond_since'],
      'the handshake was answered, the monitor request is the one left waiting',
    );
    const ce = await connecting;
    t.type(ce, ConnectionClosedError, 'connect() fails too');
    t.match((ce as Error).message, 'no reply within 300 ms');
    await fake.conns[0].closed;
    t.pass('the connection was dropped');
  });

  t.test('a short request timeout does not fail a sync that is within its own timeout', async (t) => {
    const held: (() => void)[] = [];
    const fake = await fakeServer(t, (msg, conn) => {
      if (handshake(msg, conn)) return;
      if (msg.method === 'monitor_cond_since') {
        held.push(() => conn.send({ id: msg.id, result: [false, TXN1, { Logical_Router: lrRows({ [U1]: 'late' }) }], error: null }));
      }
      // echo: never answered
    });
    const opts = { requestTimeoutMs: 200, syncTimeoutMs: 60_000 };
    const client = fakeClient(t, fake.remote, opts);
    const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
    const connecting = client.connect(60_000);
    await until('the monitor request', () => held.length === 1);

    // the clock: a request with the same request timeout, sent after the
    // monitor request, times out while the monitor reply is still held back
    const other = fakeClient(t, fake.remote, opts);
    await other.connect(10_000);
    const e = await catchAsync(other.echo(['stall']));
    t.type(e, RequestTimeoutError, 'an ordinary request times out');
    t.match(e, { method: 'echo', timeoutMs: 200 });
    t.notOk(rep.synced, 'the sync is still waiting');
    t.notOk(fake.conns[0].isClosed, 'on its open connection');

    held[0](); // the monitor reply, later than the request timeout
    await rep.ready;
    await connecting;
    t.ok(client.connected, 'the client is connected');
    t.strictSame(names(rep), { [U1]: 'late' }, 'the replica has the late reply');
    const e2 = await catchAsync(client.echo(['stall']));
    t.match(e2, { name: 'RequestTimeoutError', method: 'echo', timeoutMs: 200 }, 'and the short request timeout is in force for its requests');
  });
});

// ---------------------------------------------------------------- 4. inconsistent update

t.test('an update that contradicts the replica forces a fresh monitor', async (t) => {
  const monitors: Rpc[] = [];
  const fake = await fakeServer(t, (msg, conn) => {
    if (handshake(msg, conn)) return;
    if (msg.method !== 'monitor_cond_since') return;
    monitors.push(msg);
    const tables = conn.n === 0 ? lrRows({ [U1]: 'r1', [U2]: 'r2' }) : lrRows({ [U2]: 'r2-now', [U4]: 'r4' });
    conn.send({ id: msg.id, result: [false, conn.n === 0 ? TXN1 : TXN9, { Logical_Router: tables }], error: null });
  });
  const client = fakeClient(t, fake.remote, { reconnect: true });
  const w = watch(client);
  const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await client.connect(10_000);
  await rep.ready;
  t.strictSame(names(rep), { [U1]: 'r1', [U2]: 'r2' }, 'first monitor reply');
  t.equal(rep.lastTxnId, TXN1);

  // a listener's own view, kept from change events only
  const view: Record<string, string> = { ...names(rep) };
  const events: ChangeEvent[] = [];
  rep.onChange((e) => {
    events.push(e);
    if (e.kind === 'delete') delete view[e.row._uuid];
    else view[e.row._uuid] = e.row.name as string;
  });

  // a modify of a row the replica does not have, and, in the same write, an
  // update that would be fine on its own: after the first, nothing more of
  // that connection may be believed
  const monitorId = monitors[0].params![1];
  fake.conns[0].write(
    JSON.stringify({ id: null, method: 'update3', params: [monitorId, TXN2, { Logical_Router: { [MISSING]: { modify: { name: 'ghost' } } } }] }) +
      JSON.stringify({ id: null, method: 'update3', params: [monitorId, TXN3, { Logical_Router: { [U3]: { insert: { name: 'after' } } } }] }),
  );

  await until('the disconnected event', () => w.disconnects.length >= 1);
  t.type(w.disconnects[0], ReplicaInconsistentError, 'the connection is dropped for the inconsistency');
  t.match(w.disconnects[0].message, `modify of row ${MISSING} in table Logical_Router, which the replica does not have`);
  await fake.conns[0].closed;

  await until('the resync', () => monitors.length === 2 && rep.stats.fullSyncs === 2 && client.connected);
  t.equal(monitors[0].params![3], ZERO_UUID, 'first monitor: from scratch');
  t.equal(monitors[1].params![3], ZERO_UUID, 'the second monitor does not resume: a fresh full monitor');
  t.strictSame(names(rep), { [U2]: 'r2-now', [U4]: 'r4' }, 'the replica equals the second monitor reply');
  t.strictSame(view, { [U2]: 'r2-now', [U4]: 'r4' }, "and so does a listener's view");
  t.notOk(
    events.some((e) => e.row._uuid === MISSING || e.row._uuid === U3),
    'nothing from the connection after the inconsistency reached the replica',
  );
  t.strictSame(
    events.map((e) => [e.kind, e.row._uuid]).sort(),
    [['delete', U1], ['insert', U4], ['update', U2]].sort(),
    'the resync emitted exactly the changes from the first view to the second',
  );
  t.equal(rep.lastTxnId, TXN9);
  t.equal(w.disconnects.length, 1, 'one drop');
});

t.test('an insert of a row the replica already has forces a fresh monitor too (as the C IDL)', async (t) => {
  const monitors: Rpc[] = [];
  const fake = await fakeServer(t, (msg, conn) => {
    if (handshake(msg, conn)) return;
    if (msg.method !== 'monitor_cond_since') return;
    monitors.push(msg);
    conn.send({ id: msg.id, result: [false, conn.n === 0 ? TXN1 : TXN9, { Logical_Router: lrRows(conn.n === 0 ? { [U1]: 'r1' } : { [U1]: 'r1-now' }) }], error: null });
  });
  const client = fakeClient(t, fake.remote, { reconnect: true });
  const w = watch(client);
  const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await client.connect(10_000);
  await rep.ready;
  // the fast row parser takes this insert (compact JSON), the general path the second (whitespace)
  const monitorId = monitors[0].params![1];
  fake.conns[0].write(JSON.stringify({ id: null, method: 'update3', params: [monitorId, TXN2, { Logical_Router: { [U1]: { insert: { name: 'twice' } } } }] }));
  await until('the disconnected event', () => w.disconnects.length >= 1);
  t.type(w.disconnects[0], ReplicaInconsistentError, 'the connection is dropped for the inconsistency');
  t.match(w.disconnects[0].message, `insert of row ${U1} in table Logical_Router, which the replica already has`);
  await until('the resync', () => monitors.length === 2 && rep.stats.fullSyncs === 2 && client.connected);
  t.equal(monitors[1].params![3], ZERO_UUID, 'a fresh full monitor, not a resume');
  t.strictSame(names(rep), { [U1]: 'r1-now' }, 'the replica equals the second reply, not the bad insert');

  fake.conns[1].write(JSON.stringify({ id: null, method: 'update3', params: [monitors[1].params![1], TXN3, { Logical_Router: { [U1]: { insert: { name: 'again' } } } }] }, null, 1));
  await until('the second disconnect', () => w.disconnects.length >= 2);
  t.match(w.disconnects[1].message, `insert of row ${U1} in table Logical_Router, which the replica already has`, 'the same through the general decoder');
  await until('the second resync', () => monitors.length === 3 && rep.stats.fullSyncs === 3 && client.connected);
});

t.test('a resume reply that contradicts the replica is never resumed from again: a fresh monitor follows', async (t) => {
  const monitors: Rpc[] = [];
  const fake = await fakeServer(t, (msg, conn) => {
    if (handshake(msg, conn)) return;
    if (msg.method !== 'monitor_cond_since') return;
    monitors.push(msg);
    if (conn.n === 0) conn.send({ id: msg.id, result: [false, TXN1, { Logical_Router: lrRows({ [U1]: 'r1' }) }], error: null });
    // the server says it found TXN1, and "inserts" a row the replica has
    else if (conn.n === 1) conn.send({ id: msg.id, result: [true, TXN9, { Logical_Router: { [U1]: { insert: { name: 'again' } } } }], error: null });
    else conn.send({ id: msg.id, result: [false, TXN9, { Logical_Router: lrRows({ [U1]: 'r1-now' }) }], error: null });
  });
  const client = fakeClient(t, fake.remote, { reconnect: true });
  const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await client.connect(10_000);
  await rep.ready;
  fake.conns[0].sock.destroy();
  await until('the third monitor and its full sync', () => monitors.length === 3 && rep.stats.fullSyncs === 2 && client.connected);
  t.equal(monitors[1].params![3], TXN1, 'the reconnect tried to resume from TXN1');
  t.equal(monitors[2].params![3], ZERO_UUID, 'after the bad resume: from scratch, not from TXN9');
  t.strictSame(names(rep), { [U1]: 'r1-now' }, 'the replica equals the fresh reply');
  t.equal(rep.lastTxnId, TXN9);
});

t.test('a condition changed while disconnected is monitored from scratch, not resumed', async (t) => {
  const monitors: Rpc[] = [];
  let release: (() => void) | undefined;
  const stalled: [Rpc, FakeConn][] = [];
  const handler = (msg: Rpc, conn: FakeConn): void => {
    // the second connection's handshake waits until released: the client is then not connected
    if (conn.n === 1 && release === undefined) {
      stalled.push([msg, conn]);
      return;
    }
    if (handshake(msg, conn)) return;
    if (msg.method !== 'monitor_cond_since') return;
    monitors.push(msg);
    conn.send({ id: msg.id, result: [false, conn.n === 0 ? TXN1 : TXN2, { Logical_Router: lrRows(conn.n === 0 ? { [U1]: 'r1', [U2]: 'r2' } : { [U2]: 'r2' }) }], error: null });
  };
  const fake = await fakeServer(t, handler);
  const client = fakeClient(t, fake.remote, { reconnect: true });
  const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await client.connect(10_000);
  await rep.ready;
  fake.conns[0].sock.destroy();
  await until('the client to dial again', () => fake.conns.length === 2 && stalled.length > 0 && !client.connected);
  await client.setCondition(rep, 'Logical_Router', [['name', '==', 'r2']]);
  t.pass('setCondition while not connected returns (applied on the next monitor)');
  release = () => {};
  for (const [m, c] of stalled.splice(0)) handler(m, c);
  await until('the second monitor', () => monitors.length === 2 && rep.stats.fullSyncs === 2);
  t.equal(monitors[1].params![3], ZERO_UUID, 'from scratch: a resume would filter the changes since TXN1 by the new condition');
  t.strictSame((monitors[1].params![2] as Record<string, { where?: unknown }[]>).Logical_Router[0].where, [['name', '==', 'r2']], 'with the new condition');
  t.strictSame(names(rep), { [U2]: 'r2' });
});

t.test('a condition changed while the monitor is being set up is sent right after it; resumes stay possible', async (t) => {
  const monitors: Rpc[] = [];
  const changes: Rpc[] = [];
  let held: (() => void) | undefined;
  const fake = await fakeServer(t, (msg, conn) => {
    if (handshake(msg, conn)) return;
    if (msg.method === 'monitor_cond_change') {
      changes.push(msg);
      conn.send({ id: msg.id, result: null, error: null });
      return;
    }
    if (msg.method !== 'monitor_cond_since') return;
    monitors.push(msg);
    const reply = () => conn.send({ id: msg.id, result: [false, TXN1, { Logical_Router: lrRows({ [U1]: 'r1', [U2]: 'r2' }) }], error: null });
    // the first monitor's reply waits until the test has changed the condition
    if (monitors.length === 1) held = reply;
    else conn.send({ id: msg.id, result: [true, TXN1, {}], error: null });
  });
  const client = fakeClient(t, fake.remote, { reconnect: true });
  await client.connect(10_000);
  const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await until('the monitor request', () => held !== undefined);
  await client.setCondition(rep, 'Logical_Router', [['name', '==', 'r2']]);
  t.equal(changes.length, 0, 'not sent while the monitor is not set up');
  held!();
  await rep.ready;
  await until('the condition change', () => changes.length === 1);
  t.strictSame((changes[0].params![2] as Record<string, { where: unknown }[]>).Logical_Router[0].where, [['name', '==', 'r2']], 'sent after the monitor, with the new condition');
  // the server has the condition now: a reconnect may resume
  fake.conns[0].sock.destroy();
  await until('the second monitor', () => monitors.length === 2 && client.connected);
  t.equal(monitors[1].params![3], TXN1, 'the reconnect resumes from TXN1');
  t.strictSame((monitors[1].params![2] as Record<string, { where: unknown }[]>).Logical_Router[0].where, [['name', '==', 'r2']], 'with the condition');
});

t.test('a row that contradicts the replica while being decoded also forbids resuming from the last id', async (t) => {
  const monitors: Rpc[] = [];
  const fake = await fakeServer(t, (msg, conn) => {
    if (handshake(msg, conn)) return;
    if (msg.method !== 'monitor_cond_since') return;
    monitors.push(msg);
    conn.send({ id: msg.id, result: [false, TXN1, { Logical_Router: lrRows({ [U1]: 'r1' }) }], error: null });
  });
  const client = fakeClient(t, fake.remote, { reconnect: true });
  const w = watch(client);
  const rep = client.replica<LrTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await client.connect(10_000);
  await rep.ready;
  // rows of a table the replica does not monitor: refused while decoding
  fake.conns[0].send({ id: null, method: 'update3', params: [monitors[0].params![1], TXN2, { NAT: { [U3]: { insert: { type: 'snat' } } } }] });
  await until('the drop', () => w.disconnects.length === 1);
  t.type(w.disconnects[0], ReplicaInconsistentError);
  await until('the second monitor', () => monitors.length === 2 && client.connected);
  t.equal(monitors[1].params![3], ZERO_UUID, 'from scratch, not from TXN1');
});

// ---------------------------------------------------------------- 5. inactivity probe

t.test('inactivity probe: off by default on unix sockets, on when asked for', async (t) => {
  // two servers that answer the handshake and nothing else (not echo)
  const stalled = (msg: Rpc, conn: FakeConn) => void handshake(msg, conn);
  const fakeDefault = await fakeServer(t, stalled);
  const fakeProbed = await fakeServer(t, stalled);
  const byDefault = fakeClient(t, fakeDefault.remote, { reconnect: true });
  const probed = fakeClient(t, fakeProbed.remote, { reconnect: true, probeIntervalMs: 100 });
  const wd = watch(byDefault);
  const wp = watch(probed);
  await byDefault.connect(10_000);
  await probed.connect(10_000);

  // the probed client is the clock: three unanswered probes, three drops, three reconnections
  await until('three probe drops and reconnections', () => wp.disconnects.length >= 3 && wp.connects >= 4, 30_000);
  for (const d of wp.disconnects.slice(0, 3)) {
    t.type(d, ConnectionClosedError);
    t.match(d.message, 'inactivity probe: no answer for 200 ms, disconnecting');
  }
  for (const c of fakeProbed.conns.slice(0, 3)) {
    const echoes = c.received.filter((m) => m.method === 'echo');
    t.equal(echoes.length, 1, `connection ${c.n}: one echo probe before the drop`);
    t.match(echoes[0]?.id, /^probe-/);
    t.ok(c.isClosed, `connection ${c.n} was dropped by the client`);
  }

  // meanwhile the default client, on its equally silent unix server
  t.strictSame(
    fakeDefault.conns[0].received.map((m) => m.method),
    ['list_dbs', 'get_schema'],
    'the default client sent no echo at all',
  );
  t.equal(fakeDefault.conns.length, 1, 'and kept its one connection');
  t.notOk(fakeDefault.conns[0].isClosed, 'open');
  t.strictSame(wd.disconnects, [], 'never disconnected');
  t.ok(byDefault.connected);
});
