/**
 * The gateway chassis slots a failover writes: the ports that had a slot on
 * a chassis taken as down, each with its slots as NB has them, placed again
 * by the one scheduler (scheduler.ts: the active kept on top or the next
 * promoted, the gap filled at the lowest priority) and rendered by the same
 * row functions an apply uses (rows.ts), so that a failover writes exactly
 * the rows an apply over the same live set would write, and nothing else of
 * the port's object. Pure: slots and candidates in, rows out; O(the ports
 * given).
 */
import { gatewayPriorities } from './chassis.js';
import { gatewayChassisRows, haChassisRows, type GatewayRow } from './rows.js';
import { schedule, type Candidate, type ScheduleOptions } from './scheduler.js';

export interface PortSlots {
  /** the gateway router port (Gateway_Chassis), or the HA chassis group of a BFD port (HA_Chassis) */
  port: string;
  table: 'Gateway_Chassis' | 'HA_Chassis';
  /** the row that holds the slots, as a reference: "uuid:<uuid>" of the port or the group */
  parentRef: string;
  /** Gateway_Chassis: the port's external network (its slots' part "external:<network>:chassis:<chassis>") */
  network?: string;
  /** the slots as NB has them */
  slots: readonly { chassis: string; priority: number }[];
}

/** A port's chassis in priority order, highest first (ties by name), as the scheduler takes them. */
export function slotOrder(slots: readonly { chassis: string; priority: number }[]): string[] {
  return [...slots].sort((a, b) => b.priority - a.priority || (a.chassis < b.chassis ? -1 : a.chassis > b.chassis ? 1 : 0)).map((s) => s.chassis);
}

/**
 * Every port's slot rows after the failover, per port: all of them, those
 * that stay unchanged too (the caller plans only the ones that differ from
 * the slots it gave).
 */
export function failoverSlots(ports: readonly PortSlots[], candidates: readonly Candidate[], opts: ScheduleOptions): Map<string, GatewayRow[]> {
  const placed = schedule(
    ports.map((p) => ({ port: p.port, current: slotOrder(p.slots) })),
    candidates,
    opts,
  );
  const out = new Map<string, GatewayRow[]>();
  for (const p of ports) {
    const list = placed.get(p.port) ?? [];
    const priorities = gatewayPriorities(list, new Map(p.slots.map((s) => [s.chassis, s.priority])));
    const chassis = list.map((c, i) => ({ chassis: c, priority: priorities[i] }));
    if (p.table === 'Gateway_Chassis') {
      if (p.network === undefined) throw new Error(`internal: gateway port ${p.port} without its network`);
      out.set(p.port, gatewayChassisRows({ port: p.port, portRef: p.parentRef, network: p.network, chassis }));
    } else out.set(p.port, haChassisRows({ group: p.port, groupRef: p.parentRef, chassis }));
  }
  return out;
}
