/**
 * The hot index of gateway HA (issue 16 §3), kept from the replicas' commit
 * events in O(change): per chassis, the gateway ports it carries (with its
 * priority, active or standby) and the HA chassis groups it is in; per
 * gateway port, its chassis in priority order (what NB asks for) and the
 * chassis SB has bound its chassisredirect port to (where it runs now); per
 * next-hop IP, the reroute policies that send traffic to it (centralized
 * egress); per router port, the BFD sessions SB runs from it (the stale-status
 * check of src/ha/bfd-check.ts). A failover reads it instead of scanning NB.
 *
 * Feed it every NB and SB commit (`noteNb`, `noteSb`): a Gateway_Chassis or
 * HA_Chassis row, a router port's gateway_chassis set, a group's ha_chassis
 * set or a policy changing re-derives only the port, group or policy it
 * belongs to.
 */
import { asInserts, type ChangeEvent, type Replica } from '../ovsdb/replica.js';
import { PORT_CHASSIS_TABLES, PortChassisIndex, type PortChassis } from '../gateway/port-chassis.js';

export type { PortChassis } from '../gateway/port-chassis.js';

/** The NB and SB tables the index reads (a replica that feeds it must hold them). */
export const INDEX_NB_TABLES = [...PORT_CHASSIS_TABLES, 'Logical_Router_Policy'] as const;
export const INDEX_SB_TABLES = ['Chassis', 'Port_Binding', 'BFD'] as const;
/** The SB BFD columns the index reads. */
export { SB_BFD_COLUMNS as INDEX_BFD_COLUMNS } from '../gateway/bfd-status.js';

type Row = { _uuid: string } & Record<string, unknown>;

/** A BFD session as SB has it (ovn-controller on the port's chassis runs it and writes its status). */
export interface BfdSession {
  uuid: string;
  logical_port: string;
  dst_ip: string;
  status: string;
  /** its detection time: detect_mult x min_rx (ms) */
  detectMs: number;
}

/** Where SB has bound a gateway port's chassisredirect port: the Port_Binding row and its chassis (uuid; null: none). */
export interface Binding {
  row: string;
  chassis: string | null;
}

export class GatewayIndex {
  /**
   * `sharedPorts`: the gateway ports' chassis as another reader of the same
   * NB replica keeps them (NatGateway's NbFacts, fed before this index at
   * each commit): read from there, not kept twice. Without it, the index keeps
   * its own from what it is fed.
   */
  constructor(private readonly sharedPorts?: () => PortChassisIndex) {}

  /** Fed what the replicas hold now, then every commit of theirs (then: after `extra`, a commit's other readers). */
  follow(nb: Replica<any>, sb?: Replica<any>, extra?: () => void): void {
    this.noteNb(asInserts(nb, this.sharedPorts ? ['Logical_Router_Policy'] : INDEX_NB_TABLES));
    nb.onCommit((c) => {
      this.noteNb(c);
      extra?.();
    });
    if (!sb) return;
    this.tellPorts(this.noteSb(asInserts(sb, INDEX_SB_TABLES)));
    sb.onCommit((c) => {
      this.tellPorts(this.noteSb(c));
      extra?.();
    });
  }

  private readonly portListeners: ((ports: ReadonlySet<string>) => void)[] = [];

  /** Called after each SB commit the index follows with the router ports whose binding or BFD sessions changed. */
  onPortsChanged(fn: (ports: ReadonlySet<string>) => void): void {
    this.portListeners.push(fn);
  }

  private tellPorts(ports: ReadonlySet<string>): void {
    if (ports.size) for (const fn of this.portListeners) fn(ports);
  }

  /** the gateway ports' chassis, in priority order, and the active count per chassis (src/gateway/port-chassis.ts) */
  private readonly ownPorts = new PortChassisIndex();
  private get ports(): PortChassisIndex {
    return this.sharedPorts?.() ?? this.ownPorts;
  }
  /** router port name -> the chassis SB bound its cr- port to (absent: none) */
  private readonly bound = new Map<string, string>();
  /** router port name -> its cr- Port_Binding (present while SB has the row) */
  private readonly binding = new Map<string, Binding>();
  /** chassis name -> the router ports SB bound to it */
  private readonly boundTo = new Map<string, Set<string>>();
  /** router port name -> its SB BFD sessions by uuid */
  private readonly sessions = new Map<string, Map<string, BfdSession>>();
  private readonly sessionPort = new Map<string, string>();
  /** SB Chassis uuid -> name (Port_Binding.chassis is a reference) */
  private readonly chassisName = new Map<string, string>();
  /** next hop IP -> reroute policies (uuid) that name it */
  private readonly nexthop = new Map<string, Set<string>>();
  private readonly policyHops = new Map<string, readonly string[]>();

  noteNb(changes: readonly ChangeEvent[]): void {
    if (!this.sharedPorts) this.ownPorts.note(changes);
    for (const e of changes) {
      if (e.table !== 'Logical_Router_Policy') continue;
      const row = e.row as Row;
      this.policy(row, e.kind === 'delete' || row.action !== 'reroute' ? [] : (row.nexthops as readonly string[]));
    }
  }

