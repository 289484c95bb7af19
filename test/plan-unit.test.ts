/**
 * The pure planning parts, without a server, in milliseconds: gateway
 * placement and priorities, egress next hops, and the desired rows and plan
 * of a manifest against an in-memory NB view (memoryNbView), with and
 * without a scope.
 */
import t from 'tap';
import { gatewayCandidates, gatewayPriorities, placeGateways } from '../src/gateway/chassis.js';
import { egressNextHops } from '../src/gateway/egress.js';
import { buildDesired } from '../src/nat/desired.js';
import { parseManifest } from '../src/nat/manifest.js';
import { memoryNbView } from '../src/nat/nb-view.js';
import { buildPlan } from '../src/nat/plan.js';
import { PlanError } from '../src/nat/rows.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';

const chassis = (names: string[], gw = true) => names.map((name) => ({ name, hostname: name, other_config: new Map(gw ? [['ovn-cms-options', 'enable-chassis-as-gw']] : []), external_ids: new Map() }));

t.test('placement: new ports spread their active chassis; a port keeps its chassis; a gone one is replaced at the bottom', async (t) => {
  const c = ['c1', 'c2', 'c3', 'c4'];
  const fresh = placeGateways(['p1', 'p2', 'p3', 'p4'], c, 3, new Map());
  t.same(new Set([...fresh.values()].map((l) => l[0])), new Set(c), 'four new ports: four different active chassis');
  for (const l of fresh.values()) t.equal(new Set(l).size, 3, 'three distinct chassis each');
  t.same(placeGateways(['p1'], c, 3, new Map([['p1', ['c3', 'c1', 'c2']]])).get('p1'), ['c3', 'c1', 'c2'], 'kept as it is');
  const after = placeGateways(['p1'], ['c1', 'c3', 'c4'], 3, new Map([['p1', ['c3', 'c1', 'c2']]])).get('p1')!;
  t.same(after.slice(0, 2), ['c3', 'c1'], 'c2 gone: the active and the next stay in order');
  t.equal(after[2], 'c4', 'c4 fills the lowest slot');
  t.same(gatewayPriorities(['a', 'b', 'c']), [3, 2, 1], 'a new port: K..1');
  t.same(gatewayPriorities(['c3', 'c1', 'c4'], new Map([['c3', 3], ['c1', 2], ['c2', 1]])), [3, 2, 1], 'the chassis that stay keep theirs, the new one takes the lowest');
  t.same(gatewayCandidates(chassis(['c1', 'c2']).concat(chassis(['c9'], false)), []).names, ['c1', 'c2'], 'without a list: the chassis that say enable-chassis-as-gw');
  t.same(gatewayCandidates(chassis(['c1', 'c2']), ['c2', 'ghost', 'c1']), { names: ['c2', 'c1'], missing: ['ghost'] }, 'a list: in its order, what is not there said');
});

t.test('egress next hops: ECMP takes every ready node; otherwise the active one stays while ready', async (t) => {
  const nodes = [
    { node: 'n1', ready: true, hops: { 4: '100.64.0.2' } },
    { node: 'n2', ready: true, hops: { 4: '100.64.0.3' } },
    { node: 'n3', ready: false, hops: { 4: '100.64.0.4' } },
  ];
  t.same(egressNextHops(nodes, 4, true, []), ['100.64.0.2', '100.64.0.3'], 'ECMP: the ready ones, in order');
  t.same(egressNextHops(nodes, 4, false, ['100.64.0.3']), ['100.64.0.3'], 'the current active node stays');
  t.same(egressNextHops(nodes, 4, false, ['100.64.0.4']), ['100.64.0.2'], 'a node that is not ready: the first ready one');
  t.same(egressNextHops(nodes, 6, false, []), [], 'no IPv6 next hop: none');
});

