/**
 * The one gateway scheduler: which K chassis (in priority order, highest
 * first) each gateway port gets, for an apply and for a failover alike, so
 * that an apply never undoes what a failover did (both place over the same
 * live set with the same function). Pure: placements and chassis in,
 * placements out.
 *
 * Rules:
 *  - a port keeps the chassis it has that are still candidates, in their
 *    order: the active stays on top when a standby goes, and when the active
 *    goes the next one (which OVN has made active already) is the new top;
 *  - a chassis being drained keeps a port only as its lowest standby; a
 *    returning one (back after a failure, in its hold-down) comes back at the
 *    lowest priority with failback `no-preempt`, and keeps its place with
 *    `preempt` (OVN's own behaviour: the port moves back to it);
 *  - free slots are filled at the bottom (above draining chassis) by alive
 *    chassis only: first one of an availability zone the port has none in
 *    yet (ovn-cms-options availability-zones=), then by rendezvous order of
 *    (port, chassis), which is stable when unrelated chassis come and go;
 *  - a new port's top is the alive chassis with the fewest active ports
 *    (these ports and `load`), ties by rendezvous order;
 *  - rebalance() moves the fewest actives to bring every alive chassis
 *    within one active port of the others.
 * Deterministic: ports are taken in name order, ties broken by rendezvous
 * weight and then by name.
 */
import { rendezvousOrder } from './chassis.js';

export type ChassisState = 'alive' | 'suspect' | 'draining' | 'returning';

export interface Candidate {
  name: string;
  /** availability zones (ovn-cms-options availability-zones=a:b) */
  zones?: readonly string[];
  /**
   * alive: any slot; suspect: keeps its slots, gets no new ones (not yet
   * declared dead); draining: only the lowest standby; returning: keeps or
   * regains slots per failback, gets no new ones. A dead chassis is no
   * candidate at all.
   */
  state: ChassisState;
}

export interface ScheduleOptions {
  /** chassis per port (1..5) */
  k: number;
  /** active ports per chassis among ports not given (a plan of some routers only) */
  load?: ReadonlyMap<string, number>;
  /** what a returning chassis gets back: its place (preempt, OVN's default) or the lowest priority */
  failback?: 'preempt' | 'no-preempt';
}

/** The zones of an SB chassis, from ovn-cms-options availability-zones=a:b (other_config or external_ids). */
export function chassisZones(c: { other_config: ReadonlyMap<string, string>; external_ids: ReadonlyMap<string, string> }): string[] {
  const opts = `${c.other_config.get('ovn-cms-options') ?? ''},${c.external_ids.get('ovn-cms-options') ?? ''}`;
  const az = opts
    .split(',')
    .map((o) => o.trim())
    .find((o) => o.startsWith('availability-zones='));
  return az ? az.slice('availability-zones='.length).split(':').filter(Boolean) : [];
}

