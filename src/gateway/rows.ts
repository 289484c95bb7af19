/**
 * The gateway layer's NB rows, as pure functions from data to rows with
 * their parts: external networks (switch and localnet port), routers, router
 * ports (internal, external, their peers), Gateway_Chassis, the BFD port and
 * its HA chassis group, default and static routes, BFD rows and router
 * policies (centralized egress among them).
 *
 * A row's part names it among its object's rows; with the owner and object it
 * is the row's key (stored in its external_ids), so the NAT layer's apply and
 * the HA layer's failover, both writing through these functions, write the
 * same rows under the same keys and never fight. References to rows (a
 * parent, a column such as `ha_chassis_group`) are keys or "uuid:<uuid>",
 * resolved by the planner.
 *
 * Names follow Kube-OVN: router port "V-S"/"V-E", its peer "S-V"/"E-V",
 * Gateway_Chassis "<port>-<chassis>", "localnet.<network>", "bfd@<vpc>".
 */
import { EGRESS_POLICY_PRIORITY, type Family } from './egress.js';

/** The NB tables the gateway layer writes. */
export type GatewayTable =
  | 'Logical_Switch'
  | 'Logical_Switch_Port'
  | 'Logical_Router'
  | 'Logical_Router_Port'
  | 'Gateway_Chassis'
  | 'HA_Chassis_Group'
  | 'HA_Chassis'
  | 'Logical_Router_Static_Route'
  | 'Logical_Router_Policy'
  | 'BFD';

/** A reference to another row in a column value: a row key, or "uuid:<uuid>" of a row not planned. */
export interface RowRef {
  readonly ref: string;
}
export function rowRef(key: string): RowRef {
  return { ref: key };
}

/** One wanted row of an object, before its key (owner, kind, name) is attached. */
export interface GatewayRow {
  table: GatewayTable;
  /** names the row among its object's rows */
  part: string;
  /** what a person reads in a plan */
  label: string;
  /** a non-root row: the parent (a row key or "uuid:<uuid>") and the column that holds it */
  parent?: { table: GatewayTable; ref: string; column: string };
  /** the columns wanted; map columns list only the keys set */
  columns: Record<string, unknown>;
  /** a named row that may exist without being ours: then used as it is */
  ensureName?: string;
}

/** The key of a row of the object being rendered, from its part. */
export type KeyOf = (part: string) => string;

/** Kube-OVN's name of a VPC's BFD port (and of its HA chassis group). */
export const bfdPortName = (vpc: string): string => `bfd@${vpc}`;