t.test('desired rows and a plan on an empty in-memory NB; a scope writes nothing outside it', async (t) => {
  const nb = memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }] });
  const m = parseManifest(dualStackNetwork(['c1', 'c2', 'c3']), 'network.yaml');
  const d = buildDesired(m, nb, chassis(['c1', 'c2', 'c3']), { owner: 'o' });
  t.same(d.problems, []);
  const gcs = d.rows.filter((r) => r.table === 'Gateway_Chassis');
  t.same(gcs.map((r) => r.columns.priority), [3, 2, 1], 'vpc1-external204 on three chassis, priorities 3..1');
  t.same(d.rows.filter((r) => r.table === 'Logical_Router_Static_Route').map((r) => `${r.columns.ip_prefix} ${r.columns.nexthop}`).sort(), ['0.0.0.0/0 10.5.204.254', '::/0 fd00:5::fe'], 'the default routes');
  const plan = buildPlan(d, nb, 'o');
  const inserts = plan.ops.filter((o) => o.op === 'insert').map((o) => (o as { table: string }).table);
  t.same(new Set(inserts), new Set(['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Gateway_Chassis', 'Logical_Router_Static_Route']), 'one transaction inserting the network, the router, its ports and chassis');
  t.ok(plan.ops.some((o) => o.op === 'mutate' && (o as { table: string }).table === 'NB_Global'), 'the specs of the objects without rows go to NB_Global');
  t.ok(plan.ops.filter((o) => o.op === 'insert').every((o) => ((o as { row: Record<string, unknown> }).row.external_ids as Map<string, string>).get('ovn-natgw:owner') === 'o'), 'every row inserted says whose it is');
  // an EIP planned on its own (scope: only it) while NB lacks its network: the plan does not insert the network for it
  const eip = parseManifest('kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: e1}\nspec: {externalSubnet: external204}\n', 'eip.yaml');
  const d2 = buildDesired({ objects: [...m.objects, ...eip.objects], notices: [] }, nb, chassis(['c1', 'c2', 'c3']), { owner: 'o', incoming: new Set(['OvnEip/e1']) });
  const e = (() => {
    try {
      buildPlan(d2, nb, 'o', { scope: new Set(['OvnEip/e1']) });
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  t.type(e, PlanError, 'refused');
  t.match((e as Error).message, /Subnet external204.*: metadata\.name: its row Logical_Switch external204 .* is not in NB, and objects applied now need it: apply Subnet external204 again/, 'naming the object whose rows are missing');
});

t.test('an object\'s references read from its stored document equal those of the object the full reader makes', async (t) => {
  const { refFields, refsOf } = await import('../src/nat/object-store.js');
  const { loadManifests, sourceOf } = await import('../src/nat/manifest.js');
  const { fileURLToPath } = await import('node:url');
  const { workloadYaml } = await import('../bench/workload-yaml.js');
  const { buildWorkload } = await import('../bench/workload.js');
  const seed = await loadManifests([fileURLToPath(new URL('./fixtures/seed002', import.meta.url))]);
  const more = parseManifest(
    [
      dualStackNetwork(['c1']),
      workloadYaml(buildWorkload({ routers: 3, fips: 6 }), { gatewayNodes: ['c1'] }).split('---\n').filter((d) => !d.includes('kind: ConfigMap')).join('---\n').replace(/name: external\b/g, 'name: ext2').replace(/externalSubnet: external\b/g, 'externalSubnet: ext2').replace(/name: (physnet|vlan0)\b/g, 'name: $1x').replace(/provider: physnet/g, 'provider: physnetx').replace(/vlan: vlan0/g, 'vlan: vlan0x'),
      'kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: v9}\nspec: {enableExternal: true, extraExternalSubnets: [external204]}\n',
      'kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: e9}\nspec: {usageType: lsp}\n',
      'kind: OvnSnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: s9}\nspec: {ovnEip: e9, vpcSubnet: vpc1-subnet1}\n',
      'kind: OvnDnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: d9}\nspec: {ovnEip: e9, ipType: vip, ipName: v1, protocol: tcp, internalPort: 1, externalPort: 2}\n',
    ].join('---\n'),
    'more.yaml',
  );
  let n = 0;
  for (const o of [...seed.objects, ...more.objects]) {
    const fields = refFields(JSON.parse(JSON.stringify(sourceOf(o))));
    t.same(fields && refsOf(fields), refsOf(o), `${o.kind}/${o.name}`);
    n++;
  }
  t.ok(n > 30, `${n} objects of every kind`);
});

t.test('live chassis as an input: a chassis that is down gets no gateway port, and the plan says so', async (t) => {
  const nb = memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }] });
  const m = parseManifest(dualStackNetwork(['c1', 'c2', 'c3', 'c4']), 'network.yaml');
  const all = buildDesired(m, nb, chassis(['c1', 'c2', 'c3', 'c4']), { owner: 'o' });
  const placed = all.rows.filter((r) => r.table === 'Gateway_Chassis').sort((a, b) => Number(b.columns.priority) - Number(a.columns.priority)).map((r) => String(r.columns.chassis_name));
  t.equal(placed.length, 3);
  const active = placed[0];
  const live = new Set(['c1', 'c2', 'c3', 'c4'].filter((c) => c !== active));
  const d = buildDesired(m, nb, chassis(['c1', 'c2', 'c3', 'c4']), { owner: 'o', live });
  const now = d.rows.filter((r) => r.table === 'Gateway_Chassis').map((r) => String(r.columns.chassis_name));
  t.equal(now.length, 3, 'still three gateway chassis');
  t.notOk(now.includes(active), `not on ${active}, which is down`);
  t.ok(d.warnings.some((w) => w.includes(`"${active}" down`)), 'a warning names it');
});

t.test('chassis load: active is the highest priority, the others standby; bound from SB', async (t) => {
  const { chassisLoad } = await import('../src/gateway/load.js');
  const load = chassisLoad(
    [
      { port: 'v1-ext', chassis: [{ chassis_name: 'c1', priority: 1 }, { chassis_name: 'c2', priority: 3 }, { chassis_name: 'c3', priority: 2 }] },
      { port: 'bfd@v1', chassis: [{ chassis_name: 'c1', priority: 5 }] },
    ],
    [{ name: 'c1', hostname: 'h1' }, { name: 'c2', hostname: 'h2' }, { name: 'c3', hostname: 'h3' }, { name: 'c4', hostname: 'h4' }],
    new Map([['v1-ext', 'c2']]),
  );
  t.same(load.map((c) => [c.chassis, c.hostname, c.active, c.standby, c.bound]), [
    ['c1', 'h1', ['bfd@v1'], ['v1-ext'], []],
    ['c2', 'h2', ['v1-ext'], [], ['v1-ext']],
    ['c3', 'h3', [], ['v1-ext'], []],
    ['c4', 'h4', [], [], []],
  ]);
});
