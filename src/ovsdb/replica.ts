// An in-memory replica of the tables a caller asks for, kept by one OVSDB
// monitor. Rows are decoded while the monitor reply or update is still
// arriving (the framer hands us one row at a time), applied atomically per
// message, indexed, and announced as change events that are never dropped.

import { LayeredMap } from './layered-map.js';
import { SetMultimap } from '../multimap.js';
import { shared } from '../intern.js';
import { type LeafSink, type PathElem, RAW_NOT_HANDLED } from './framing.js';
import { parseRow, parsedKind, parsedRow, RowShape } from './rowparse.js';
import { type Condition, encodeOperation } from './operations.js';
import { type ColumnSchema, type DatabaseSchema, type TableSchema, type Value, decodeValue, defaultValue, ZERO_UUID } from './schema.js';
import { ReplicaInconsistentError, ReplicaSpecError } from './errors.js';

export type ReplicaRow = Readonly<Record<string, unknown>> & { readonly _uuid: string };

export interface TableSpec {
  /** Columns to monitor (default: all). */
  columns?: readonly string[];
  /** Row condition (monitor_cond); rows matching any clause set... see RFC: all conditions must hold. */
  where?: readonly Condition[];
}

/** An index over a column, or one key of a map column ("external_ids:name"), or several of them. */
export type IndexSpec = string | readonly string[];

export interface ReplicaSpec<DB = Record<string, Record<string, unknown>>> {
  tables: { [T in keyof DB & string]?: TableSpec | true };
  /** Secondary (non-unique) indexes per table. */
  indexes?: { [T in keyof DB & string]?: readonly IndexSpec[] };
}

export type ChangeKind = 'insert' | 'update' | 'delete';

export interface ChangeEvent<R = ReplicaRow> {
  table: string;
  kind: ChangeKind;
  /** The row after the change (for delete: the row as it was). */
  row: R;
  /** The row before an update. */
  old?: R;
  /**
   * For an update the server sent as an update2/3 "modify": the columns it
   * changed, as it sent them (ovsdb-server(7) 4.1.14: a map column's diff
   * holds the pairs to add, remove or change, a set column's the elements to
   * toggle, other columns their new value). Lets a consumer follow what
   * changed in O(change), say one key of a map with 100k keys.
   */
  diff?: ReadonlyMap<string, Value>;
}

// ------------------------------------------------------------------ table view

interface IndexPart {
  column: string;
  key?: string;
}

class SecondaryIndex {
  /** index value -> row uuids (most values have one row: no Set for those) */
  readonly map = new SetMultimap<unknown, string>();
  constructor(
    readonly name: string,
    readonly parts: readonly IndexPart[],
  ) {}

  keysOf(row: ReplicaRow): unknown[] {
    if (this.parts.length === 1) return partValues(row, this.parts[0]);
    const vals: unknown[] = [];
    for (const p of this.parts) {
      const v = partValues(row, p);
      if (v.length !== 1) return [];
      vals.push(v[0]);
    }
    return [JSON.stringify(vals)];
  }

  add(row: ReplicaRow): void {
    for (const k of this.keysOf(row)) this.map.add(k, row._uuid);
  }

  remove(row: ReplicaRow): void {
    for (const k of this.keysOf(row)) this.map.delete(k, row._uuid);
  }
}

function partValues(row: ReplicaRow, p: IndexPart): unknown[] {
  const v = row[p.column];
  if (p.key !== undefined) {
    // (not a Map when a converted schema changed the column's type)
    return v instanceof Map && v.has(p.key) ? [v.get(p.key)] : [];
  }
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (v instanceof Map) return [...v.keys()];
  return [v];
}

/** Read-only view of one replicated table. */
/**
 * What a replica (or a view of one) holds now in `tables`, as inserts: the
 * first feed of an index kept from commits afterwards.
 */
export function asInserts(view: { table(name: string): { values(): Iterable<unknown> } }, tables: readonly string[]): ChangeEvent[] {
  return tables.flatMap((table) => [...view.table(table).values()].map((row) => ({ table, kind: 'insert' as const, row: row as ChangeEvent['row'] })));
}