/** A MAC from a name, stable across runs (Kube-OVN's MACs start with 00:00:00 too). */
export function macFor(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const b = [(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return `00:00:00:${b.map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

// ------------------------------------------------------------ switches and routers

/** An external network: its switch and the localnet port to the provider network (VLAN tag 0 = untagged). */
export function externalNetworkRows(n: { name: string; cidrs: readonly string[]; provider: string; vlan: number }, keyOf: KeyOf): GatewayRow[] {
  const ln = `localnet.${n.name}`;
  return [
    { table: 'Logical_Switch', part: 'switch', label: `Logical_Switch ${n.name} (external network ${n.cidrs.join(',')})`, columns: { name: n.name }, ensureName: n.name },
    {
      table: 'Logical_Switch_Port',
      part: 'localnet',
      label: `Logical_Switch_Port ${ln} (localnet ${n.provider}${n.vlan ? ` vlan ${n.vlan}` : ''})`,
      parent: { table: 'Logical_Switch', ref: keyOf('switch'), column: 'ports' },
      columns: { name: ln, type: 'localnet', addresses: ['unknown'], options: new Map([['network_name', n.provider]]), tag: n.vlan === 0 ? null : n.vlan },
      ensureName: ln,
    },
  ];
}

export function routerRow(name: string): GatewayRow {
  return { table: 'Logical_Router', part: 'router', label: `Logical_Router ${name}`, columns: { name }, ensureName: name };
}

/** An internal subnet of a router: its switch, router port "V-S" at the gateway address(es), peer "S-V". */
export function internalSubnetRows(
  s: { subnet: string; cidrs: readonly string[]; router: string; routerRef: string; networks: readonly string[]; mac: string },
  keyOf: KeyOf,
): GatewayRow[] {
  const lrp = `${s.router}-${s.subnet}`;
  const lsp = `${s.subnet}-${s.router}`;
  return [
    { table: 'Logical_Switch', part: 'switch', label: `Logical_Switch ${s.subnet} (subnet ${s.cidrs.join(',')} of ${s.router})`, columns: { name: s.subnet }, ensureName: s.subnet },
    {
      table: 'Logical_Router_Port',
      part: 'router-port',
      label: `Logical_Router_Port ${lrp} (${s.networks.join(' ')})`,
      parent: { table: 'Logical_Router', ref: s.routerRef, column: 'ports' },
      columns: { name: lrp, mac: s.mac, networks: [...s.networks] },
      ensureName: lrp,
    },
    {
      table: 'Logical_Switch_Port',
      part: 'switch-port',
      label: `Logical_Switch_Port ${lsp} (router port of ${lrp})`,
      parent: { table: 'Logical_Switch', ref: keyOf('switch'), column: 'ports' },
      columns: { name: lsp, type: 'router', addresses: ['router'], options: new Map([['router-port', lrp]]) },
      ensureName: lsp,
    },
  ];
}

// ------------------------------------------------------------ gateway ports

/** The part prefix of a router's rows on external network `network`. */
export const externalPart = (network: string): string => `external:${network}`;

/** A gateway chassis of a port with its priority (highest = active). */
export interface ChassisSlot {
  chassis: string;
  priority: number;
}

/**
 * A router's port on an external network, "V-E" (its address, MAC), the
 * switch's peer "E-V" (router type, nat-addresses=router, so the gateway
 * chassis answers ARP for the NAT addresses) and its Gateway_Chassis rows.
 */
export function externalPortRows(
  p: { router: string; routerRef: string; network: string; switchRef: string; mac: string; networks: readonly string[]; chassis: readonly ChassisSlot[] },
  keyOf: KeyOf,
): GatewayRow[] {
  const port = `${p.router}-${p.network}`;
  const base = externalPart(p.network);
  const peer = `${p.network}-${p.router}`;
  return [
    {
      table: 'Logical_Router_Port',
      part: `${base}:port`,
      label: `Logical_Router_Port ${port} (${p.networks.join(' ')})`,
      parent: { table: 'Logical_Router', ref: p.routerRef, column: 'ports' },
      columns: { name: port, mac: p.mac, networks: [...p.networks] },
      ensureName: port,
    },
    {
      table: 'Logical_Switch_Port',
      part: `${base}:peer`,
      label: `Logical_Switch_Port ${peer} (router port of ${port})`,
      parent: { table: 'Logical_Switch', ref: p.switchRef, column: 'ports' },
      columns: {
        name: peer,
        type: 'router',
        addresses: ['router'],
        options: new Map([
          ['router-port', port],
          ['nat-addresses', 'router'],
        ]),
      },
      ensureName: peer,
    },
    ...gatewayChassisRows({ port, portRef: keyOf(`${base}:port`), network: p.network, chassis: p.chassis }),
  ];
}

/** The Gateway_Chassis rows of external port `port` (on `network`), one per slot. */
export function gatewayChassisRows(g: { port: string; portRef: string; network: string; chassis: readonly ChassisSlot[] }): GatewayRow[] {
  return g.chassis.map(({ chassis, priority }) => ({
    table: 'Gateway_Chassis',
    part: `${externalPart(g.network)}:chassis:${chassis}`,
    label: `Gateway_Chassis ${g.port}-${chassis} (priority ${priority})`,
    parent: { table: 'Logical_Router_Port', ref: g.portRef, column: 'gateway_chassis' },
    columns: { name: `${g.port}-${chassis}`, chassis_name: chassis, priority },
  }));
}

/** The HA_Chassis rows of a BFD port's HA chassis group `group`, one per slot. */
export function haChassisRows(g: { group: string; groupRef: string; chassis: readonly ChassisSlot[] }): GatewayRow[] {
  return g.chassis.map(({ chassis, priority }) => ({
    table: 'HA_Chassis',
    part: `bfd-port:chassis:${chassis}`,
    label: `HA_Chassis ${chassis} of ${g.group} (priority ${priority})`,
    parent: { table: 'HA_Chassis_Group', ref: g.groupRef, column: 'ha_chassis' },
    columns: { chassis_name: chassis, priority },
  }));
}

/**
 * Kube-OVN's Vpc bfdPort: router port bfd@<vpc> at the given addresses with
 * options:bfd-only=true, bound to an HA_Chassis_Group of the same name (the
 * gateway nodes it may run on, highest priority active), so that BFD to the
 * VPC answers from one chassis at a time.
 */
export function bfdPortRows(b: { router: string; routerRef: string; networks: readonly string[]; mac: string; chassis: readonly ChassisSlot[] }, keyOf: KeyOf): GatewayRow[] {
  const name = bfdPortName(b.router);
  const groupRef = keyOf('bfd-port:group');
  return [
    { table: 'HA_Chassis_Group', part: 'bfd-port:group', label: `HA_Chassis_Group ${name}`, columns: { name }, ensureName: name },
    ...haChassisRows({ group: name, groupRef, chassis: b.chassis }),
    {
      table: 'Logical_Router_Port',
      part: 'bfd-port',
      label: `Logical_Router_Port ${name} (${b.networks.join(' ')}, bfd-only)`,
      parent: { table: 'Logical_Router', ref: b.routerRef, column: 'ports' },
      columns: { name, mac: b.mac, networks: [...b.networks], options: new Map([['bfd-only', 'true']]), ha_chassis_group: rowRef(groupRef) },
      ensureName: name,
    },
  ];
}

// ------------------------------------------------------------ routes, BFD, policies

/** The default route of a router per family, via the external network's gateway. */
export function defaultRouteRow(r: { router: string; routerRef: string; family: Family; nexthop: string }): GatewayRow {
  const prefix = r.family === 4 ? '0.0.0.0/0' : '::/0';
  return {
    table: 'Logical_Router_Static_Route',
    part: `default-route:${r.family}`,
    label: `Logical_Router_Static_Route ${prefix} via ${r.nexthop} (router ${r.router})`,
    parent: { table: 'Logical_Router', ref: r.routerRef, column: 'static_routes' },
    columns: { ip_prefix: prefix, nexthop: r.nexthop, policy: 'dst-ip', route_table: '' },
  };
}

/** The part of the BFD row from a router port to a peer (one per pair, shared by its routes). */
export const bfdPart = (port: string, dst: string): string => `bfd:${port}:${dst}`;

export interface BfdTimers {
  minTx?: number;
  minRx?: number;
  detectMult?: number;
}

/** A BFD session from a router port to a next hop; unset timers are OVN's defaults. */
export function bfdRow(port: string, dst: string, timers: BfdTimers): GatewayRow {
  return {
    table: 'BFD',
    part: bfdPart(port, dst),
    label: `BFD ${port} -> ${dst}`,
    columns: { logical_port: port, dst_ip: dst, min_tx: timers.minTx ?? null, min_rx: timers.minRx ?? null, detect_mult: timers.detectMult ?? null },
  };
}

/**
 * A static route. `symmetric`: options:ecmp_symmetric_reply=true; `clearSymmetric`:
 * the row has it and it is no longer wanted, so the key is removed.
 */
export function staticRouteRow(r: {
  router: string;
  routerRef: string;
  cidr: string;
  nexthop: string;
  policy: 'dst-ip' | 'src-ip';
  routeTable?: string;
  bfd?: RowRef;
  symmetric: boolean;
}): GatewayRow {
  const table = r.routeTable ?? '';
  return {
    table: 'Logical_Router_Static_Route',
    part: `route:${r.policy}:${table}:${r.cidr}:${r.nexthop}`,
    label: `Logical_Router_Static_Route ${r.cidr} via ${r.nexthop} ${r.policy}${table ? ` table ${table}` : ''}${r.symmetric ? ' ecmp-symmetric-reply' : ''} (router ${r.router})`,
    parent: { table: 'Logical_Router', ref: r.routerRef, column: 'static_routes' },
    columns: { ip_prefix: r.cidr, nexthop: r.nexthop, policy: r.policy, route_table: table, bfd: r.bfd ?? null, options: new Map([['ecmp_symmetric_reply', r.symmetric ? 'true' : null]]) },
  };
}

/** A router policy (Vpc policyRoutes); next hops only for reroute. */
export function policyRow(p: { router: string; routerRef: string; priority: number; match: string; action: string; nexthops: readonly string[] }): GatewayRow {
  const hops = p.action === 'reroute' ? [...p.nexthops] : [];
  return {
    table: 'Logical_Router_Policy',
    part: `policy:${p.priority}:${p.match}`,
    label: `Logical_Router_Policy ${p.priority} ${p.match} ${p.action}${p.nexthops.length ? ' ' + p.nexthops.join(',') : ''} (router ${p.router})`,
    parent: { table: 'Logical_Router', ref: p.routerRef, column: 'policies' },
    columns: { priority: p.priority, match: p.match, action: p.action, nexthops: hops },
  };
}

/** Centralized egress of a subnet's CIDR of one family: reroute its source to the gateway node(s). */
export function egressPolicyRow(e: { router: string; routerRef: string; cidr: string; family: Family; nexthops: readonly string[]; ecmp: boolean }): GatewayRow {
  const match = `ip${e.family}.src == ${e.cidr}`;
  return {
    table: 'Logical_Router_Policy',
    part: `egress:${e.family}`,
    label: `Logical_Router_Policy ${EGRESS_POLICY_PRIORITY} ${match} reroute ${e.nexthops.join(',')} (router ${e.router}, centralized egress${e.ecmp ? ', ECMP' : ''})`,
    parent: { table: 'Logical_Router', ref: e.routerRef, column: 'policies' },
    columns: { priority: EGRESS_POLICY_PRIORITY, match, action: 'reroute', nexthops: [...e.nexthops] },
  };
}
