// OVSDB schema (RFC 7047 section 3.2) and the conversion of values between
// OVSDB's JSON wire notation and the native form this client works with.
//
// Native form of a column value, by column type:
//   exactly one atom (min 1, max 1, no value type) -> the atom itself
//   optional atom     (min 0, max 1, no value type) -> the atom or null
//   any other set                                   -> a readonly array of atoms
//   map                                             -> a ReadonlyMap of atom to atom
// Atoms: integer and real -> number, boolean -> boolean, string -> string,
// uuid -> the UUID string. When encoding for a transaction, a string in a uuid
// column that is not a UUID is taken as a named-uuid (the "uuid-name" of an
// insert in the same transaction), as libovsdb does.

export type AtomicTypeName = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
export type Atom = number | boolean | string;
export type Value = Atom | null | readonly Atom[] | ReadonlyMap<Atom, Atom>;

export interface BaseType {
  readonly type: AtomicTypeName;
  readonly enum?: ReadonlySet<Atom>;
  readonly minInteger?: number;
  readonly maxInteger?: number;
  readonly minReal?: number;
  readonly maxReal?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly refTable?: string;
  readonly refType?: 'strong' | 'weak';
}

export type ColumnKind = 'scalar' | 'optional' | 'set' | 'map';

export interface ColumnType {
  readonly key: BaseType;
  readonly value?: BaseType;
  readonly min: number;
  /** Infinity for "unlimited". */
  readonly max: number;
  readonly kind: ColumnKind;
}

export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  readonly ephemeral: boolean;
  readonly mutable: boolean;
}

export interface TableSchema {
  readonly name: string;
  readonly columns: ReadonlyMap<string, ColumnSchema>;
  readonly isRoot: boolean;
  readonly maxRows?: number;
  readonly indexes: readonly (readonly string[])[];
}

export interface DatabaseSchema {
  readonly name: string;
  readonly version: string;
  readonly cksum?: string;
  readonly tables: ReadonlyMap<string, TableSchema>;
}

export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Raised for a value that does not fit its column; names table, column and reason. */
export class OvsdbValueError extends Error {
  constructor(
    readonly table: string,
    readonly column: string,
    readonly reason: string,
  ) {
    super(`table ${table}, column ${column}: ${reason}`);
    this.name = 'OvsdbValueError';
  }
}

/** An OvsdbValueError for a table or column the schema does not have (it may be newer than the client's copy). */
export class OvsdbUnknownNameError extends OvsdbValueError {}

/** Raised for a malformed schema document. */
export class OvsdbSchemaError extends Error {
  override name = 'OvsdbSchemaError';
}

// ---------------------------------------------------------------- parsing

const ATOMIC: ReadonlySet<string> = new Set(['integer', 'real', 'boolean', 'string', 'uuid']);

function parseBaseType(where: string, json: unknown): BaseType {
  if (typeof json === 'string') {
    if (!ATOMIC.has(json)) throw new OvsdbSchemaError(`${where}: unknown atomic type "${json}"`);
    return { type: json as AtomicTypeName };
  }
  if (!isObject(json) || typeof json.type !== 'string' || !ATOMIC.has(json.type)) {
    throw new OvsdbSchemaError(`${where}: base type must be an atomic type name or an object with "type"`);
  }
  const type = json.type as AtomicTypeName;
  const bt: { -readonly [K in keyof BaseType]: BaseType[K] } = { type };
  if (json.enum !== undefined) {
    const vals = isWireSet(json.enum) ? (json.enum[1] as unknown[]) : [json.enum];
    bt.enum = new Set(vals.map((v) => decodeAtom({ type }, v)));
  }
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength'] as const) {
    if (json[k] !== undefined) {
      if (typeof json[k] !== 'number') throw new OvsdbSchemaError(`${where}: ${k} must be a number`);
      bt[k] = json[k] as number;
    }
  }
  if (json.refTable !== undefined) {
    bt.refTable = String(json.refTable);
    bt.refType = json.refType === 'weak' ? 'weak' : 'strong';
  }
  return bt;
}

