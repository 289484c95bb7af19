// Transaction operations as plain data (RFC 7047 section 5.2), built with
// typed builders and encoded for the wire against the schema, which validates
// every value before anything is sent.

import {
  type DatabaseSchema,
  type TableSchema,
  type Value,
  OvsdbValueError,
  columnOf,
  decodeValue,
  encodeKeySet,
  encodeValue,
  tableOf,
} from './schema.js';

export type ConditionFn = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';

/** [column, function, value]; the value is in native form (see schema.ts). */
export type Condition = readonly [column: string, fn: ConditionFn, value: unknown];
/** [column, mutator, value]; for a map "delete", an array value means "these keys". */
export type Mutation = readonly [column: string, mutator: Mutator, value: unknown];

export type Row = Readonly<Record<string, unknown>>;

export type Operation =
  | { readonly op: 'insert'; readonly table: string; readonly row: Row; readonly uuidName?: string; readonly uuid?: string }
  | { readonly op: 'select'; readonly table: string; readonly where: readonly Condition[]; readonly columns?: readonly string[] }
  | { readonly op: 'update'; readonly table: string; readonly where: readonly Condition[]; readonly row: Row }
  | { readonly op: 'mutate'; readonly table: string; readonly where: readonly Condition[]; readonly mutations: readonly Mutation[] }
  | { readonly op: 'delete'; readonly table: string; readonly where: readonly Condition[] }
  | {
      readonly op: 'wait';
      readonly table: string;
      readonly where: readonly Condition[];
      readonly columns: readonly string[];
      readonly until: '==' | '!=';
      readonly rows: readonly Row[];
      readonly timeout?: number;
    }
  | { readonly op: 'commit'; readonly durable: boolean }
  | { readonly op: 'abort' }
  | { readonly op: 'comment'; readonly comment: string }
  | { readonly op: 'assert'; readonly lock: string };

/** Result of one operation, decoded. */
export interface OperationResult {
  /** insert: the new row's UUID. */
  uuid?: string;
  /** update, mutate, delete: number of rows matched. */
  count?: number;
  /** select: the rows (native values, only the selected columns, plus _uuid/_version if selected). */
  rows?: Record<string, unknown>[];
}

type AnyTables = Record<string, object>;
// A table map such as NbTables (an interface, so constrained by `object`, not an index signature).
type Cols<R> = Exclude<keyof R, '_uuid'> & string;
/** A row as written: every column optional, _uuid never given. */
export type NewRow<R> = { [K in Cols<R>]?: R[K] };
export type TypedCondition<R> = { [K in keyof R & string]: readonly [K, ConditionFn, R[K] | unknown] }[keyof R & string];

/**
 * Builders typed by a table map (e.g. NbTables from src/models/ovn-nb.ts):
 * `const nb = opsFor<NbTables>(); nb.insert('NAT', { type: 'snat', ... }, 'nat1')`.
 */
export function opsFor<DB extends object = AnyTables>() {
  return {
    insert<T extends keyof DB & string>(table: T, row: NewRow<DB[T]>, uuidName?: string): Operation {
      return uuidName ? { op: 'insert', table, row: row as Row, uuidName } : { op: 'insert', table, row: row as Row };
    },
    select<T extends keyof DB & string>(table: T, where: readonly TypedCondition<DB[T]>[], columns?: readonly (keyof DB[T] & string)[]): Operation {
      return columns ? { op: 'select', table, where, columns } : { op: 'select', table, where };
    },
    update<T extends keyof DB & string>(table: T, where: readonly TypedCondition<DB[T]>[], row: NewRow<DB[T]>): Operation {
      return { op: 'update', table, where, row: row as Row };
    },
    mutate<T extends keyof DB & string>(table: T, where: readonly TypedCondition<DB[T]>[], mutations: readonly Mutation[]): Operation {
      return { op: 'mutate', table, where, mutations };
    },
    delete<T extends keyof DB & string>(table: T, where: readonly TypedCondition<DB[T]>[]): Operation {
      return { op: 'delete', table, where };
    },
    wait<T extends keyof DB & string>(
      table: T,
      where: readonly TypedCondition<DB[T]>[],
      until: '==' | '!=',
      rows: readonly NewRow<DB[T]>[],
      columns?: readonly (keyof DB[T] & string)[],
      timeout = 0,
    ): Operation {
      const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r as object)))];
      return { op: 'wait', table, where, until, rows: rows as unknown as readonly Row[], columns: cols, timeout };
    },
    commit(durable = false): Operation {
      return { op: 'commit', durable };
    },
    abort(): Operation {
      return { op: 'abort' };
    },
    comment(comment: string): Operation {
      return { op: 'comment', comment };
    },
    assert(lock: string): Operation {
      return { op: 'assert', lock };
    },
  };
}

