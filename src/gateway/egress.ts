/**
 * Centralized egress: the next hops of a subnet's reroute policy, chosen
 * among its gateway nodes. Pure.
 *
 * As Kube-OVN (subnet.go, centralized gateway): the policy has priority 29000,
 * matches the subnet's source CIDR and reroutes to
 *  - with ECMP, every ready gateway node (in the listed order);
 *  - without, one active node: the current one while it stays ready (no
 *    needless move), else the first ready node in the listed order.
 * A node is ready when it is an SB chassis; the HA layer refines that later.
 */
/** IPv4 or IPv6 */
export type Family = 4 | 6;

/** Kube-OVN's GatewayRouterPolicyPriority. */
export const EGRESS_POLICY_PRIORITY = 29000;

export interface EgressNode {
  node: string;
  ready: boolean;
  /** the node's next hop per address family */
  hops: Partial<Record<Family, string>>;
}

export function egressNextHops(nodes: readonly EgressNode[], family: Family, ecmp: boolean, current: readonly string[]): string[] {
  const ready = nodes.filter((n) => n.ready && n.hops[family] !== undefined).map((n) => n.hops[family]!);
  if (ecmp) return ready;
  const kept = current.find((h) => ready.includes(h));
  if (kept !== undefined) return [kept];
  return ready.slice(0, 1);
}