export function parseColumnType(where: string, json: unknown): ColumnType {
  if (typeof json === 'string') {
    return { key: parseBaseType(where, json), min: 1, max: 1, kind: 'scalar' };
  }
  if (!isObject(json) || json.key === undefined) {
    throw new OvsdbSchemaError(`${where}: column type must be an atomic type name or an object with "key"`);
  }
  const key = parseBaseType(where, json.key);
  const value = json.value !== undefined ? parseBaseType(where, json.value) : undefined;
  const min = json.min === undefined ? 1 : Number(json.min);
  const max = json.max === undefined ? 1 : json.max === 'unlimited' ? Infinity : Number(json.max);
  if (!(min === 0 || min === 1) || !(max >= 1) || min > max) {
    throw new OvsdbSchemaError(`${where}: bad min/max (${String(json.min)}, ${String(json.max)})`);
  }
  const kind: ColumnKind = value ? 'map' : min === 1 && max === 1 ? 'scalar' : min === 0 && max === 1 ? 'optional' : 'set';
  return value ? { key, value, min, max, kind } : { key, min, max, kind };
}

export function parseSchema(json: unknown): DatabaseSchema {
  if (!isObject(json) || typeof json.name !== 'string' || !isObject(json.tables)) {
    throw new OvsdbSchemaError('schema must be an object with "name" and "tables"');
  }
  const tables = new Map<string, TableSchema>();
  for (const [tname, tjson] of Object.entries(json.tables)) {
    if (!isObject(tjson) || !isObject(tjson.columns)) throw new OvsdbSchemaError(`table ${tname}: missing "columns"`);
    const columns = new Map<string, ColumnSchema>();
    for (const [cname, cjson] of Object.entries(tjson.columns)) {
      if (!isObject(cjson)) throw new OvsdbSchemaError(`table ${tname}, column ${cname}: not an object`);
      columns.set(cname, {
        name: cname,
        type: parseColumnType(`table ${tname}, column ${cname}`, cjson.type),
        ephemeral: cjson.ephemeral === true,
        mutable: cjson.mutable !== false,
      });
    }
    const indexes = Array.isArray(tjson.indexes) ? (tjson.indexes as string[][]).map((ix) => [...ix]) : [];
    tables.set(tname, {
      name: tname,
      columns,
      isRoot: tjson.isRoot === true,
      ...(typeof tjson.maxRows === 'number' ? { maxRows: tjson.maxRows } : {}),
      indexes,
    });
  }
  return {
    name: json.name,
    version: typeof json.version === 'string' ? json.version : '',
    ...(typeof json.cksum === 'string' ? { cksum: json.cksum } : {}),
    tables,
  };
}

// ---------------------------------------------------------------- atoms

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isWireSet(v: unknown): v is ['set', unknown[]] {
  return Array.isArray(v) && v.length === 2 && v[0] === 'set' && Array.isArray(v[1]);
}

function isWireMap(v: unknown): v is ['map', [unknown, unknown][]] {
  return Array.isArray(v) && v.length === 2 && v[0] === 'map' && Array.isArray(v[1]);
}

/** Decode one wire atom. Throws a plain Error on a malformed atom (the caller adds context). */
export function decodeAtom(bt: { type: AtomicTypeName }, json: unknown): Atom {
  switch (bt.type) {
    case 'uuid':
      if (Array.isArray(json) && json.length === 2 && (json[0] === 'uuid' || json[0] === 'named-uuid') && typeof json[1] === 'string') {
        return json[1];
      }
      throw new Error(`expected ["uuid", ...], got ${brief(json)}`);
    case 'integer':
      if (typeof json === 'number' && Number.isInteger(json)) return json;
      throw new Error(`expected an integer, got ${brief(json)}`);
    case 'real':
      if (typeof json === 'number') return json;
      throw new Error(`expected a real, got ${brief(json)}`);
    case 'boolean':
      if (typeof json === 'boolean') return json;
      throw new Error(`expected a boolean, got ${brief(json)}`);
    case 'string':
      if (typeof json === 'string') return json;
      throw new Error(`expected a string, got ${brief(json)}`);
  }
}