export class TableView<R extends { _uuid: string } = ReplicaRow> {
  /** @internal */ rows = new Map<string, R>();
  /** @internal Rows still have the columns of an older schema (until the next full sync). */
  reshaped = false;
  /** @internal The server's schema lost this table: not monitored, empty after the next full sync. */
  absent = false;
  /** @internal */ readonly indexes = new Map<string, SecondaryIndex>();

  constructor(
    readonly name: string,
    /** @internal */ readonly schema: TableSchema,
    /** @internal */ readonly columns: readonly ColumnSchema[],
  ) {
    this.newRow = rowFactory(columns);
    this.columnsByName = new Map(columns.map((c) => [c.name, c]));
    this.shape = new RowShape(columns);
  }

  /** @internal */ readonly shape: RowShape;

  /** @internal */ readonly columnsByName: ReadonlyMap<string, ColumnSchema>;

  /** @internal */ readonly newRow: (uuid: string) => Record<string, unknown>;

  get size(): number {
    return this.rows.size;
  }

  get(uuid: string): R | undefined {
    return this.rows.get(uuid);
  }

  values(): IterableIterator<R> {
    return this.rows.values();
  }

  [Symbol.iterator](): IterableIterator<R> {
    return this.rows.values();
  }

  /** Rows whose index `index` (as declared, e.g. "external_ids:name") has `value`. */
  lookup(index: string, ...value: unknown[]): R[] {
    const ix = this.indexes.get(index);
    if (!ix) throw new Error(`table ${this.name} has no index "${index}" (declare it in the replica's indexes)`);
    const key = ix.parts.length === 1 ? value[0] : JSON.stringify(value);
    const out: R[] = [];
    for (const u of ix.map.get(key)) out.push(this.rows.get(u)!);
    return out;
  }

  /** Rows matching a predicate (a scan; prefer lookup on an index). */
  filter(pred: (r: R) => boolean): R[] {
    const out: R[] = [];
    for (const r of this.rows.values()) if (pred(r)) out.push(r);
    return out;
  }

  /** @internal */ reindexAll(): void {
    for (const ix of this.indexes.values()) {
      ix.map.clear();
      for (const r of this.rows.values()) ix.add(r as unknown as ReplicaRow);
    }
  }
}

// ------------------------------------------------------------------ decoding

/** A decoded change of one row, applied when its message is complete. */
type RowChange =
  /** `insert`: the server says the row is new (update2/3 "insert"), so the replica must not have it */
  | { table: TableView; uuid: string; kind: 'put'; row: ReplicaRow; insert: boolean }
  | { table: TableView; uuid: string; kind: 'modify'; diff: Map<string, Value> }
  | { table: TableView; uuid: string; kind: 'delete' };

/**
 * A factory per column list that makes a row object with every column as an
 * in-object property holding its default (one allocation, one shape for the
 * whole table), which costs less to build and to move through the GC than
 * adding properties one by one. Names are quoted with JSON.stringify.
 */
function rowFactory(cols: readonly ColumnSchema[]): (uuid: string) => Record<string, unknown> {
  const plain = cols.filter((c) => c.name !== '_uuid' && c.name !== '__proto__');
  const props = plain.map((c, i) => `${JSON.stringify(c.name)}: d[${i}]`);
  const make = new Function('d', `return (uuid) => ({ _uuid: uuid, ${props.join(', ')} });`)(plain.map((c) => defaultValue(c.type))) as (
    uuid: string,
  ) => Record<string, unknown>;
  const proto = cols.find((c) => c.name === '__proto__');
  if (!proto) return make;
  // a literal "__proto__" member would set the prototype: make it an own property
  const def = defaultValue(proto.type);
  return (uuid) => Object.defineProperty(make(uuid), '__proto__', { value: def, enumerable: true, writable: true, configurable: true });
}

function makeRow(tv: TableView, uuid: string, json: Record<string, unknown> | undefined): ReplicaRow {
  const row = tv.newRow(uuid);
  if (json) {
    // only the row's own members (a missing "constructor" must not find Object's)
    const cols = tv.columnsByName;
    for (const name in json) {
      const c = cols.get(name);
      if (c) row[name] = decodeColumn(tv, c, json[name]);
    }
  }
  // read-only by type (ReplicaRow); not frozen: freezing 100k rows costs more than it protects
  return row as ReplicaRow;
}

