/**
 * LayeredMap (src/ovsdb/layered-map.ts), the replica's new version of a large
 * map column per update2 diff: against a plain Map given the same diffs, over
 * random sequences, every version (old ones too) reads the same as the plain
 * map did at its time; read-only; folding keeps the layers small.
 */
import t from 'tap';
import { LAYERED_MIN_SIZE, LayeredMap } from '../src/ovsdb/layered-map.js';
import { prng } from './helpers/util.js';

/** update2 semantics on a plain copy. */
function plain(cur: ReadonlyMap<string, string>, diff: ReadonlyMap<string, string>): Map<string, string> {
  const m = new Map(cur);
  for (const [k, v] of diff) {
    if (!m.has(k)) m.set(k, v);
    else if (m.get(k) === v) m.delete(k);
    else m.set(k, v);
  }
  return m;
}

const sorted = (m: ReadonlyMap<string, string>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

t.test('random diffs on a large map: every version equals the plain map of its time', async (t) => {
  for (const seed of [1, 2, 3]) {
    const rnd = prng(seed);
    let ref = new Map<string, string>();
    for (let i = 0; i < LAYERED_MIN_SIZE + 500; i++) ref.set(`k${i}`, `v${i % 7}`);
    let cur: ReadonlyMap<string, string> = new Map(ref);
    const history: [ReadonlyMap<string, string>, Map<string, string>][] = [];
    let layered = 0;
    for (let step = 0; step < 400; step++) {
      const diff = new Map<string, string>();
      for (let j = 0, n = 1 + Math.floor(rnd() * 5); j < n; j++) {
        const k = `k${Math.floor(rnd() * (LAYERED_MIN_SIZE + 800))}`;
        // add, remove (same value), or change
        diff.set(k, ref.has(k) && rnd() < 0.5 ? ref.get(k)! : `w${Math.floor(rnd() * 3)}`);
      }
      cur = LayeredMap.applyDiff(cur, diff);
      ref = plain(ref, diff);
      if (cur instanceof LayeredMap) layered++;
      history.push([cur, ref]);
    }
    t.ok(layered > 300, `seed ${seed}: most versions are layered (${layered} of 400)`);
    let bad = 0;
    for (const [m, r] of history) {
      if (m.size !== r.size || JSON.stringify(sorted(m)) !== JSON.stringify(sorted(r))) bad++;
      for (const k of ['k0', 'k1', `k${LAYERED_MIN_SIZE + 700}`]) if (m.get(k) !== r.get(k) || m.has(k) !== r.has(k)) bad++;
    }
    t.equal(bad, 0, `seed ${seed}: all 400 versions, old ones too, read as the plain map did (entries, size, get, has)`);
  }
});

t.test('a Map to its readers, read-only, and small maps stay plain copies', async (t) => {
  const big = new Map(Array.from({ length: LAYERED_MIN_SIZE }, (_, i) => [`k${i}`, 'v'] as [string, string]));
  const v = LayeredMap.applyDiff(big, new Map([['new', 'x']]));
  t.ok(v instanceof Map && v instanceof LayeredMap, 'instanceof Map');
  t.equal(v.size, LAYERED_MIN_SIZE + 1);
  t.equal(new Map(v).get('new'), 'x', 'copies through its iterator');
  t.equal([...v.keys()].length, LAYERED_MIN_SIZE + 1);
  t.throws(() => (v as Map<string, string>).set('a', 'b'), /read-only/);
  t.throws(() => (v as Map<string, string>).delete('a'), /read-only/);
  t.equal(big.has('new'), false, 'the older version is untouched');
  const small = LayeredMap.applyDiff(new Map([['a', '1']]), new Map([['a', '1'], ['b', '2']]));
  t.notOk(small instanceof LayeredMap, 'a small map is copied');
  t.same([...small], [['b', '2']]);
});
