// Comparing a replica with what `ovsdb-client dump` shows, for the replica and reconnect tests.
import type { Test } from 'tap';
import { isDeepStrictEqual } from 'node:util';
import type { ChangeEvent, Replica } from '../../src/ovsdb/replica.js';
import { decodeValue, type DatabaseSchema } from '../../src/ovsdb/schema.js';
import { ovsdbClientDump } from './sandbox.js';
import { norm, waitFor } from './util.js';

/** One table as { uuid: { column: normalized value } }. */
export type State = Record<string, Record<string, unknown>>;

export interface DumpFilter {
  /** Only these columns (default: all). */
  columns?: string[];
  /** Only the rows for which this holds (on the decoded row). */
  keep?: (row: Record<string, unknown>) => boolean;
}

export function normRow(r: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) o[k] = norm(v);
  return o;
}

/** The replica's tables (every column it has), normalized. */
export function replicaState(rep: Replica<any>, tables: string[]): Record<string, State> {
  const out: Record<string, State> = {};
  for (const table of tables) {
    const st: State = {};
    for (const r of rep.table(table).values() as Iterable<Record<string, unknown>>) st[r._uuid as string] = normRow(r);
    out[table] = st;
  }
  return out;
}

/** The same from `ovsdb-client dump` of one remote, decoded with the schema. */
export async function dumpState(remote: string, schema: DatabaseSchema, tables: string[], f: DumpFilter = {}): Promise<Record<string, State>> {
  const dump = await ovsdbClientDump(remote, schema.name);
  const out: Record<string, State> = {};
  for (const table of tables) {
    const ts = schema.tables.get(table)!;
    const st: State = {};
    for (const row of dump[table] ?? []) {
      const uuid = (row._uuid as [string, string])[1];
      const decoded: Record<string, unknown> = { _uuid: uuid };
      for (const [name, cs] of ts.columns) decoded[name] = decodeValue(cs.type, row[name]);
      if (f.keep && !f.keep(decoded)) continue;
      const o: Record<string, unknown> = { _uuid: uuid };
      for (const name of ts.columns.keys()) if (!f.columns || f.columns.includes(name)) o[name] = norm(decoded[name]);
      st[uuid] = o;
    }
    out[table] = st;
  }
  return out;
}

/**
 * Wait until the replica equals the dump for `tables`, then assert it (with a
 * diff on failure). A dump that fails (e.g. during an election) is retried.
 */
export async function expectSynced(
  t: Test,
  rep: Replica<any>,
  remote: string,
  schema: DatabaseSchema,
  tables: string[],
  msg: string,
  f: DumpFilter = {},
): Promise<Record<string, State>> {
  let want: Record<string, State> = {};
  let got: Record<string, State> = {};
  await waitFor(async () => {
    want = await dumpState(remote, schema, tables, f).catch(() => ({}));
    got = replicaState(rep, tables);
    return isDeepStrictEqual(got, want);
  });
  t.strictSame(got, want, msg);
  return got;
}

/** A listener's own copy of the tables, kept only from change events. */
export function mirrorOf(rep: Replica<any>, tables: string[]) {
  const rows = new Map<string, Record<string, unknown>>();
  const events: ChangeEvent[] = [];
  rep.onChange((e) => {
    events.push(e);
    const key = `${e.table} ${e.row._uuid}`;
    if (e.kind === 'delete') rows.delete(key);
    else rows.set(key, e.row as Record<string, unknown>);
  });
  return {
    events,
    has: (table: string, uuid: string) => rows.has(`${table} ${uuid}`),
    state(): Record<string, State> {
      const out: Record<string, State> = Object.fromEntries(tables.map((tb) => [tb, {}]));
      for (const [key, r] of rows) out[key.split(' ')[0]][r._uuid as string] = normRow(r);
      return out;
    },
  };
}
