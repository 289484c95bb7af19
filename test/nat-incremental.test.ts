/**
 * A resident manager re-applying a whole manifest (mode replace, as the
 * daemon will reconcile a directory) plans only what changed since the last
 * plan that found nothing to do: an object whose document changed, one that
 * left the manifest, one whose rows someone changed in NB, one whose plan read
 * a row that changed (a workload port's address). Against a real OVN, checked
 * with ovn-nbctl; after each step a full plan agrees that nothing is left.
 */
import t from 'tap';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const sb = await withSandbox(t);
await addChassisRows(sb, 3);
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

const network = dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']);
const fip = (i: number, inner = `v4Ip: 192.168.0.${10 + i}`) => `---
kind: OvnEip
apiVersion: kubeovn.io/v1
metadata: {name: eip-${i}}
spec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.${200 + i}}
---
kind: OvnFip
apiVersion: kubeovn.io/v1
metadata: {name: fip-${i}}
spec: {ovnEip: eip-${i}, vpc: vpc1, ${inner}}
`;
const manifest = (...parts: string[]) => parseManifest(network + parts.join(''), 'dir.yaml');
const fips = (n: number, except: number[] = []) => Array.from({ length: n }, (_, i) => i + 1).filter((i) => !except.includes(i)).map((i) => fip(i));
const natList = async () => (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').filter((l) => l.includes('10.5.204.2'));
const settled = async (t: { same(a: unknown, b: unknown, m: string): unknown }, m: ReturnType<typeof manifest>) => {
  t.same(gw.plan(m, { full: true }).ops, [], 'a full plan finds nothing left');
};

t.test('a whole manifest applied, then planned again: nothing planned at all', async (t) => {
  const m = manifest(...fips(5));
  const r = await gw.apply(m);
  t.ok(r.transacted && r.converged, 'applied');
  t.equal(r.plan.scope, undefined, 'the first plan is of the whole state');
  t.equal((await natList()).length, 5, 'ovn-nbctl: five FIPs');
  const again = gw.plan(m);
  t.same([again.ops, again.scope], [[], []], 'no object planned: none changed');
});

t.test('one object changed: only it is planned', async (t) => {
  const m = manifest(...fips(5, [3]), fip(3, 'v4Ip: 192.168.0.99'));
  const r = await gw.apply(m);
  t.ok(r.transacted && r.converged, 'applied');
  t.same(r.plan.scope, ['OvnFip/fip-3'], 'planned: the changed FIP alone');
  t.same(r.plan.changes.map((c) => `${c.action} ${c.table}`), ['change NAT'], 'its NAT row changed in place');
  t.ok((await natList()).some((l) => l.includes('10.5.204.203') && l.includes('192.168.0.99')), 'ovn-nbctl: the FIP points at its new address');
  await settled(t, m);
});

t.test('a row changed by hand: its object is planned again and put back', async (t) => {
  const m = manifest(...fips(5, [3]), fip(3, 'v4Ip: 192.168.0.99'));
  await nbctl(sb, 'lr-nat-del', 'vpc1', 'dnat_and_snat', '10.5.204.202');
  await until('the replica to see the NAT row go', () => ![...gw.nb.table('NAT').values()].some((n) => n.external_ip === '10.5.204.202'));
  const r = await gw.apply(m);
  t.ok(r.transacted && r.converged, 'applied');
  t.same(r.plan.scope, ['OvnFip/fip-2'], 'planned: the FIP whose row went');
  t.ok((await natList()).some((l) => l.includes('10.5.204.202') && l.includes('192.168.0.12')), 'ovn-nbctl: the NAT row is back');
  await settled(t, m);
});

t.test('an object left the manifest: only it is removed', async (t) => {
  const m = manifest(...fips(5, [3, 4]), fip(3, 'v4Ip: 192.168.0.99'), fip(4).split('---').slice(0, 2).join('---'));
  const r = await gw.apply(m);
  t.ok(r.transacted && r.converged, 'applied');
  t.same(r.plan.scope, ['OvnFip/fip-4'], 'planned: the FIP that left');
  t.same(r.plan.changes.map((c) => `${c.action} ${c.table}`), ['remove NAT'], 'its NAT row goes');
  t.notOk((await natList()).some((l) => l.includes('10.5.204.204')), 'ovn-nbctl: gone');
  await settled(t, m);
});

t.test('a workload port the plan read changes its address: the FIP on it is planned again', async (t) => {
  await nbctl(sb, 'lsp-add', 'vpc1-subnet1', 'pod-a', '--', 'lsp-set-addresses', 'pod-a', '00:00:00:00:0a:01 192.168.0.60');
  await until('the replica to see the port', () => [...gw.nb.table('Logical_Switch_Port').values()].some((p) => p.name === 'pod-a'));
  const m = manifest(...fips(5, [3, 4]), fip(3, 'v4Ip: 192.168.0.99'), fip(4).split('---').slice(0, 2).join('---'), fip(6, 'ipName: pod-a'));
  const first = await gw.apply(m);
  t.same(first.plan.scope, ['OvnEip/eip-6', 'OvnFip/fip-6'], 'the new EIP and FIP');
  await nbctl(sb, 'lsp-set-addresses', 'pod-a', '00:00:00:00:0a:01 192.168.0.61');
  await until('the replica to see the new address', () => [...gw.nb.table('Logical_Switch_Port').values()].some((p) => p.name === 'pod-a' && p.addresses[0]?.endsWith('.61')));
  const r = await gw.apply(m);
  t.ok(r.transacted && r.converged, 'applied');
  t.same(r.plan.scope, ['OvnFip/fip-6'], 'planned: the FIP on that port');
  t.ok((await natList()).some((l) => l.includes('10.5.204.206') && l.includes('192.168.0.61')), 'ovn-nbctl: the FIP follows the port');
  await settled(t, m);
});

t.test('a change in SB (gateway placement reads every chassis): planned in full', async (t) => {
  const m = manifest(...fips(5, [3, 4]), fip(3, 'v4Ip: 192.168.0.99'), fip(4).split('---').slice(0, 2).join('---'), fip(6, 'ipName: pod-a'));
  t.same(gw.plan(m).scope, [], 'nothing to plan before');
  await sbctl(sb, 'chassis-add', 'pc-node-4', 'geneve', '127.0.0.4');
  await until('the replica to see the chassis', () => [...gw.sb!.table('Chassis').values()].length === 4);
  const p = gw.plan(m);
  t.equal(p.scope, undefined, 'the whole state is planned');
  t.same(p.ops, [], 'and nothing changes: each port keeps its chassis');
});
