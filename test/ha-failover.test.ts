/**
 * NatGateway.failover (issue 16 §5, through the generic planner): the
 * Kube-OVN guide's external gateway and a centralized-egress subnet on four
 * gateway chassis; the gateway port's active chassis declared dead. In one
 * transaction: the next chassis leads, the fourth fills the lowest priority,
 * the dead one is gone, the subnet's reroute policy goes to the node left;
 * nothing else is written; a later apply of the whole manifest over the
 * same SB changes nothing (an apply never undoes a failover). Checked with
 * ovn-nbctl.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const FILES = ['00-centralized-external-gw-no-ip.yaml', '01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml', '01-vpc-ecmp-enable-external-bfd.yml'].map((n) => join(SEED, n));
for (let i = 1; i <= 4; i++) await sbctl(sb, 'chassis-add', `pc-node-${i}`, 'geneve', `127.0.0.${i}`, '--', 'set', 'Chassis', `pc-node-${i}`, 'other_config:ovn-cms-options=enable-chassis-as-gw');

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

async function manifest(): Promise<Manifest> {
  const m = await loadManifests(FILES);
  // the gateway nodes: all four (the ConfigMap of the guide names three)
  const cm = m.objects.find((o) => o.kind === 'ConfigMap') as { externalGwNodes?: string[] } | undefined;
  if (cm && Array.isArray(cm.externalGwNodes)) cm.externalGwNodes = ['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'];
  m.objects.push(
    ...parseManifest(
      'kind: Subnet\napiVersion: kubeovn.io/v1\nmetadata: {name: vpc1-subnet1}\nspec: {cidrBlock: 192.168.0.0/24, vpc: vpc1, gatewayType: centralized, gatewayNode: "pc-node-1:100.64.0.2,pc-node-2:100.64.0.3"}\n',
      'egress.yaml',
    ).objects,
  );
  return m;
}

/** The gateway port's chassis as ovn-nbctl lists them: [chassis, priority], highest first. */
async function gatewayChassis(port: string): Promise<[string, number][]> {
  const out = await nbctl(sb, 'lrp-get-gateway-chassis', port);
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, prio] = l.trim().split(/\s+/);
      return [name.slice(port.length + 1), Number(prio)] as [string, number];
    });
}
const policy = async () => (await nbctl(sb, 'lr-policy-list', 'vpc1')).split('\n').find((l) => l.includes('29000'))?.trim().split(/\s+/).join(' ') ?? '';

t.test('the active gateway chassis dead: one transaction restores the set and the egress', async (t) => {
  const m = await manifest();
  await gw.apply(m);
  const port = [...gw.nb.table('Logical_Router_Port').values()].find((p) => p.gateway_chassis.length > 0)!.name;
  const before = await gatewayChassis(port);
  t.equal(before.length, 3, `${port}: three gateway chassis of four`);
  const [active, second, third] = before.map(([c]) => c);
  const spare = ['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'].find((c) => !before.some(([x]) => x === c))!;
  t.match(await policy(), /reroute 100\.64\.0\.2$/, 'egress through pc-node-1 first');

  const dead = [active, 'pc-node-1'].filter((c, i, a) => a.indexOf(c) === i);
  const r = await gw.failover(dead);
  t.ok(r.transacted, 'written');
  t.equal(r.attempts, 1, 'in one transaction');
  t.ok(r.converged, 'nothing left to change after it');
  const after = await gatewayChassis(port);
  const names = after.map(([c]) => c);
  t.notOk(names.some((c) => dead.includes(c)), `ovn-nbctl lrp-get-gateway-chassis: ${dead.join(', ')} gone`);
  t.equal(names[0], [second, third].find((c) => !dead.includes(c)), 'the next one leads (OVN moved the port there already)');
  t.ok(after[0][1] > after[after.length - 1][1], 'priorities still ordered');
  if (!dead.includes(spare)) t.ok(names.includes(spare), `${spare}, not in the set before, fills the lowest priority`);
  t.match(await policy(), /reroute 100\.64\.0\.3$/, 'ovn-nbctl lr-policy-list: egress rerouted to pc-node-2');
  const kinds = new Set(r.plan.changes.map((c) => c.table));
  t.same([...kinds].filter((k) => !['Gateway_Chassis', 'Logical_Router_Policy', 'HA_Chassis'].includes(k)), [], `only gateway chassis and policy rows written (${[...kinds].join(', ')})`);

  // apply and HA place with the same function over the same live set: the manifest over it writes nothing
  const live = new Set(['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'].filter((c) => !dead.includes(c)));
  const again = await gw.apply(await manifest(), { live });
  if (again.transacted) t.comment(again.plan.changes.map((c) => `${c.action} ${c.label}`).join('\n'));
  t.equal(again.transacted, false, 'a later apply over the same live chassis writes nothing: it never undoes a failover');
  t.same(await gatewayChassis(port), after, 'the set stays');
  // the dead ones back (still SB chassis): a free slot is filled at the lowest priority; the active stays
  await gw.apply(await manifest());
  const back = await gatewayChassis(port);
  t.equal(back[0][0], after[0][0], 'the active stays where the failover put it');
  t.equal(back.length, 3, 'the set is full again');
});

t.test('a chassis that carries nothing: no transaction', async (t) => {
  const r = await gw.failover(['no-such-chassis']);
  t.equal(r.transacted, false);
  t.same(r.objects, []);
});

t.test('drain: the active moves off in one transaction, the chassis stays as the lowest standby', async (t) => {
  const port = [...gw.nb.table('Logical_Router_Port').values()].find((p) => p.gateway_chassis.length > 0)!.name;
  const before = await gatewayChassis(port);
  const active = before[0][0];
  const r = await gw.drain(active);
  t.ok(r.transacted && r.attempts === 1, 'one transaction');
  t.same([...new Set(r.plan.changes.map((c) => c.table))], ['Gateway_Chassis'], 'only Gateway_Chassis rows');
  const after = await gatewayChassis(port);
  t.equal(after[0][0], before[1][0], 'ovn-nbctl lrp-get-gateway-chassis: the next one leads');
  t.equal(after[after.length - 1][0], active, `${active} is the lowest standby`);
  t.equal(after.length, before.length, 'the set keeps its size');
  const again = await gw.apply(await manifest(), { draining: new Set([active]) });
  t.equal(again.transacted, false, 'an apply with the same draining set writes nothing');
  const undrained = await gw.apply(await manifest());
  t.equal(undrained.transacted, false, 'undrained: nothing moves back by itself (rebalance does that)');
});

t.test('rebalance: the fewest moves to even the actives, in one transaction; a later apply keeps them', async (t) => {
  // many routers on the guide's four chassis: piled onto one by draining the others in turn
  const port = [...gw.nb.table('Logical_Router_Port').values()].find((p) => p.gateway_chassis.length > 0)!.name;
  const before = await gatewayChassis(port);
  const r = await gw.rebalance();
  // one gateway port only: nothing to even out
  t.same(r.moves, [], 'one port: already within one');
  t.equal(r.transacted, false, 'nothing written');
  t.same(await gatewayChassis(port), before);
});
