/**
 * OVSDB locks (RFC 7047 4.1.8-4.1.10) with several clients on one real
 * ovsdb-server: lock / unlock hand-over ("locked"), steal ("stolen"), and
 * transactions guarded by an "assert" of the lock. Writes are checked with
 * ovn-nbctl.
 */
import t from 'tap';
import { once } from 'node:events';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { TransactionError } from '../src/ovsdb/errors.js';
import { ops } from '../src/ovsdb/operations.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { catchAsync } from './helpers/util.js';

const NB = 'OVN_Northbound';
const LOCK = 'natgw';

/** The next `event` of `client` for `name`, with a guard against hanging (not a timing assertion). */
function nextLockEvent(client: OvsdbClient, event: 'locked' | 'stolen', name: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener(event, on);
      reject(new Error(`no "${event}" event for ${name}`));
    }, timeoutMs);
    const on = (n: string) => {
      if (n !== name) return;
      clearTimeout(timer);
      client.removeListener(event, on);
      resolve(n);
    };
    client.on(event, on);
  });
}

t.test('locks between clients on a real server', async (t) => {
  const sb = await withSandbox(t, { northd: false });
  const mk = async () => {
    const c = new OvsdbClient({ remote: sb.nbRemote, database: NB, requestTimeoutMs: 10_000, minBackoffMs: 100 });
    t.teardown(() => c.close());
    await c.connect(20_000);
    return c;
  };
  const a = await mk();
  const b = await mk();
  const c = await mk();
  const events: string[] = [];
  for (const [n, x] of [['A', a], ['B', b], ['C', c]] as const) {
    x.on('locked', (l: string) => events.push(`${n} locked ${l}`));
    x.on('stolen', (l: string) => events.push(`${n} stolen ${l}`));
  }
  const routers = async () =>
    (await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router'))
      .split('\n')
      .filter(Boolean)
      .sort();
  const assertNotOwner = async (who: OvsdbClient, name: string, label: string) => {
    const e = await catchAsync(who.transact([ops.insert('Logical_Router', { name })], { assertLock: LOCK }));
    t.type(e, TransactionError, `${label}: TransactionError`);
    t.equal((e as TransactionError).code, 'not owner', `${label}: "not owner"`);
    t.match((e as Error).message, /not owner/);
  };

  // A takes the free lock; B queues behind it
  t.equal(await a.lock(LOCK), true, 'A gets the free lock');
  t.ok(a.hasLock(LOCK));
  t.equal(await b.lock(LOCK), false, 'B does not get it while A holds it');
  t.notOk(b.hasLock(LOCK), 'B does not hold it');

  // only the holder can write under the lock
  await a.transact([ops.insert('Logical_Router', { name: 'by-A' })], { assertLock: LOCK });
  await assertNotOwner(b, 'by-B-waiting', 'B while waiting');
  await assertNotOwner(c, 'by-C-never-asked', 'C that never asked');

  // A unlocks: the server hands the lock to B, which is told "locked"
  const bLocked = nextLockEvent(b, 'locked', LOCK);
  await a.unlock(LOCK);
  t.equal(await bLocked, LOCK, 'B gets a "locked" event');
  t.ok(b.hasLock(LOCK), 'B holds it');
  t.notOk(a.hasLock(LOCK), 'A no longer holds it');
  await b.transact([ops.insert('Logical_Router', { name: 'by-B' })], { assertLock: LOCK });
  await assertNotOwner(a, 'by-A-after-unlock', 'A after unlocking');

  // C steals it: B is told "stolen"
  const bStolen = nextLockEvent(b, 'stolen', LOCK);
  t.equal(await c.steal(LOCK), true, 'C steals the lock');
  t.equal(await bStolen, LOCK, 'B gets a "stolen" event');
  t.notOk(b.hasLock(LOCK), 'B no longer holds it');
  t.ok(c.hasLock(LOCK), 'C holds it');
  await assertNotOwner(b, 'by-B-after-stolen', 'B after the steal');
  await c.transact([ops.insert('Logical_Router', { name: 'by-C' })], { assertLock: LOCK });

  // B stayed in the queue: when C lets go, B gets it back
  const bAgain = nextLockEvent(b, 'locked', LOCK);
  await c.unlock(LOCK);
  t.equal(await bAgain, LOCK, 'B gets the lock again after C unlocks');
  t.ok(b.hasLock(LOCK));
  t.notOk(c.hasLock(LOCK));
  await b.transact([ops.insert('Logical_Router', { name: 'by-B-again' })], { assertLock: LOCK });

  t.strictSame(await routers(), ['by-A', 'by-B', 'by-B-again', 'by-C'], 'ovn-nbctl: only the holders wrote');
  t.strictSame(
    events.filter((e) => !e.startsWith('A locked')),
    ['B locked natgw', 'B stolen natgw', 'C locked natgw', 'B locked natgw'],
    'lock events in order',
  );
});

t.test('a lock is lost with the connection and taken again on reconnection', async (t) => {
  const sb = await withSandbox(t, { northd: false });
  const a = new OvsdbClient({ remote: sb.nbRemote, database: NB, requestTimeoutMs: 10_000, minBackoffMs: 100, maxBackoffMs: 400 });
  t.teardown(() => a.close());
  await a.connect(20_000);
  t.equal(await a.lock(LOCK), true);
  t.ok(a.hasLock(LOCK));

  // the server releases the locks of a closed session: the client must not go on believing it holds it
  const stolen = nextLockEvent(a, 'stolen', LOCK);
  const disconnected = once(a, 'disconnected');
  await sb.killMember('nb', 0);
  await disconnected;
  await stolen;
  t.notOk(a.hasLock(LOCK), 'not held while disconnected ("stolen" emitted)');

  const relocked = nextLockEvent(a, 'locked', LOCK, 30_000);
  await sb.startMember('nb', 0);
  await a.connect(30_000);
  await relocked;
  t.ok(a.hasLock(LOCK), 'held again on the new connection ("locked" emitted)');
  await a.transact([ops.insert('Logical_Router', { name: 'after-restart' })], { assertLock: LOCK });
  t.equal(await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router'), 'after-restart', 'and the server agrees');
});
