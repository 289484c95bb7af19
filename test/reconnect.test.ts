/**
 * Reconnection against real ovsdb-servers: a standalone server killed and
 * restarted with changes made while it was down (full resync, with events
 * that bring a listener's view up to date), Raft clusters where the member
 * the client uses dies (resume with monitor_cond_since, no resync), a writer
 * that loses its leader mid-run and still writes every row exactly once,
 * leadership transfer with a leader-only client, and a follower client that
 * stays put.
 */
import t, { type Test } from 'tap';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { JsonRpcSession } from '../src/ovsdb/jsonrpc.js';
import { ops, where } from '../src/ovsdb/operations.js';
import { ZERO_UUID } from '../src/ovsdb/schema.js';
import { CommitUnknownError, ConnectionClosedError, TransactionError } from '../src/ovsdb/errors.js';
import type { NbTables } from '../src/models/ovn-nb.js';
import { findBinary, run, type Sandbox } from '../tools/sandbox-lib.js';
import { nbctl, ovsdbClientDump, withSandbox } from './helpers/sandbox.js';
import { norm, waitFor } from './helpers/util.js';
import { expectSynced, mirrorOf, replicaState } from './helpers/replica-state.js';

const DB = 'OVN_Northbound';

// ---------------------------------------------------------------- helpers

/**
 * ovn-nbctl during a Raft election: it gives up ("database connection
 * failed") when it finds no leader, so try again until one is elected. Only
 * idempotent commands (--may-exist, --if-exists, set additions) go through here.
 */