/** Untyped builders (any table name). */
export const ops = opsFor<Record<string, Record<string, unknown>>>();

/** Condition helpers. */
export const where = {
  uuid: (uuid: string): Condition => ['_uuid', '==', uuid],
  eq: (column: string, value: unknown): Condition => [column, '==', value],
  ne: (column: string, value: unknown): Condition => [column, '!=', value],
  includes: (column: string, value: unknown): Condition => [column, 'includes', value],
  excludes: (column: string, value: unknown): Condition => [column, 'excludes', value],
};

/** Mutation helpers. */
export const mutation = {
  insert: (column: string, value: unknown): Mutation => [column, 'insert', value],
  delete: (column: string, value: unknown): Mutation => [column, 'delete', value],
  add: (column: string, n: number): Mutation => [column, '+=', n],
};

// ---------------------------------------------------------------- encoding

const SET_FNS = new Set<ConditionFn>(['includes', 'excludes']);

function encodeCondition(t: TableSchema, c: Condition): unknown {
  if (!Array.isArray(c) || c.length !== 3) throw new OvsdbValueError(t.name, '?', `condition ${JSON.stringify(c)} is not [column, function, value]`);
  const [column, fn, value] = c;
  const col = columnOf(t, column);
  const ct = col.type;
  if (!['<', '<=', '==', '!=', '>=', '>', 'includes', 'excludes'].includes(fn)) {
    throw new OvsdbValueError(t.name, column, `unknown condition function "${String(fn)}"`);
  }
  if (['<', '<=', '>=', '>'].includes(fn) && !(ct.kind === 'scalar' && (ct.key.type === 'integer' || ct.key.type === 'real'))) {
    throw new OvsdbValueError(t.name, column, `"${fn}" applies only to integer or real columns`);
  }
  const partial = SET_FNS.has(fn);
  return [column, fn, encodeValue(t.name, column, ct, value, { namedUuids: true }, partial)];
}

function encodeRow(t: TableSchema, row: Row, forInsert: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column in row) {
    const value = row[column];
    if (value === undefined) continue;
    const col = columnOf(t, column);
    if (column === '_uuid' || column === '_version') throw new OvsdbValueError(t.name, column, 'cannot be written');
    if (!forInsert && !col.mutable) throw new OvsdbValueError(t.name, column, 'column is immutable and cannot be updated');
    out[column] = encodeValue(t.name, column, col.type, value, { namedUuids: true });
  }
  return out;
}

function encodeMutation(t: TableSchema, m: Mutation): unknown {
  if (!Array.isArray(m) || m.length !== 3) throw new OvsdbValueError(t.name, '?', `mutation ${JSON.stringify(m)} is not [column, mutator, value]`);
  const [column, mutator, value] = m;
  const col = columnOf(t, column);
  const ct = col.type;
  if (!col.mutable) throw new OvsdbValueError(t.name, column, 'column is immutable and cannot be mutated');
  switch (mutator) {
    case '+=':
    case '-=':
    case '*=':
    case '/=':
    case '%=':
      if (!(ct.key.type === 'integer' || ct.key.type === 'real') || ct.kind === 'map' || (mutator === '%=' && ct.key.type !== 'integer')) {
        throw new OvsdbValueError(t.name, column, `"${mutator}" needs an integer${mutator === '%=' ? '' : ' or real'} column`);
      }
      return [column, mutator, encodeValue(t.name, column, { ...ct, min: 1, max: 1, kind: 'scalar' }, value)];
    case 'insert':
      if (ct.kind === 'scalar') throw new OvsdbValueError(t.name, column, '"insert" needs a set or map column');
      return [column, mutator, encodeValue(t.name, column, ct, value, { namedUuids: true }, true)];
    case 'delete':
      if (ct.kind === 'scalar') throw new OvsdbValueError(t.name, column, '"delete" needs a set or map column');
      if (ct.kind === 'map' && (Array.isArray(value) || value instanceof Set)) {
        return [column, mutator, encodeKeySet(t.name, column, ct, value, { namedUuids: true })];
      }
      return [column, mutator, encodeValue(t.name, column, ct, value, { namedUuids: true }, true)];
    default:
      throw new OvsdbValueError(t.name, column, `unknown mutator "${String(mutator)}"`);
  }
}

