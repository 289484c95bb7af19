/**
 * A failover's pure parts, without a server: the slots of the ports that lost
 * a chassis placed again and rendered (src/gateway/failover.ts), the
 * candidates with their availability zones as an apply takes them, and the
 * planner rewriting a going slot's row in place instead of an insert, a
 * reference added and one removed (plan.ts reuseSlots), against an
 * in-memory NB.
 */
import t from 'tap';
import { placeGateways, placementCandidates, zonesOf } from '../src/gateway/chassis.js';
import { failoverSlots, slotOrder } from '../src/gateway/failover.js';
import { memoryNbView } from '../src/nat/nb-view.js';
import { buildPlan } from '../src/nat/plan.js';
import type { Desired } from '../src/nat/desired.js';
import type { RowSpec } from '../src/nat/rows.js';

const sb = (name: string, opts = 'enable-chassis-as-gw') => ({ name, hostname: `host-${name}`, other_config: new Map([['ovn-cms-options', opts]]), external_ids: new Map<string, string>() });

t.test('failoverSlots: the dead active replaced, the next one on top, the gap filled at the lowest priority', async (t) => {
  const cands = placementCandidates([sb('c1'), sb('c2'), sb('c3'), sb('c4')], [], new Set(['c2', 'c3', 'c4']));
  t.same(cands.map((c) => c.name), ['c2', 'c3', 'c4'], 'the gateway chassis that are up (c1 is down)');
  const rows = failoverSlots(
    [{ port: 'r1-ext', table: 'Gateway_Chassis', parentRef: 'uuid:lrp1', network: 'ext', slots: [{ chassis: 'c1', priority: 3 }, { chassis: 'c2', priority: 2 }, { chassis: 'c3', priority: 1 }] }],
    cands,
    { k: 3 },
  ).get('r1-ext')!;
  t.same(
    rows.map((r) => [r.columns.chassis_name, r.columns.priority, r.part, r.columns.name]),
    [
      ['c2', 2, 'external:ext:chassis:c2', 'r1-ext-c2'],
      ['c3', 1, 'external:ext:chassis:c3', 'r1-ext-c3'],
      ['c4', 0, 'external:ext:chassis:c4', 'r1-ext-c4'],
    ],
    'c2 (which OVN made active) stays on top at its priority, c3 keeps its own, c4 comes in below them',
  );
  t.ok(rows.every((r) => r.parent?.ref === 'uuid:lrp1' && r.parent.column === 'gateway_chassis'), 'the rows hang on the port as an apply renders them');
  const ha = failoverSlots([{ port: 'bfd@vpc1', table: 'HA_Chassis', parentRef: 'uuid:g1', slots: [{ chassis: 'c3', priority: 2 }, { chassis: 'c1', priority: 1 }] }], cands, { k: 2 }).get('bfd@vpc1')!;
  t.same(ha.map((r) => [r.table, r.columns.chassis_name, r.columns.priority, r.part]), [['HA_Chassis', 'c3', 2, 'bfd-port:chassis:c3'], ['HA_Chassis', 'c4', 1, 'bfd-port:chassis:c4']], 'a BFD port\'s HA chassis group the same way');
  const orphan = failoverSlots([{ port: 'p', table: 'Gateway_Chassis', parentRef: 'uuid:x', network: 'ext', slots: [{ chassis: 'c1', priority: 1 }] }], cands, { k: 1, load: new Map([['c2', 5], ['c3', 0], ['c4', 2]]) }).get('p')!;
  t.same(orphan.map((r) => r.columns.chassis_name), ['c3'], 'a port that lost every chassis: the least-loaded one');
  t.same(slotOrder([{ chassis: 'b', priority: 1 }, { chassis: 'a', priority: 2 }]), ['a', 'b'], 'slots in priority order, highest first');
});

