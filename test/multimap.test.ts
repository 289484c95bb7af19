/**
 * SetMultimap (src/multimap.ts), the compact key -> values index behind the
 * replica's secondary indexes and the planner's users and reservations: after
 * every step of a random sequence of adds and deletes (few keys, few values,
 * so that keys go from one value to several and back), what it answers equals
 * a plain Map of Sets doing the same. Pure, no server.
 */
import t from 'tap';
import { prng as rng } from './helpers/util.js';
import { SetMultimap, UsersIndex } from '../src/multimap.js';

t.test('a key with one value and with several, as a Map of Sets answers', async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const r = rng(seed);
    const m = new SetMultimap<string, string>();
    const ref = new Map<string, Set<string>>();
    let bad = '';
    for (let step = 0; step < 3000 && !bad; step++) {
      const k = `k${Math.floor(r() * 6)}`;
      const v = `v${Math.floor(r() * 4)}`;
      const op = r();
      let got: boolean;
      let want: boolean;
      if (op < 0.5) {
        got = m.add(k, v);
        const s = ref.get(k) ?? new Set();
        want = !s.has(v);
        s.add(v);
        ref.set(k, s);
      } else {
        got = m.delete(k, v);
        const s = ref.get(k);
        want = s?.delete(v) ?? false;
        if (s?.size === 0) ref.delete(k);
      }
      if (got !== want) bad = `seed ${seed} step ${step}: returned ${got}, a Map of Sets ${want}`;
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k4', 'k5']) {
        const a = [...m.get(key)].sort().join(',');
        const b = [...(ref.get(key) ?? [])].sort().join(',');
        if (a !== b || [...m.get(key)].length !== (ref.get(key)?.size ?? 0) || m.has(key) !== ref.has(key) || m.has(key, v) !== (ref.get(key)?.has(v) ?? false)) {
          bad ||= `seed ${seed} step ${step}: key ${key} holds [${a}], a Map of Sets [${b}]`;
        }
      }
      if (m.size !== ref.size || [...m.keys()].sort().join() !== [...ref.keys()].sort().join()) bad ||= `seed ${seed} step ${step}: keys differ`;
    }
    t.equal(bad, '', `seed ${seed}: 3000 random steps agree`);
  }
});

t.test('numbers as values; clear', async (t) => {
  const m = new SetMultimap<string, number>();
  t.ok(m.add('a', 1));
  t.notOk(m.add('a', 1), 'the same value twice is one');
  t.ok(m.add('a', 2));
  t.same([...m.get('a')].sort(), [1, 2]);
  t.ok(m.delete('a', 1));
  t.same([...m.get('a')], [2], 'back to one value');
  t.notOk(m.delete('a', 1), 'gone');
  t.same([...m.get('missing')], []);
  m.clear();
  t.equal(m.size, 0);
  t.notOk(m.has('a'));
});

t.test('UsersIndex: a ref past `wide` users keeps no Set, and its users still come (by the scan) as a Map of Sets answers', async (t) => {
  for (const seed of [5, 6, 7]) {
    const r = rng(seed);
    // what each object names (the truth the scan reads)
    const names = new Map<string, Set<string>>();
    const scanned: string[] = [];
    const u = new UsersIndex<string>((ref) => {
      scanned.push(ref);
      return [...names].filter(([, s]) => s.has(ref)).map(([id]) => id);
    }, 3);
    let bad = '';
    for (let step = 0; step < 3000 && !bad; step++) {
      const ref = `r${Math.floor(r() * 4)}`;
      const id = `o${Math.floor(r() * 8)}`;
      const s = names.get(id) ?? new Set<string>();
      if (r() < 0.55) {
        if (!s.has(ref)) u.add(ref, id);
        s.add(ref);
      } else if (s.has(ref)) {
        u.delete(ref, id);
        s.delete(ref);
      }
      names.set(id, s);
      for (const q of ['r0', 'r1', 'r2', 'r3']) {
        const want = [...names].filter(([, x]) => x.has(q)).map(([o]) => o).sort();
        const got = [...u.get(q)].sort();
        if (got.join() !== want.join()) bad = `seed ${seed} step ${step}: users of ${q} ${got.join()} != ${want.join()}`;
      }
    }
    t.equal(bad, '', `seed ${seed}: every ref's users as the objects name them`);
    t.ok(['r0', 'r1', 'r2', 'r3'].some((q) => u.isWide(q)) && scanned.length > 0, `seed ${seed}: some ref went wide and was answered by the scan`);
  }
});
