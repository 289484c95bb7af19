/**
 * Node liveness (src/ha/liveness.ts) when a dead node's daemon comes back
 * while the leader is coming back too: its steal of its node lock lands in
 * the leader's re-ask after the server restarted, at the two places it can.
 *
 * - After the leader's client re-requested its locks (the handshake: the node
 *   lock is free, so it is granted to the leader) and before the re-ask lets
 *   it go: the leader hears the steal ("stolen") on a watch still asked for.
 * - After the re-ask let the lock go and before it asks again: the steal
 *   takes a free lock and the leader hears nothing; its ask then queues
 *   behind the node.
 *
 * The order is made by holding the leader's one call (its unlock, or its
 * lock, of that node's lock) until the node's daemon holds the lock: the real
 * server and the real NodeLock on both sides. Either way the node is
 * returning (in hold-down: it was dead), and the leader is queued behind
 * it: when the node dies again, its lock is granted to the leader at once and
 * the node is dead (released) in milliseconds, not left to a grace or never
 * told.
 */
import t from 'tap';
import type { OvsdbClient } from '../src/ovsdb/client.js';
import { NodeLock, nodeLock } from '../src/ha/liveness.js';
import { recordedLiveness, restartableServer } from './helpers/restartable-server.js';
import { until } from './helpers/util.js';

const server = await restartableServer(t, 'natgw-liveness-steal-', 50);
const client = server.client;

const leader = await client(true);
// (a long hold-down: a node back from the dead stays returning through the test)
const { live, events } = recordedLiveness(t, leader, { pingMs: 50, holdDownMs: 60_000, reconnectGraceMs: 3000 });

/** Holds the leader's next `method` call of `lock` until `open()`; `entered` resolves when the call is held. */
function hold(method: 'lock' | 'unlock', lock: string): { entered: Promise<void>; open: () => void; undo: () => void } {
  const orig = leader[method].bind(leader) as (name: string) => Promise<unknown>;
  let entered!: () => void;
  let open!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (open = r));
  let held = false;
  (leader as unknown as Record<string, unknown>)[method] = async (name: string) => {
    if (!held && name === lock) {
      held = true;
      entered();
      await gate;
    }
    return orig(name);
  };
  return { entered: enteredP, open, undo: () => delete (leader as unknown as Record<string, unknown>)[method] };
}

/** A node's daemon (its own session, not reconnecting: closing it is the node dying). */
async function nodeDaemon(chassis: string): Promise<{ c: OvsdbClient; n: NodeLock }> {
  const c = await client(false);
  const n = new NodeLock(c, chassis);
  await n.start();
  return { c, n };
}

// a, b and c: watched before n4, so that the re-ask after a reconnection has work before it reaches n4
const others = await Promise.all(['a', 'b', 'c'].map(async (ch) => {
  const c = await client(true, 100);
  const n = new NodeLock(c, ch);
  await n.start();
  return n;
}));
t.teardown(() => Promise.all(others.map((n) => n.stop())));

for (const [what, method] of [
  ['between the handshake and the re-ask (the leader hears the steal)', 'unlock'],
  ['between the re-ask letting go and asking again (the leader hears nothing)', 'lock'],
] as const) {
  t.test(`a dead node's daemon back ${what}: returning, and its next death seen at once`, async (t) => {
    const lock = nodeLock('n4');
    let n4 = await nodeDaemon('n4');
    await live.watch(['a', 'b', 'c', 'n4']);
    await until('n4 alive', async () => live.stateOf('n4') === 'alive' || live.stateOf('n4') === 'returning', 5000);
    await n4.n.stop();
    await n4.c.close();
    await until('n4 dead', async () => live.stateOf('n4') === 'dead', 5000);
    await until('a, b, c alive', async () => ['a', 'b', 'c'].every((c) => live.stateOf(c) === 'alive'), 5000);

    events.length = 0;
    const h = hold(method, lock);
    try {
      await server.restart();
      // (bounded: a re-ask that never reaches the call fails here, it does not hang)
      await Promise.race([h.entered, new Promise((_, no) => setTimeout(() => no(new Error(`the leader's re-ask never reached n4's ${method}`)), 10_000).unref())]);
      t.ok(leader.connected, `the leader reconnected and its re-ask reached n4's ${method}`);
      // the node's daemon comes back now, while the leader's call is held
      n4 = await nodeDaemon('n4');
      await until('n4 holds its node lock', async () => n4.c.hasLock(lock), 5000);
      if (method === 'unlock') await until('the leader heard the steal', async () => !leader.hasLock(lock), 5000);
    } finally {
      h.open();
      h.undo();
    }
    // the re-ask goes on; then the leader is queued behind the node
    await until('n4 returning', async () => live.stateOf('n4') === 'returning', 5000);
    await until('a, b, c alive again', async () => ['a', 'b', 'c'].every((c) => live.stateOf(c) === 'alive'), 5000);
    await new Promise((r) => setTimeout(r, 300));
    t.equal(live.stateOf('n4'), 'returning', 'n4 stays returning (in hold-down: it was dead), not alive', { states: live.states() });
    t.notOk(events.some((e) => e.ev.startsWith('n4 dead')), `no death told while it holds its lock: ${events.map((e) => e.ev).join(', ')}`);

    // n4 dies again: its lock must come to the leader at once
    const killed = Date.now();
    await n4.n.stop();
    await n4.c.close();
    await until('n4 dead again', async () => live.stateOf('n4') === 'dead', 5000);
    const dead = events.find((e) => e.ev.startsWith('n4 dead'));
    t.equal(dead?.ev, 'n4 dead:released', 'told dead, its lock released to the leader');
    t.ok(dead && dead.at - killed < 1000, `within a second of its death: ${dead ? dead.at - killed : '?'} ms`);
  });
}
