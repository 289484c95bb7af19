/**
 * NodeLiveness (src/ha/liveness.ts) against a scripted lock client, for the
 * orders of events a real ovsdb-server gives only by chance: a pong lost
 * once must not leave a live node dead for good, and a probe of the ping
 * lock never runs beside a ping (one session, one lock, two requests).
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { NodeLiveness } from '../src/ha/liveness.js';
import type { OvsdbClient } from '../src/ovsdb/client.js';
import { until } from './helpers/util.js';

/** A client whose node holds both locks; `answer` says whether the node steals its ping lock back. */
class Script extends EventEmitter {
  connected = true;
  answer = true;
  held = new Set<string>();
  /** requests out per lock, to catch two at once */
  out = new Map<string, number>();
  clash = 0;
  steals = 0;
  private async req<T>(name: string, f: () => T): Promise<T> {
    const n = (this.out.get(name) ?? 0) + 1;
    if (n > 1) this.clash++;
    this.out.set(name, n);
    await new Promise((r) => setTimeout(r, 5));
    this.out.set(name, (this.out.get(name) ?? 1) - 1);
    return f();
  }
  lock(name: string) {
    // the node holds both: queued, not granted
    return this.req(name, () => false);
  }
  steal(name: string) {
    return this.req(name, () => {
      this.steals++;
      this.held.add(name);
      if (name.endsWith('_ping') && this.answer) setTimeout(() => this.held.delete(name) && this.emit('stolen', name, 'notified'), 2);
      return true;
    });
  }
  async unlock(name: string) {
    this.held.delete(name);
  }
  hasLock(name: string) {
    return this.held.has(name);
  }
}

t.test('a pong lost once: dead (silent), then asked again, and the live node returns', async (t) => {
  const c = new Script();
  const ev: string[] = [];
  const live = new NodeLiveness(c as unknown as OvsdbClient, { onDead: (_n, why) => ev.push(`dead:${why}`), onReturned: () => ev.push('returning'), onSuspect: () => ev.push('suspect') }, { pingMs: 20, holdDownMs: 60_000 });
  t.teardown(() => live.stop());
  await live.watch(['n1']);
  await until('pinged', async () => c.steals >= 2, 2000);
  c.answer = false; // one pong lost (the node is alive, and holds its ping lock again)
  await until('dead', async () => live.stateOf('n1') === 'dead', 2000);
  c.answer = true;
  await until('returning', async () => live.stateOf('n1') === 'returning', 2000);
  t.same(ev.filter((e) => e !== 'suspect'), ['dead:silent', 'returning'], 'dead by silence, then back when its ping lock is stolen again and answered');
  t.equal(c.clash, 0, 'never two requests for one lock at once');
});