  /** Feeds SB changes; returns the router ports whose binding or BFD sessions changed. */
  noteSb(changes: readonly ChangeEvent[]): Set<string> {
    const touched = new Set<string>();
    for (const e of changes) {
      const row = e.row as Row;
      if (e.table === 'Chassis') {
        if (e.kind === 'delete') this.chassisName.delete(row._uuid);
        else this.chassisName.set(row._uuid, String(row.name));
      } else if (e.table === 'Port_Binding' && String(row.logical_port).startsWith('cr-')) {
        const port = String(row.logical_port).slice(3);
        const ch = e.kind === 'delete' ? null : ((row.chassis as string | null) ?? null);
        const name = ch ? (this.chassisName.get(ch) ?? ch) : undefined;
        const was = this.bound.get(port);
        if (was !== undefined) this.boundTo.get(was)?.delete(port);
        if (name) {
          this.bound.set(port, name);
          let s = this.boundTo.get(name);
          if (!s) this.boundTo.set(name, (s = new Set()));
          s.add(port);
        } else this.bound.delete(port);
        if (was !== undefined && this.boundTo.get(was)?.size === 0) this.boundTo.delete(was);
        if (e.kind === 'delete') this.binding.delete(port);
        else this.binding.set(port, { row: row._uuid, chassis: ch });
        touched.add(port);
      } else if (e.table === 'BFD') {
        const was = this.sessionPort.get(row._uuid);
        if (was !== undefined) {
          this.sessions.get(was)?.delete(row._uuid);
          if (this.sessions.get(was)?.size === 0) this.sessions.delete(was);
          this.sessionPort.delete(row._uuid);
          touched.add(was);
        }
        if (e.kind === 'delete') continue;
        const port = String(row.logical_port);
        const detectMs = Number(row.detect_mult ?? 5) * Number(row.min_rx ?? 1000);
        let m = this.sessions.get(port);
        if (!m) this.sessions.set(port, (m = new Map()));
        m.set(row._uuid, { uuid: row._uuid, logical_port: port, dst_ip: String(row.dst_ip), status: String(row.status ?? ''), detectMs });
        this.sessionPort.set(row._uuid, port);
        touched.add(port);
      }
    }
    return touched;
  }

  private policy(row: Row, hops: readonly string[]): void {
    for (const ip of this.policyHops.get(row._uuid) ?? []) {
      const s = this.nexthop.get(ip);
      s?.delete(row._uuid);
      if (s?.size === 0) this.nexthop.delete(ip);
    }
    if (hops.length === 0) {
      this.policyHops.delete(row._uuid);
      return;
    }
    this.policyHops.set(row._uuid, [...hops]);
    for (const ip of hops) {
      let s = this.nexthop.get(ip);
      if (!s) this.nexthop.set(ip, (s = new Set()));
      s.add(row._uuid);
    }
  }

  /** A port's chassis in priority order (highest first). */
  chassisOf(port: string): readonly PortChassis[] {
    return this.ports.chassisOf(port);
  }

  /** The chassis NB makes active for a port (its highest priority). */
  activeOf(port: string): string | undefined {
    return this.ports.activeOf(port);
  }

  /** The chassis SB has bound the port's chassisredirect port to, now. */
  boundOf(port: string): string | undefined {
    return this.bound.get(port);
  }

  /** An SB Chassis's name by its uuid. */
  chassisNameOf(uuid: string): string | undefined {
    return this.chassisName.get(uuid);
  }

  /** The cr- Port_Binding of a router port (absent: SB has none: not a gateway port). */
  bindingOf(port: string): Binding | undefined {
    return this.binding.get(port);
  }

  /** The router ports SB has bound to a chassis now. */
  boundPortsOf(chassis: string): readonly string[] {
    return [...(this.boundTo.get(chassis) ?? [])];
  }

  /** The router ports SB runs BFD sessions from. */
  sessionPorts(): readonly string[] {
    return [...this.sessions.keys()];
  }

  /** The BFD sessions SB runs from a router port. */
  sessionsOf(port: string): readonly BfdSession[] {
    return [...(this.sessions.get(port)?.values() ?? [])];
  }

  /** The ports (and group:NAME) a chassis is in, each with whether it is the active one there. */
  portsOf(chassis: string): { port: string; priority: number; active: boolean }[] {
    return [...this.ports.portsIn(chassis)].map(([port, priority]) => ({ port, priority, active: this.ports.activeOf(port) === chassis })).sort((a, b) => (a.port < b.port ? -1 : 1));
  }

  /** The reroute policies (uuids) that send traffic to this next hop. */
  policiesTo(ip: string): readonly string[] {
    return [...(this.nexthop.get(ip) ?? [])];
  }

  /** Per chassis: how many ports (and groups) it is active and standby for; O(chassis), counted as NB changes. */
  load(): Map<string, { active: number; standby: number }> {
    return this.ports.load();
  }
}
