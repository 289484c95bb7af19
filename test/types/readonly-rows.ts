// Replica rows are read-only by type, as the C IDL's rows are `const`: every
// line marked @ts-expect-error below must be a type error. `npm test` runs
// `tsc --noEmit` over test/ first, and an @ts-expect-error that is no longer
// needed (a row type that became writable) fails it. Not a tap file: nothing
// here runs.
//
// They are not frozen at run time: Object.freeze on each row made the decode of
// the 106k-row NB ~5% slower (18 ms of ~380 ms, scratch/feed.mts), and a Map
// cannot be frozen at all.
import type { Replica } from '../../src/ovsdb/replica.js';
import type { NbTables } from '../../src/models/ovn-nb.js';

export function mutations(rep: Replica<NbTables>): void {
  const nat = rep.table('NAT').get('x')!;
  // @ts-expect-error a column
  nat.external_ip = '192.0.2.1';
  // @ts-expect-error the row's uuid
  nat._uuid = 'y';
  // @ts-expect-error a map column is a ReadonlyMap
  nat.external_ids.set('k', 'v');
  // @ts-expect-error ... with no delete either
  nat.external_ids.delete('k');
  const lr = rep.table('Logical_Router').get('x')!;
  // @ts-expect-error a set column is a readonly array
  lr.nat.push('u');
  // @ts-expect-error ... whose elements cannot be replaced
  lr.ports[0] = 'u';
  // rows from lookups, scans and change events are the same read-only rows
  for (const r of rep.table('Logical_Router').lookup('name', 'r1')) {
    // @ts-expect-error
    r.name = 'other';
  }
  for (const r of rep.table('NAT').filter(() => true)) {
    // @ts-expect-error
    r.logical_ip = '10.0.0.1';
  }
  rep.onChange((e) => {
    // @ts-expect-error
    e.row._uuid = 'z';
  });
}

/** The same for a replica without generated types. */
export function untyped(rep: Replica): void {
  const row = rep.table('NAT').get('x')!;
  // @ts-expect-error
  row.external_ip = '192.0.2.1';
  // @ts-expect-error
  row._uuid = 'y';
}
