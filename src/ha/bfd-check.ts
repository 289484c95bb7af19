/**
 * BFD status that lies (ovn-org/ovn#320): the cross-check of SB's BFD
 * sessions with SB's port bindings and the nodes' liveness.
 *
 * ovn-controller on the chassis that SB bound a gateway port's
 * chassisredirect port to runs that port's BFD sessions and writes their
 * status; ovn-northd copies it to NB and drops a static route or reroute
 * whose session is down. When that chassis dies and no other can take the
 * port, nobody writes the status again: a session last `up` stays `up`, and
 * the route stays in ECMP towards a next hop nobody can reach (reproduced on
 * 23.03: test/ha-bfd-stale.test.ts). A session is stale here when its status
 * is up or init and its port is bound to no chassis (for longer than the
 * session's own detection time) or to a chassis liveness has found dead.
 *
 * Pure: the sessions, bindings and the dead set in, the stale sessions out.
 * What is done with them (their status written down in SB, which northd
 * copies to NB and so withdraws the route, as ovn-org/ovn#321 makes northd
 * do itself) is src/gateway/bfd-status.ts.
 */
import type { BfdSession, Binding } from './index.js';

export type StaleReason = 'owner-dead' | 'unbound';

export interface StaleSession extends BfdSession {
  reason: StaleReason;
  /** the Port_Binding read, as the write's guard */
  binding: Binding;
  /** the chassis (name) the port is bound to, when one */
  owner?: string;
}

export interface BfdCheckInput {
  sessionsOf(port: string): readonly BfdSession[];
  bindingOf(port: string): Binding | undefined;
  /** a Port_Binding chassis uuid -> its name */
  chassisName(uuid: string): string | undefined;
  isDead(chassis: string): boolean;
  /** since when (ms, the caller's clock) the port has been unbound; undefined: bound */
  unboundSince(port: string): number | undefined;
  now: number;
}

/** The statuses a session that nobody runs must not keep. */
const LIVE_STATUS: ReadonlySet<string> = new Set(['up', 'init']);

/** The stale sessions of the given router ports (a port with no chassisredirect binding is no gateway port: skipped). */
export function staleSessions(ports: Iterable<string>, x: BfdCheckInput): StaleSession[] {
  const out: StaleSession[] = [];
  for (const port of ports) {
    const b = x.bindingOf(port);
    if (!b) continue;
    for (const s of x.sessionsOf(port)) {
      if (!LIVE_STATUS.has(s.status)) continue;
      if (b.chassis === null) {
        const since = x.unboundSince(port);
        if (since !== undefined && x.now - since >= s.detectMs) out.push({ ...s, reason: 'unbound', binding: b });
        continue;
      }
      const owner = x.chassisName(b.chassis) ?? b.chassis;
      if (x.isDead(owner)) out.push({ ...s, reason: 'owner-dead', binding: b, owner });
    }
  }
  return out.sort((a, b) => (a.logical_port < b.logical_port ? -1 : a.logical_port > b.logical_port ? 1 : a.dst_ip < b.dst_ip ? -1 : 1));
}

export interface BfdCrossCheckOptions {
  index: {
    sessionsOf(port: string): readonly BfdSession[];
    bindingOf(port: string): Binding | undefined;
    chassisNameOf(uuid: string): string | undefined;
    boundPortsOf(chassis: string): readonly string[];
  };
  isDead(chassis: string): boolean;
  /** given the stale sessions found (never empty); may write */
  onStale(stale: StaleSession[]): void | Promise<void>;
  now?: () => number;
}

/**
 * The check kept current in O(change): asked for the ports a commit touched
 * (their binding, their sessions) and for the ports bound to a chassis that
 * just died; an unbound port is looked at again when its sessions' detection
 * time has passed.
 */
export class BfdCrossCheck {
  private readonly unbound = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly o: BfdCrossCheckOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Ports whose binding or sessions changed. */
  portsChanged(ports: Iterable<string>): void {
    const now = this.now();
    for (const p of ports) {
      const b = this.o.index.bindingOf(p);
      if (b && b.chassis === null) {
        if (!this.unbound.has(p)) this.unbound.set(p, now);
        this.later(p);
      } else {
        this.unbound.delete(p);
        clearTimeout(this.timers.get(p));
        this.timers.delete(p);
      }
    }
    this.check(ports);
  }

  /** A chassis found dead: the ports bound to it. */
  chassisDead(chassis: string): void {
    this.check(this.o.index.boundPortsOf(chassis));
  }

  /** The stale sessions of these ports now (also told to onStale when any). */
  check(ports: Iterable<string>): StaleSession[] {
    if (this.stopped) return [];
    const stale = staleSessions(ports, {
      sessionsOf: (p) => this.o.index.sessionsOf(p),
      bindingOf: (p) => this.o.index.bindingOf(p),
      chassisName: (u) => this.o.index.chassisNameOf(u),
      isDead: this.o.isDead,
      unboundSince: (p) => this.unbound.get(p),
      now: this.now(),
    });
    if (stale.length) void this.o.onStale(stale);
    return stale;
  }

  /** An unbound port looked at again once its longest detection time has passed. */
  private later(port: string): void {
    if (this.timers.has(port)) return;
    const ms = Math.max(0, ...this.o.index.sessionsOf(port).map((s) => s.detectMs));
    const t = setTimeout(() => {
      this.timers.delete(port);
      if (this.unbound.has(port)) this.check([port]);
    }, ms + 10);
    t.unref();
    this.timers.set(port, t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
