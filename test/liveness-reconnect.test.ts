/**
 * Node liveness across the leader's own reconnection (src/ha/liveness.ts),
 * on a real ovsdb-server restarted under it: every session drops, the
 * leader's and the nodes'. A node whose daemon comes back takes its locks
 * again and stays alive (no false death, no event); a node that died while
 * the server was down (its session never comes back) had its lock released
 * where nobody could see it, and is dead (vanished) once the grace after the
 * leader's return is over, instead of staying unknown for good; a node dead
 * before stays dead, told once.
 */
import t from 'tap';
import { NodeLock } from '../src/ha/liveness.js';
import { recordedLiveness, restartableServer } from './helpers/restartable-server.js';
import { until } from './helpers/util.js';

const server = await restartableServer(t, 'natgw-liveness-reconnect-');
const client = server.client;

const GRACE = 3000;
const leader = await client(true, 50);
const { live, events } = recordedLiveness(t, leader, { pingMs: 50, holdDownMs: 60_000, reconnectGraceMs: GRACE });

// n1's daemon dies with the outage (no reconnect); n2's comes back, later than the leader; n3 is dead before
const n1 = new NodeLock(await client(false), 'n1');
const n2 = new NodeLock(await client(true, 400), 'n2');
const n3c = await client(false);
const n3 = new NodeLock(n3c, 'n3');
for (const n of [n1, n2, n3]) await n.start();
await live.watch(['n1', 'n2', 'n3']);
await until('all three watched', async () => ['n1', 'n2', 'n3'].every((c) => live.stateOf(c) === 'alive'), 5000);
await n3.stop();
await n3c.close();
await until('n3 dead', async () => live.stateOf('n3') === 'dead', 5000);

t.test('the server restarted: the node that came back is alive, the one that did not is dead (vanished), the dead one stays dead', async (t) => {
  events.length = 0;
  await server.restart();
  const back = Date.now();
  await until('the leader back', async () => leader.connected, 10_000);
  await until('n2 alive again', async () => live.stateOf('n2') === 'alive', 10_000);
  t.equal(live.stateOf('n3'), 'dead', 'n3, dead before, is still dead', { states: live.states() });
  await until('n1 dead', async () => live.stateOf('n1') === 'dead', GRACE + 5000);
  const dead = events.find((e) => e.ev === 'n1 dead:vanished');
  t.ok(dead, 'n1: dead, cause vanished (its lock was released while the leader was away)');
  t.ok(dead && dead.at - back >= GRACE - 50, `not before the grace: ${dead ? dead.at - back : '?'} ms after the server came back`);
  // a while longer: nothing else happens
  await new Promise((r) => setTimeout(r, 500));
  t.same(
    events.map((e) => e.ev),
    ['n1 dead:vanished'],
    'the only event: n1 dead (n2 came back as it was, unseen by the failover; n3 is not told dead twice)',
  );
  t.equal(live.stateOf('n2'), 'alive', 'n2 alive');
});
