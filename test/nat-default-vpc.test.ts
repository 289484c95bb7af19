/**
 * Kube-OVN's default VPC (seed 002, 1.2): ConfigMap ovn-external-gw-config
 * with enable-external-gw "true" attaches router ovn-cluster (which Kube-OVN
 * creates, here ovn-nbctl) to the default external network: its router port
 * "ovn-cluster-external204" with gateway chassis and peer, at nic-ip/nic-mac
 * when given, and no default route (the default VPC's is Kube-OVN's, via the
 * join network). Against a real OVN; checked with ovn-nbctl, northd's flows
 * and ovn-trace. The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import { PlanError } from '../src/nat/rows.js';
import { runCtl } from './helpers/ctl.js';
import { nbctl, ovnTrace, sbctl, withSandbox } from './helpers/sandbox.js';
import { catchAsync } from './helpers/util.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const NETWORK = ['01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml'].map((n) => join(SEED, n));
for (const [i, c] of ['pc-node-1', 'pc-node-2', 'pc-node-3'].entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

/** The seed's ConfigMap with `data` lines changed or added. */
function configMap(data: Record<string, string> = {}): string {
  const d: Record<string, string> = {
    'enable-external-gw': 'true',
    'external-gw-nodes': 'pc-node-1,pc-node-2,pc-node-3',
    type: 'centralized',
    'external-gw-addr': '10.5.204.254/24',
    ...data,
  };
  const lines = Object.entries(d).map(([k, v]) => `  ${k}: "${v}"`);
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ovn-external-gw-config\n  namespace: kube-system\ndata:\n${lines.join('\n')}\n`;
}
async function manifest(cm: string, extra = ''): Promise<Manifest> {
  const m = await loadManifests(NETWORK);
  m.objects.push(...parseManifest(cm + (extra ? `---\n${extra}` : ''), 'default-vpc.yaml').objects);
  return m;
}

const POD = { port: 'pod1.default', mac: '00:00:00:aa:10:05', ip: '10.16.0.5' };
const FIP = `kind: OvnEip
apiVersion: kubeovn.io/v1
metadata: {name: eip-pod1}
spec: {externalSubnet: external204, type: nat}
---
kind: OvnFip
apiVersion: kubeovn.io/v1
metadata: {name: fip-pod1}
spec: {ovnEip: eip-pod1, ipName: ${POD.port}}
`;

const show = () => nbctl(sb, 'show', 'ovn-cluster');
const routes = async () => (await nbctl(sb, 'lr-route-list', 'ovn-cluster')).split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter((l) => /^\d/.test(l));

t.test('without router ovn-cluster in NB: the seed still applies, with a warning, and nothing of the default VPC is written', async (t) => {
  const r = await gw.apply(await manifest(configMap()));
  t.ok(r.transacted, 'the external network is written');
  t.ok(
    r.plan.warnings.some((w) => w.includes('data.enable-external-gw: the default VPC, router ovn-cluster, is not in NB')),
    'warning names the ConfigMap field and the router',
    { warnings: r.plan.warnings },
  );
  t.notOk((await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router_Port')).includes('ovn-cluster'), 'no router port for ovn-cluster');
});

t.test('with ovn-cluster made by Kube-OVN: the next apply attaches it, leaving its router and route alone', async (t) => {
  // what kube-ovn-controller makes: the cluster router, its default subnet and default route via the join network
  await nbctl(sb, 'lr-add', 'ovn-cluster', '--', 'set', 'Logical_Router', 'ovn-cluster', 'external_ids:vendor=kube-ovn');
  await nbctl(sb, 'lrp-add', 'ovn-cluster', 'ovn-cluster-ovn-default', '00:00:00:10:00:01', '10.16.0.1/16');
  await nbctl(sb, 'ls-add', 'ovn-default');
  await nbctl(sb, 'lsp-add', 'ovn-default', 'ovn-default-ovn-cluster', '--', 'lsp-set-type', 'ovn-default-ovn-cluster', 'router', '--', 'lsp-set-addresses', 'ovn-default-ovn-cluster', 'router', '--', 'lsp-set-options', 'ovn-default-ovn-cluster', 'router-port=ovn-cluster-ovn-default');
  await nbctl(sb, 'lsp-add', 'ovn-default', POD.port, '--', 'lsp-set-addresses', POD.port, `${POD.mac} ${POD.ip}`);
  await nbctl(sb, 'lr-route-add', 'ovn-cluster', '0.0.0.0/0', '100.64.0.1');
  const before = await routes();
  const routerIds = await nbctl(sb, 'get', 'Logical_Router', 'ovn-cluster', 'external_ids');

  const r = await gw.apply(await manifest(configMap()));
  t.ok(r.transacted);
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.label.replace(/ \(priority \d\)$/, '')}`).sort(),
    [
      'add Gateway_Chassis ovn-cluster-external204-pc-node-1',
      'add Gateway_Chassis ovn-cluster-external204-pc-node-2',
      'add Gateway_Chassis ovn-cluster-external204-pc-node-3',
      'add Logical_Router_Port ovn-cluster-external204 (10.5.204.101/24)',
      'add Logical_Switch_Port external204-ovn-cluster (router port of ovn-cluster-external204)',
      'add reservation 10.5.204.101 on external204 for ovn-natgw/Vpc/ovn-cluster',
    ],
    'the port at the first free address after excludeIps, its peer, three gateway chassis, the reservation; no router, no route',
  );
  t.notOk(r.plan.warnings.some((w) => w.includes('enable-external-gw')), 'no warning any more');
  const s = await show();
  const port = /port ovn-cluster-external204\n\s+mac: "00:00:00:[0-9a-f:]+"\n\s+networks: \["10\.5\.204\.101\/24"\]\n\s+gateway chassis: \[([^\]]*)\]/.exec(s);
  t.ok(port, 'ovn-nbctl show ovn-cluster: the port with its address and gateway chassis', { s });
  t.same(port?.[1].split(' ').sort(), ['pc-node-1', 'pc-node-2', 'pc-node-3'], 'on the three external-gw-nodes');
  t.same(await routes(), before, 'lr-route-list ovn-cluster: only Kube-OVN\'s default route via the join network');
  t.equal(await nbctl(sb, 'get', 'Logical_Router', 'ovn-cluster', 'external_ids'), routerIds, 'the router row is not ours and not changed');
  t.equal((await gw.apply(await manifest(configMap()))).transacted, false, 'a second apply sends no transaction');

  const ctl = await runCtl(sb, ['get', 'vpc', 'ovn-cluster']);
  t.equal(ctl.code, 0, ctl.stderr);
  t.match(ctl.stdout, /\novn-cluster\s+10\.5\.204\.101\s.*\strue\n/, 'ovn-natgwctl get vpc ovn-cluster: its external address, ready');
});

