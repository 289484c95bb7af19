/**
 * Which chassis carry which gateway ports: per chassis, the ports it is
 * active for (its Gateway_Chassis or HA_Chassis row has the port's highest
 * priority), standby for (another row of the port), and bound to (SB
 * Port_Binding of the port's chassisredirect port names it: where the port
 * runs now). Pure: from rows to a report (ovn-natgwctl chassis).
 */
export interface GatewayPortChassis {
  /** the router port (or bfd@<vpc> for a BFD port's HA chassis group) */
  port: string;
  chassis: readonly { chassis_name: string; priority: number }[];
}

export interface ChassisLoad {
  chassis: string;
  hostname: string;
  active: string[];
  standby: string[];
  bound: string[];
}

export function chassisLoad(ports: readonly GatewayPortChassis[], sbChassis: readonly { name: string; hostname: string }[], bound: ReadonlyMap<string, string>): ChassisLoad[] {
  const out = new Map<string, ChassisLoad>();
  const of = (name: string) => {
    let c = out.get(name);
    if (!c) out.set(name, (c = { chassis: name, hostname: sbChassis.find((s) => s.name === name)?.hostname ?? '', active: [], standby: [], bound: [] }));
    return c;
  };
  for (const s of sbChassis) of(s.name);
  for (const p of ports) {
    const sorted = [...p.chassis].sort((a, b) => b.priority - a.priority || (a.chassis_name < b.chassis_name ? -1 : 1));
    sorted.forEach((g, i) => (i === 0 ? of(g.chassis_name).active : of(g.chassis_name).standby).push(p.port));
  }
  for (const [port, chassis] of bound) of(chassis).bound.push(port);
  for (const c of out.values()) for (const l of [c.active, c.standby, c.bound]) l.sort();
  return [...out.values()].sort((a, b) => (a.chassis < b.chassis ? -1 : 1));
}
