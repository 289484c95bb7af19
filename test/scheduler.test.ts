/**
 * The one gateway scheduler (src/gateway/scheduler.ts), pure, no server:
 * a dead chassis replaced at the lowest priority with the active kept on
 * top, the active's death promoting the next, draining to the lowest
 * standby, failback preempt and no-preempt, availability zones, new ports
 * spread least-loaded, a set never emptied, rebalance with the fewest moves,
 * and apply's placement being this same function.
 */
import t from 'tap';
import { chassisZones, rebalance, schedule, type Candidate } from '../src/gateway/scheduler.js';
import { placeGateways } from '../src/gateway/chassis.js';

const alive = (...names: string[]): Candidate[] => names.map((name) => ({ name, state: 'alive' }));
const one = (current: string[], cands: Candidate[], k = 3, failback?: 'preempt' | 'no-preempt') => schedule([{ port: 'lrp1', current }], cands, { k, ...(failback ? { failback } : {}) }).get('lrp1');

t.test('a standby dies: the active stays on top, the gap is filled at the bottom', async (t) => {
  const got = one(['gw1', 'gw2', 'gw3'], alive('gw1', 'gw3', 'gw4'));
  t.same(got?.slice(0, 2), ['gw1', 'gw3'], 'the others keep their order');
  t.equal(got?.[2], 'gw4', 'the new chassis at the lowest priority');
});

t.test('the active dies: the next becomes the top (OVN moved the port there already)', async (t) => {
  t.same(one(['gw1', 'gw2', 'gw3'], alive('gw2', 'gw3', 'gw4')), ['gw2', 'gw3', 'gw4']);
});

t.test('draining: the chassis stays, as the lowest standby', async (t) => {
  const cands: Candidate[] = [{ name: 'gw1', state: 'draining' }, ...alive('gw2', 'gw3')];
  t.same(one(['gw1', 'gw2', 'gw3'], cands), ['gw2', 'gw3', 'gw1']);
  t.same(one(['gw1', 'gw2'], [{ name: 'gw1', state: 'draining' }, ...alive('gw2', 'gw3')]), ['gw2', 'gw3', 'gw1'], 'a free slot is filled above it');
});

t.test('failback: preempt keeps a returning chassis in place, no-preempt puts it last', async (t) => {
  const cands: Candidate[] = [{ name: 'gw1', state: 'returning' }, ...alive('gw2', 'gw3')];
  t.same(one(['gw1', 'gw2', 'gw3'], cands, 3, 'preempt'), ['gw1', 'gw2', 'gw3'], 'preempt: back on top');
  t.same(one(['gw1', 'gw2', 'gw3'], cands, 3, 'no-preempt'), ['gw2', 'gw3', 'gw1'], 'no-preempt: the lowest priority');
  t.same(one(['gw2', 'gw3'], cands, 3, 'preempt'), ['gw2', 'gw3'], 'a returning chassis gets no new slot in its hold-down');
});

t.test('suspect: keeps its slots, is given none', async (t) => {
  const cands: Candidate[] = [{ name: 'gw1', state: 'suspect' }, ...alive('gw2', 'gw3', 'gw4')];
  const got = one(['gw1', 'gw2'], cands)!;
  t.same(got.slice(0, 2), ['gw1', 'gw2'], 'kept where it was');
  t.ok(['gw3', 'gw4'].includes(got[2]), 'the free slot to an alive one');
  t.not(one(['gw2'], cands)?.includes('gw1'), true, 'not added to a port');
});

t.test('every candidate down: the set is never emptied', async (t) => {
  t.same(one(['gw1', 'gw2'], alive('gw9')), ['gw9'], 'its chassis dead, one alive elsewhere: that one');
  t.same(one(['gw1', 'gw2'], []), ['gw1', 'gw2'], 'no candidate at all: kept as it is');
});

t.test('availability zones: a free slot goes to a zone the port lacks', async (t) => {
  const cands: Candidate[] = [
    { name: 'a1', zones: ['az1'], state: 'alive' },
    { name: 'a2', zones: ['az1'], state: 'alive' },
    { name: 'a3', zones: ['az1'], state: 'alive' },
    { name: 'b1', zones: ['az2'], state: 'alive' },
  ];
  for (let i = 0; i < 20; i++) {
    const got = schedule([{ port: `p${i}`, current: ['a1'] }], cands, { k: 2 }).get(`p${i}`)!;
    t.same(got, ['a1', 'b1'], `p${i}: its second chassis in the other zone`);
  }
  t.same(chassisZones({ other_config: new Map([['ovn-cms-options', 'enable-chassis-as-gw,availability-zones=az1:az2']]), external_ids: new Map() }), ['az1', 'az2'], 'zones read from ovn-cms-options');
});

t.test('new ports: actives spread least-loaded, chassis distinct, deterministic', async (t) => {
  const ports = Array.from({ length: 30 }, (_, i) => ({ port: `lrp-${i}`, current: [] as string[] }));
  const cands = alive('gw1', 'gw2', 'gw3');
  const a = schedule(ports, cands, { k: 3 });
  const counts = new Map<string, number>();
  for (const l of a.values()) {
    t.equal(new Set(l).size, 3, 'three distinct chassis');
    counts.set(l[0], (counts.get(l[0]) ?? 0) + 1);
  }
  t.same([...counts.values()].sort(), [10, 10, 10], 'actives even');
  t.same(schedule([...ports].reverse(), [...cands].reverse(), { k: 3 }), a, 'the same whatever the input order');
  const loaded = schedule([{ port: 'x', current: [] }], cands, { k: 1, load: new Map([['gw1', 5], ['gw2', 1], ['gw3', 5]]) });
  t.same(loaded.get('x'), ['gw2'], 'the load of other ports counts');
});

t.test('rebalance: the fewest moves to within one', async (t) => {
  const placements = new Map<string, string[]>();
  for (let i = 0; i < 6; i++) placements.set(`p${i}`, ['gw1', 'gw2', 'gw3']);
  const r = rebalance(placements, alive('gw1', 'gw2', 'gw3'), 3);
  t.equal(r.moves.length, 4, '6/0/0 -> 2/2/2: four moves');
  const tops = [...r.placements.values()].map((l) => l[0]);
  t.same(['gw1', 'gw2', 'gw3'].map((c) => tops.filter((x) => x === c).length), [2, 2, 2]);
  for (const m of r.moves) t.same(r.placements.get(m.port)!.slice(0, 2), [m.to, m.from], `${m.port}: ${m.to} promoted, ${m.from} its first standby`);
  t.same(rebalance(r.placements, alive('gw1', 'gw2', 'gw3'), 3).moves, [], 'balanced: nothing to move');
  const withNew = rebalance(placements, alive('gw1', 'gw2', 'gw3', 'gw4'), 3);
  t.ok(withNew.placements.get(withNew.moves.find((m) => m.to === 'gw4')!.port)!.length === 3, 'a chassis the port lacks takes its lowest slot');
});

t.test("apply's placement is the scheduler over alive chassis", async (t) => {
  const current = new Map([['p1', ['gw2', 'gw9']]]);
  const ports = ['p1', 'p2', 'p3'];
  const cands = ['gw1', 'gw2', 'gw3'];
  t.same(
    placeGateways(ports, cands, 2, current),
    schedule(ports.map((port) => ({ port, current: current.get(port) ?? [] })), alive(...cands), { k: 2 }),
  );
});
