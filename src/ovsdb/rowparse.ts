// The replica's fast path: one row of a monitor reply or update parsed
// straight from the received bytes into its replica form, in one pass.
//
// The general path cuts a row's bytes out, JSON.parse's them (one scan in C++,
// an object tree of wire notation: ["map",[[k,v],...]], ["uuid",u], ...) and
// then converts that tree (decodeValue). Here the column types steer a small
// parser that makes the final values directly (strings, Maps, arrays of
// atoms), which saves the second scan and the throw-away tree.
//
// It accepts exactly the compact JSON that ovsdb-server writes, for the value
// shapes of each column type. On anything else (whitespace, an escape it does
// not expect, a shape that does not fit the column, a row cut by the end of
// the chunk) it gives up and says so, and the caller takes the general path,
// which also produces the precise error for a bad value. Giving up never has
// an effect: nothing is stored until a row is complete.

import type { ColumnSchema, ColumnType, BaseType, Atom, Value } from './schema.js';
import { EMPTY_MAP, EMPTY_SET, intern } from './schema.js';
import { SMALL_MAP_MAX, SmallMap } from './small-map.js';
import { BACKSLASH, COLON, COMMA, LBRACE, LBRACKET, plainStringEnd, QUOTE, RBRACE, RBRACKET, type SliceableBuffer, STRING_CUT } from './json-bytes.js';
import { RAW_INCOMPLETE, RAW_NOT_HANDLED } from './framing.js';
import { shared } from '../intern.js';

// parser state (module level: no allocation per row)
let b: Buffer;
let p = 0;
let n = 0;

/** Thrown (preallocated) when the input leaves the fast path. */
const GIVE_UP = { giveUp: true };
/** Thrown when the input ends before the row does. */
const CUT = { cut: true };

/**
 * Strings known by their bytes: a lookup compares the received bytes with the
 * entries of the same length, so a known string (a column name, a map key
 * such as "neutron:fip_id", an enum member) is found without making a new JS
 * string and hashing it. Bounded; only plain ASCII strings are kept.
 */
class ByteDict<T> {
  private byLen: ({ bytes: Buffer; value: T }[] | undefined)[] = [];
  size = 0;

  constructor(private readonly max: number) {}

  get(buf: Buffer, s: number, e: number): T | undefined {
    const list = this.byLen[e - s];
    if (list === undefined) return undefined;
    outer: for (let j = 0; j < list.length; j++) {
      const k = list[j].bytes;
      for (let i = 0; i < k.length; i++) if (buf[s + i] !== k[i]) continue outer;
      return list[j].value;
    }
    return undefined;
  }

  add(str: string, value: T): void {
    if (this.size >= this.max || str.length > 64) return;
    const bytes = Buffer.from(str, 'latin1');
    (this.byLen[bytes.length] ??= []).push({ bytes, value });
    this.size++;
  }
}

const KINDS = new ByteDict<string>(2);
KINDS.add('initial', 'initial');
KINDS.add('insert', 'insert');

/** Per column: its schema and the strings of its values seen so far. */
interface ColumnShape {
  readonly column: ColumnSchema;
  /** Map keys, or the atoms of an enum column. */
  readonly keys: ByteDict<string>;
  /** Short map values (as intern() keeps them). */
  readonly values: ByteDict<string>;
}

/** What the fast path knows of one table's monitored columns. */
export class RowShape {
  /** @internal */ readonly names = new ByteDict<ColumnShape>(Infinity);

