/**
 * The replica's fast row parser (src/ovsdb/rowparse.ts) against the general
 * path (JSON.parse + decodeValue): for every column type and many values
 * (escapes, non-ASCII, numbers of every form, one-element sets sent bare,
 * empty sets and maps), cut into chunks anywhere, both must build the same
 * rows; input the fast path does not take (whitespace, "modify") goes the
 * general way; a bad value gets the same error naming table and column.
 * No server: these are the bytes ovsdb-server writes, made here.
 */
import t from 'tap';
import type { Replica, ReplicaRow } from '../src/ovsdb/replica.js';
import { parseSchema } from '../src/ovsdb/schema.js';
import { rowParseStats } from '../src/ovsdb/rowparse.js';
import { decodeReply } from './helpers/decode.js';

const schema = parseSchema({
  name: 'Test',
  version: '1.0.0',
  tables: {
    T: {
      columns: {
        s: { type: 'string' },
        i: { type: 'integer' },
        r: { type: 'real' },
        bo: { type: 'boolean' },
        u: { type: { key: { type: 'uuid' } } },
        e: { type: { key: { type: 'string', enum: ['set', ['snat', 'dnat', 'dnat_and_snat']] } } },
        os: { type: { key: 'string', min: 0, max: 1 } },
        ou: { type: { key: 'uuid', min: 0, max: 1 } },
        oi: { type: { key: 'integer', min: 0, max: 1 } },
        ss: { type: { key: 'string', min: 0, max: 'unlimited' } },
        su: { type: { key: 'uuid', min: 0, max: 'unlimited' } },
        si: { type: { key: 'integer', min: 0, max: 'unlimited' } },
        m: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        mi: { type: { key: 'integer', value: 'string', min: 0, max: 'unlimited' } },
        mu: { type: { key: 'string', value: 'uuid', min: 0, max: 'unlimited' } },
        mr: { type: { key: 'string', value: 'real', min: 0, max: 'unlimited' } },
        ['__proto__']: { type: 'string' },
        constructor: { type: { key: 'integer', min: 0, max: 1 } },
      },
    },
  },
});

// a small deterministic PRNG, so a failure can be replayed
let seed = 12345;
function rnd(n: number): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) % n;
}
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)];

const STRINGS = ['', 'a', 'snat', 'neutron:fip_id', 'with "quotes"', 'back\\slash', 'tab\there', 'line\nbreak', 'ünïcödé', '🚀 rocket', '\u0001ctl', 'a/b', '{"json":[1,2]}', 'x'.repeat(70)];
const NUMBERS = [0, 1, -1, 42, -7, 2 ** 40, -(2 ** 45), 9007199254740991];
const REALS = [0, 1.5, -2.25, 1e21, -2.5e-3, 3.141592653589793, 1e-7, 100];
const uuid = () => [8, 4, 4, 4, 12].map((k) => Array.from({ length: k }, () => '0123456789abcdef'[rnd(16)]).join('')).join('-');

function wireSet(atoms: unknown[]): unknown {
  // a one-element set may be sent bare, as ovsdb-server does
  if (atoms.length === 1 && rnd(2) === 0) return atoms[0];
  return ['set', atoms];
}
const many = <T>(f: () => T, max = 4): T[] => Array.from({ length: rnd(max + 1) }, f);
function uniq<T>(a: T[]): T[] {
  return [...new Set(a)];
}

function randomColumns(): Record<string, unknown> {
  const all: Record<string, () => unknown> = {
    s: () => pick(STRINGS),
    i: () => pick(NUMBERS),
    r: () => pick(REALS),
    bo: () => rnd(2) === 0,
    u: () => ['uuid', uuid()],
    e: () => pick(['snat', 'dnat', 'dnat_and_snat']),
    os: () => (rnd(3) === 0 ? ['set', []] : rnd(2) ? pick(STRINGS) : ['set', [pick(STRINGS)]]),
    ou: () => (rnd(3) === 0 ? ['set', []] : rnd(2) ? ['uuid', uuid()] : ['set', [['uuid', uuid()]]]),
    oi: () => (rnd(3) === 0 ? ['set', []] : pick(NUMBERS)),
    ss: () => wireSet(uniq(many(() => pick(STRINGS)))),
    su: () => wireSet(many(() => ['uuid', uuid()])),
    si: () => wireSet(uniq(many(() => pick(NUMBERS)))),
    m: () => ['map', [...new Map(many(() => [pick(STRINGS), pick(STRINGS)] as const, 6))]],
    mi: () => ['map', [...new Map(many(() => [pick(NUMBERS), pick(STRINGS)] as const))]],
    mu: () => ['map', [...new Map(many(() => [pick(STRINGS), ['uuid', uuid()]] as const))]],
    mr: () => ['map', [...new Map(many(() => [pick(STRINGS), pick(REALS)] as const))]],
    ['__proto__']: () => pick(STRINGS),
    constructor: () => pick(NUMBERS),
  };
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(all)) if (rnd(3) !== 0) Object.defineProperty(out, k, { value: f(), enumerable: true, writable: true, configurable: true });
  return out;
}

