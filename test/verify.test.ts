// Optimistic concurrency against a real ovsdb-server: two writers do
// read-modify-write on one counter through their replicas; with verify waits
// and retries (transactVerified) no increment is lost and the conflicts it
// retried are counted (each attempt calls `build` once, and it retries only on
// a conflict); without them increments are lost.
import t from 'tap';
import { withSandbox, nbctl } from './helpers/sandbox.js';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { ops, where } from '../src/ovsdb/operations.js';
import { transactVerified, verify } from '../src/ovsdb/verify.js';
import type { Replica } from '../src/ovsdb/replica.js';
import { until } from './helpers/util.js';

const sb = await withSandbox(t, { northd: false });
await nbctl(sb, 'lr-add', 'counter', '--', 'set', 'Logical_Router', 'counter', 'external_ids:n=0');

async function writer(): Promise<{ client: OvsdbClient; rep: Replica }> {
  const client = new OvsdbClient({ remote: sb.nbRemote, database: 'OVN_Northbound', minBackoffMs: 100 });
  const rep = client.replica({ tables: { Logical_Router: { columns: ['name', 'external_ids'] } }, indexes: { Logical_Router: ['name'] } });
  await client.connect(10_000);
  await rep.ready;
  return { client, rep };
}

function increment(rep: Replica, guarded: boolean) {
  const row = rep.table('Logical_Router').lookup('name', 'counter')[0];
  const ids = row.external_ids as ReadonlyMap<string, string>;
  const next = new Map(ids).set('n', String(Number(ids.get('n')) + 1));
  const update = ops.update('Logical_Router', [where.uuid(row._uuid)], { external_ids: next });
  return guarded ? [verify('Logical_Router', row, ['external_ids']), update] : [update];
}

const a = await writer();
const b = await writer();
t.teardown(async () => {
  await a.client.close();
  await b.client.close();
});
const N = 40;

const counter = async () => Number((await nbctl(sb, 'get', 'Logical_Router', 'counter', 'external_ids:n')).replace(/"/g, ''));
const seen = (rep: Replica) => Number((rep.table('Logical_Router').lookup('name', 'counter')[0]?.external_ids as ReadonlyMap<string, string>).get('n'));

t.test('with verify: every increment counts', async (t) => {
  const start = await counter();
  let builds = 0;
  let commits = 0;
  await Promise.all(
    [a, b].map(async (w) => {
      for (let i = 0; i < N; i++) {
        await transactVerified(w.client, w.rep, () => (builds++, increment(w.rep, true)));
        commits++;
      }
    }),
  );
  t.equal(await counter(), start + 2 * N, 'ovn-nbctl reads the counter as 2N');
  t.equal(commits, 2 * N, 'every call committed');
  // both writers start in the same tick from the same value, so at least their first increments collide
  t.ok(builds - commits > 0, `conflicts were retried (${builds} attempts for ${commits} commits)`);
});

t.test('the same interleaving: without verify increments are lost, with verify they are retried', async (t) => {
  const R = 10;
  // each round both writers read the counter (their replicas show the same value), then both write
  const round = async (expect: number, run: () => Promise<unknown>) => {
    await until(`both replicas to show ${expect}`, () => seen(a.rep) === expect && seen(b.rep) === expect);
    await run();
  };

  let start = await counter();
  for (let i = 0; i < R; i++) {
    await round(start + i, () => {
      const [opsA, opsB] = [increment(a.rep, false), increment(b.rep, false)];
      return Promise.all([a.client.transact(opsA), b.client.transact(opsB)]);
    });
  }
  t.equal(await counter(), start + R, `without verify: ${2 * R} increments, the counter moved by ${R} (one of each pair lost)`);

  start = await counter();
  let builds = 0;
  for (let i = 0; i < R; i++) {
    // transactVerified builds synchronously, so both first attempts read the same value
    await round(start + 2 * i, () =>
      Promise.all([a, b].map((w) => transactVerified(w.client, w.rep, () => (builds++, increment(w.rep, true))))),
    );
  }
  t.equal(await counter(), start + 2 * R, `with verify: ${2 * R} increments, all counted`);
  t.ok(builds >= 3 * R, `every round had a conflict that was retried (${builds} attempts for ${2 * R} commits)`);
});

t.test('a stale read is refused as a conflict, naming the wait', async (t) => {
  const row = a.rep.table('Logical_Router').lookup('name', 'counter')[0];
  await b.client.transact(increment(b.rep, false));
  const err = await a.client.transact([verify('Logical_Router', row, ['external_ids'])]).catch((e) => e);
  t.equal(err.name, 'TransactionError');
  t.ok(err.isConflict, 'isConflict');
  t.match(err.message, /operation 0 \(wait Logical_Router\)/);
});
