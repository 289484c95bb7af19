// Optimistic concurrency against a real ovsdb-server: two writers do
// read-modify-write on one counter through their replicas; with verify waits
// and retries no increment is lost, and without them increments are lost.
import t from 'tap';
import { withSandbox, nbctl } from './helpers/sandbox.js';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { ops, where } from '../src/ovsdb/operations.js';
import { transactVerified, verify } from '../src/ovsdb/verify.js';
import type { Replica } from '../src/ovsdb/replica.js';

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

t.test('with verify: every increment counts', async (t) => {
  await Promise.all(
    [a, b].map(async (w) => {
      for (let i = 0; i < N; i++) await transactVerified(w.client, w.rep, () => increment(w.rep, true));
    }),
  );
  const n = await nbctl(sb, 'get', 'Logical_Router', 'counter', 'external_ids:n');
  t.equal(n.replace(/"/g, ''), String(2 * N), 'ovn-nbctl reads the counter as 2N');
});

t.test('a stale read is refused as a conflict, naming the wait', async (t) => {
  const row = a.rep.table('Logical_Router').lookup('name', 'counter')[0];
  await b.client.transact(increment(b.rep, false));
  const err = await a.client.transact([verify('Logical_Router', row, ['external_ids'])]).catch((e) => e);
  t.equal(err.name, 'TransactionError');
  t.ok(err.isConflict, 'isConflict');
  t.match(err.message, /operation 0 \(wait Logical_Router\)/);
});
