/**
 * Node liveness by OVSDB locks (issue 16 §2, the node daemons' signal):
 * the ovn-natgwd on each gateway node holds the NB lock named for its
 * chassis (nodeLock) while it runs, taking it with `steal` when it starts;
 * the leader asks for every other gateway chassis's lock and waits in the
 * queue behind the holder. When a node dies (its processes killed, the host
 * gone: its NB session ends) ovsdb-server grants the lock to the leader, in
 * one round trip: that chassis is dead. When the node's daemon starts again
 * it steals its lock back: the leader is told (stolen), and the chassis
 * returns.
 *
 * A lock granted at once, with no holder ever seen, says nothing (a node
 * without ovn-natgwd, or one dead before the leader started): only a
 * transition from held-by-the-node to granted counts. The lock changes that
 * come from the leader's own session dropping (every lock is lost then) are
 * not a node's.
 */
import type { OvsdbClient } from '../ovsdb/client.js';

/** The lock a gateway node's daemon holds while it runs (an OVSDB <id>: the chassis name with "_" for what an id cannot hold). */
export function nodeLock(chassis: string): string {
  return `ovn_natgw_node_${chassis.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export interface LivenessEvents {
  /** the node's daemon holds its lock: watched from now on */
  onWatched?(chassis: string): void;
  /** its lock was released to us: the node is gone */
  onDead(chassis: string): void;
  /** its daemon took its lock back */
  onReturned(chassis: string): void;
}

type State = 'asked' | 'held-by-node' | 'granted-at-once' | 'dead';

export class NodeLiveness {
  private readonly state = new Map<string, State>();
  private readonly byLock = new Map<string, string>();
  private connected = true;
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly client: OvsdbClient,
    private readonly ev: LivenessEvents,
  ) {
    const locked = (name: string) => this.granted(name);
    const stolen = (name: string) => this.stolen(name);
    const down = () => (this.connected = false);
    const up = () => (this.connected = true);
    client.on('locked', locked);
    client.on('stolen', stolen);
    client.on('disconnected', down);
    client.on('connected', up);
    this.off.push(() => client.off('locked', locked), () => client.off('stolen', stolen), () => client.off('disconnected', down), () => client.off('connected', up));
  }

  /** Watches these chassis (asks for their locks); those no longer named are let go. */
  async watch(chassis: readonly string[]): Promise<void> {
    const want = new Set(chassis);
    for (const c of [...this.state.keys()]) if (!want.has(c)) await this.forget(c);
    for (const c of want) {
      if (this.state.has(c)) continue;
      const lock = nodeLock(c);
      this.byLock.set(lock, c);
      this.state.set(c, 'asked');
      const now = await this.client.lock(lock);
      // (a grant that came as a notification meanwhile was handled by granted())
      if (this.state.get(c) === 'asked') {
        this.state.set(c, now ? 'granted-at-once' : 'held-by-node');
        if (!now) this.ev.onWatched?.(c);
      }
    }
  }

  /** What is known of a chassis: dead (its lock came to us), watched (its node holds it), or unknown. */
  stateOf(chassis: string): 'dead' | 'watched' | 'unknown' {
    const s = this.state.get(chassis);
    return s === 'dead' ? 'dead' : s === 'held-by-node' ? 'watched' : 'unknown';
  }

  /** The chassis whose node holds its lock (watched). */
  watched(): string[] {
    return [...this.state].filter(([, s]) => s === 'held-by-node').map(([c]) => c).sort();
  }

  /** The chassis taken as dead now. */
  dead(): string[] {
    return [...this.state].filter(([, s]) => s === 'dead').map(([c]) => c);
  }

  private granted(lock: string): void {
    const c = this.byLock.get(lock);
    if (!c) return;
    const s = this.state.get(c);
    if (s === 'held-by-node') {
      this.state.set(c, 'dead');
      this.ev.onDead(c);
    } else if (s === 'asked') this.state.set(c, 'granted-at-once');
  }

  private stolen(lock: string): void {
    const c = this.byLock.get(lock);
    if (!c || !this.connected) return; // (our session went: every lock is lost, no node did anything)
    const s = this.state.get(c);
    this.state.set(c, 'held-by-node');
    if (s === 'dead') this.ev.onReturned(c);
    else this.ev.onWatched?.(c);
  }

  private async forget(c: string): Promise<void> {
    const lock = nodeLock(c);
    this.state.delete(c);
    this.byLock.delete(lock);
    await this.client.unlock(lock).catch(() => undefined);
  }

  /** Lets every lock go (this daemon no longer leads). */
  async stop(): Promise<void> {
    for (const c of [...this.state.keys()]) await this.forget(c);
    for (const f of this.off.splice(0)) f();
  }
}
