/**
 * The shared workload applied through the declarative layer (src/nat): the
 * workload as manifest objects (Kube-OVN shapes), planned against a live NB
 * replica and applied in ONE transaction (the apply then plans again to check
 * that nothing is left: `converged`); then the same manifest applied again,
 * which must find nothing to change and send no transaction (nothing changed
 * since the converged plan, so it is not planned again), and last the same
 * plan made in full, for comparison.
 *
 * Mapping (same routers, ports, chassis count, SNATs, FIPs and routes as the
 * raw workload):
 *  - one external network "external": 172.16.0.0/12 (the raw workload puts
 *    router ports in 172.16/16 and FIPs from 172.17.0.1 up; an EIP must lie in
 *    an external network of its router, so the network spans both);
 *  - router i = Vpc r<i> with enableExternal; its port address is an lrp-type
 *    OvnEip "r<i>-external" (v4Ip = the raw workload's port IP), also used as
 *    the SNAT EIP (OvnSnatRule, vpc + v4IpCidr = the router's /24);
 *  - each FIP = OvnEip (v4Ip given) + OvnFip (vpc + v4Ip);
 *  - gateway chassis: 3 of the workload's 20 chassis, chosen by the planner
 *    (SB Chassis rows are created before timing; ConfigMap lists them).
 * The declarative layer writes a little more than the raw workload: the
 * external switch with its localnet port, one peer switch port per router
 * (type router, nat-addresses=router), and one address reservation per EIP in
 * the switch's external_ids.
 */
import { performance } from 'node:perf_hooks';
import { NatGateway } from '../../src/nat/apply.js';
import { parseManifest } from '../../src/nat/manifest.js';
import { encodeOperation, type Operation } from '../../src/ovsdb/operations.js';
import type { TransactOptions } from '../../src/ovsdb/client.js';
import { workloadYaml } from '../workload-yaml.js';
import type { Manifest, ManifestObject, OvnFip } from '../../src/nat/objects.js';
import type { Workload } from '../workload.js';

export function workloadManifest(w: Workload): Manifest {
  const objects: ManifestObject[] = [
    { kind: 'ProviderNetwork', name: 'physnet' },
    { kind: 'Vlan', name: 'vlan0', id: 0, provider: 'physnet' },
    { kind: 'Subnet', name: 'external', cidrBlock: ['172.16.0.0/12'], gateway: [w.externalGateway], vlan: 'vlan0', excludeIps: [] },
    { kind: 'ConfigMap', name: 'ovn-external-gw-config', enableExternalGw: true, externalGwNodes: [...w.chassis], type: 'centralized' },
  ];
  for (const r of w.routers) {
    objects.push({ kind: 'Vpc', name: r.name, enableExternal: true, addExternalSubnets: [], staticRoutes: [], policyRoutes: [] });
    const portEip = `${r.name}-external`;
    objects.push({ kind: 'OvnEip', name: portEip, externalSubnet: 'external', type: 'lrp', v4Ip: r.port.ip });
    objects.push({ kind: 'OvnSnatRule', name: `${r.name}-snat`, ovnEip: portEip, vpc: r.name, v4IpCidr: r.internalCidr });
    r.fips.forEach((f, k) => {
      const n = `${r.name}-fip${k}`;
      objects.push({ kind: 'OvnEip', name: n, externalSubnet: 'external', type: 'nat', v4Ip: f.externalIp });
      objects.push({ kind: 'OvnFip', name: n, ovnEip: n, vpc: r.name, v4Ip: f.logicalIp });
    });
  }
  return { objects, notices: [] };
}

export interface DeclarativeResult {
  /** the YAML text of the workload read into objects (the CLI's first step) */
  yamlSeconds: number;
  /** the bulk apply's transaction as it went on the wire, and the NB_Global it named (to replay it elsewhere) */
  request: string;
  nbGlobal: string;
  connectSeconds: number;
  planSeconds: number;
  /** plan + transaction + the replica seeing it */
  applySeconds: number;
  ops: number;
  changes: number;
  reapplySeconds: number;
  reapplyTransacted: boolean;
  /** the same re-apply made to plan in full (no use of the last converged plan) */
  replanSeconds: number;
  replanOps: number;
  /** a plan after the commit found nothing left to change */
  converged: boolean;
  /** that plan's time */
  verifySeconds: number;
  /** objects in the manifest */
  objects: number;
  /** the whole manifest read again with one FIP changed, applied on the warm gateway (its baseline) */
  oneChangedSeconds: number;
  /** the objects that apply planned (-1: the whole state) */
  oneChangedScope: number;
}

