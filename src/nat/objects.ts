/**
 * The objects of a declarative manifest, after parsing and validation
 * (src/nat/manifest.ts), in Kube-OVN's shapes and field names. Lists are
 * never undefined (empty when absent); optional scalars are undefined when
 * absent. IP addresses and CIDRs are syntactically valid and canonical
 * (lower-case IPv6, no leading zeros); cross-object references (an OvnFip's
 * ovnEip, a Subnet's vlan, ...) are NOT yet resolved: the planner does that
 * against the other objects and the database.
 */

export type Kind =
  | 'ProviderNetwork'
  | 'Vlan'
  | 'Subnet'
  | 'Vpc'
  | 'OvnEip'
  | 'OvnFip'
  | 'OvnSnatRule'
  | 'OvnDnatRule'
  | 'Vip'
  | 'ConfigMap';

/** Where an object came from, for error messages: "OvnFip eip-static (fips.yaml, document 2)". */
export interface Origin {
  file: string;
  /** 1-based index of the YAML document in the file */
  document: number;
}

interface Base<K extends Kind> {
  kind: K;
  name: string;
  origin?: Origin;
}

/** kind ProviderNetwork: an underlay network; its name is the localnet `network_name`. */
export interface ProviderNetwork extends Base<'ProviderNetwork'> {
  defaultInterface?: string;
}

/** kind Vlan: a VLAN id (0 = untagged) on a provider network. */
export interface Vlan extends Base<'Vlan'> {
  id: number;
  provider: string;
}

/**
 * kind Subnet. Without `vpc` and with `vlan` (or `provider` naming a
 * ProviderNetwork) it is an external network; with `vpc` it is an internal
 * subnet of that Vpc.
 */
export interface Subnet extends Base<'Subnet'> {
  protocol?: 'IPv4' | 'IPv6' | 'Dual';
  /** 1 or 2 CIDRs (Kube-OVN's comma-separated cidrBlock), at most one per family, canonical network address */
  cidrBlock: string[];
  /** gateway IPs, one per CIDR and in the same order (defaulted to the first host of each CIDR when absent) */
  gateway: string[];
  vlan?: string;
  vpc?: string;
  provider?: string;
  /** excluded addresses: single IPs or "a..b" ranges, as written (validated) */
  excludeIps: string[];
  /**
   * Egress of an internal subnet: "distributed" (default; each chassis
   * routes its own pods' traffic) or "centralized": a reroute policy on the
   * Vpc's router (priority 29000, as Kube-OVN) sends the subnet's traffic to
   * gateway node next hop(s).
   */
  gatewayType?: 'distributed' | 'centralized';
  /** Kube-OVN's gatewayNode "node1,node2" or "node1:IP,...": the gateway nodes in order of preference, with an optional next hop IP */
  gatewayNode?: { node: string; ip?: string }[];
  /** centralized: all ready gateway nodes as ECMP next hops (else one active node) */
  enableEcmp?: boolean;
}

export interface StaticRoute {
  cidr: string;
  nextHopIP: string;
  policy: 'policyDst' | 'policySrc';
  routeTable?: string;
  /** ECMP with BFD: BFD session parameters for this next hop (ovn-natgw extension) */
  bfd?: { minTx?: number; minRx?: number; detectMult?: number };
  /** Kube-OVN's bfdId: the UUID of a BFD row already in NB for this route */
  bfdId?: string;
  /** Kube-OVN's ecmpMode: "ecmp_symmetric_reply" sets the route's options:ecmp_symmetric_reply */
  ecmpMode?: 'ecmp_symmetric_reply';
}

export interface PolicyRoute {
  priority: number;
  match: string;
  action: 'allow' | 'drop' | 'reroute';
  /** reroute next hops (Kube-OVN's comma-separated nextHopIP), at least one for reroute */
  nextHopIP: string[];
}

