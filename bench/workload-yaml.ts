/**
 * The shared workload as Kube-OVN manifests (YAML, one document per object),
 * as an operator would keep it: the same objects as
 * contenders/declarative.ts's workloadManifest, so that the declarative
 * layer and the installed CLI are measured on the same state, and each
 * object's last-applied document is stored in NB (a merge resolves objects
 * from it).
 */
import type { Workload } from './workload.js';

const K = 'apiVersion: kubeovn.io/v1\n';

/** The workload's documents; the ConfigMap lists `gatewayNodes`, or none (then the SB chassis that say enable-chassis-as-gw are). */
export function workloadDocuments(w: Workload, opts: { gatewayNodes?: readonly string[] } = {}): string[] {
  const docs: string[] = [];
  const nodes = opts.gatewayNodes?.length ? `, external-gw-nodes: "${opts.gatewayNodes.join(',')}"` : '';
  docs.push(`${K}kind: ProviderNetwork\nmetadata: {name: physnet}\nspec: {}\n`, `${K}kind: Vlan\nmetadata: {name: vlan0}\nspec: {id: 0, provider: physnet}\n`,
    `${K}kind: Subnet\nmetadata: {name: external}\nspec: {cidrBlock: 172.16.0.0/12, gateway: ${w.externalGateway}, vlan: vlan0}\n`,
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ovn-external-gw-config}\ndata: {enable-external-gw: "true", type: centralized${nodes}}\n`);
  for (const r of w.routers) {
    docs.push(`${K}kind: Vpc\nmetadata: {name: ${r.name}}\nspec: {enableExternal: true}\n`);
    docs.push(`${K}kind: OvnEip\nmetadata: {name: ${r.name}-external}\nspec: {externalSubnet: external, type: lrp, v4Ip: ${r.port.ip}}\n`);
    docs.push(`${K}kind: OvnSnatRule\nmetadata: {name: ${r.name}-snat}\nspec: {ovnEip: ${r.name}-external, vpc: ${r.name}, v4IpCidr: ${r.internalCidr}}\n`);
    r.fips.forEach((f, k) => {
      const n = `${r.name}-fip${k}`;
      docs.push(`${K}kind: OvnEip\nmetadata: {name: ${n}}\nspec: {externalSubnet: external, type: nat, v4Ip: ${f.externalIp}}\n`);
      docs.push(`${K}kind: OvnFip\nmetadata: {name: ${n}}\nspec: {ovnEip: ${n}, vpc: ${r.name}, v4Ip: ${f.logicalIp}}\n`);
    });
  }
  return docs;
}

export function workloadYaml(w: Workload, opts: { gatewayNodes?: readonly string[] } = {}): string {
  return workloadDocuments(w, opts).join('---\n');
}