function brief(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** A Map that refuses changes: shared by every empty map value of the replica. */
class FrozenMap<K, V> extends Map<K, V> {
  #sealed = false;
  seal(): this {
    this.#sealed = true;
    return this;
  }
  override set(k: K, v: V): this {
    if (this.#sealed) throw new TypeError('read-only map');
    return super.set(k, v);
  }
  override delete(): boolean {
    throw new TypeError('read-only map');
  }
  override clear(): void {
    throw new TypeError('read-only map');
  }
}

export const EMPTY_MAP: ReadonlyMap<Atom, Atom> = new FrozenMap<Atom, Atom>().seal();
export const EMPTY_SET: readonly Atom[] = Object.freeze([]) as readonly Atom[];

/**
 * Strings that repeat across rows (map keys such as "neutron:fip_id", short
 * values, enum members such as "dnat_and_snat") are shared instead of kept
 * once per row: a 100k-row replica then holds one copy of each key instead of
 * 100k. Bounded, so unique values cannot grow it without limit.
 */
const INTERN_MAX_ENTRIES = 16384;
const INTERN_MAX_LENGTH = 40;
const interned = new Map<string, string>();
export function intern(a: Atom): Atom {
  if (typeof a !== 'string' || a.length > INTERN_MAX_LENGTH) return a;
  const s = interned.get(a);
  if (s !== undefined) return s;
  if (interned.size < INTERN_MAX_ENTRIES) interned.set(a, a);
  return a;
}

/** Decode a wire datum into the native form of its column type. */
export function decodeValue(ct: ColumnType, json: unknown): Value {
  switch (ct.kind) {
    case 'scalar': {
      const a = decodeAtom(ct.key, isWireSet(json) && json[1].length === 1 ? json[1][0] : json);
      return ct.key.enum ? intern(a) : a;
    }
    case 'optional':
      if (isWireSet(json)) {
        if (json[1].length === 0) return null;
        if (json[1].length === 1) return decodeAtom(ct.key, json[1][0]);
        throw new Error(`expected at most one element, got ${json[1].length}`);
      }
      return decodeAtom(ct.key, json);
    case 'set': {
      if (isWireSet(json)) {
        const elems = json[1];
        if (elems.length === 0) return EMPTY_SET;
        const out = new Array<Atom>(elems.length);
        for (let i = 0; i < elems.length; i++) out[i] = decodeAtom(ct.key, elems[i]);
        return out;
      }
      return [decodeAtom(ct.key, json)];
    }
    case 'map': {
      if (!isWireMap(json)) throw new Error(`expected ["map", ...], got ${brief(json)}`);
      const pairs = json[1];
      if (pairs.length === 0) return EMPTY_MAP;
      const m = new Map<Atom, Atom>();
      const vt = ct.value!;
      for (const p of pairs) {
        if (!Array.isArray(p) || p.length !== 2) throw new Error(`bad map pair ${brief(p)}`);
        const v = decodeAtom(vt, p[1]);
        m.set(intern(decodeAtom(ct.key, p[0])), typeof v === 'string' && v.length <= 8 ? intern(v) : v);
      }
      return m;
    }
  }
}

/** The default value of a column type (what update2 leaves out of "initial"/"insert"). */
export function defaultValue(ct: ColumnType): Value {
  switch (ct.kind) {
    case 'scalar':
      return defaultAtom(ct.key.type);
    case 'optional':
      return null;
    case 'set':
      return EMPTY_SET;
    case 'map':
      return EMPTY_MAP;
  }
}

function defaultAtom(t: AtomicTypeName): Atom {
  switch (t) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
  }
}

// ---------------------------------------------------------------- validation and encoding

export interface EncodeOptions {
  /** Allow non-UUID strings in uuid columns as named-uuid references (transactions only). */
  namedUuids?: boolean;
}

function fail(table: string, column: string, reason: string): never {
  throw new OvsdbValueError(table, column, reason);
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkAtom(table: string, column: string, bt: BaseType, v: unknown, opts: EncodeOptions): unknown {
  switch (bt.type) {
    case 'string':
      if (typeof v !== 'string') fail(table, column, `${brief(v)} is not a string`);
      if (bt.minLength !== undefined || bt.maxLength !== undefined) {
        const len = [...(v as string)].length;
        if (bt.minLength !== undefined && len < bt.minLength) fail(table, column, `"${String(v)}" is shorter than ${bt.minLength} characters`);
        if (bt.maxLength !== undefined && len > bt.maxLength) fail(table, column, `"${String(v)}" is longer than ${bt.maxLength} characters`);
      }
      break;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(table, column, `${brief(v)} is not an integer`);
      if (bt.minInteger !== undefined && (v as number) < bt.minInteger) fail(table, column, `${String(v)} is less than the minimum ${bt.minInteger}`);
      if (bt.maxInteger !== undefined && (v as number) > bt.maxInteger) fail(table, column, `${String(v)} is greater than the maximum ${bt.maxInteger}`);
      break;
    case 'real':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(table, column, `${brief(v)} is not a finite real number`);
      if (bt.minReal !== undefined && (v as number) < bt.minReal) fail(table, column, `${String(v)} is less than the minimum ${bt.minReal}`);
      if (bt.maxReal !== undefined && (v as number) > bt.maxReal) fail(table, column, `${String(v)} is greater than the maximum ${bt.maxReal}`);
      break;
    case 'boolean':
      if (typeof v !== 'boolean') fail(table, column, `${brief(v)} is not a boolean`);
      break;
    case 'uuid':
      if (typeof v !== 'string') fail(table, column, `${brief(v)} is not a UUID string`);
      if (!UUID_RE.test(v as string)) {
        if (!opts.namedUuids) fail(table, column, `"${String(v)}" is not a UUID`);
        if (!NAME_RE.test(v as string)) fail(table, column, `"${String(v)}" is neither a UUID nor a valid uuid-name`);
        return ['named-uuid', v];
      }
      return ['uuid', (v as string).toLowerCase()];
  }
  if (bt.enum && !bt.enum.has(v as Atom)) {
    fail(table, column, `${brief(v)} is not one of the allowed values (${[...bt.enum].map(String).join(', ')})`);
  }
  return v;
}

function setElements(table: string, column: string, v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  return fail(table, column, `${brief(v)} is not an array (the column is a set)`);
}

function mapEntries(table: string, column: string, v: unknown): [unknown, unknown][] {
  if (v instanceof Map) return [...v.entries()];
  if (isObject(v)) return Object.entries(v);
  return fail(table, column, `${brief(v)} is not a Map or object (the column is a map)`);
}

function hasDuplicates(a: readonly unknown[]): boolean {
  const n = a.length;
  if (n < 2) return false;
  if (n <= 8) {
    for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) if (a[i] === a[j]) return true;
    return false;
  }
  return new Set(a).size !== n;
}

/**
 * Validate a native value against its column type and encode it for the wire.
 * `partial` relaxes the min/max size check (for mutate operands and conditions).
 */
export function encodeValue(
  table: string,
  column: string,
  ct: ColumnType,
  v: unknown,
  opts: EncodeOptions = {},
  partial = false,
): unknown {
  if (v === undefined) fail(table, column, 'value is undefined');
  switch (ct.kind) {
    case 'scalar':
      if (v === null) fail(table, column, 'value is required (the column takes exactly one value)');
      if (Array.isArray(v)) fail(table, column, `${brief(v)} is an array, but the column takes exactly one value`);
      return checkAtom(table, column, ct.key, v, opts);
    case 'optional':
    case 'set': {
      let elems: unknown[];
      if (ct.kind === 'optional' && !Array.isArray(v) && !(v instanceof Set)) elems = v === null ? [] : [v];
      else elems = setElements(table, column, v);
      const n = elems.length;
      if (!partial) {
        if (n < ct.min) fail(table, column, `needs at least ${ct.min} element(s), got ${n}`);
        if (n > ct.max) fail(table, column, `takes at most ${ct.max} element(s), got ${n}`);
      }
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = checkAtom(table, column, ct.key, elems[i], opts);
      if (hasDuplicates(elems)) fail(table, column, 'the set contains duplicate elements');
      return ['set', out];
    }
    case 'map': {
      const entries = mapEntries(table, column, v);
      const n = entries.length;
      if (!partial) {
        if (n < ct.min) fail(table, column, `needs at least ${ct.min} pair(s), got ${n}`);
        if (n > ct.max) fail(table, column, `takes at most ${ct.max} pair(s), got ${n}`);
      }
      const out = new Array<unknown>(n);
      const vt = ct.value!;
      for (let i = 0; i < n; i++) {
        const [k, val] = entries[i];
        out[i] = [checkAtom(table, column, ct.key, k, opts), checkAtom(table, column, vt, val, opts)];
      }
      if (!(v instanceof Map) && hasDuplicates(entries.map((e) => e[0]))) fail(table, column, 'the map has a key twice');
      return ['map', out];
    }
  }
}

/** Encode the key set of a map (for mutate "delete" of keys). */
export function encodeKeySet(table: string, column: string, ct: ColumnType, v: unknown, opts: EncodeOptions = {}): unknown {
  const elems = setElements(table, column, v);
  return ['set', elems.map((e) => checkAtom(table, column, ct.key, e, opts))];
}

export function tableOf(schema: DatabaseSchema, table: string): TableSchema {
  const t = schema.tables.get(table);
  if (!t) throw new OvsdbUnknownNameError(table, '-', `no table "${table}" in database ${schema.name}`);
  return t;
}

export function columnOf(t: TableSchema, column: string): ColumnSchema {
  if (column === '_uuid' || column === '_version') {
    return { name: column, type: { key: { type: 'uuid' }, min: 1, max: 1, kind: 'scalar' }, ephemeral: false, mutable: false };
  }
  const c = t.columns.get(column);
  if (!c) throw new OvsdbUnknownNameError(t.name, column, `no column "${column}" in table ${t.name}`);
  return c;
}
