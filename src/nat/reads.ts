/**
 * What each object's plan read from NB: rows (by UUID) and index lookups
 * (table, index, value, found or not), recorded while its desired rows are
 * built (recordingView). A commit's changed rows then name the objects whose
 * plan may differ (readersOf), in O(change): the rest of the desired state
 * stands as it was planned.
 */
import type { ChangeEvent } from '../ovsdb/replica.js';
import type { NbView, TableLike } from './nb-view.js';
import type { NbTableName } from './rows.js';

/** The reader of reads made outside any object's stage: any change to them stales every object. */
export const ANY_OBJECT = '*';

type AnyRow = { _uuid: string } & Record<string, unknown>;

export class ReadLog {
  /** table -> uuid -> readers */
  private readonly rows = new Map<string, Map<string, Set<string>>>();
  /** table -> index -> value (as a key) -> readers */
  private readonly lookups = new Map<string, Map<string, Map<unknown, Set<string>>>>();
  /** table -> readers that scanned it whole */
  private readonly scans = new Map<string, Set<string>>();
  /** reader -> what it read, to forget it */
  private readonly byReader = new Map<string, { table: string; uuid?: string; index?: string; value?: unknown }[]>();

  readRow(reader: string, table: string, uuid: string): void {
    let t = this.rows.get(table);
    if (!t) this.rows.set(table, (t = new Map()));
    if (add(t, uuid, reader)) this.note(reader, { table, uuid });
  }

  readIndex(reader: string, table: string, index: string, value: unknown): void {
    let t = this.lookups.get(table);
    if (!t) this.lookups.set(table, (t = new Map()));
    let ix = t.get(index);
    if (!ix) t.set(index, (ix = new Map()));
    if (add(ix, value, reader)) this.note(reader, { table, index, value });
  }

  readTable(reader: string, table: string): void {
    if (add(this.scans, table, reader)) this.note(reader, { table });
  }

  private note(reader: string, r: { table: string; uuid?: string; index?: string; value?: unknown }): void {
    let l = this.byReader.get(reader);
    if (!l) this.byReader.set(reader, (l = []));
    l.push(r);
  }

  /** Forgets what these readers read (before they are planned again). */
  forget(readers: Iterable<string>): void {
    for (const reader of readers) {
      for (const r of this.byReader.get(reader) ?? []) {
        if (r.uuid !== undefined) this.rows.get(r.table)?.get(r.uuid)?.delete(reader);
        else if (r.index !== undefined) this.lookups.get(r.table)?.get(r.index)?.get(r.value)?.delete(reader);
        else this.scans.get(r.table)?.delete(reader);
      }
      this.byReader.delete(reader);
    }
  }

  /** Takes over what `other` recorded for its readers (after forget of the same readers). */
  merge(other: ReadLog): void {
    for (const [reader, list] of other.byReader) {
      for (const r of list) {
        if (r.uuid !== undefined) this.readRow(reader, r.table, r.uuid);
        else if (r.index !== undefined) this.readIndex(reader, r.table, r.index, r.value);
        else this.readTable(reader, r.table);
      }
    }
  }

  /**
   * The readers a changed row may concern: those that scanned its table, read
   * it by UUID (when `rowReaders`), or looked up an index value it has or had
   * in a column that changed (for an update with the server's diff: only the
   * values the diff toggles).
   */
  readersOf(e: ChangeEvent, out: Set<string>, rowReaders = true): void {
    const row = e.row as AnyRow;
    for (const r of this.scans.get(e.table) ?? []) out.add(r);
    if (rowReaders) for (const r of this.rows.get(e.table)?.get(row._uuid) ?? []) out.add(r);
    const ixs = this.lookups.get(e.table);
    if (!ixs) return;
    const old = e.old as AnyRow | undefined;
    for (const [index, values] of ixs) {
      const colon = index.indexOf(':');
      const col = colon < 0 ? index : index.slice(0, colon);
      if (e.kind === 'update' && old && old[col] === row[col]) continue;
      // a set column's diff holds the elements toggled (an optional column's, its new value: not used)
      const d = e.kind === 'update' && colon < 0 && Array.isArray(row[col]) ? e.diff?.get(col) : undefined;
      const vals = Array.isArray(d) ? d : [...indexValues(row, index), ...(old ? indexValues(old, index) : [])];
      for (const v of vals) for (const r of values.get(v) ?? []) out.add(r);
    }
  }
}

function add<K>(m: Map<K, Set<string>>, k: K, reader: string): boolean {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  if (s.has(reader)) return false;
  s.add(reader);
  return true;
}

/** The values a row has for an index ("column" or "column:key"), as the replica indexes them. */
function indexValues(row: AnyRow, index: string): unknown[] {
  const colon = index.indexOf(':');
  const col = colon < 0 ? index : index.slice(0, colon);
  const c = row[col];
  if (colon >= 0) return c instanceof Map && c.has(index.slice(colon + 1)) ? [c.get(index.slice(colon + 1))] : [];
  if (Array.isArray(c)) return c;
  if (c instanceof Map) return [...c.keys()];
  return c === null || c === undefined ? [] : [c];
}

/**
 * The view a plan reads through, recording each read for the object being
 * planned (`reader()`, ANY_OBJECT outside any object); `values()` reads the
 * whole table.
 */
export function recordingView(nb: NbView, log: ReadLog, reader: () => string | undefined): NbView {
  const views = new Map<string, TableLike<unknown>>();
  return {
    table<T extends NbTableName>(name: T) {
      let v = views.get(name);
      if (!v) {
        const t = nb.table(name) as unknown as TableLike<AnyRow>;
        v = {
          get(uuid: string) {
            log.readRow(reader() ?? ANY_OBJECT, name, uuid);
            return t.get(uuid);
          },
          values() {
            log.readTable(reader() ?? ANY_OBJECT, name);
            return t.values();
          },
          lookup(index: string, value: unknown) {
            const who = reader() ?? ANY_OBJECT;
            log.readIndex(who, name, index, value);
            const found = t.lookup(index, value);
            for (const r of found) log.readRow(who, name, r._uuid);
            return found;
          },
        } as TableLike<unknown>;
        views.set(name, v);
      }
      return v as never;
    },
  };
}