function decodeColumn(tv: TableView, c: ColumnSchema, w: unknown): Value {
  try {
    return decodeValue(c.type, w);
  } catch (e) {
    throw new ReplicaInconsistentError(`table ${tv.name}, column ${c.name}: ${(e as Error).message}`);
  }
}

function decodeDiff(tv: TableView, json: Record<string, unknown>): Map<string, Value> {
  const diff = new Map<string, Value>();
  for (const [name, w] of Object.entries(json)) {
    const c = tv.schema.columns.get(name);
    if (!c) continue;
    // set diffs are decoded as sets (an optional column's diff may be ["set", []])
    const ct = c.type.kind === 'optional' ? { ...c.type, kind: 'set' as const, max: Infinity } : c.type;
    diff.set(name, decodeColumn(tv, { ...c, type: ct }, w));
  }
  return diff;
}

/** Apply an update2 "modify" diff (ovsdb-server(7) section 4.1.14). */
function applyDiff(tv: TableView, old: ReplicaRow, diff: Map<string, Value>): ReplicaRow {
  const row: Record<string, unknown> = { ...old };
  for (const [name, d] of diff) {
    const c = tv.schema.columns.get(name)!;
    if (!(name in row)) continue;
    switch (c.type.kind) {
      case 'scalar':
        row[name] = d;
        break;
      case 'optional': {
        // a column of at most one element: ovsdb-server sends the new value
        // (empty set = cleared), not elements to toggle (ovsdb_datum_diff()
        // clones the new datum when n_max is 1; the Python IDL applies it so)
        const next = d as unknown[];
        row[name] = next.length === 0 ? null : next[0];
        break;
      }
      case 'set':
        row[name] = toggle(row[name] as unknown[], d as unknown[]);
        break;
      case 'map':
        // a new version at the cost of the diff, also for a map of 100k keys (LayeredMap)
        row[name] = LayeredMap.applyDiff(row[name] as ReadonlyMap<unknown, unknown>, d as ReadonlyMap<unknown, unknown>);
        break;
    }
  }
  return row as ReplicaRow;
}

function toggle(cur: readonly unknown[], d: readonly unknown[]): unknown[] {
  const out = new Set(cur);
  for (const e of d) {
    if (out.has(e)) out.delete(e);
    else out.add(e);
  }
  return [...out];
}

const ROW_KINDS = new Set(['initial', 'insert', 'modify', 'delete', 'new', 'old']);

/**
 * Receives rows of one monitor message as they arrive. Handles the reply of
 * monitor / monitor_cond ([table, uuid, kind]), the reply of
 * monitor_cond_since ([2, table, uuid]) and update/update2/update3
 * notifications ([0] monitor id, [1|2, table, uuid]).
 */
export class UpdateDecoder implements LeafSink {
  readonly changes: RowChange[] = [];
  /** Full state (initial reply): rows go straight into fresh tables. */
  fresh: Map<string, Map<string, ReplicaRow>> | undefined;
  monitorId: unknown;

  constructor(
    private replica: Replica | undefined,
    private readonly resolve?: (monitorId: unknown) => Replica | undefined,
    private readonly rowsAt = 2,
  ) {}

  onLeaf(path: readonly PathElem[], value: unknown): boolean {
    if (path.length === 1 && path[0] === 0 && this.resolve) {
      this.monitorId = value;
      this.replica = this.resolve(value);
      return false;
    }
    const rep = this.replica;
    if (!rep || path.length !== 3) return false;
    if (typeof path[0] === 'string') {
      // reply of monitor / monitor_cond: [table, uuid, kind] -> row
      const kind = path[2] as string;
      if (!ROW_KINDS.has(kind)) return false;
      this.add(rep, path[0], path[1] as string, kind, value as Record<string, unknown> | null);
      return true;
    }
    if (path[0] !== this.rowsAt) return false;
    const table = path[1] as string;
    const uuid = path[2] as string;
    const obj = value as Record<string, Record<string, unknown> | null>;
    if (obj === null || typeof obj !== 'object') return false;
    if ('new' in obj || 'old' in obj) {
      // update (version 1): "new" is the full new row; only "old" means deleted
      if (obj.new) this.add(rep, table, uuid, 'new', obj.new);
      else this.add(rep, table, uuid, 'delete', null);
      return true;
    }
    for (const kind in obj) this.add(rep, table, uuid, kind, obj[kind]);
    return true;
  }

