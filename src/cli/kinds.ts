/**
 * The kinds `ovn-natgwctl get` and `delete` take, by the names kubectl users
 * type: the Kube-OVN resource names, singular and plural, their short names,
 * with or without the API group ("ofip", "ovn-fips", "ovnfips.kubeovn.io").
 */
import type { Kind } from '../nat/objects.js';

export interface KindInfo {
  kind: Kind;
  apiVersion: string;
  /** kubectl's resource name: what `-o name` prints before the "/" */
  resource: string;
  names: readonly string[];
  /** the name messages suggest */
  short: string;
}

const KUBE_OVN = 'kubeovn.io/v1';

export const KINDS: readonly KindInfo[] = [
  { kind: 'OvnEip', short: 'oeip', apiVersion: KUBE_OVN, resource: 'ovneip.kubeovn.io', names: ['ovneip', 'ovneips', 'ovn-eip', 'ovn-eips', 'oeip', 'oeips'] },
  { kind: 'OvnFip', short: 'ofip', apiVersion: KUBE_OVN, resource: 'ovnfip.kubeovn.io', names: ['ovnfip', 'ovnfips', 'ovn-fip', 'ovn-fips', 'ofip', 'ofips'] },
  { kind: 'OvnSnatRule', short: 'osnat', apiVersion: KUBE_OVN, resource: 'ovnsnatrule.kubeovn.io', names: ['ovnsnatrule', 'ovnsnatrules', 'ovn-snat-rule', 'ovn-snat-rules', 'osnat', 'osnats'] },
  { kind: 'OvnDnatRule', short: 'odnat', apiVersion: KUBE_OVN, resource: 'ovndnatrule.kubeovn.io', names: ['ovndnatrule', 'ovndnatrules', 'ovn-dnat-rule', 'ovn-dnat-rules', 'odnat', 'odnats'] },
  { kind: 'Vpc', short: 'vpc', apiVersion: KUBE_OVN, resource: 'vpc.kubeovn.io', names: ['vpc', 'vpcs'] },
  { kind: 'Subnet', short: 'subnet', apiVersion: KUBE_OVN, resource: 'subnet.kubeovn.io', names: ['subnet', 'subnets'] },
  { kind: 'Vip', short: 'vip', apiVersion: KUBE_OVN, resource: 'vip.kubeovn.io', names: ['vip', 'vips'] },
  { kind: 'Vlan', short: 'vlan', apiVersion: KUBE_OVN, resource: 'vlan.kubeovn.io', names: ['vlan', 'vlans'] },
  { kind: 'ProviderNetwork', short: 'pn', apiVersion: KUBE_OVN, resource: 'provider-network.kubeovn.io', names: ['provider-network', 'provider-networks', 'providernetwork', 'providernetworks', 'pn'] },
  { kind: 'ConfigMap', short: 'cm', apiVersion: 'v1', resource: 'configmap', names: ['configmap', 'configmaps', 'cm'] },
];

const BY_NAME = new Map<string, KindInfo>();
for (const k of KINDS) {
  BY_NAME.set(k.kind.toLowerCase(), k);
  for (const n of k.names) BY_NAME.set(n, k);
}

/** The kind a name given on the command line stands for ("ofips", "OvnFip", "ovnfips.kubeovn.io"), or undefined. */
export function kindInfo(name: string): KindInfo | undefined {
  const n = name.toLowerCase().replace(/\.kubeovn\.io$/, '');
  return BY_NAME.get(n);
}

export function infoOf(kind: string): KindInfo {
  return KINDS.find((k) => k.kind === kind)!;
}

/** The short names, for messages: "ofip, oeip, osnat, odnat, vip, vpc, subnet, vlan, pn, cm". */
export const SHORT_NAMES = KINDS.map((k) => k.short).join(', ');