async function nbctlWhenLeader(sb: Pick<Sandbox, 'nbRemote'>, ...args: string[]): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await nbctl(sb, ...args);
    } catch (e) {
      if (Date.now() > deadline || !/database connection failed/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function memberIndexOf(sb: Sandbox, remote: string | undefined): number | undefined {
  return sb.members.nb.find((m) => m.remote === remote)?.index;
}

function newClient(t: Test, remote: string, extra: Partial<ConstructorParameters<typeof OvsdbClient>[0]> = {}) {
  const c = new OvsdbClient({ remote, database: DB, minBackoffMs: 100, maxBackoffMs: 500, requestTimeoutMs: 15_000, ...extra });
  const connects: string[] = [];
  let disconnects = 0;
  c.on('connected', (r: string) => connects.push(r));
  c.on('disconnected', () => disconnects++);
  t.teardown(() => c.close());
  return { c, connects, disconnects: () => disconnects };
}

/** Record the monitor requests every session sends (instrumentation of the real connection, not a fake). */
const monitorRequests: { method: string; monitorId: unknown; lastTxnId: unknown }[] = [];
const origRequest = JsonRpcSession.prototype.request;
JsonRpcSession.prototype.request = function (this: JsonRpcSession, method, params, ropts) {
  if (method.startsWith('monitor')) {
    const p = params as unknown[];
    monitorRequests.push({ method, monitorId: p[1], lastTxnId: method === 'monitor_cond_since' ? p[3] : undefined });
  }
  return origRequest.call(this, method, params, ropts);
};
t.teardown(() => {
  JsonRpcSession.prototype.request = origRequest;
});

// ---------------------------------------------------------------- standalone

t.test('standalone: killed, changed offline, restarted: full resync whose events fix a listener view', async (t) => {
  const sb = await withSandbox(t, { northd: false });
  await nbctl(sb, 'lr-add', 'keep-lr', '--', 'lr-add', 'gone-lr', '--', 'ls-add', 'ls1', '--', 'set', 'Logical_Switch', 'ls1', 'other_config:a=1');
  await nbctl(sb, 'create', 'Address_Set', 'name=as_keep', 'addresses="10.0.0.1"');

  const tables = ['Logical_Router', 'Logical_Switch', 'Address_Set', 'NB_Global'];
  const { c, connects, disconnects } = newClient(t, sb.nbRemote);
  const rep = c.replica<NbTables>({ tables: { Logical_Router: true, Logical_Switch: true, Address_Set: true, NB_Global: true } });
  const mirror = mirrorOf(rep, tables);
  await c.connect(20_000);
  await rep.ready;
  const schema = c.schema!;
  await expectSynced(t, rep, sb.nbRemote, schema, tables, 'replica == dump after the first sync');
  t.strictSame(mirror.state(), replicaState(rep, tables), 'the first sync announced every row as an insert');
  t.equal(rep.stats.fullSyncs, 1);

  const m = sb.members.nb[0];
  await sb.killMember('nb', 0);
  t.ok(await waitFor(() => disconnects() >= 1), 'client noticed the drop');
  t.equal(c.connected, false);

  // change the database file while no server runs: the client cannot see these
  const tool = await findBinary('ovsdb-tool');
  const txn = [
    DB,
    { op: 'delete', table: 'Logical_Router', where: [['name', '==', 'gone-lr']] },
    { op: 'insert', table: 'Address_Set', row: { name: 'offline_as', addresses: ['set', ['9.9.9.9']] } },
    { op: 'update', table: 'Logical_Switch', where: [['name', '==', 'ls1']], row: { other_config: ['map', [['a', '2'], ['b', '3']]] } },
  ];
  const { stdout } = await run(tool, ['transact', m.dbFile, JSON.stringify(txn)]);
  t.notMatch(stdout, /"error"/, `ovsdb-tool transact applied the offline change: ${stdout.trim()}`);

  mirror.events.length = 0;
  await sb.startMember('nb', 0);
  t.ok(await waitFor(() => connects.length >= 2 && c.connected), 'the client reconnected by itself');
  t.equal(connects.length, 2, "'connected' emitted twice");
  await expectSynced(t, rep, sb.nbRemote, schema, tables, 'replica == dump after the restart');
  t.equal(rep.stats.fullSyncs, 2, 'a standalone server keeps no history: a full resync');
  t.equal(rep.stats.resumes, 0);
  t.comment(`standalone stats after restart: ${JSON.stringify(rep.stats)}`);

  const described = mirror.events.map((e) => {
    const r = e.row as Record<string, any>;
    if (e.kind === 'update') return `update ${e.table} ${r.name} ${JSON.stringify(norm((e.old as Record<string, any>).other_config))} -> ${JSON.stringify(norm(r.other_config))}`;
    return `${e.kind} ${e.table} ${r.name}`;
  });
  t.strictSame(
    described.sort(),
    ['delete Logical_Router gone-lr', 'insert Address_Set offline_as', 'update Logical_Switch ls1 [["a","1"]] -> [["a","2"],["b","3"]]'],
    'the resync announced exactly the changes made while disconnected',
  );
  t.strictSame(mirror.state(), replicaState(rep, tables), 'a view kept from events alone equals the replica');

  // and it keeps following changes after the reconnect
  await nbctl(sb, 'lr-add', 'after-lr', '--', 'lr-del', 'keep-lr');
  const after = await expectSynced(t, rep, sb.nbRemote, schema, tables, 'replica == dump after writes on the new connection');
  t.ok(Object.values(after.Logical_Router).some((r) => r.name === 'after-lr'));
  t.notOk(Object.values(after.Logical_Router).some((r) => r.name === 'keep-lr'));
  t.strictSame(mirror.state(), replicaState(rep, tables), 'and the event view still equals it');
  await c.close();
});

// ---------------------------------------------------------------- clusters

t.test('cluster: the member in use dies; the replica resumes from its last txn id (no resync)', async (t) => {
  const sb = await withSandbox(t, { cluster: 3, northd: false });
  const tables = ['Logical_Router', 'Address_Set'];
  const { c, connects } = newClient(t, sb.nbRemote);
  const rep = c.replica<NbTables>({ tables: { Logical_Router: true, Address_Set: true } });
  const mirror = mirrorOf(rep, tables);
  await c.connect(20_000);
  await rep.ready;
  const schema = c.schema!;
  for (let i = 0; i < 10; i++) await c.transact([ops.insert('Logical_Router', { name: `pre-${i}` })]);
  await nbctl(sb, 'create', 'Address_Set', 'name=as1', 'addresses="10.0.0.1","10.0.0.2"');
  await waitFor(() => rep.table('Address_Set').size === 1);

  const idx = memberIndexOf(sb, c.remote);
  t.ok(idx !== undefined, `connected to a member (${c.remote})`);
  t.equal(idx, await sb.leaderIndex('nb'), 'a leader-only client is on the leader');
  const statsBefore = { ...rep.stats };
  const txnBefore = rep.lastTxnId;
  t.not(txnBefore, ZERO_UUID, 'a clustered server gives transaction ids (update3)');
  t.comment(`before: member ${idx}, stats ${JSON.stringify(statsBefore)}, last txn ${txnBefore}`);

  // Freeze the member first, so these writes are certainly made while the
  // client cannot see them (the other two elect a leader and commit them),
  // then kill it; more writes race with the client's reconnection.
  const m = sb.members.nb.find((x) => x.index === idx)!;
  process.kill(m.pid, 'SIGSTOP');
  let stopped = true;
  t.teardown(() => {
    try {
      if (stopped) process.kill(m.pid, 'SIGCONT');
    } catch {
      /* already gone */
    }
  });
  // (ovn-nbctl only gets the two running members: a stopped one would accept its connection and never answer)
  const rest = { nbRemote: sb.members.nb.filter((x) => x !== m).map((x) => x.remote).join(',') };
  await nbctlWhenLeader(rest, '--may-exist', 'lr-add', 'missed-0', '--', '--may-exist', 'lr-add', 'missed-1', '--', '--if-exists', 'lr-del', 'pre-0', '--', 'add', 'Address_Set', 'as1', 'addresses', '"10.0.0.3"');
  t.equal(rep.table('Logical_Router').filter((r) => r.name === 'missed-0').length, 0, 'the replica has not seen them');
  monitorRequests.length = 0;
  mirror.events.length = 0;
  await sb.killMember('nb', idx!);
  stopped = false;
  await nbctlWhenLeader(sb, '--may-exist', 'lr-add', 'during-0', '--', 'remove', 'Address_Set', 'as1', 'addresses', '"10.0.0.1"');

  t.ok(await waitFor(() => connects.length >= 2 && c.connected), 'reconnected');
  t.not(c.remote, m.remote, 'to another member');
  const live = c.remote!;
  const st = await expectSynced(t, rep, live, schema, tables, 'replica == dump of a live member');
  t.comment(`after: member ${memberIndexOf(sb, c.remote)}, stats ${JSON.stringify(rep.stats)}, last txn ${rep.lastTxnId}`);
  t.comment(`monitor requests on reconnect: ${JSON.stringify(monitorRequests.filter((r) => r.monitorId === rep.monitorId))}`);

  const ours = monitorRequests.filter((r) => r.monitorId === rep.monitorId);
  t.equal(ours[0]?.method, 'monitor_cond_since', 'the replica asked for the changes since ...');
  t.equal(ours[0]?.lastTxnId, txnBefore, '... the last transaction id it had seen');
  t.equal(rep.stats.resumes, statsBefore.resumes + 1, 'the server found that id: a resume');
  t.equal(rep.stats.fullSyncs, statsBefore.fullSyncs, 'and no full resync');

  const names = Object.values(st.Logical_Router).map((r) => r.name).sort();
  t.strictSame(names, ['during-0', 'missed-0', 'missed-1', ...Array.from({ length: 9 }, (_, i) => `pre-${i + 1}`)].sort());
  t.strictSame(Object.values(st.Address_Set)[0].addresses, ['10.0.0.2', '10.0.0.3']);
  const kinds = mirror.events.map((e) => `${e.kind} ${String((e.row as Record<string, unknown>).name)}`);
  for (const k of ['insert missed-0', 'insert missed-1', 'delete pre-0', 'insert during-0', 'update as1']) t.ok(kinds.includes(k), `event: ${k}`);
  t.notOk(kinds.some((k) => /^insert pre-/.test(k)), 'unchanged rows were not announced again');
  t.strictSame(mirror.state(), replicaState(rep, tables), 'a view kept from events alone equals the replica');
  await sb.startMember('nb', idx!);
  await c.close();
});

t.test('cluster: leader killed while a writer runs: every row exactly once', async (t) => {
  const sb = await withSandbox(t, { cluster: 3, northd: false });
  const N = 300;
  const { c: w } = newClient(t, sb.nbRemote, { requestTimeoutMs: 10_000, maxBackoffMs: 1000 });
  const rep = w.replica<NbTables>({ tables: { Logical_Router: { columns: ['name'] } }, indexes: { Logical_Router: ['name'] } });
  await w.connect(20_000);
  await rep.ready;
  const remoteBefore = w.remote;
  const stats = { commitUnknown: 0, foundAfterUnknown: 0, retried: 0, duplicateGuardHit: 0, notSent: 0 };
  let done = 0;

  /** libovsdb's buildFailOnDuplicateOps: wait until no row has this name (timeout 0), then insert. */
  async function writeOne(name: string): Promise<void> {
    for (let attempt = 0; attempt < 30; attempt++) {
      try {
        await w.transact([ops.wait('Logical_Router', [where.eq('name', name)], '!=', [{ name }], ['name'], 0), ops.insert('Logical_Router', { name })]);
        return;
      } catch (e) {
        if (e instanceof TransactionError && e.isConflict) {
          stats.duplicateGuardHit++; // a lost reply's transaction did commit
          return;
        }
        if (e instanceof CommitUnknownError) {
          stats.commitUnknown++;
          // connected again means the replica is in sync with the new server
          await waitFor(() => w.connected, 60_000);
          if (rep.table('Logical_Router').lookup('name', name).length > 0) {
            stats.foundAfterUnknown++;
            return;
          }
          stats.retried++;
          continue;
        }
        if (e instanceof ConnectionClosedError) {
          stats.notSent++; // never sent (no connection in time): safe to retry
          continue;
        }
        throw e;
      }
    }
    throw new Error(`gave up writing ${name}`);
  }

  const names = Array.from({ length: N }, (_, i) => `w-${String(i).padStart(3, '0')}`);
  const writer = (async () => {
    for (const name of names) {
      await writeOne(name);
      done++;
    }
  })();
  writer.catch(() => {});

  t.ok(await waitFor(() => done >= 100, 120_000), 'writer reached 100 rows');
  const leader = await sb.leaderIndex('nb');
  t.equal(memberIndexOf(sb, w.remote), leader, 'the writer is on the leader');
  await sb.killMember('nb', leader);
  t.comment(`killed leader ${leader} after ${done} rows`);
  await writer;
  t.equal(done, N, 'the writer finished');
  t.comment(`writer: ${JSON.stringify(stats)}; replica ${JSON.stringify(rep.stats)}; ${remoteBefore} -> ${w.remote}`);
  t.ok(stats.commitUnknown >= 1, 'the kill cut a transaction in flight (outcome unknown, resolved through the replica)');
  t.not(w.remote, remoteBefore, "the client's remote changed");
  t.equal(memberIndexOf(sb, w.remote), await sb.leaderIndex('nb'), 'to the new leader');

  const listed = (await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router')).split('\n').filter(Boolean);
  const count = new Map<string, number>();
  for (const n of listed) count.set(n, (count.get(n) ?? 0) + 1);
  t.strictSame([...count].filter(([, k]) => k > 1), [], 'no duplicates (ovn-nbctl list)');
  t.strictSame(names.filter((n) => !count.has(n)), [], 'none missing');
  t.equal(listed.length, N, `exactly ${N} routers`);
  t.ok(await waitFor(() => rep.table('Logical_Router').size === N), 'the writer replica agrees');

  await sb.startMember('nb', leader);
  const back = sb.members.nb.find((m) => m.index === leader)!;
  t.ok(
    await waitFor(async () => (await ovsdbClientDump(back.remote, DB, 'Logical_Router', 'name').catch(() => ({ Logical_Router: [] }))).Logical_Router?.length === N, 30_000),
    'the restarted member caught up',
  );
  await w.close();
});

t.test('cluster: leadership transfer moves a leader-only client to the new leader', async (t) => {
  const sb = await withSandbox(t, { cluster: 3, northd: false });
  const { c, connects } = newClient(t, sb.nbRemote);
  const rep = c.replica<NbTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await c.connect(20_000);
  await rep.ready;
  await c.transact([ops.insert('Logical_Router', { name: 'before-transfer' })]);
  const want = ['before-transfer'];
  // three transfers in a row: each must move the client
  for (let round = 1; round <= 3; round++) {
    const old = await sb.leaderIndex('nb');
    t.equal(memberIndexOf(sb, c.remote), old, `round ${round}: on the leader (${old})`);
    const nu = await sb.transferLeadership('nb');
    t.not(nu, old);
    const newRemote = sb.members.nb.find((m) => m.index === nu)!.remote;
    t.ok(await waitFor(() => c.connected && c.remote === newRemote), `round ${round}: client moved to member ${nu}`);
    t.equal(c.remote, newRemote);
    t.equal(await sb.leaderIndex('nb'), nu, 'leaderIndex agrees');
    t.equal(connects.length, round + 1, 'one reconnection per transfer');
    t.comment(`transfer ${round}: ${old} -> ${nu}; replica ${JSON.stringify(rep.stats)}`);

    const name = `after-transfer-${round}`;
    want.push(name);
    const [r] = await c.transact([ops.insert('Logical_Router', { name })]);
    t.ok(r.uuid, 'a transaction after the move commits');
    t.match(await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router'), new RegExp(name));
    t.ok(await waitFor(() => rep.table('Logical_Router').filter((x) => x.name === name).length === 1), 'and reaches the replica');
  }
  t.strictSame([...rep.table('Logical_Router')].map((x) => x.name).sort(), want.sort());
  t.equal(rep.stats.fullSyncs, 1, 'every move was a resume');
  await c.close();
});

t.test('cluster: a client with leaderOnly false stays on its follower through a transfer', async (t) => {
  const sb = await withSandbox(t, { cluster: 3, northd: false });
  const leader = await sb.leaderIndex('nb');
  const follower = sb.members.nb.find((m) => m.index !== leader)!;
  const others = sb.members.nb.filter((m) => m !== follower).map((m) => m.remote);
  const { c, connects, disconnects } = newClient(t, [follower.remote, ...others].join(','), { leaderOnly: false });
  const rep = c.replica<NbTables>({ tables: { Logical_Router: { columns: ['name'] } } });
  await c.connect(20_000);
  await rep.ready;
  t.equal(c.remote, follower.remote, `connected to follower ${follower.index} (leader is ${leader})`);

  const nu = await sb.transferLeadership('nb');
  t.comment(`transfer: ${leader} -> ${nu}; our member ${follower.index} is now ${nu === follower.index ? 'the leader' : 'a follower'}`);
  await nbctl(sb, 'lr-add', 'via-nbctl');
  t.ok(await waitFor(() => rep.table('Logical_Router').filter((x) => x.name === 'via-nbctl').length === 1), 'reads: a row written by ovn-nbctl reaches the replica');
  const [r] = await c.transact([ops.insert('Logical_Router', { name: 'via-follower' })]);
  t.ok(r.uuid, 'writes: a transaction through the member commits');
  t.match(await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router'), /via-follower/, 'ovn-nbctl (on the leader) sees it');
  t.equal(c.remote, follower.remote, 'still on the same member');
  t.equal(connects.length, 1, 'never reconnected');
  t.equal(disconnects(), 0);
  await c.close();
});
