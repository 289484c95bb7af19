// The dual-stack fixture the NAT tests on a real OVN share: an external
// network external204 (VLAN 204, 10.5.204.0/24 and fd00:5::/64, gateway .254 /
// ::fe), VPC vpc1 attached to it, and its internal subnet vpc1-subnet1
// (192.168.0.0/24, fd00:10::/64); and the SB MAC_Binding of the upstream
// gateway that ovn-trace needs (see nat-trace.test.ts).
import { sbctl, type Sandbox } from './sandbox.js';

/** The manifest of the network, with `gatewayNodes` as the ConfigMap's external-gw-nodes. */
export function dualStackNetwork(gatewayNodes: readonly string[]): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ovn-external-gw-config
  namespace: kube-system
data:
  enable-external-gw: "true"
  external-gw-nodes: "${gatewayNodes.join(',')}"
  type: centralized
  external-gw-addr: "10.5.204.254/24"
---
apiVersion: kubeovn.io/v1
kind: ProviderNetwork
metadata:
  name: external204
spec:
  defaultInterface: vlan
---
apiVersion: kubeovn.io/v1
kind: Vlan
metadata:
  name: vlan204
spec:
  id: 204
  provider: external204
---
apiVersion: kubeovn.io/v1
kind: Subnet
metadata:
  name: external204
spec:
  protocol: Dual
  cidrBlock: 10.5.204.0/24,fd00:5::/64
  gateway: 10.5.204.254,fd00:5::fe
  vlan: vlan204
  excludeIps:
  - 10.5.204.1..10.5.204.100
---
kind: Vpc
apiVersion: kubeovn.io/v1
metadata:
  name: vpc1
spec:
  enableExternal: true
---
apiVersion: kubeovn.io/v1
kind: Subnet
metadata:
  name: vpc1-subnet1
spec:
  protocol: Dual
  cidrBlock: 192.168.0.0/24,fd00:10::/64
  vpc: vpc1
`;
}

/** The upstream router of external204, as a MAC_Binding on vpc1's gateway port for both of its gateway addresses. */
export async function upstreamMacBindings(sb: Pick<Sandbox, 'sbRemote'>, mac: string): Promise<void> {
  const routerDp = await sbctl(sb, '--bare', '--columns=_uuid', 'find', 'Datapath_Binding', 'external_ids:name=vpc1');
  for (const ip of ['10.5.204.254', 'fd00:5::fe']) {
    await sbctl(sb, 'create', 'MAC_Binding', 'logical_port=vpc1-external204', `ip="${ip}"`, `mac="${mac}"`, `datapath=${routerDp}`);
  }
}

/** `s` as a literal in a RegExp. */
export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A value as ovn-nbctl get prints a string, unquoted. */
export const unquote = (s: string) => s.replace(/^"|"$/g, '');
