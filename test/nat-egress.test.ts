/**
 * Centralized egress (seed 000: a Subnet with gatewayType centralized and
 * gatewayNode): a reroute Logical_Router_Policy at priority 29000 on the
 * Vpc's router, to the gateway node's next hop (its Kube-OVN join port
 * "node-<name>", or an IP given as "node:IP"), against a real OVN. Checked with
 * ovn-nbctl lr-policy-list, ovn-northd's lr_in_policy flows and ovn-trace
 * (a packet from a pod to the internet delivered to the gateway node's port).
 *
 * The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import { nbctl, ovnTrace, sbctl, withSandbox } from './helpers/sandbox.js';
import { catchAsync, waitFor } from './helpers/util.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const FILES = ['00-centralized-external-gw-no-ip.yaml', '01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml', '01-vpc-ecmp-enable-external-bfd.yml'].map((n) => join(SEED, n));
const NODES = [
  ['pc-node-1', '00:00:00:00:64:02', '100.64.0.2'],
  ['pc-node-2', '00:00:00:00:64:03', '100.64.0.3'],
  ['pc-node-3', '00:00:00:00:64:04', '100.64.0.4'],
] as const;
for (const [i, [c]] of NODES.entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

const JOIN = 'kind: Subnet\napiVersion: kubeovn.io/v1\nmetadata: {name: join}\nspec: {cidrBlock: 100.64.0.0/16, vpc: vpc1}\n---\n';
function subnet(spec: string): string {
  return `kind: Subnet\napiVersion: kubeovn.io/v1\nmetadata: {name: vpc1-subnet1}\nspec: {cidrBlock: 192.168.0.0/24, vpc: vpc1${spec ? `, ${spec}` : ''}}\n`;
}
async function manifest(subnetSpec: string): Promise<Manifest> {
  const m = await loadManifests(FILES);
  m.objects.push(...parseManifest(JOIN + subnet(subnetSpec), 'egress.yaml').objects);
  return m;
}

const policies = async () =>
  (await nbctl(sb, 'lr-policy-list', 'vpc1'))
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '))
    .filter((l) => l && l !== 'Routing Policies');
const policyUuid = () => [...gw.nb.table('Logical_Router_Policy').values()].find((p) => p.priority === 29000)?._uuid;

/** The lr_in_policy flows ovn-northd compiled at priority 29000. */
async function policyFlows(): Promise<string[]> {
  await nbctl(sb, '--wait=sb', 'sync');
  return (await sbctl(sb, 'lflow-list', 'vpc1')).split('\n').filter((l) => l.includes('lr_in_policy') && l.includes('priority=29000'));
}