t.test('availability zones: an apply and a failover place over the same candidates, a free slot in a zone the port lacks', async (t) => {
  const chassis = [sb('a1', 'enable-chassis-as-gw,availability-zones=az1'), sb('a2', 'enable-chassis-as-gw,availability-zones=az1'), sb('b1', 'enable-chassis-as-gw,availability-zones=az2')];
  t.same([...zonesOf(chassis)], [['a1', ['az1']], ['a2', ['az1']], ['b1', ['az2']]], 'zones from ovn-cms-options');
  const up = new Set(['a1', 'a2', 'b1']);
  // a port on a1 and a2 (both az1) that loses a2: b1 (az2) must come in, by either path
  const applied = placeGateways(['p'], ['a1', 'b1'], 2, new Map([['p', ['a1', 'a2']]]), new Map(), new Set(), zonesOf(chassis)).get('p');
  t.same(applied, ['a1', 'b1'], 'apply: the port keeps a1 and gets b1');
  const cands = placementCandidates(chassis, [], new Set([...up].filter((c) => c !== 'a2')));
  t.same(cands.find((c) => c.name === 'b1')?.zones, ['az2'], 'the failover\'s candidates carry their zones');
  // with three slots and a second az1 chassis up, the zone still decides the free slot
  // (port p: by rendezvous alone its free slot would go to a2, see the last assertion)
  const three = placeGateways(['p'], ['a1', 'a2', 'b1'], 2, new Map([['p', ['a1']]]), new Map(), new Set(), zonesOf(chassis)).get('p');
  t.same(three, ['a1', 'b1'], 'a free slot goes to the zone the port lacks (b1)');
  t.same(placeGateways(['p'], ['a1', 'a2', 'b1'], 2, new Map([['p', ['a1']]])).get('p'), ['a1', 'a2'], 'without zones the same port would take a2');
});

t.test("a suspect chassis (its node missed a ping): an apply and a failover leave it its slots and give it no new one", async (t) => {
  const chassis = [sb('c1'), sb('c2'), sb('c3'), sb('c4')];
  const suspect = new Set(['c4']);
  // apply: a port on c4 keeps it; new ports get none of c4 (they would by rendezvous and load)
  const kept = placeGateways(['p1'], ['c1', 'c2', 'c3', 'c4'], 3, new Map([['p1', ['c4', 'c1']]]), new Map(), new Set(), new Map(), suspect).get('p1')!;
  t.ok(kept.includes('c4') && kept.length === 3, `a port on c4 keeps it: ${kept.join(', ')}`);
  const fresh = placeGateways(['n1', 'n2', 'n3', 'n4', 'n5', 'n6'], ['c1', 'c2', 'c3', 'c4'], 3, new Map(), new Map(), new Set(), new Map(), suspect);
  t.same([...fresh.values()].filter((l) => l.includes('c4')).length, 0, `new ports: no slot on c4 (${[...fresh.values()].map((l) => l.join('/')).join(' ')})`);
  const all = placeGateways(['n1', 'n2', 'n3', 'n4', 'n5', 'n6'], ['c1', 'c2', 'c3', 'c4'], 3, new Map());
  t.ok([...all.values()].some((l) => l.includes('c4')), 'without it suspect, some new port would take c4 (the assertion above is not vacuous)');
  // failover: c1 dead; the gap goes to c2/c3, not c4
  const cands = placementCandidates(chassis, [], new Set(['c2', 'c3', 'c4']), new Set(), suspect);
  t.equal(cands.find((c) => c.name === 'c4')?.state, 'suspect', 'the failover\'s candidates carry it as suspect');
  const rows = failoverSlots([{ port: 'r1-ext', table: 'Gateway_Chassis', parentRef: 'uuid:lrp1', network: 'ext', slots: [{ chassis: 'c1', priority: 2 }, { chassis: 'c2', priority: 1 }] }], cands, { k: 2 }).get('r1-ext')!;
  t.same(rows.map((r) => r.columns.chassis_name), ['c2', 'c3'], 'the dead c1 replaced by c3, not the suspect c4');
  const unsuspected = failoverSlots([{ port: 'r1-ext', table: 'Gateway_Chassis', parentRef: 'uuid:lrp1', network: 'ext', slots: [{ chassis: 'c1', priority: 2 }, { chassis: 'c2', priority: 1 }] }], placementCandidates(chassis, [], new Set(['c2', 'c3', 'c4'])), { k: 2 }).get('r1-ext')!;
  t.same(unsuspected.map((r) => r.columns.chassis_name), ['c2', 'c4'], 'without it suspect, c4 would have taken the gap');
});

// ---------------------------------------------------------------- the planner's slot reuse

const tags = (kind: string, name: string, part: string) =>
  new Map([
    ['ovn-natgw:owner', 'o'],
    ['ovn-natgw:kind', kind],
    ['ovn-natgw:name', name],
    ['ovn-natgw:part', part],
  ]);
const gc = (uuid: string, chassis: string, priority: number) => ({ _uuid: uuid, name: `r1-ext-${chassis}`, chassis_name: chassis, priority, options: new Map(), external_ids: tags('Vpc', 'r1', `external:ext:chassis:${chassis}`) });
const nb = () =>
  memoryNbView({
    Logical_Router_Port: [{ _uuid: 'lrp1', name: 'r1-ext', gateway_chassis: ['g1', 'g2', 'g3'], networks: [], external_ids: tags('Vpc', 'r1', 'external:ext:port') }],
    Gateway_Chassis: [gc('g1', 'c1', 3), gc('g2', 'c2', 2), gc('g3', 'c3', 1)],
  });