/** Validate and encode one operation for the wire. Throws OvsdbValueError naming table, column and reason. */
export function encodeOperation(schema: DatabaseSchema, op: Operation): Record<string, unknown> {
  switch (op.op) {
    case 'insert': {
      const t = tableOf(schema, op.table);
      const out: Record<string, unknown> = { op: 'insert', table: op.table, row: encodeRow(t, op.row, true) };
      if (op.uuidName !== undefined) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(op.uuidName)) throw new OvsdbValueError(op.table, 'uuid-name', `"${op.uuidName}" is not a valid uuid-name (letters, digits, _)`);
        out['uuid-name'] = op.uuidName;
      }
      if (op.uuid !== undefined) out.uuid = op.uuid;
      return out;
    }
    case 'select': {
      const t = tableOf(schema, op.table);
      const out: Record<string, unknown> = { op: 'select', table: op.table, where: op.where.map((c) => encodeCondition(t, c)) };
      if (op.columns) {
        for (const c of op.columns) columnOf(t, c);
        out.columns = [...op.columns];
      }
      return out;
    }
    case 'update': {
      const t = tableOf(schema, op.table);
      return { op: 'update', table: op.table, where: op.where.map((c) => encodeCondition(t, c)), row: encodeRow(t, op.row, false) };
    }
    case 'mutate': {
      const t = tableOf(schema, op.table);
      return { op: 'mutate', table: op.table, where: op.where.map((c) => encodeCondition(t, c)), mutations: op.mutations.map((m) => encodeMutation(t, m)) };
    }
    case 'delete': {
      const t = tableOf(schema, op.table);
      return { op: 'delete', table: op.table, where: op.where.map((c) => encodeCondition(t, c)) };
    }
    case 'wait': {
      const t = tableOf(schema, op.table);
      for (const c of op.columns) columnOf(t, c);
      const rows = op.rows.map((r) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = encodeValue(t.name, k, columnOf(t, k).type, v, { namedUuids: true });
        return out;
      });
      return {
        op: 'wait',
        table: op.table,
        where: op.where.map((c) => encodeCondition(t, c)),
        columns: [...op.columns],
        until: op.until,
        rows,
        ...(op.timeout !== undefined ? { timeout: op.timeout } : {}),
      };
    }
    case 'commit':
      return { op: 'commit', durable: op.durable };
    case 'abort':
      return { op: 'abort' };
    case 'comment':
      return { op: 'comment', comment: op.comment };
    case 'assert':
      return { op: 'assert', lock: op.lock };
    default:
      throw new OvsdbValueError('?', '?', `unknown operation ${JSON.stringify((op as { op?: unknown }).op)}`);
  }
}

/** Decode one wire result against the operation that produced it. */
export function decodeResult(schema: DatabaseSchema, op: Operation, json: unknown): OperationResult {
  const r = (json ?? {}) as { uuid?: unknown; count?: unknown; rows?: unknown[] };
  const out: OperationResult = {};
  if (Array.isArray(r.uuid) && typeof r.uuid[1] === 'string') out.uuid = r.uuid[1];
  if (typeof r.count === 'number') out.count = r.count;
  if (Array.isArray(r.rows) && op.op === 'select') {
    const t = tableOf(schema, op.table);
    out.rows = r.rows.map((row) => {
      const decoded: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row as Record<string, unknown>)) decoded[k] = decodeValue(columnOf(t, k).type, v) as Value;
      return decoded;
    });
  }
  return out;
}
