/**
 * Gateway ports and their chassis, kept from NB commits in O(change): per
 * gateway port (a router port with Gateway_Chassis rows, or an HA chassis
 * group as "group:NAME" with its HA_Chassis rows) its chassis in priority
 * order; per chassis the ports it is in; and per chassis how many ports it is
 * active for (the highest priority, ties by chassis name, as OVN picks it),
 * counted as the ports change, so that a chassis's load is read in O(1) and
 * the load "of every port but these" in O(these + chassis).
 *
 * The NAT layer's plans read it (a new or orphaned port goes to the least
 * loaded chassis: NbFacts) and so does the HA index (src/ha/index.ts). Feed it
 * every commit's changes of the four tables (`note`), in commit order.
 */
import type { ChangeEvent } from '../ovsdb/replica.js';

/** The NB tables it reads. */
export const PORT_CHASSIS_TABLES = ['Logical_Router_Port', 'Gateway_Chassis', 'HA_Chassis_Group', 'HA_Chassis'] as const;

export interface PortChassis {
  chassis: string;
  priority: number;
}

type Row = { _uuid: string } & Record<string, unknown>;

/** The key of an HA chassis group among the ports. */
export const groupKey = (name: string): string => `group:${name}`;

/**
 * Is the port placed like a gateway port (a router port, or a Vpc's BFD port
 * `bfd@<vpc>` as an HA chassis group): the ports whose actives a placement
 * spreads. Other groups (a Kube-OVN VPC NAT gateway's, a Neutron one) are
 * someone else's placement.
 */
const placed = (key: string): boolean => !key.startsWith('group:') || key.startsWith('group:bfd@');

export class PortChassisIndex {
  /** Gateway_Chassis / HA_Chassis rows */
  private readonly member = new Map<string, PortChassis>();
  /** member row -> the port (or group:NAME) holding it */
  private readonly holder = new Map<string, string>();
  /** port (or group:NAME) -> its member rows */
  private readonly members = new Map<string, Set<string>>();
  /** port -> chassis in priority order (highest first, ties by name) */
  private readonly order = new Map<string, PortChassis[]>();
  /** chassis -> the ports it is in, with its priority there */
  private readonly byChassis = new Map<string, Map<string, number>>();
  /** chassis -> the ports it is active for (every port; the placed ones) */
  private readonly activeAll = new Map<string, number>();
  private readonly activePlaced = new Map<string, number>();

  /** Follows one commit's changes; returns the ports (and group:NAME) whose chassis changed. */
  note(changes: readonly ChangeEvent[]): Set<string> {
    const touched = new Set<string>();
    for (const e of changes) {
      const row = e.row as Row;
      switch (e.table) {
        case 'Gateway_Chassis':
        case 'HA_Chassis': {
          if (e.kind === 'delete') this.member.delete(row._uuid);
          else this.member.set(row._uuid, { chassis: String(row.chassis_name), priority: Number(row.priority) });
          const h = this.holder.get(row._uuid);
          if (h) touched.add(h);
          break;
        }
        case 'Logical_Router_Port':
          this.hold(`${row.name}`, e.kind === 'delete' ? [] : (row.gateway_chassis as readonly string[]), e.kind === 'update' ? `${(e.old as Row).name}` : undefined, touched);
          break;
        case 'HA_Chassis_Group':
          this.hold(groupKey(`${row.name}`), e.kind === 'delete' ? [] : (row.ha_chassis as readonly string[]), e.kind === 'update' ? groupKey(`${(e.old as Row).name}`) : undefined, touched);
          break;
      }
    }
    for (const p of touched) this.derive(p);
    return touched;
  }

  /** A port's (or group's) member rows are now `uuids` (it was named `was` before an update). */
  private hold(port: string, uuids: readonly string[], was: string | undefined, touched: Set<string>): void {
    if (was !== undefined && was !== port) this.hold(was, [], undefined, touched);
    const before = this.members.get(port) ?? new Set<string>();
    const now = new Set(uuids);
    if (before.size === now.size && [...now].every((u) => before.has(u))) return;
    for (const u of before) if (!now.has(u) && this.holder.get(u) === port) this.holder.delete(u);
    for (const u of now) this.holder.set(u, port);
    if (now.size) this.members.set(port, now);
    else this.members.delete(port);
    touched.add(port);
  }

  private count(m: Map<string, number>, chassis: string, by: number): void {
    const n = (m.get(chassis) ?? 0) + by;
    if (n) m.set(chassis, n);
    else m.delete(chassis);
  }

  /** Re-derives one port's order, its entries per chassis and the active counts. */
  private derive(port: string): void {
    const had = this.order.get(port);
    if (had) {
      for (const pc of had) {
        const e = this.byChassis.get(pc.chassis);
        e?.delete(port);
        if (e && e.size === 0) this.byChassis.delete(pc.chassis);
      }
      this.count(this.activeAll, had[0].chassis, -1);
      if (placed(port)) this.count(this.activePlaced, had[0].chassis, -1);
    }
    const list = [...(this.members.get(port) ?? [])].map((u) => this.member.get(u)).filter((m): m is PortChassis => m !== undefined);
    list.sort((a, b) => b.priority - a.priority || (a.chassis < b.chassis ? -1 : a.chassis > b.chassis ? 1 : 0));
    if (list.length === 0) {
      this.order.delete(port);
      return;
    }
    this.order.set(port, list);
    for (const pc of list) {
      let e = this.byChassis.get(pc.chassis);
      if (!e) this.byChassis.set(pc.chassis, (e = new Map()));
      e.set(port, pc.priority);
    }
    this.count(this.activeAll, list[0].chassis, 1);
    if (placed(port)) this.count(this.activePlaced, list[0].chassis, 1);
  }

  /** A port's chassis in priority order (highest first). */
  chassisOf(port: string): readonly PortChassis[] {
    return this.order.get(port) ?? [];
  }

  /** The chassis NB makes active for a port (its highest priority). */
  activeOf(port: string): string | undefined {
    return this.order.get(port)?.[0]?.chassis;
  }

  /** The ports (and group:NAME) a chassis is in, with its priority there. */
  portsIn(chassis: string): ReadonlyMap<string, number> {
    return this.byChassis.get(chassis) ?? new Map();
  }

  /** Per chassis: how many ports it is active and standby for (every port and group). O(chassis). */
  load(): Map<string, { active: number; standby: number }> {
    const out = new Map<string, { active: number; standby: number }>();
    for (const [chassis, ports] of this.byChassis) {
      const active = this.activeAll.get(chassis) ?? 0;
      out.set(chassis, { active, standby: ports.size - active });
    }
    return out;
  }

  /**
   * The active ports per chassis among the placed ones (router ports, BFD
   * ports' groups) not named in `mine` (router port or group names): what a
   * new, or orphaned, port's least-loaded top avoids. O(chassis + mine).
   */
  activeLoadBut(mine: ReadonlySet<string>): Map<string, number> {
    const out = new Map(this.activePlaced);
    for (const name of mine) {
      for (const key of [name, groupKey(name)]) {
        const top = placed(key) ? this.order.get(key)?.[0]?.chassis : undefined;
        if (top !== undefined) this.count(out, top, -1);
      }
    }
    return out;
  }
}
