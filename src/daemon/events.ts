/**
 * The daemon's events: what an operator watches for, in the log and on the
 * socket (`events`, `ovn-natgwctl events -f`): a change applied, a drift
 * repaired, the directory refused, a gateway port moving to another chassis
 * (SB Port_Binding of its chassisredirect port), a BFD session's status, a
 * BFD session nobody runs but still up (bfd-stale: ovn-org/ovn#320), an
 * object becoming ready or not (readiness.ts).
 * The last ones are kept for `events` without -f.
 */
import type { Logger } from 'pino';

export interface NatgwEvent {
  time: string;
  type: 'applied' | 'drift-repaired' | 'refused' | 'gateway' | 'bfd' | 'bfd-stale' | 'ready' | 'role' | 'failover' | 'liveness' | 'drain' | 'rebalance';
  [k: string]: unknown;
}

const KEEP = 200;

export class Events {
  private readonly recentList: NatgwEvent[] = [];
  private readonly subs = new Set<(e: NatgwEvent) => void>();

  constructor(private readonly logger: Logger) {}

  emit(e: Omit<NatgwEvent, 'time'>): void {
    const ev = { time: new Date().toISOString(), ...e } as NatgwEvent;
    this.logger.info({ event: ev }, `event: ${ev.type}`);
    this.recentList.push(ev);
    if (this.recentList.length > KEEP) this.recentList.shift();
    for (const fn of this.subs) fn(ev);
  }

  subscribe(fn: (e: NatgwEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  recent(): readonly NatgwEvent[] {
    return this.recentList;
  }
}

/** One event as a line of text (ovn-natgwctl events). */
export function formatEvent(e: NatgwEvent): string {
  switch (e.type) {
    case 'gateway':
      return `${e.time} gateway ${String(e.port)}: now on ${e.chassis ?? '(no chassis)'}${e.previous ? ` (was ${String(e.previous)})` : ''}`;
    case 'bfd':
      return `${e.time} bfd ${String(e.logical_port)} -> ${String(e.dst_ip)}: ${String(e.status)}${e.previous ? ` (was ${String(e.previous)})` : ''}`;
    case 'bfd-stale':
      return `${e.time} bfd ${String(e.logical_port)} -> ${String(e.dst_ip)}: says ${String(e.status)} but ${e.reason === 'owner-dead' ? `its chassis ${String(e.owner)} is dead` : 'no chassis runs it'}: ${e.action === 'withdrawn' ? 'set down (its routes withdrawn)' : 'reported'}`;
    case 'ready':
      return `${e.time} ${String(e.object)}: ${e.ready ? 'ready' : `not ready: ${String(e.reason)}`}${e.was === 'new' ? ' (new)' : ''}`;
    case 'role':
      return `${e.time} role: ${String(e.role)}${e.role === 'leader' ? ` (holds lock ${String(e.lock)})` : ` (lock ${String(e.lock)} held by another)`}`;
    case 'failover':
      return `${e.time} failover (${String(e.cause)}) of ${(e.chassis as string[]).join(', ')}: ${(e.objects as string[]).join(' ') || 'nothing to move'} in ${String(e.ms)} ms`;
    case 'liveness':
      return `${e.time} liveness ${String(e.chassis)}: ${String(e.state)}`;
    case 'drain':
      return `${e.time} ${e.draining ? 'drain' : 'undrain'} ${String(e.chassis)}${e.draining ? `: ${((e.objects as string[] | undefined) ?? []).join(' ') || 'nothing led by it'}` : ''}`;
    case 'rebalance':
      return `${e.time} rebalance: ${(e.moves as { port: string; from: string; to: string }[]).map((m) => `${m.port} ${m.from}->${m.to}`).join(', ')}`;
    case 'refused':
      return `${e.time} refused: ${String(e.problem)}`;
    default:
      return `${e.time} ${e.type} (${String(e.reason)}): ${((e.changes as string[] | undefined) ?? []).join('; ')}`;
  }
}