/** Another IPv4 address of the same /24, high in it (the workload's pods are at its bottom). */
function nextAddress(ip: string): string {
  const b = ip.split('.').map(Number);
  b[3] = b[3] === 250 ? 249 : 250;
  return b.join('.');
}

export async function declarativeApply(nbRemote: string, sbRemote: string, w: Workload): Promise<DeclarativeResult> {
  // as an operator keeps it: Kube-OVN YAML, read by the same reader as the CLI (each object's document is stored in NB)
  const text = workloadYaml(w, { gatewayNodes: w.chassis });
  const y0 = performance.now();
  const manifest = parseManifest(text, 'workload.yaml');
  const yamlSeconds = (performance.now() - y0) / 1000;
  const gw = new NatGateway({ nb: nbRemote, sb: sbRemote, timeoutMs: 60_000 });
  let request = '';
  const transact = gw.nbClient.transact.bind(gw.nbClient);
  gw.nbClient.transact = (ops: readonly Operation[], o: TransactOptions = {}) => {
    if (!request) request = JSON.stringify({ method: 'transact', params: ['OVN_Northbound', ...[...ops, ...(o.comment ? [{ op: 'comment', comment: o.comment } as Operation] : [])].map((op) => encodeOperation(gw.nbClient.schema!, op))], id: 1 });
    return transact(ops, o);
  };
  try {
    const t0 = performance.now();
    await gw.connect();
    const nbGlobal = [...gw.nb.table('NB_Global').values()][0]?._uuid ?? '';
    const t1 = performance.now();
    const plan = gw.plan(manifest);
    const t2 = performance.now();
    // end to end: plan, commit, the replica showing it (the check that nothing is left is timed apart)
    const r = await gw.apply(manifest, { verify: false });
    const t3 = performance.now();
    if (!r.transacted) throw new Error('the first apply sent no transaction');
    const check = gw.plan(manifest, { full: true });
    const t3b = performance.now();
    const again = await gw.apply(manifest);
    const t4 = performance.now();
    const replan = gw.plan(manifest, { full: true });
    const t5 = performance.now();
    // the directory read again (fresh objects, as a resident manager re-reads it) with one FIP rebound
    const reread = parseManifest(text, 'workload.yaml');
    const fip = reread.objects.findIndex((o) => o.kind === 'OvnFip');
    const first = reread.objects[fip] as OvnFip;
    const moved = { ...first, v4Ip: nextAddress(first.v4Ip!) };
    const changed = { objects: reread.objects.map((o, i) => (i === fip ? moved : o)), notices: [] };
    const t6 = performance.now();
    const one = await gw.apply(changed);
    const t7 = performance.now();
    if (!one.transacted || !one.converged) throw new Error('the manifest with one FIP changed was not applied');
    return {
      yamlSeconds,
      request,
      nbGlobal,
      connectSeconds: (t1 - t0) / 1000,
      planSeconds: (t2 - t1) / 1000,
      // apply() plans again itself: timed from its start, the separate plan above is only reported
      applySeconds: (t3 - t2) / 1000,
      ops: plan.ops.length,
      changes: plan.changes.length,
      verifySeconds: (t3b - t3) / 1000,
      reapplySeconds: (t4 - t3b) / 1000,
      reapplyTransacted: again.transacted,
      replanSeconds: (t5 - t4) / 1000,
      replanOps: replan.ops.length,
      converged: check.ops.length === 0,
      objects: manifest.objects.length,
      oneChangedSeconds: (t7 - t6) / 1000,
      oneChangedScope: one.plan.scope?.length ?? -1,
    };
  } finally {
    await gw.close();
  }
}