/** Places every port: its chassis in priority order (fewer than k when there are fewer candidates). */
export function schedule(ports: readonly { port: string; current: readonly string[] }[], candidates: readonly Candidate[], opts: ScheduleOptions): Map<string, string[]> {
  const k = opts.k;
  const by = new Map(candidates.map((c) => [c.name, c]));
  const alive = candidates.filter((c) => c.state === 'alive').map((c) => c.name);
  const active = new Map<string, number>(candidates.map((c) => [c.name, opts.load?.get(c.name) ?? 0]));
  const out = new Map<string, string[]>();
  const fresh: string[] = [];
  const sorted = [...ports].sort((a, b) => (a.port < b.port ? -1 : a.port > b.port ? 1 : 0));
  for (const { port, current } of sorted) {
    const kept = current.filter((c, i) => by.has(c) && current.indexOf(c) === i);
    // the order: those that may lead, then (no-preempt) the returning ones, then the draining ones
    const lead = kept.filter((c) => by.get(c)!.state !== 'draining' && !(opts.failback === 'no-preempt' && by.get(c)!.state === 'returning'));
    const back = kept.filter((c) => opts.failback === 'no-preempt' && by.get(c)!.state === 'returning');
    const drained = kept.filter((c) => by.get(c)!.state === 'draining');
    const list = [...lead, ...back, ...drained].slice(0, k);
    out.set(port, list);
    if (lead.length > 0) active.set(list[0], (active.get(list[0]) ?? 0) + 1);
    else fresh.push(port);
  }
  // a port with nobody to lead it: the least-loaded alive chassis on top
  for (const port of fresh) {
    const list = out.get(port)!;
    const order = rendezvousOrder(port, alive).filter((c) => !list.includes(c));
    if (order.length === 0) continue;
    let top = order[0];
    for (const c of order) if ((active.get(c) ?? 0) < (active.get(top) ?? 0)) top = c;
    active.set(top, (active.get(top) ?? 0) + 1);
    list.unshift(top);
    if (list.length > k) list.length = k;
  }
  // when every candidate of a port is down, its set is never emptied: OVN keeps it for when one returns
  for (const { port, current } of sorted) if (out.get(port)!.length === 0 && current.length > 0) out.set(port, [...current].slice(0, k));
  // free slots at the bottom (above the draining chassis): a new zone first, then rendezvous order
  for (const { port } of sorted) {
    const list = out.get(port)!;
    if (list.length >= k) continue;
    const order = rendezvousOrder(port, alive);
    while (list.length < k) {
      const zones = new Set(list.flatMap((c) => by.get(c)?.zones ?? []));
      const free = order.filter((c) => !list.includes(c));
      if (free.length === 0) break;
      const pick = free.find((c) => (by.get(c)!.zones ?? []).some((z) => !zones.has(z))) ?? free[0];
      const at = list.findIndex((c) => by.get(c)?.state === 'draining');
      list.splice(at < 0 ? list.length : at, 0, pick);
    }
  }
  return out;
}

export interface Move {
  port: string;
  /** the active chassis before and after */
  from: string;
  to: string;
}

/**
 * The fewest moves of actives that leave every alive chassis within one
 * active port of every other (draining ones lead none): per move, a port of
 * the busiest chassis is led by the idlest, which is promoted if the port
 * has it as a standby, else takes the port's lowest standby slot. Returns
 * the new placements (only the ports moved differ) and the moves.
 */
export function rebalance(placements: ReadonlyMap<string, readonly string[]>, candidates: readonly Candidate[], k: number): { placements: Map<string, string[]>; moves: Move[] } {
  const out = new Map<string, string[]>([...placements].map(([p, l]) => [p, [...l]]));
  const alive = candidates.filter((c) => c.state === 'alive').map((c) => c.name).sort();
  const moves: Move[] = [];
  if (alive.length < 2) return { placements: out, moves };
  const leads = new Map<string, string[]>(alive.map((c) => [c, []]));
  for (const [p, l] of [...out].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (l.length && leads.has(l[0])) leads.get(l[0])!.push(p);
  for (let guard = 0; guard < out.size + 1; guard++) {
    let hi = alive[0];
    let lo = alive[0];
    for (const c of alive) {
      if (leads.get(c)!.length > leads.get(hi)!.length) hi = c;
      if (leads.get(c)!.length < leads.get(lo)!.length) lo = c;
    }
    if (leads.get(hi)!.length - leads.get(lo)!.length <= 1) break;
    // a port that has the idlest as a standby moves with one row's priority; else the lowest slot is given up
    const ports = leads.get(hi)!;
    const port = ports.find((p) => out.get(p)!.includes(lo)) ?? ports[0];
    const list = out.get(port)!;
    const rest = list.filter((c) => c !== lo && c !== hi);
    const next = [lo, hi, ...rest];
    if (next.length > k) next.splice(k);
    out.set(port, next);
    leads.set(hi, ports.filter((p) => p !== port));
    leads.get(lo)!.push(port);
    moves.push({ port, from: hi, to: lo });
  }
  return { placements: out, moves };
}