const slot = (chassis: string, priority: number): RowSpec => ({
  table: 'Gateway_Chassis',
  key: `Vpc/r1/external:ext:chassis:${chassis}`,
  kind: 'Vpc',
  name: 'r1',
  part: `external:ext:chassis:${chassis}`,
  label: `Gateway_Chassis r1-ext-${chassis} (priority ${priority})`,
  parent: { table: 'Logical_Router_Port', ref: 'uuid:lrp1', column: 'gateway_chassis' },
  columns: { name: `r1-ext-${chassis}`, chassis_name: chassis, priority },
});
const desired = (rows: RowSpec[]): Desired => ({ rows, reservations: [], problems: [], warnings: [], originOf: () => undefined, specs: new Map(), deps: new Map() });
const slotsOnly = (k: string) => k.includes(':chassis:');

t.test('planner: a slot that moves to another chassis rewrites the going row in place', async (t) => {
  // c1 (the active) dies: c4 comes in at priority 0 (c2 and c3 keep theirs)
  const plan = buildPlan(desired([slot('c2', 2), slot('c3', 1), slot('c4', 0)]), nb(), 'o', { scope: new Set(['Vpc/r1']), rows: slotsOnly });
  t.same(plan.ops.map((o) => `${o.op} ${(o as { table: string }).table} ${JSON.stringify((o as { where?: unknown }).where)}`), ['update Gateway_Chassis [["_uuid","==","g1"]]', 'mutate Gateway_Chassis [["_uuid","==","g1"]]'], 'c1\'s row updated and its key moved: no insert, the port not touched');
  const up = plan.ops[0] as { row: Record<string, unknown> };
  t.same(up.row, { name: 'r1-ext-c4', chassis_name: 'c4', priority: 0 }, 'its chassis, name and priority');
  const mut = plan.ops[1] as unknown as { mutations: [string, string, unknown][] };
  t.same(mut.mutations.map(([c, m, v]) => [c, m, v instanceof Map ? [...v] : v]), [['external_ids', 'delete', ['ovn-natgw:part']], ['external_ids', 'insert', [['ovn-natgw:part', 'external:ext:chassis:c4']]]], 'its key: the part of c4');
  t.same(plan.changes.map((c) => `${c.action} ${c.label}`), ['change Gateway_Chassis r1-ext-c4 (priority 0), in place of c1'], 'the plan says what it replaces');
});

t.test('planner: a going row at the new slot\'s priority is taken first; without one going, an insert', async (t) => {
  // c1 and c3 both go, c4 and c5 come in at 3 and 1: c4 takes c1's row (3), c5 c3's (1): no priority written
  const two = buildPlan(desired([slot('c4', 3), slot('c2', 2), slot('c5', 1)]), nb(), 'o', { scope: new Set(['Vpc/r1']), rows: slotsOnly });
  const updates = two.ops.filter((o) => o.op === 'update') as unknown as { where: [string, string, string][]; row: Record<string, unknown> }[];
  t.same(updates.map((u) => [u.where[0][2], u.row]), [['g1', { name: 'r1-ext-c4', chassis_name: 'c4' }], ['g3', { name: 'r1-ext-c5', chassis_name: 'c5' }]], 'each going row to the slot of its own priority');
  // a fourth slot with nothing going: inserted and attached to the port
  const added = buildPlan(desired([slot('c1', 3), slot('c2', 2), slot('c3', 1), slot('c4', 0)]), nb(), 'o', { scope: new Set(['Vpc/r1']), rows: slotsOnly });
  t.same(added.ops.map((o) => `${o.op} ${(o as { table: string }).table}`), ['insert Gateway_Chassis', 'mutate Logical_Router_Port'], 'a new slot with none going: insert and attach');
  // a slot of another object on the same port is never taken
  const other = memoryNbView({
    Logical_Router_Port: [{ _uuid: 'lrp1', name: 'r1-ext', gateway_chassis: ['g1', 'g9'], networks: [], external_ids: tags('Vpc', 'r1', 'external:ext:port') }],
    Gateway_Chassis: [gc('g1', 'c1', 3), { ...gc('g9', 'c9', 1), external_ids: tags('Vpc', 'r2', 'external:ext:chassis:c9') }],
  });
  const p = buildPlan(desired([slot('c1', 3), slot('c4', 1)]), other, 'o', { scope: new Set(['Vpc/r1']), rows: slotsOnly });
  t.same(p.ops.map((o) => `${o.op} ${(o as { table: string }).table}`), ['insert Gateway_Chassis', 'mutate Logical_Router_Port'], 'r2\'s slot stays r2\'s: c4 is inserted');
});
