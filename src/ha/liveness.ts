/**
 * Node liveness by OVSDB locks (issue 16 §2, the node daemons' signal).
 *
 * The ovn-natgwd on each gateway node holds two NB locks named for its
 * chassis while it runs and its node is healthy (NodeLock, below): its node
 * lock (nodeLock) and its ping lock (nodePingLock). The leader asks for every
 * other gateway chassis's node lock and waits in the queue behind the holder:
 *
 * - **released**: when a node dies (its processes killed, the host gone: its
 *   NB session ends) or its daemon lets the lock go (its node unhealthy),
 *   ovsdb-server grants the node lock to the leader, in one round trip: dead.
 *   The leader never steals the node lock, so this holds at every moment,
 *   pings or not.
 * - **silent**: a stopped node (SIGSTOP, a hung kernel, a cut link with no
 *   TCP close) keeps its session, and its locks, for as long as the server's
 *   inactivity probe allows (none on unix sockets). So the leader pings: every
 *   `pingMs` it steals the node's ping lock, and a live node's daemon steals
 *   it straight back, which the leader hears as "stolen". No pong by the next
 *   ping: suspect; none for `deadAfterMisses` pings: dead. The pings touch no
 *   table: nothing is written, nobody else is told. (With one lock for both,
 *   a node killed between the leader's steal and its own steal back left
 *   nothing to be granted: measured, one kill in ten at 100 ms pings was
 *   found by the pings, 300 ms later, instead of 4 ms.)
 * - **returning**: a dead node's daemon taking a lock back from the leader
 *   (its pong, late, or a restart) makes it returning; it is counted live
 *   again only after `holdDownMs` without a loss (the hold-down against
 *   flapping), then alive.
 *
 * A lock granted at once, with no holder ever seen, says nothing (a node
 * without ovn-natgwd, or one dead before the leader started): only a
 * transition from held-by-the-node to granted counts. The lock changes that
 * come from the leader's own session dropping (every lock is lost then) are
 * not a node's: after a reconnection every lock is asked for anew, and what
 * was known is kept. A lock its node held before that is granted now was let
 * go while we were away: unknown for `reconnectGraceMs` (the node's daemon
 * may be coming back too, after an NB restart), then dead (vanished).
 */
import type { OvsdbClient } from '../ovsdb/client.js';

