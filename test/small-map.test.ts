/**
 * SmallMap (src/ovsdb/small-map.ts), the replica's map of a few pairs: it
 * reads as the Map of the same pairs does (instanceof Map, get, has, size,
 * every iteration in insertion order, forEach, new Map() of it, spread), a key
 * given twice keeps its first place and its last value as Map.set does, it
 * refuses writes, and more pairs than SMALL_MAP_MAX give a real Map. The
 * replica's rows through a real server are in replica.test.ts. Pure.
 */
import t from 'tap';
import { SMALL_MAP_MAX, SmallMap } from '../src/ovsdb/small-map.js';

t.test('reads as a Map of the same pairs', async (t) => {
  const pairs: [string, string][] = [['ovn-natgw:owner', 'default'], ['ovn-natgw:kind', 'OvnFip'], ['ovn-natgw:name', 'f1'], ['k', '']];
  const m = SmallMap.of<string, string>(pairs.flat());
  const ref = new Map(pairs);
  t.ok(m instanceof Map, 'instanceof Map');
  t.equal(m.size, ref.size);
  for (const [k, v] of ref) {
    t.equal(m.get(k), v, `get ${k}`);
    t.ok(m.has(k), `has ${k}`);
  }
  t.equal(m.get('missing'), undefined);
  t.notOk(m.has('missing'));
  t.same([...m], [...ref], 'iteration, in insertion order');
  t.same([...m.keys()], [...ref.keys()]);
  t.same([...m.values()], [...ref.values()]);
  t.same([...m.entries()], [...ref.entries()]);
  const seen: string[] = [];
  m.forEach((v, k, self) => seen.push(`${k}=${v}:${self === m}`));
  t.same(seen, [...ref].map(([k, v]) => `${k}=${v}:true`), 'forEach: value, key, the map');
  t.same([...new Map(m)], [...ref], 'new Map() of it');
  t.equal(Object.prototype.toString.call(m), '[object Map]');
});

t.test('a key twice: its first place, its last value (as Map.set)', async (t) => {
  const m = SmallMap.of<string, number>(['a', 1, 'b', 2, 'a', 3, 'c', 4, 'b', 5]);
  t.same([...m], [['a', 3], ['b', 5], ['c', 4]]);
  t.equal(m.size, 3);
});

t.test('read-only; more than SMALL_MAP_MAX pairs give a real Map', async (t) => {
  const m = SmallMap.of<string, number>(['a', 1]) as unknown as Map<string, number>;
  t.throws(() => m.set('b', 2), /read-only/);
  t.throws(() => m.delete('a'), /read-only/);
  t.throws(() => m.clear(), /read-only/);
  const big = SmallMap.of<string, number>(Array.from({ length: SMALL_MAP_MAX + 1 }, (_, i) => [`k${i}`, i]).flat());
  t.notOk(big instanceof SmallMap, 'a real Map');
  t.equal(big.size, SMALL_MAP_MAX + 1);
  t.equal(big.get(`k${SMALL_MAP_MAX}`), SMALL_MAP_MAX);
  t.equal(SmallMap.of<string, number>([]).size, 0, 'empty');
});