const POD = { port: 'vpc-1-busybox01.vpc1', mac: '00:00:00:0a:dd:27', ip: '192.168.0.2' };
/** Where ovn-trace delivers a tcp packet from the pod to 8.8.8.8 (the output ports, in order). */
async function egressPort(): Promise<string[]> {
  await nbctl(sb, '--wait=sb', 'sync');
  const lrpMac = (await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-vpc1-subnet1', 'mac')).trim().replace(/"/g, '');
  const flow = `inport == "${POD.port}" && eth.src == ${POD.mac} && eth.dst == ${lrpMac} && ip4.src == ${POD.ip} && ip4.dst == 8.8.8.8 && ip.ttl == 64 && tcp && tcp.dst == 80`;
  const out = await ovnTrace(sb, flow);
  return [...out.matchAll(/output\("([^"]+)"\);/g)].map((m) => m[1]);
}

t.test('a distributed subnet has no egress policy; the join switch and the nodes ports are set up', async (t) => {
  const r = await gw.apply(await manifest('gatewayType: distributed'));
  t.ok(r.transacted);
  t.same(await policies(), [], 'lr-policy-list vpc1: empty');
  // what Kube-OVN's CNI makes: the node ports on the join switch, and a pod
  for (const [name, mac, ip] of NODES) await nbctl(sb, 'lsp-add', 'join', `node-${name}`, '--', 'lsp-set-addresses', `node-${name}`, `${mac} ${ip}`);
  await nbctl(sb, 'lsp-add', 'vpc1-subnet1', POD.port, '--', 'lsp-set-addresses', POD.port, `${POD.mac} ${POD.ip}`);
  t.ok(await waitFor(() => [...gw.nb.table('Logical_Switch_Port').values()].filter((p) => p.name.startsWith('node-')).length === 3, 10_000), 'replica sees the node ports');
  t.same(await egressPort(), ['localnet.external204'], 'ovn-trace: distributed, the pod goes out by the default route');
});

t.test('centralized: one reroute policy at 29000 to the first gateway node', async (t) => {
  const r = await gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-1,pc-node-2"'));
  t.ok(r.transacted);
  t.same(await policies(), ['29000 ip4.src == 192.168.0.0/24 reroute 100.64.0.2'], 'lr-policy-list vpc1');
  const flows = await policyFlows();
  t.ok(flows.some((f) => f.includes('ip4.src == 192.168.0.0/24') && f.includes('reg0 = 100.64.0.2')), 'ovn-northd: lr_in_policy priority 29000 sets the next hop 100.64.0.2', { flows });
  t.same(await egressPort(), ['node-pc-node-1'], 'ovn-trace: the pod to 8.8.8.8 is delivered to pc-node-1 on the join switch');
  const again = await gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-1,pc-node-2"'));
  t.equal(again.transacted, false, 'a second apply sends no transaction');
});

t.test('the active node stays while it is ready; when its chassis goes, the policy moves in place', async (t) => {
  const uuid = policyUuid();
  const swapped = await gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-2,pc-node-1"'));
  // the Subnet's new spec is stored (its last-applied document); no row changes
  t.same(swapped.plan.changes, [], 'a new order alone does not move the active node');
  t.same(swapped.plan.specs.map((c) => c.object), ['Subnet/vpc1-subnet1'], 'only the Subnet\'s last-applied spec is stored anew');
  await sbctl(sb, 'chassis-del', 'pc-node-1');
  t.ok(await waitFor(() => !gw.chassis().some((c) => c.name === 'pc-node-1'), 10_000));
  const moved = await gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-2,pc-node-1"'));
  t.same(
    moved.plan.changes.filter((c) => c.table === 'Logical_Router_Policy').map((c) => `${c.action} ${JSON.stringify(c.columns)}`),
    ['change {"nexthops":["[100.64.0.2]","[100.64.0.3]"]}'],
    'the policy: one change, its next hop',
  );
  t.same(
    moved.plan.changes.filter((c) => c.table !== 'Logical_Router_Policy').map((c) => `${c.action} ${c.label}`),
    ['remove Gateway_Chassis vpc1-external204-pc-node-1 (left the manifest)'],
    'and the external port gives up its gateway chassis on pc-node-1, nothing else',
  );
  t.ok(
    moved.plan.warnings.some((w) => w.includes('data.external-gw-nodes: no SB chassis with name or hostname "pc-node-1"; using the others')),
    'a warning, not a refusal, for the gateway node that is gone',
    { warnings: moved.plan.warnings },
  );
  t.equal(policyUuid(), uuid, 'same policy row');
  t.same(await policies(), ['29000 ip4.src == 192.168.0.0/24 reroute 100.64.0.3']);
  t.same(await egressPort(), ['node-pc-node-2'], 'ovn-trace: now delivered to pc-node-2');
});

t.test('ECMP: every ready gateway node is a next hop', async (t) => {
  await sbctl(sb, 'chassis-add', 'pc-node-1', 'geneve', '127.0.0.1');
  t.ok(await waitFor(() => gw.chassis().some((c) => c.name === 'pc-node-1'), 10_000));
  await gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-2,pc-node-1", enableEcmp: true'));
  t.same(await policies(), ['29000 ip4.src == 192.168.0.0/24 reroute 100.64.0.2, 100.64.0.3'], 'lr-policy-list vpc1: both nodes');
  const flows = await policyFlows();
  t.ok(flows.some((f) => /select\(/.test(f)), 'ovn-northd: an ECMP select in lr_in_policy', { flows });
});

t.test('a next hop given as node:IP needs no join port', async (t) => {
  await gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-3:100.64.0.9"'));
  t.same(await policies(), ['29000 ip4.src == 192.168.0.0/24 reroute 100.64.0.9']);
});

t.test('refused: a node with no next hop, no ready node; nothing written', async (t) => {
  const before = await policies();
  const noHop = (await catchAsync(gw.apply(await manifest('gatewayType: centralized, gatewayNode: "pc-node-3,ghost"')))) as Error;
  t.match(
    noHop?.message,
    /Subnet vpc1-subnet1 \(egress\.yaml, document 2\): spec\.gatewayNode: node "ghost" has no next hop: give it as "ghost:<IP>", or NB needs its join port "node-ghost" \(Kube-OVN's name\) with an address/,
  );
  const noneReady = (await catchAsync(gw.apply(await manifest('gatewayType: centralized, gatewayNode: "ghost:100.64.0.50"')))) as Error;
  t.match(noneReady?.message, /Subnet vpc1-subnet1 \(egress\.yaml, document 2\): spec\.gatewayNode: none of "ghost" is an SB chassis \(by name or hostname\): no gateway node is ready/);
  t.same(await policies(), before, 'lr-policy-list unchanged');
});

t.test('back to distributed: the policy is removed', async (t) => {
  const r = await gw.apply(await manifest('gatewayType: distributed'));
  t.same(r.plan.changes.map((c) => `${c.action} ${c.table}`), ['remove Logical_Router_Policy']);
  t.same(await policies(), []);
});