  /**
   * The fast path (see rowparse.ts): a new row (initial or insert) parsed
   * straight from the bytes. Everything else, and anything the fast parser
   * does not accept, goes through onLeaf.
   */
  rawLeaf(path: readonly PathElem[], buf: Buffer, start: number, limit: number): number {
    const rep = this.replica;
    if (!rep || path.length !== 3) return RAW_NOT_HANDLED;
    let table: string;
    let uuid: string;
    let wrapped: boolean;
    if (typeof path[0] === 'string') {
      // reply of monitor / monitor_cond: [table, uuid, kind] -> columns
      if (path[2] !== 'initial' && path[2] !== 'insert' && path[2] !== 'new') return RAW_NOT_HANDLED;
      table = path[0];
      uuid = shared(path[1] as string);
      wrapped = false;
    } else {
      // [rowsAt, table, uuid] -> {"initial"|"insert": columns}
      if (path[0] !== this.rowsAt) return RAW_NOT_HANDLED;
      table = path[1] as string;
      uuid = shared(path[2] as string);
      wrapped = true;
    }
    const tv = this.view(rep, table);
    const end = parseRow(buf, start, limit, tv.shape, tv.newRow, uuid, wrapped);
    if (end >= 0) this.put(tv, table, uuid, parsedRow as ReplicaRow, parsedKind === 'insert');
    return end;
  }

  // rows arrive table by table: remember the last table's view
  private lastTable: string | undefined;
  private lastView: TableView | undefined;

  private view(rep: Replica, table: string): TableView {
    if (table !== this.lastTable) {
      this.lastView = rep.tableState(table);
      if (!this.lastView) throw new ReplicaInconsistentError(`update for table ${table}, which is not monitored`);
      this.lastTable = table;
    }
    return this.lastView!;
  }

  private put(tv: TableView, table: string, uuid: string, row: ReplicaRow, insert: boolean): void {
    const fresh = this.fresh;
    if (fresh) {
      // rows arrive table by table: keep the last table's map at hand
      let m = this.lastFresh;
      if (m === undefined || this.lastFreshOf !== fresh || this.lastFreshTable !== table) {
        m = fresh.get(table);
        if (!m) fresh.set(table, (m = new Map()));
        this.lastFresh = m;
        this.lastFreshOf = fresh;
        this.lastFreshTable = table;
      }
      m.set(uuid, row);
    } else this.changes.push({ table: tv, uuid, kind: 'put', row, insert });
  }
  private lastFresh: Map<string, ReplicaRow> | undefined;
  private lastFreshOf: Map<string, Map<string, ReplicaRow>> | undefined;
  private lastFreshTable: string | undefined;

  private add(rep: Replica, table: string, uuid: string, kind: string, json: Record<string, unknown> | null): void {
    const tv = this.view(rep, table);
    switch (kind) {
      case 'initial':
      case 'insert':
      case 'new':
        this.put(tv, table, uuid, makeRow(tv, uuid, json ?? undefined), kind === 'insert');
        break;
      case 'modify':
        this.changes.push({ table: tv, uuid, kind: 'modify', diff: decodeDiff(tv, json ?? {}) });
        break;
      case 'delete':
      case 'old':
        this.changes.push({ table: tv, uuid, kind: 'delete' });
        break;
    }
  }
}

// ------------------------------------------------------------------ events with back-pressure

/** Flow control the replica asks of its connection. */
export interface Flow {
  pause(): void;
  resume(): void;
}

class EventQueue<R> implements AsyncIterableIterator<ChangeEvent<R>> {
  private buf: ChangeEvent<R>[] = [];
  private head = 0;
  private waiter: ((r: IteratorResult<ChangeEvent<R>>) => void) | undefined;
  closed = false;

  constructor(
    private readonly owner: Replica,
    readonly highWater: number,
  ) {}

  get length(): number {
    return this.buf.length - this.head;
  }