t.test('a FIP for a pod of the default VPC: NAT on ovn-cluster, compiled and traced in', async (t) => {
  await gw.apply(await manifest(configMap(), FIP));
  const nat = await nbctl(sb, 'lr-nat-list', 'ovn-cluster');
  const m = /dnat_and_snat\s+(10\.5\.204\.\d+)\s+10\.16\.0\.5/.exec(nat);
  t.ok(m, 'lr-nat-list ovn-cluster: dnat_and_snat EIP -> 10.16.0.5', { nat });
  const eip = m?.[1] ?? '?';
  t.not(eip, '10.5.204.101', 'the EIP is not the router port address');
  await nbctl(sb, '--wait=sb', 'sync');
  const flows = await sbctl(sb, 'lflow-list', 'ovn-cluster');
  t.ok(flows.split('\n').some((l) => l.includes('lr_in_dnat') && l.includes(`ip4.dst == ${eip}`) && l.includes('ct_dnat')), 'northd: lr_in_dnat ct_dnat for the EIP');
  const extMac = (await nbctl(sb, 'get', 'Logical_Router_Port', 'ovn-cluster-external204', 'mac')).trim().replace(/"/g, '');
  const out = await ovnTrace(
    sb,
    `inport == "localnet.external204" && eth.src == 00:00:00:cc:cc:fe && eth.dst == ${extMac} && ip4.src == 8.8.8.8 && ip4.dst == ${eip} && ip.ttl == 64 && tcp && tcp.dst == 80`,
  );
  t.match(out, new RegExp(`ct_dnat(?:in_czone)?\\(ip4\\.dst=${POD.ip.replace(/\./g, '\\.')}\\)`), 'ovn-trace: the FIP is translated to the pod', { out });
  t.match(out, new RegExp(`output\\("${POD.port.replace('.', '\\.')}"\\)`), 'ovn-trace: delivered to the pod port');
});

t.test('nic-ip and nic-mac move the port in place; a nic-ip outside the network is refused, NB unchanged', async (t) => {
  const uuid = (await nbctl(sb, 'get', 'Logical_Router_Port', 'ovn-cluster-external204', '_uuid')).trim();
  const r = await gw.apply(await manifest(configMap({ 'nic-ip': '10.5.204.150/24', 'nic-mac': '00:00:00:EF:05:C7' }), FIP));
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.table === 'Logical_Switch' ? c.label : `${c.table} ${Object.keys(c.columns ?? {}).join(',')}`}`),
    [
      'change Logical_Router_Port mac,networks',
      'add reservation 10.5.204.150 on external204 for ovn-natgw/Vpc/ovn-cluster',
      'remove reservation 10.5.204.101 on external204 (ovn-natgw/Vpc/ovn-cluster)',
    ],
    'the port changes, and its reservation moves',
  );
  t.equal((await nbctl(sb, 'get', 'Logical_Router_Port', 'ovn-cluster-external204', '_uuid')).trim(), uuid, 'same row');
  t.match(await show(), /port ovn-cluster-external204\n\s+mac: "00:00:00:ef:05:c7"\n\s+networks: \["10\.5\.204\.150\/24"\]/, 'ovn-nbctl show: nic-mac and nic-ip');

  const before = await nbctl(sb, 'show');
  const err = await catchAsync(gw.apply(await manifest(configMap({ 'nic-ip': '10.9.0.5/24' }), FIP)));
  t.type(err, PlanError);
  t.match((err as Error).message, /ConfigMap ovn-external-gw-config.*: data\.nic-ip: 10\.9\.0\.5\/24 is not an address of the default external network external204/);
  const taken = await catchAsync(gw.apply(await manifest(configMap({ 'nic-ip': '10.5.204.254/24' }), FIP)));
  t.match((taken as Error).message, /data\.nic-ip: 10\.5\.204\.254 is already in use on external204/, 'the upstream gateway address is refused');
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged');
});

t.test('a Vpc ovn-cluster with enableExternal false contradicts the ConfigMap: refused', async (t) => {
  const before = await nbctl(sb, 'show');
  const vpc = 'kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: ovn-cluster}\nspec: {enableExternal: false}\n';
  const err = await catchAsync(gw.apply(await manifest(configMap(), vpc)));
  t.match((err as Error).message, /Vpc ovn-cluster.*: spec\.enableExternal: is false, but ConfigMap ovn-external-gw-config data\.enable-external-gw "true" attaches/);
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged');
});

t.test('a Vpc ovn-cluster that leaves enableExternal out (only a bfdPort, as Kube-OVN egress docs): the ConfigMap attaches it, the bfdPort is added', async (t) => {
  const port = await nbctl(sb, 'get', 'Logical_Router_Port', 'ovn-cluster-external204', '_uuid', 'networks', 'gateway_chassis');
  const vpc = 'kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: ovn-cluster}\nspec:\n  bfdPort: {enabled: true, ip: 10.255.255.255}\n';
  const r = await gw.apply(await manifest(configMap(), FIP + '---\n' + vpc));
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.table}`).sort(),
    ['add HA_Chassis', 'add HA_Chassis', 'add HA_Chassis', 'add HA_Chassis_Group', 'add Logical_Router_Port'],
    'only the BFD port and its HA chassis group are added: the external port stays as the ConfigMap attached it',
  );
  t.equal(await nbctl(sb, 'get', 'Logical_Router_Port', 'ovn-cluster-external204', '_uuid', 'networks', 'gateway_chassis'), port, 'the same external port row, address and gateway chassis');
  const s = await show();
  t.match(s, /port bfd@ovn-cluster\n\s+mac: "[0-9a-f:]{17}"\n\s+networks: \["10\.255\.255\.255"\]/, 'ovn-nbctl show ovn-cluster: the BFD port');
  t.equal((await nbctl(sb, 'get', 'Logical_Router_Port', 'bfd@ovn-cluster', 'options:bfd-only')).trim(), '"true"');
  const group = await nbctl(sb, 'ha-chassis-group-list');
  t.match(group, /bfd@ovn-cluster/, 'ha-chassis-group-list: the group');
  for (const c of ['pc-node-1', 'pc-node-2', 'pc-node-3']) t.match(group, new RegExp(`\\b${c}\\b`), `with gateway node ${c}`);
  t.same(await routes(), ['0.0.0.0/0 100.64.0.1 dst-ip'], 'still no default route of ours');
  t.equal((await gw.apply(await manifest(configMap(), FIP + '---\n' + vpc))).transacted, false, 'a second apply sends no transaction');

  const back = await gw.apply(await manifest(configMap(), FIP));
  t.same(
    back.plan.changes.map((c) => `${c.action} ${c.table}`).sort(),
    ['remove HA_Chassis', 'remove HA_Chassis', 'remove HA_Chassis', 'remove HA_Chassis_Group', 'remove Logical_Router_Port'],
    'the Vpc leaves the manifest: only its BFD port goes, the ConfigMap keeps the external port',
  );
  t.equal(await nbctl(sb, 'get', 'Logical_Router_Port', 'ovn-cluster-external204', '_uuid', 'networks', 'gateway_chassis'), port, 'the external port row unchanged');
});

t.test('enable-external-gw "false" detaches the default VPC: exactly what was attached goes', async (t) => {
  const r = await gw.apply(await manifest(configMap({ 'enable-external-gw': 'false' })));
  t.same(
    r.plan.changes.filter((c) => c.object === 'Vpc/ovn-cluster').map((c) => `${c.action} ${c.table}`).sort(),
    ['remove Gateway_Chassis', 'remove Gateway_Chassis', 'remove Gateway_Chassis', 'remove Logical_Router_Port', 'remove Logical_Switch', 'remove Logical_Switch_Port'],
    'the port, its peer, the gateway chassis and the address reservation (on Logical_Switch external204)',
  );
  const s = await show();
  t.notMatch(s, /ovn-cluster-external204/, 'the port is gone');
  t.match(s, /port ovn-cluster-ovn-default/, "Kube-OVN's own port stays");
  t.same(await routes(), ['0.0.0.0/0 100.64.0.1 dst-ip'], "and its route");
  t.equal((await nbctl(sb, 'lr-nat-list', 'ovn-cluster')).trim(), '', 'the FIP left the manifest too: no NAT');
});
