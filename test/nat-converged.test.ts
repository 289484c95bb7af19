/**
 * Re-applying through one NatGateway (as the daemon will): after a commit the
 * apply plans again and reports `converged`; a re-apply of the same input with
 * nothing changed since sends nothing without planning again. These tests show
 * that this never hides a change: a row another writer removed or altered in
 * NB, a chassis gone from SB, or the manifest's content edited in place, are
 * each seen and put right by the next apply. Checked with ovn-nbctl.
 * The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const NETWORK = ['00-centralized-external-gw-no-ip.yaml', '01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml', '01-vpc-ecmp-enable-external-bfd.yml', '02-subnet.yml'].map((n) => join(SEED, n));
for (const [i, c] of ['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'].entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

const manifest: Manifest = await loadManifests(NETWORK);
manifest.objects.push(
  ...parseManifest(
    [
      'kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: eip-a}\nspec: {externalSubnet: external204, type: nat, v4Ip: 10.5.204.150}',
      'kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: fip-a}\nspec: {ovnEip: eip-a, vpc: vpc1, v4Ip: 192.168.0.2}',
    ].join('\n---\n'),
    'fip.yaml',
  ).objects,
);
const natList = async () => (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' ')).filter(Boolean).sort();
const gatewayChassis = async () => (await nbctl(sb, 'lrp-get-gateway-chassis', 'vpc1-external204')).split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
/** until the gateway's NB replica shows a write made by ovn-nbctl */
const seenInNb = (what: string, pred: (nb: typeof gw.nb) => boolean) => until(`the replica to show ${what}`, () => pred(gw.nb));
const localnet = () => [...gw.nb.table('Logical_Switch_Port').values()].find((p) => p.name === 'localnet.external204');

t.test('apply converges; the same apply again sends nothing', async (t) => {
  const r = await gw.apply(manifest);
  t.ok(r.transacted);
  t.equal(r.converged, true, 'a plan made after the commit finds nothing left');
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.2']);
  const again = await gw.apply(manifest);
  t.equal(again.transacted, false);
  t.same(again.plan.ops, []);
});

t.test('a NAT row removed by another writer comes back on the next apply', async (t) => {
  await nbctl(sb, 'lr-nat-del', 'vpc1', 'dnat_and_snat', '10.5.204.150');
  t.same(await natList(), []);
  await seenInNb('the NAT row gone', (nb) => ![...nb.table('NAT').values()].some((n) => n.external_ip === '10.5.204.150'));
  const r = await gw.apply(manifest);
  t.ok(r.transacted, 'the removal is seen');
  t.same(r.plan.changes.map((c) => `${c.action} ${c.table} ${c.object}`), ['add NAT OvnFip/fip-a']);
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.2']);
  t.equal((await gw.apply(manifest)).transacted, false);
});

t.test('a port\'s `up` (set by ovn-northd) alone changes nothing; a column changed with it is put back', async (t) => {
  const port = 'localnet.external204';
  // ovn-northd owns `up` and sets it back at once (ovsdb-server may then send no net change at all): wait for northd, not for the replica
  await nbctl(sb, 'set', 'logical_switch_port', port, 'up=true');
  await nbctl(sb, '--wait=sb', 'sync');
  t.equal((await gw.apply(manifest)).transacted, false, 'up alone: nothing to do');
  await nbctl(sb, 'set', 'logical_switch_port', port, 'up=false', 'options:network_name=elsewhere');
  await seenInNb('network_name=elsewhere', () => localnet()?.options.get('network_name') === 'elsewhere');
  const r = await gw.apply(manifest);
  t.ok(r.transacted, 'the change next to `up` is seen');
  t.match(await nbctl(sb, 'get', 'logical_switch_port', port, 'options:network_name'), /external204/);
});

t.test('a gateway chassis gone from SB: the next apply moves the gateway off it', async (t) => {
  const before = await gatewayChassis();
  t.ok(before.some((c) => c.includes('pc-node-1')), `pc-node-1 carries vpc1's gateway (${before.join(' ')})`);
  await sbctl(sb, 'chassis-del', 'pc-node-1');
  await until('the SB replica to lose pc-node-1', () => !gw.chassis().some((c) => c.name === 'pc-node-1'));
  const r = await gw.apply(manifest);
  t.ok(r.transacted, 'the SB change is seen');
  const after = await gatewayChassis();
  t.notOk(after.some((c) => c.includes('pc-node-1')), `pc-node-1 no longer listed (${after.join(' ')})`);
  t.ok(after.length > 0);
});

t.test('the manifest edited in place (same objects, new content) is planned again', async (t) => {
  const fip = manifest.objects.find((o) => o.kind === 'OvnFip' && o.name === 'fip-a') as { v4Ip?: string };
  fip.v4Ip = '192.168.0.3';
  const r = await gw.apply(manifest);
  t.ok(r.transacted);
  t.same(r.plan.changes.map((c) => `${c.action} ${c.table} ${Object.keys(c.columns ?? {}).join(',')}`), ['change NAT logical_ip'], 'the FIP rebinds in place');
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.3']);
  t.equal((await gw.apply(manifest)).transacted, false);
});