  push(e: ChangeEvent<R>): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: e, done: false });
      return;
    }
    this.buf.push(e);
  }

  next(): Promise<IteratorResult<ChangeEvent<R>>> {
    if (this.head < this.buf.length) {
      const value = this.buf[this.head++];
      if (this.head > 1024 && this.head * 2 > this.buf.length) {
        this.buf = this.buf.slice(this.head);
        this.head = 0;
      }
      this.owner.checkFlow();
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((r) => (this.waiter = r));
  }

  return(): Promise<IteratorResult<ChangeEvent<R>>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    this.closed = true;
    this.buf = [];
    this.head = 0;
    this.owner.dropQueue(this as unknown as EventQueue<unknown>);
    this.waiter?.({ value: undefined, done: true });
    this.waiter = undefined;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

// ------------------------------------------------------------------ the replica

let monitorSeq = 0;

/**
 * The replica. Created by OvsdbClient.replica(); the client (re)establishes its
 * monitor on every connection and feeds it updates.
 */
export class Replica<DB = Record<string, Record<string, unknown>>> {
  readonly monitorId: string;
  /** Last transaction id seen (monitor_cond_since / update3); zero when unknown. */
  lastTxnId = ZERO_UUID;
  /**
   * @internal Bumped by every condition change; `syncedCondVersion` is the one
   * the server's monitor has (-1: unknown). While they differ (a change not yet
   * sent, in flight, or lost with a connection) the replica never resumes from
   * lastTxnId: the server would filter the changes since then by the new
   * condition and never send rows that match it but did not change.
   */
  condVersion = 0;
  /** @internal */ syncedCondVersion = 0;
  /** @internal The session this replica's monitor is live on (set up, conditions sent). */
  liveOn: unknown = undefined;
  /** Number of full (re)builds of the replica, and of resumes without one. */
  stats = { fullSyncs: 0, resumes: 0, updates: 0 };

  private tables = new Map<string, TableView>();
  private isReady = false;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  readonly ready: Promise<void>;
  private listeners: ((e: ChangeEvent) => void)[] = [];
  private queues = new Set<EventQueue<unknown>>();
  private paused = false;
  private flow: Flow | undefined;
  private schema: DatabaseSchema | undefined;

  constructor(readonly spec: ReplicaSpec<DB>) {
    this.monitorId = `natgw-${process.pid}-${++monitorSeq}`;
    this.ready = new Promise((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.ready.catch(() => {});
  }

  get synced(): boolean {
    return this.isReady;
  }

  /** A monitored table. Throws before the first sync is complete. */
  table<T extends keyof DB & string>(name: T): TableView<Readonly<DB[T]> & { readonly _uuid: string }> {
    if (!this.isReady) throw new Error(`replica not ready: await replica.ready before reading table ${name}`);
    const t = this.tables.get(name);
    if (!t) throw new Error(`table ${name} is not monitored by this replica`);
    return t as unknown as TableView<Readonly<DB[T]> & { readonly _uuid: string }>;
  }

  /** Synchronous listener for every change, called as it is applied. Returns an unsubscribe function. */
  onChange(fn: (e: ChangeEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  /**
   * Change events as an async iterator. When the consumer falls more than
   * `highWater` events behind, the replica stops reading from the server (the
   * socket is paused) until it catches up: events are never dropped.
   */
  events(highWater = 10_000): AsyncIterableIterator<ChangeEvent> {
    const q = new EventQueue<ReplicaRow>(this as Replica, highWater);
    this.queues.add(q as EventQueue<unknown>);
    return q as AsyncIterableIterator<ChangeEvent>;
  }

  // ---------------------------------------------------------------- internals used by the client

  /** @internal */ setFlow(flow: Flow | undefined): void {
    this.flow = flow;
    if (flow && this.paused) flow.pause();
  }

  /** @internal */ dropQueue(q: EventQueue<unknown>): void {
    this.queues.delete(q);
    this.checkFlow();
  }

  /** @internal */ checkFlow(): void {
    let over = false;
    let drained = true;
    for (const q of this.queues) {
      if (q.length > q.highWater) over = true;
      if (q.length > q.highWater / 2) drained = false;
    }
    if (over && !this.paused) {
      this.paused = true;
      this.flow?.pause();
    } else if (this.paused && drained) {
      this.paused = false;
      this.flow?.resume();
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** @internal */ tableState(name: string): TableView | undefined {
    return this.tables.get(name);
  }

  /**
   * Tables ("NAT") and columns ("NAT.gateway_port") of the spec that the
   * server's schema no longer has: a schema conversion (or a server of another
   * version after a reconnect) removed them. They are left out of the monitor,
   * as the C IDL does, and come back if a later schema has them again.
   */
  missing: readonly string[] = [];

  /**
   * @internal Bind to a (possibly new) schema; keeps rows when the table layout
   * is unchanged. The first schema must have every table, column and index
   * the spec names (else ReplicaSpecError, and nothing changes); a later one
   * may lack some, which are then left out (see `missing`). Returns what is
   * missing now and was not before.
   */
  bind(schema: DatabaseSchema): string[] {
    if (this.schema === schema) return [];
    const first = this.schema === undefined;
    const missing: string[] = [];
    const unknown = (what: string, name: string): void => {
      if (first) throw new ReplicaSpecError(`replica: ${what} (database ${schema.name}, schema version ${schema.version})`);
      missing.push(name);
    };
    const next = new Map<string, TableView>();
    let reshaped = false;
    const indexSpecs = this.spec.indexes as Record<string, readonly IndexSpec[]> | undefined;
    /** The table's declared indexes; `check` (first schema) refuses what the schema cannot index. */
    const indexesOf = (name: string, check?: { ts: TableSchema; colNames: readonly string[] }): Map<string, SecondaryIndex> => {
      const out = new Map<string, SecondaryIndex>();
      for (const ixs of indexSpecs?.[name] ?? []) {
        const parts = (typeof ixs === 'string' ? [ixs] : [...ixs]).map((p) => {
          const colon = p.indexOf(':');
          const column = colon < 0 ? p : p.slice(0, colon);
          if (check) {
            const cs = check.ts.columns.get(column);
            if (!cs) throw new ReplicaSpecError(`replica: index "${p}": table ${name} has no column ${column}`);
            if (colon >= 0 && cs.type.kind !== 'map') throw new ReplicaSpecError(`replica: index "${p}": column ${column} is not a map`);
            if (!check.colNames.includes(column)) throw new ReplicaSpecError(`replica: index "${p}": column ${column} is not monitored`);
          }
          // later schemas: an index over a column that is gone (or no longer a map) stays, empty
          return colon < 0 ? { column } : { column, key: p.slice(colon + 1) };
        });
        const ixName = typeof ixs === 'string' ? ixs : ixs.join(',');
        out.set(ixName, new SecondaryIndex(ixName, parts));
      }
      return out;
    };
    /** A table the schema can no longer serve: rows kept until the next full sync announces their deletion. */
    const absent = (name: string, old: TableView): TableView => {
      const gone = new TableView(name, old.schema, []);
      for (const [k, ix] of indexesOf(name)) gone.indexes.set(k, ix);
      gone.rows = old.rows;
      gone.reindexAll();
      gone.absent = true;
      reshaped = true;
      return gone;
    };
    for (const [name, s] of Object.entries(this.spec.tables) as [string, TableSpec | true | undefined][]) {
      if (!s) continue;
      const old = this.tables.get(name);
      const ts = schema.tables.get(name);
      if (!ts) {
        unknown(`table ${name} does not exist`, name);
        next.set(name, absent(name, old!));
        continue;
      }
      // a row condition on a column the schema lacks: monitoring the table without
      // it could bring far more rows than asked for, so the table is left out
      if (s !== true && s.where && s.where.length > 0) {
        const lost = [...new Set(s.where.map((c) => c[0]).filter((c) => c !== '_uuid' && c !== '_version' && !ts.columns.has(c)))];
        let bad: string | undefined;
        if (lost.length === 0) {
          try {
            encodeOperation(schema, { op: 'select', table: name, where: s.where });
          } catch (e) {
            bad = (e as Error).message; // a value that no longer fits its column
          }
        }
        if (lost.length > 0 || bad !== undefined) {
          for (const c of lost) unknown(`condition on column ${c}: table ${name} has no column ${c}`, `${name}.${c}`);
          if (bad !== undefined) unknown(`condition: ${bad}`, `${name} (condition)`);
          next.set(name, absent(name, old!));
          continue;
        }
      }
      const colNames = s === true || !s.columns ? [...ts.columns.keys()] : [...s.columns];
      const cols: ColumnSchema[] = [];
      for (const c of colNames) {
        const cs = ts.columns.get(c);
        if (cs) cols.push(cs);
        else unknown(`table ${name} has no column ${c}`, `${name}.${c}`);
      }
      const tv = new TableView(name, ts, cols);
      for (const [k, ix] of indexesOf(name, first ? { ts, colNames } : undefined)) tv.indexes.set(k, ix);
      if (old) {
        // keep the rows, so that the next full sync announces only what changed;
        // rows of another shape (the schema was converted) are replaced by that
        // sync (never resumed from a transaction id) and announced as updates
        tv.rows = old.rows;
        tv.reindexAll();
        if (old.absent || !sameColumns(old.columns, cols)) {
          tv.reshaped = true;
          reshaped = true;
        }
      }
      next.set(name, tv);
    }
    if (reshaped) this.lastTxnId = ZERO_UUID;
    const before = new Set(this.missing);
    this.missing = missing;
    this.schema = schema;
    this.tables = next;
    return missing.filter((m) => !before.has(m));
  }

  /** @internal The monitor requests for the method in use ("monitor" has no conditions). */
  monitorRequests(schema: DatabaseSchema, withConditions: boolean): Record<string, unknown> {
    const req: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(this.spec.tables) as [string, TableSpec | true | undefined][]) {
      if (!s) continue;
      const tv = this.tables.get(name)!;
      if (tv.absent) continue;
      const r: Record<string, unknown> = { columns: tv.columns.map((c) => c.name) };
      if (withConditions && s !== true && s.where && s.where.length > 0) {
        r.where = (encodeOperation(schema, { op: 'select', table: name, where: s.where }) as { where: unknown }).where;
      }
      req[name] = withConditions ? [r] : r;
    }
    return req;
  }

  /** @internal The current condition of every monitored table, for one monitor_cond_change. */
  allConditionsRequest(schema: DatabaseSchema): Record<string, unknown> {
    const req: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(this.spec.tables) as [string, TableSpec | true | undefined][]) {
      if (!s || this.tables.get(name)?.absent) continue;
      Object.assign(req, this.conditionRequest(schema, name, s === true ? [] : (s.where ?? [])));
    }
    return req;
  }

  /** @internal Encoded condition change for monitor_cond_change. */
  conditionRequest(schema: DatabaseSchema, table: string, where: readonly Condition[]): unknown {
    const enc = (encodeOperation(schema, { op: 'select', table, where }) as { where: unknown[] }).where;
    return { [table]: [{ where: enc.length ? enc : [true] }] };
  }

  /** @internal Replace the whole state with `fresh` (after found=false or a plain monitor). */
  applyFull(fresh: Map<string, Map<string, ReplicaRow>>): void {
    this.stats.fullSyncs++;
    this.batch = this.commitListeners.length ? [] : undefined;
    const emit = this.listeners.length > 0 || this.queues.size > 0 || this.batch !== undefined;
    for (const [name, tv] of this.tables) {
      const next = fresh.get(name) ?? new Map<string, ReplicaRow>();
      if (emit) {
        for (const [uuid, old] of tv.rows) {
          const nu = next.get(uuid);
          if (!nu) this.emit({ table: name, kind: 'delete', row: old });
          else if (tv.reshaped || !sameRow(tv, old, nu)) this.emit({ table: name, kind: 'update', row: nu, old });
        }
        for (const [uuid, nu] of next) if (!tv.rows.has(uuid)) this.emit({ table: name, kind: 'insert', row: nu });
      }
      tv.rows = next;
      tv.reshaped = false;
      tv.reindexAll();
    }
    this.committed();
    this.markReady();
  }

  /** @internal Apply the changes of one message, in order. Throws ReplicaInconsistentError. */
  applyChanges(changes: readonly RowChange[]): void {
    this.stats.updates++;
    this.batch = this.commitListeners.length ? [] : undefined;
    for (const ch of changes) {
      const tv = ch.table;
      const old = tv.rows.get(ch.uuid);
      switch (ch.kind) {
        case 'put': {
          // as the C IDL: an insert of a row the replica has means it diverged
          if (old && ch.insert) throw new ReplicaInconsistentError(`insert of row ${ch.uuid} in table ${tv.name}, which the replica already has`);
          if (old) for (const ix of tv.indexes.values()) ix.remove(old);
          tv.rows.set(ch.uuid, ch.row);
          for (const ix of tv.indexes.values()) ix.add(ch.row);
          this.emit(old ? { table: tv.name, kind: 'update', row: ch.row, old } : { table: tv.name, kind: 'insert', row: ch.row });
          break;
        }
        case 'modify': {
          if (!old) throw new ReplicaInconsistentError(`modify of row ${ch.uuid} in table ${tv.name}, which the replica does not have`);
          const nu = applyDiff(tv, old, ch.diff);
          // only the indexes over changed columns: a switch's 1000 ports are not re-indexed for a new external_ids key
          for (const ix of tv.indexes.values()) if (ix.parts.some((p) => ch.diff.has(p.column))) ix.remove(old);
          tv.rows.set(ch.uuid, nu);
          for (const ix of tv.indexes.values()) if (ix.parts.some((p) => ch.diff.has(p.column))) ix.add(nu);
          this.emit({ table: tv.name, kind: 'update', row: nu, old, diff: ch.diff });
          break;
        }
        case 'delete': {
          if (!old) throw new ReplicaInconsistentError(`delete of row ${ch.uuid} in table ${tv.name}, which the replica does not have`);
          for (const ix of tv.indexes.values()) ix.remove(old);
          tv.rows.delete(ch.uuid);
          this.emit({ table: tv.name, kind: 'delete', row: old });
          break;
        }
      }
    }
    this.committed();
  }

  /**
   * The number of update messages (and full syncs) applied so far: it moves
   * once per message, after all of its rows are in, so two reads with the same
   * seqno saw the same state, and a plan made at seqno N holds every commit
   * the replica had applied by then.
   */
  seqno = 0;
  private commitListeners: ((changes: readonly ChangeEvent[], seqno: number) => void)[] = [];
  private batch: ChangeEvent[] | undefined;

  /**
   * Listener called once per update message (a server-side commit, or a full
   * resync), after the whole message is applied, with its changes in order:
   * the commit boundary, so that an index built from it never sees half a
   * transaction (an LRP whose new Gateway_Chassis row is not there yet).
   */
  onCommit(fn: (changes: readonly ChangeEvent[], seqno: number) => void): () => void {
    this.commitListeners.push(fn);
    return () => {
      this.commitListeners = this.commitListeners.filter((f) => f !== fn);
    };
  }

  private committed(): void {
    this.seqno++;
    const batch = this.batch;
    this.batch = undefined;
    if (batch) for (const l of this.commitListeners) l(batch, this.seqno);
  }

  /** @internal */ markReady(): void {
    if (!this.isReady) {
      this.isReady = true;
      this.readyResolve();
    }
  }

  /** @internal */ fail(e: Error): void {
    if (!this.isReady) this.readyReject(e);
  }

  /** @internal */ close(): void {
    for (const q of [...this.queues]) q.close();
  }

  private emit(e: ChangeEvent): void {
    this.batch?.push(e);
    for (const l of this.listeners) l(e);
    if (this.queues.size === 0) return;
    for (const q of this.queues) q.push(e);
    this.checkFlow();
  }
}

/** The same columns with the same types, in any order (get_schema's order changes with a conversion). */
function sameColumns(a: readonly ColumnSchema[], b: readonly ColumnSchema[]): boolean {
  if (a.length !== b.length) return false;
  const byName = new Map(b.map((c) => [c.name, c]));
  return a.every((c) => byName.has(c.name) && JSON.stringify(c.type) === JSON.stringify(byName.get(c.name)!.type));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    const s = new Set(a);
    return b.every((x) => s.has(x));
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || b.get(k) !== v) return false;
    return true;
  }
  return false;
}

function sameRow(tv: TableView, a: ReplicaRow, b: ReplicaRow): boolean {
  for (const c of tv.columns) if (!sameValue(a[c.name], b[c.name])) return false;
  return true;
}