/** kind Vpc: a Logical_Router. */
export interface Vpc extends Base<'Vpc'> {
  enableExternal: boolean;
  /**
   * false when the manifest leaves spec.enableExternal out: for Kube-OVN's
   * default VPC, ConfigMap enable-external-gw then decides (as
   * kube-ovn-controller does). Absent means given.
   */
  enableExternalGiven?: boolean;
  /** extra external networks (Subnet names) besides the default one */
  addExternalSubnets: string[];
  staticRoutes: StaticRoute[];
  policyRoutes: PolicyRoute[];
  /** Kube-OVN's enableBfd: a BFD session from the default external port to the external network's gateway */
  enableBfd?: boolean;
  /** Kube-OVN's bfdPort: router port bfd@<vpc> (options bfd-only) at these addresses, on an HA chassis group */
  bfdPort?: { enabled: boolean; ip: string[] };
}

/** kind OvnEip. */
export interface OvnEip extends Base<'OvnEip'> {
  /** external network (Subnet name); default: the default external network */
  externalSubnet?: string;
  type: 'nat' | 'lrp' | 'lsp';
  v4Ip?: string;
  v6Ip?: string;
  macAddress?: string;
}

/** The internal end of a FIP or port DNAT: ipName, or vpc + v4Ip/v6Ip. */
interface InternalAddress {
  ovnEip: string;
  /** "vip": ipName names a Vip; otherwise ipName names a workload port (Kube-OVN IP / OVN LSP) */
  ipType?: 'vip';
  ipName?: string;
  vpc?: string;
  v4Ip?: string;
  v6Ip?: string;
}

/** kind OvnFip: one dnat_and_snat per address family. */
export interface OvnFip extends Base<'OvnFip'>, InternalAddress {
  /** distributed = logical_port + external_mac on the NAT row; default from the ConfigMap type, else centralized */
  type?: 'distributed' | 'centralized';
  /** NAT options:stateless=true: translated without conntrack (1:1 only) */
  stateless?: boolean;
}

/** kind OvnSnatRule. */
export interface OvnSnatRule extends Base<'OvnSnatRule'> {
  ovnEip: string;
  /** a Subnet name: SNAT its whole CIDR(s) */
  vpcSubnet?: string;
  ipName?: string;
  vpc?: string;
  v4IpCidr?: string;
  v6IpCidr?: string;
  /** "lo-hi" (ovn-natgw extension, NAT external_port_range) */
  externalPortRange?: string;
  /**
   * Only SNAT traffic to these addresses/CIDRs (ovn-natgw extension: NAT
   * allowed_ext_ips, an Address_Set per address family).
   */
  allowedExtIps?: string[];
  /** SNAT all traffic except to these addresses/CIDRs (NAT exempted_ext_ips); not with allowedExtIps. */
  exemptedExtIps?: string[];
}

/** kind OvnDnatRule. */
export interface OvnDnatRule extends Base<'OvnDnatRule'>, InternalAddress {
  protocol: 'tcp' | 'udp' | 'sctp';
  internalPort: number;
  externalPort: number;
}

/** kind Vip: a reserved internal address in a Subnet. */
export interface Vip extends Base<'Vip'> {
  subnet: string;
  v4ip?: string;
  v6ip?: string;
}

/** kind ConfigMap named ovn-external-gw-config (any other ConfigMap is ignored with a notice). */
export interface ExternalGwConfig extends Base<'ConfigMap'> {
  enableExternalGw: boolean;
  /** gateway chassis, by SB Chassis name or hostname, in preference order; empty = chassis with enable-chassis-as-gw */
  externalGwNodes: string[];
  type: 'centralized' | 'distributed';
  /** the underlay gateway address with prefix, e.g. "10.5.204.254/24" */
  externalGwAddr?: string;
  /** the default external network (Subnet name); ovn-natgw extension, default "external" or the only external Subnet */
  externalGwSwitch?: string;
  /** address with prefix of the default VPC's external router port (else allocated), as Kube-OVN's nic-ip */
  nicIp?: string;
  /** MAC of that port, as Kube-OVN's nic-mac */
  nicMac?: string;
}

export type ManifestObject =
  | ProviderNetwork
  | Vlan
  | Subnet
  | Vpc
  | OvnEip
  | OvnFip
  | OvnSnatRule
  | OvnDnatRule
  | Vip
  | ExternalGwConfig;

/** A field that only means something in Kubernetes and was ignored. */
export interface Notice {
  kind: string;
  name: string;
  field: string;
  message: string;
  origin?: Origin;
}

export interface Manifest {
  objects: ManifestObject[];
  notices: Notice[];
}