/** A monitor_cond_since reply (found=false) with these rows, as ovsdb-server writes it (compact). */
function reply(rows: Record<string, unknown>, indent?: number): string {
  const table: Record<string, unknown> = {};
  for (const [u, cols] of Object.entries(rows)) table[u] = { initial: cols };
  return JSON.stringify({ id: 1, result: [false, '00000000-0000-0000-0000-000000000000', { T: table }], error: null }, null, indent);
}

/** Decode a reply cut into chunks of random size (at most `maxCut`), with or without the fast path. */
function decode(text: string, fast: boolean, maxCut: number): Replica {
  return decodeReply(schema, text, () => 1 + rnd(maxCut), fast);
}

/** A row as plain data, own properties only (Maps as entry lists), for comparison. */
function plain(r: ReplicaRow | undefined): unknown {
  if (!r) return r;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(r).sort()) {
    const v = Object.getOwnPropertyDescriptor(r, k)!.value as unknown;
    out[k === '__proto__' ? '[__proto__]' : k] = v instanceof Map ? [...v] : v;
  }
  return out;
}

t.test('fast and general paths build the same rows, chunks cut anywhere', async (t) => {
  const rows: Record<string, Record<string, unknown>> = {};
  for (let k = 0; k < 400; k++) rows[uuid()] = randomColumns();
  rows[uuid()] = {}; // a row with every column at its default
  const text = reply(rows);
  for (const maxCut of [1, 7, 64, 4096, text.length]) {
    const before = { ...rowParseStats };
    const fast = decode(text, true, maxCut);
    const parsed = rowParseStats.parsed - before.parsed;
    const general = decode(text, false, maxCut);
    t.equal(fast.table('T').size, Object.keys(rows).length, `all rows present (chunks <= ${maxCut})`);
    let same = 0;
    for (const u of Object.keys(rows)) {
      if (JSON.stringify(plain(fast.table('T').get(u))) === JSON.stringify(plain(general.table('T').get(u)))) same++;
      else t.same(plain(fast.table('T').get(u)), plain(general.table('T').get(u)), `row ${u}`);
    }
    t.equal(same, Object.keys(rows).length, `every row identical (chunks <= ${maxCut})`);
    t.equal(parsed, Object.keys(rows).length, `the fast path built every row (chunks <= ${maxCut}; a cut row is offered again whole)`);
  }
  const r = [...decode(text, true, text.length).table('T').values()].find((x) => Object.hasOwn(x, '__proto__') && x['__proto__'] !== '');
  t.ok(r, 'a row with the __proto__ column set');
  t.equal(Object.getPrototypeOf(r), Object.prototype, 'a column named __proto__ does not change the row prototype');
});

t.test('values as the replica holds them', async (t) => {
  const U = uuid();
  const V = uuid();
  const cols = {
    s: 'with "quotes" and ünï 🚀',
    i: -(2 ** 45),
    r: -2.5e-3,
    bo: true,
    u: ['uuid', V],
    e: 'dnat_and_snat',
    os: ['set', []],
    ou: ['uuid', V],
    si: 7,
    su: ['set', [['uuid', U], ['uuid', V]]],
    m: ['map', [['neutron:fip_id', 'x'], ['k', 'tab\there']]],
    mi: ['map', [[3, 'three']]],
  };
  const row = decode(reply({ [U]: cols }), true, 5).table('T').get(U)!;
  t.equal(row.s, 'with "quotes" and ünï 🚀');
  t.equal(row.i, -(2 ** 45));
  t.equal(row.r, -2.5e-3);
  t.equal(row.bo, true);
  t.equal(row.u, V);
  t.equal(row.e, 'dnat_and_snat');
  t.equal(row.os, null, 'an empty optional is null');
  t.equal(row.ou, V, 'a present optional is its atom');
  t.same(row.si, [7], 'a bare atom in a set column is a one-element set');
  t.same(row.su, [U, V]);
  t.same([...(row.m as Map<string, string>)], [['neutron:fip_id', 'x'], ['k', 'tab\there']]);
  t.same([...(row.mi as Map<number, string>)], [[3, 'three']]);
  t.same(row.ss, [], 'a left-out set is empty');
  t.equal((row.mr as Map<string, number>).size, 0, 'a left-out map is empty');
});

t.test('input the fast path does not take goes the general way', async (t) => {
  const U = uuid();
  const cols = { s: 'x', m: ['map', [['a', 'b']]] };
  const before = rowParseStats.parsed;
  const row = decode(reply({ [U]: cols }, 2), true, 1 << 20).table('T').get(U)!;
  t.equal(rowParseStats.parsed, before, 'pretty-printed JSON: not taken by the fast path');
  t.equal(row.s, 'x', 'but decoded all the same');
  t.same([...(row.m as Map<string, string>)], [['a', 'b']]);
});

t.test('a bad value is refused naming table and column, on both paths', async (t) => {
  const text = reply({ [uuid()]: { i: 'not a number' } });
  for (const fast of [true, false]) {
    t.throws(() => decode(text, fast, 3), /table T, column i: expected an integer/, `fast path ${fast ? 'on' : 'off'}`);
  }
  const bad = reply({ [uuid()]: { m: ['map', [['k']]] } });
  t.throws(() => decode(bad, true, 1 << 20), /table T, column m: bad map pair/, 'a map pair of one element');
});