  constructor(columns: Iterable<ColumnSchema>) {
    for (const c of columns) {
      const keys = new ByteDict<string>(64);
      const e = c.type.key.enum;
      if (e) for (const a of e) if (typeof a === 'string' && /^[\x20-\x7e]*$/.test(a) && !/["\\]/.test(a)) keys.add(a, intern(a) as string);
      this.names.add(c.name, { column: c, keys, values: new ByteDict<string>(64) });
    }
  }
}

/** Counts of what the fast path did (for tests and profiling). */
export const rowParseStats = { parsed: 0, declined: 0, cut: 0 };

/** The row whose parse succeeded last (valid after parseRow returned an offset). */
export let parsedRow: Record<string, unknown> | undefined;
/** Its kind when `wrapped` ("initial" or "insert"), else undefined. */
export let parsedKind: string | undefined;

/**
 * Parse the columns object `{"col":value,...}` at `start` (a "{") into a new
 * row from `newRow(uuid)`. Returns the offset after the closing "}", or
 * RAW_NOT_HANDLED / RAW_INCOMPLETE (a LeafSink.rawLeaf result). `wrapped` expects `{"initial"|"insert":{...}}`
 * (update2/update3 and the monitor_cond_since reply) instead.
 */
export function parseRow(
  buf: Buffer,
  start: number,
  limit: number,
  shape: RowShape,
  newRow: (uuid: string) => Record<string, unknown>,
  uuid: string,
  wrapped: boolean,
): number {
  b = buf;
  p = start;
  n = limit;
  parsedRow = undefined;
  parsedKind = undefined;
  try {
    let kind: string | undefined;
    if (wrapped) {
      if (byte() !== LBRACE) throw GIVE_UP;
      p++;
      kind = knownKey(KINDS);
      if (kind === undefined) throw GIVE_UP; // "modify", "delete": the general path
    }
    const row = columnsObject(shape, newRow(uuid));
    if (wrapped) {
      if (byte() !== RBRACE) throw GIVE_UP;
      p++;
    }
    parsedRow = row;
    parsedKind = kind;
    rowParseStats.parsed++;
    return p;
  } catch (e) {
    if (e === CUT) {
      rowParseStats.cut++;
      return RAW_INCOMPLETE;
    }
    if (e === GIVE_UP) {
      rowParseStats.declined++;
      return RAW_NOT_HANDLED;
    }
    throw e;
  } finally {
    b = undefined as unknown as Buffer; // do not keep the chunk alive
  }
}

function byte(): number {
  if (p >= n) throw CUT;
  return b[p];
}

/** A member name found in `dict`, and its colon; undefined for any other name. */
function knownKey<T>(dict: ByteDict<T>): T | undefined {
  if (byte() !== QUOTE) throw GIVE_UP;
  const q = plainEnd(p + 1);
  const v = q < 0 ? undefined : dict.get(b, p + 1, q);
  if (v === undefined) return undefined;
  p = q + 1;
  if (byte() !== COLON) throw GIVE_UP;
  p++;
  return v;
}

function columnsObject(shape: RowShape, row: Record<string, unknown>): Record<string, unknown> {
  if (byte() !== LBRACE) throw GIVE_UP;
  p++;
  if (byte() === RBRACE) {
    p++;
    return row;
  }
  for (;;) {
    const cs = knownKey(shape.names);
    if (cs === undefined) throw GIVE_UP; // a column we do not keep: the general path skips it
    const c = cs.column;
    row[c.name] = value(c.type, cs);
    const d = byte();
    p++;
    if (d === RBRACE) return row;
    if (d !== COMMA) throw GIVE_UP;
  }
}

/** Is the value at p a ["set",...] (as opposed to a ["uuid",...] atom)? */
function atSet(): boolean {
  // ["set",  vs  ["uuid",  vs a bare atom (which may end the input)
  if (byte() !== LBRACKET) return false;
  if (p + 3 >= n) throw CUT;
  return b[p + 1] === QUOTE && b[p + 2] === 0x73 && b[p + 3] === 0x65;
}

function value(ct: ColumnType, cs: ColumnShape): Value {
  switch (ct.kind) {
    case 'scalar': {
      // enum members are shared (as intern() does on the general path); other enums are not strings
      if (ct.key.enum && ct.key.type === 'string') return knownString(cs.keys, false);
      return atom(ct.key);
    }
    case 'optional': {
      if (!atSet()) return atom(ct.key);
      openWrapped(); // ["set",[
      if (byte() === RBRACKET) {
        closeWrapped();
        return null;
      }
      const a = atom(ct.key);
      closeWrapped();
      return a;
    }
    case 'set': {
      if (!atSet()) return [atom(ct.key)];
      openWrapped();
      if (byte() === RBRACKET) {
        closeWrapped();
        return EMPTY_SET;
      }
      const out: Atom[] = [];
      do out.push(atom(ct.key));
      while (moreElements());
      closeWrapped();
      return out;
    }
    case 'map': {
      // ["map",[
      if (p + 3 >= n) throw CUT;
      if (b[p] !== LBRACKET || b[p + 1] !== QUOTE || b[p + 2] !== 0x6d || b[p + 3] !== 0x61) throw GIVE_UP;
      openWrapped();
      if (byte() === RBRACKET) {
        closeWrapped();
        return EMPTY_MAP;
      }
      const kv: Atom[] = [];
      const kt = ct.key;
      const vt = ct.value!;
      do {
        if (byte() !== LBRACKET) throw GIVE_UP;
        p++;
        const k = kt.type === 'string' ? knownString(cs.keys, false) : intern(atom(kt));
        if (byte() !== COMMA) throw GIVE_UP;
        p++;
        const v = vt.type === 'string' ? knownString(cs.values, true) : atom(vt);
        if (byte() !== RBRACKET) throw GIVE_UP;
        p++;
        kv.push(k, typeof v === 'string' && v.length <= 8 ? intern(v) : v);
      } while (moreElements());
      closeWrapped();
      // (a few pairs, the most: a SmallMap over an exact-size copy; a pushed-to array holds 17 slots)
      return SmallMap.of(kv.length <= 2 * SMALL_MAP_MAX ? kv.slice() : kv);
    }
  }
}

/** Skip `["set",[` or `["map",[` (the three letters are checked by the caller). */
function openWrapped(): void {
  // [ " name " , [
  const q = p + 6;
  if (q + 1 >= n) throw CUT;
  if (b[q - 1] !== QUOTE || b[q] !== COMMA || b[q + 1] !== LBRACKET) throw GIVE_UP;
  p = q + 2;
}

/** After an element of an array: true at a comma (skipped), false at the closing bracket. */
function moreElements(): boolean {
  const d = byte();
  if (d === RBRACKET) return false;
  if (d !== COMMA) throw GIVE_UP;
  p++;
  return true;
}

/** Skip `]]`. */
function closeWrapped(): void {
  if (p + 1 >= n) throw CUT;
  if (b[p] !== RBRACKET || b[p + 1] !== RBRACKET) throw GIVE_UP;
  p += 2;
}

function atom(bt: BaseType): Atom {
  const c = byte();
  switch (bt.type) {
    case 'string':
      if (c !== QUOTE) throw GIVE_UP;
      return string();
    case 'uuid': {
      // ["uuid","<36>"]
      if (p + 9 >= n) throw CUT;
      if (
        c !== LBRACKET ||
        b[p + 1] !== QUOTE ||
        b[p + 2] !== 0x75 ||
        b[p + 3] !== 0x75 ||
        b[p + 4] !== 0x69 ||
        b[p + 5] !== 0x64 ||
        b[p + 6] !== QUOTE ||
        b[p + 7] !== COMMA ||
        b[p + 8] !== QUOTE
      ) {
        throw GIVE_UP;
      }
      p += 8;
      // (one copy of a uuid for the row and every reference to it: 100k NAT rows' uuids in their routers' nat sets, 5 MB)
      const u = shared(string());
      if (byte() !== RBRACKET) throw GIVE_UP;
      p++;
      return u;
    }
    case 'integer': {
      const v = number();
      if (!Number.isInteger(v)) throw GIVE_UP;
      return v;
    }
    case 'real':
      return number();
    case 'boolean':
      if (c === 0x74) return literal('true', true);
      if (c === 0x66) return literal('false', false);
      throw GIVE_UP;
  }
}

function literal<T>(word: string, v: T): T {
  if (p + word.length > n) throw CUT;
  for (let k = 1; k < word.length; k++) if (b[p + k] !== word.charCodeAt(k)) throw GIVE_UP;
  p += word.length;
  return v;
}

function number(): number {
  const s = p;
  let q = p;
  let simple = true; // digits only, maybe a leading minus
  for (;;) {
    if (q >= n) throw CUT;
    const c = b[q];
    if (c >= 0x30 && c <= 0x39) q++;
    else if (c === 0x2d && q === s) q++;
    else if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) {
      simple = false;
      q++;
    } else break;
  }
  if (q === s || (q === s + 1 && b[s] === 0x2d)) throw GIVE_UP;
  p = q;
  if (simple && q - s < 16) {
    let v = 0;
    for (let k = b[s] === 0x2d ? s + 1 : s; k < q; k++) v = v * 10 + (b[k] - 0x30);
    return b[s] === 0x2d ? -v : v;
  }
  const v = Number((b as SliceableBuffer).latin1Slice(s, q));
  if (Number.isNaN(v)) throw GIVE_UP;
  return v;
}

/**
 * The index of the closing quote of a plain string whose first byte is at
 * `s` (no escapes, all ASCII), or -1 if it has escapes or non-ASCII bytes.
 */
function plainEnd(s: number): number {
  const q = plainStringEnd(b, s, n);
  if (q === STRING_CUT) throw CUT;
  return q;
}

/**
 * A string atom, shared through `dict` (bytes already known give the same JS
 * string; new ones are interned and learned). `shortOnly`: learn only strings
 * of at most 8 characters (longer map values are mostly unique).
 */
function knownString(dict: ByteDict<string>, shortOnly: boolean): string {
  if (byte() !== QUOTE) throw GIVE_UP;
  const q = plainEnd(p + 1);
  if (q >= 0) {
    const v = dict.get(b, p + 1, q);
    if (v !== undefined) {
      p = q + 1;
      return v;
    }
  }
  if (q < 0) return string();
  const str = (b as SliceableBuffer).latin1Slice(p + 1, q);
  p = q + 1;
  if (shortOnly && str.length > 8) return str;
  const shared = intern(str) as string;
  dict.add(shared, shared);
  return shared;
}

/** A JSON string at p (a quote); leaves p after its closing quote. */
function string(): string {
  const s = p + 1;
  let q = s;
  let ascii = true;
  for (;;) {
    if (q >= n) throw CUT;
    const c = b[q];
    if (c === QUOTE) break;
    if (c === BACKSLASH) return escapedString();
    if (c < 0x20) throw GIVE_UP;
    if (c >= 0x80) ascii = false;
    q++;
  }
  p = q + 1;
  return ascii ? (b as SliceableBuffer).latin1Slice(s, q) : (b as SliceableBuffer).utf8Slice(s, q);
}

/** A string with escapes: find its end, let JSON.parse decode it. */
function escapedString(): string {
  const s = p;
  let q = p + 1;
  for (;;) {
    if (q >= n) throw CUT;
    const c = b[q];
    if (c === BACKSLASH) q += 2;
    else if (c === QUOTE) break;
    else q++;
  }
  p = q + 1;
  try {
    return JSON.parse((b as SliceableBuffer).utf8Slice(s, p)) as string;
  } catch {
    throw GIVE_UP; // the general path reports the malformed JSON
  }
}