/** The lock a gateway node's daemon holds while it runs (an OVSDB <id>: the chassis name with "_" for what an id cannot hold). */
export function nodeLock(chassis: string): string {
  return `ovn_natgw_node_${chassis.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The lock the leader steals to ping a node, whose daemon steals it straight back. */
export function nodePingLock(chassis: string): string {
  return `${nodeLock(chassis)}_ping`;
}

/** What the leader knows of a watched chassis. */
export type NodeState = 'alive' | 'suspect' | 'dead' | 'returning' | 'unknown';
export type DeathCause = 'released' | 'silent' | 'absent' | 'vanished';

export interface LivenessEvents {
  /** the node's daemon holds its lock: watched from now on */
  onWatched?(chassis: string): void;
  /** a ping not answered in time (the node may be stopped) */
  onSuspect?(chassis: string, silentMs: number): void;
  /** released: its lock came to us (its session ended, or it let go); silent: no pong for deadAfterMisses pings; absent: no daemon took it within absentMs (requireNodes); vanished: held before our own session dropped, nobody took it back within reconnectGraceMs of our return */
  onDead(chassis: string, cause: DeathCause, silentMs?: number): void;
  /** its daemon took its lock back: in hold-down, not yet live */
  onReturned(chassis: string): void;
  /** live again: a suspect that answered, or a returning one past its hold-down */
  onAlive?(chassis: string, from: 'suspect' | 'returning'): void;
  /** its daemon holds no ping lock (an older build): not pinged, so a silent node is not found */
  onUnpingable?(chassis: string): void;
  /** every answered ping, with its round trip (for metrics) */
  onPong?(chassis: string, rttMs: number): void;
}

export interface LivenessOptions {
  /** ms between pings of each watched node (0: no pings, released locks only); default 250 */
  pingMs?: number;
  /** unanswered pings before a suspect node is dead; default 3 (with 250 ms: dead 0.5 to 0.75 s after it went silent) */
  deadAfterMisses?: number;
  /** ms a returning node must stay before it counts as live; default 10000 */
  holdDownMs?: number;
  /**
   * Every gateway node runs ovn-natgwd: a lock nobody holds for absentMs
   * (granted to us at once, say when we took over from a leader that died with
   * its node) is a dead node. Default false: such a chassis is unknown.
   */
  requireNodes?: boolean;
  /** ms an unheld lock is waited for before its chassis is dead (requireNodes); default 3000 */
  absentMs?: number;
  /**
   * ms after our own session came back that a lock its node held before, and
   * nobody holds now, is waited for before the chassis is dead (cause
   * vanished: the node died while we were away, and its release was never
   * seen). Long enough for the node daemons to come back after an NB restart
   * (their reconnect backoff, up to 8 s, and their replicas' sync); default
   * 10000. 0: such a node stays unknown.
   */
  reconnectGraceMs?: number;
  now?: () => number;
}

interface Watch {
  lock: string;
  /** the ping lock */
  ping: string;
  /** asked: lock requested, answer pending; unknown: granted at once (no holder seen) */
  state: NodeState | 'asked';
  /** a ping out (we steal, waiting for the node to steal back): since when */
  pingAt?: number;
  /** the last pong or the first sight of the holder */
  heardAt: number;
  /** returning since */
  returningAt?: number;
  /** unknown (its lock granted to us at once) since */
  unheldAt?: number;
  /** its daemon holds its ping lock (seen when it was watched or came back): pinged only then */
  pingable?: boolean;
  /** a probe of the ping lock is out (no ping meanwhile: two requests of one session for one lock clash) */
  probing?: boolean;
  /** asked for again while one was out: run once more after it (the daemon may have changed meanwhile) */
  reprobe?: boolean;
  /** dead by silence: its ping lock is stolen again now and then, so that a pong lost once is not final */
  silentDead?: boolean;
  /** asked anew after our session came back: what was known before (alive, suspect, returning or dead: a holder was seen) */
  before?: { state: NodeState; returningAt?: number };
}

/** What a watch knows that a reconnection must not forget: a state seen with a holder (or carried from before). */
function known(x: Watch): Watch['before'] {
  if (x.state === 'alive' || x.state === 'suspect' || x.state === 'returning' || x.state === 'dead') return { state: x.state, ...(x.returningAt !== undefined ? { returningAt: x.returningAt } : {}) };
  return x.before;
}

export class NodeLiveness {
  private readonly w = new Map<string, Watch>();
  /** each lock (node or ping) to its chassis */
  private readonly byLock = new Map<string, string>();
  private readonly off: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pingMs: number;
  private readonly deadAfter: number;
  private readonly holdDownMs: number;
  private readonly now: () => number;
  private readonly absentMs: number | undefined;
  private readonly graceMs: number;
  private stopped = false;

  constructor(
    private readonly client: OvsdbClient,
    private readonly ev: LivenessEvents,
    opts: LivenessOptions = {},
  ) {
    this.pingMs = opts.pingMs ?? 250;
    this.deadAfter = Math.max(1, opts.deadAfterMisses ?? 3);
    this.holdDownMs = opts.holdDownMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.absentMs = opts.requireNodes ? (opts.absentMs ?? 3000) : undefined;
    this.graceMs = opts.reconnectGraceMs ?? 10_000;
    const locked = (name: string) => this.granted(name);
    const stolen = (name: string) => this.stolen(name);
    const down = () => {
      for (const x of this.w.values()) {
        // (what was known is kept aside: a lock its node held then, and granted to us once we are back, was released meanwhile)
        const before = known(x);
        if (before) x.before = before;
        x.state = 'asked';
        delete x.pingAt;
      }
    };
    const up = () => void this.reask();
    client.on('locked', locked);
    client.on('stolen', stolen);
    client.on('disconnected', down);
    client.on('connected', up);
    this.off.push(() => client.off('locked', locked), () => client.off('stolen', stolen), () => client.off('disconnected', down), () => client.off('connected', up));
    const tick = Math.max(20, Math.min(this.pingMs || 1000, this.holdDownMs || 1000));
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
  }

  /** Watches these chassis (asks for their locks); those no longer named are let go. */
  async watch(chassis: readonly string[]): Promise<void> {
    const want = new Set(chassis);
    for (const c of [...this.w.keys()]) if (!want.has(c)) await this.forget(c);
    for (const c of want) if (!this.w.has(c)) await this.ask(c, { lock: nodeLock(c), ping: nodePingLock(c), state: 'asked', heardAt: this.now() });
  }

  private async ask(c: string, x: Watch): Promise<void> {
    this.byLock.set(x.lock, c);
    this.byLock.set(x.ping, c);
    this.w.set(c, x);
    const now = await this.client.lock(x.lock);
    // (a grant that came as a notification meanwhile was handled by granted())
    if (x.state !== 'asked' || this.w.get(c) !== x) return;
    if (now) this.unheld(x);
    else {
      x.heardAt = this.now();
      this.held(c, x);
      void this.probe(c, x);
    }
  }

  /**
   * Its node holds its lock (we are queued behind it, or it took the lock from
   * us) while we knew nothing since our reconnection: as it was before, not
   * news. One returning keeps its hold-down, one dead starts it (a node stopped
   * with its session open holds its lock too, and its pings tell); one never
   * seen is watched from now on.
   */
  private held(c: string, x: Watch): void {
    const b = x.before;
    delete x.before;
    if (b?.state === 'returning' || b?.state === 'dead') {
      x.state = 'returning';
      x.returningAt = b.state === 'returning' ? (b.returningAt ?? this.now()) : this.now();
    } else {
      x.state = 'alive';
      if (!b) this.ev.onWatched?.(c);
    }
  }

  /**
   * A node lock granted to us with no release seen: unknown (no daemon, or
   * dead before we looked), unless it was held before our session dropped: a
   * node dead then stays dead; one alive is dead (vanished) when nobody takes
   * it back within reconnectGraceMs (tick).
   */
  private unheld(x: Watch): void {
    if (x.before?.state === 'dead') {
      x.state = 'dead';
      delete x.before;
      return;
    }
    x.state = 'unknown';
    x.unheldAt = this.now();
  }

  /**
   * Whether the node's daemon holds its ping lock: asked for, and let go at
   * once. A daemon of an older build holds the node lock only; pinged, it
   * would never answer, and be failed over as silent while it runs. Such a
   * node is not pinged (its death is still seen when its lock is released).
   */
  private async probe(c: string, x: Watch): Promise<void> {
    // (one out already, or a ping out: two requests of one session for one lock clash; probed again once it is over)
    if (x.probing || x.pingAt !== undefined) {
      x.reprobe = true;
      return;
    }
    x.probing = true;
    let free: boolean | undefined;
    try {
      free = await this.client.lock(x.ping);
      await this.client.unlock(x.ping);
    } catch {
      free = undefined;
    } finally {
      x.probing = false;
    }
    if (this.w.get(c) !== x || this.stopped) return;
    if (free === undefined) {
      // (refused or cut off: asked again, not left unknown)
      const retry = setTimeout(() => void (this.w.get(c) === x && this.client.connected && this.probe(c, x)), Math.max(50, this.pingMs));
      retry.unref();
      return;
    }
    const was = x.pingable;
    x.pingable = !free;
    if (free && was !== false) this.ev.onUnpingable?.(c);
    if (x.reprobe) {
      x.reprobe = false;
      void this.probe(c, x);
    }
  }

  /** After our own session came back: every lock asked for anew (what was known is void). */
  private async reask(): Promise<void> {
    for (const [c, x] of [...this.w]) {
      if (this.stopped || !this.client.connected) return;
      await this.client.unlock(x.lock).catch(() => undefined);
      await this.client.unlock(x.ping).catch(() => undefined);
      // (the client asked for our locks again before it said connected: a grant then was judged already, and is carried)
      const before = known(x);
      await this.ask(c, { lock: x.lock, ping: x.ping, state: 'asked', heardAt: this.now(), ...(before ? { before } : {}) }).catch(() => undefined);
    }
  }

  /** What is known of a chassis (a chassis not watched: unknown). */
  stateOf(chassis: string): NodeState {
    const x = this.w.get(chassis);
    // (asked anew after our reconnection: what was known until the answer)
    return x === undefined ? 'unknown' : x.state === 'asked' ? (x.before?.state ?? 'unknown') : x.state;
  }

  /** Every watched chassis with its state. */
  states(): [string, NodeState][] {
    return [...this.w.keys()].sort().map((c) => [c, this.stateOf(c)]);
  }

  /** The chassis whose node holds its lock and answers (alive or suspect). */
  watched(): string[] {
    return this.inState('alive', 'suspect');
  }

  /** The chassis taken as dead now. */
  dead(): string[] {
    return this.inState('dead');
  }

  /** The chassis not to place on: dead, or returning and still in hold-down. */
  down(): string[] {
    return this.inState('dead', 'returning');
  }

  private inState(...s: NodeState[]): string[] {
    return [...this.w.keys()].filter((c) => s.includes(this.stateOf(c))).sort();
  }

  private tick(): void {
    if (!this.client.connected || this.stopped) return;
    const now = this.now();
    for (const [c, x] of this.w) {
      if (x.state === 'unknown' && this.absentMs !== undefined && now - (x.unheldAt ?? now) >= this.absentMs) {
        x.state = 'dead';
        delete x.before;
        this.ev.onDead(c, 'absent', now - x.unheldAt!);
        continue;
      }
      if (x.state === 'unknown' && x.before && this.graceMs > 0 && now - (x.unheldAt ?? now) >= this.graceMs) {
        x.state = 'dead';
        delete x.before;
        this.ev.onDead(c, 'vanished', now - x.unheldAt!);
        continue;
      }
      if (x.state === 'returning' && now - (x.returningAt ?? now) >= this.holdDownMs) {
        x.state = 'alive';
        this.ev.onAlive?.(c, 'returning');
      }
      if (x.state === 'dead' && x.silentDead && this.pingMs && !x.probing) {
        // (a live node whose pong was lost would hold its ping lock, and nothing would tell: asked again)
        if (now - (x.pingAt ?? x.heardAt) >= this.pingMs * this.deadAfter) this.ping(c, x);
        continue;
      }
      if (!this.pingMs || !x.pingable || x.probing || (x.state !== 'alive' && x.state !== 'suspect' && x.state !== 'returning')) continue;
      if (x.pingAt === undefined) {
        if (x.reprobe) {
          x.reprobe = false;
          void this.probe(c, x);
        } else if (now - x.heardAt >= this.pingMs) this.ping(c, x);
        continue;
      }
      const silent = now - x.heardAt;
      const misses = Math.floor((now - x.pingAt) / this.pingMs);
      if (misses < 1) continue;
      if (misses >= this.deadAfter) {
        x.state = 'dead';
        x.silentDead = true;
        delete x.returningAt;
        this.ev.onDead(c, 'silent', silent);
        // (we hold its ping lock now: the node's steal, when it wakes, is its return)
      } else if (x.state === 'alive') {
        x.state = 'suspect';
        this.ev.onSuspect?.(c, silent);
      }
    }
  }

  /** One ping: the node's ping lock stolen; a live node steals it straight back. */
  private ping(c: string, x: Watch): void {
    x.pingAt = this.now();
    // (our last steal of it, if its pong was missed: ovsdb-server refuses a second request of one session for one lock)
    void this.client.unlock(x.ping).catch(() => undefined);
    this.client.steal(x.ping).catch(() => {
      if (this.w.get(c) === x) delete x.pingAt;
    });
  }

  private granted(lock: string): void {
    const c = this.byLock.get(lock);
    if (!c) return;
    const x = this.w.get(c)!;
    // (the ping lock is granted only in reply to our own steal: no news)
    if (lock !== x.lock) return;
    // (its session ended, or it let go: nothing to ping any more)
    x.silentDead = false;
    if (x.state === 'alive' || x.state === 'suspect' || x.state === 'returning') {
      delete x.pingAt;
      x.state = 'dead';
      delete x.returningAt;
      this.ev.onDead(c, 'released');
    } else if (x.state === 'asked') this.unheld(x);
  }

  private stolen(lock: string): void {
    const c = this.byLock.get(lock);
    if (!c || !this.client.connected) return; // (our session went: every lock is lost, no node did anything)
    const x = this.w.get(c)!;
    const now = this.now();
    if (lock === x.ping) {
      // a pong (or a dead node's daemon awake again, its pong late)
      if (x.pingAt !== undefined) this.ev.onPong?.(c, now - x.pingAt);
      delete x.pingAt;
    } else {
      // the node took its node lock from us (we were granted it when it let go or died, or nobody held
      // it): back in the queue behind it. A lock granted at once then means it let go meanwhile: granted().
      void this.client.unlock(x.lock).catch(() => undefined);
      void this.client.lock(x.lock).catch(() => undefined);
    }
    x.heardAt = now;
    if (x.state === 'dead') {
      x.silentDead = false;
      x.state = 'returning';
      x.returningAt = now;
      this.ev.onReturned(c);
    } else if (x.state === 'suspect') {
      x.state = 'alive';
      this.ev.onAlive?.(c, 'suspect');
    } else if (lock === x.lock && (x.state === 'unknown' || x.state === 'asked')) this.held(c, x);
    // (a daemon back, or taking its lock for the first time: maybe another build than before)
    if (lock === x.lock && x.pingAt === undefined) void this.probe(c, x);
  }

  private async forget(c: string): Promise<void> {
    const x = this.w.get(c);
    this.w.delete(c);
    if (!x) return;
    this.byLock.delete(x.lock);
    this.byLock.delete(x.ping);
    // (cut off, the session and its locks are gone already: not waited for, so that a stop never hangs on a dead server)
    const gone = Promise.all([this.client.unlock(x.lock), this.client.unlock(x.ping)]).catch(() => undefined);
    if (this.client.connected) await gone;
  }

  /** Lets every lock go (this daemon no longer leads). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const c of [...this.w.keys()]) await this.forget(c);
    for (const f of this.off.splice(0)) f();
  }
}

/**
 * The node's side: holds this chassis's node lock and ping lock while the
 * node is healthy, and answers the leader's pings (a steal of the ping lock)
 * by stealing it straight back. Lets both go when the node is unhealthy (the
 * leader is granted the node lock: dead), takes them again when it is
 * healthy, and after every reconnection (the client's own re-request would
 * queue behind a leader that holds them).
 */
export class NodeLock {
  private healthy = true;
  private readonly off: (() => void)[] = [];
  private busy: Promise<void> = Promise.resolve();
  readonly lock: string;
  readonly pingLock: string;

  constructor(
    private readonly client: OvsdbClient,
    readonly chassis: string,
  ) {
    this.lock = nodeLock(chassis);
    this.pingLock = nodePingLock(chassis);
    const stolen = (name: string) => {
      if ((name !== this.lock && name !== this.pingLock) || !client.connected) return;
      if (this.healthy) this.take();
      // (unhealthy, both were let go: one taken meanwhile by a take queued before is let go again)
      else this.chain(() => this.client.unlock(name));
    };
    const up = () => {
      if (this.healthy) this.take();
    };
    client.on('stolen', stolen);
    client.on('connected', up);
    this.off.push(() => client.off('stolen', stolen), () => client.off('connected', up));
    // (a check that it holds both while healthy, in case a hand-over was missed: taken again)
    const timer = setInterval(() => {
      if (this.healthy && client.connected && !(client.hasLock(this.lock) && client.hasLock(this.pingLock))) this.take();
    }, 500);
    timer.unref();
    this.off.push(() => clearInterval(timer));
  }

  /** Takes both locks (from whoever holds them). */
  async start(): Promise<void> {
    this.take();
    await this.busy;
  }

  /** Healthy: hold both locks; unhealthy: let them go (the leader is granted the node lock). */
  async setHealthy(healthy: boolean): Promise<void> {
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    if (healthy) this.take();
    else
      this.chain(async () => {
        await this.client.unlock(this.lock);
        await this.client.unlock(this.pingLock);
      });
    await this.busy;
  }

  private take(): void {
    // the ping lock first: a leader that sees the node lock taken pings at once, and is answered
    this.chain(async () => {
      for (const lock of [this.pingLock, this.lock]) {
        // (held already, by a take queued before this one: an unlock now would hand it to the leader, a false death)
        if (!this.healthy || this.client.hasLock(lock)) continue;
        // (our earlier request, a holder's or a waiter's, is let go first: ovsdb-server refuses a second one)
        void this.client.unlock(lock).catch(() => undefined);
        await this.client.steal(lock);
      }
    });
  }

  private chain(f: () => Promise<unknown>): void {
    this.busy = this.busy.then(f).then(
      () => undefined,
      () => undefined,
    );
  }

  async stop(): Promise<void> {
    for (const f of this.off.splice(0)) f();
    await this.busy;
  }
}
