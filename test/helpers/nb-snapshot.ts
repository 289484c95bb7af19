// The whole of NB as ovsdb-client reads it, and what changed between two
// reads: how the NAT tests on a real OVN show what an apply wrote, and that a
// refused one wrote nothing.
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { findBinary, run, SCHEMAS } from '../../tools/sandbox-lib.js';
import { nbctl, type Sandbox } from './sandbox.js';
import { catchAsync } from './util.js';

export type Row = Record<string, unknown>;
export type Snapshot = Map<string, Map<string, Row>>;
const NB_TABLES = Object.keys((JSON.parse(readFileSync(SCHEMAS.nb, 'utf8')) as { tables: object }).tables);

function rowLabel(table: string, uuid: string, r: Row): string {
  return `${table} ${typeof r.name === 'string' && r.name !== '' ? r.name : uuid}`;
}

/**
 * What changed between two snapshots, one sorted line per row: "+ T name",
 * "- T name", "~ T name: col,col" ("(rewritten)" when only _version changed).
 * Rows are named by their name column, or their UUID.
 */
export function diff(a: Snapshot, b: Snapshot, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const [table, before] of a) {
    if (skip.includes(table)) continue;
    const after = b.get(table)!;
    for (const [u, ra] of before) {
      const rb = after.get(u);
      if (!rb) {
        out.push(`- ${rowLabel(table, u, ra)}`);
        continue;
      }
      const cols = Object.keys(ra).filter((c) => c !== '_version' && JSON.stringify(ra[c]) !== JSON.stringify(rb[c]));
      if (cols.length > 0) out.push(`~ ${rowLabel(table, u, rb)}: ${cols.sort().join(',')}`);
      else if (JSON.stringify(ra._version) !== JSON.stringify(rb._version)) out.push(`~ ${rowLabel(table, u, rb)}: (rewritten)`);
    }
    for (const [u, rb] of after) if (!before.has(u)) out.push(`+ ${rowLabel(table, u, rb)}`);
  }
  return out.sort();
}

/** Snapshots of one sandbox's NB. */
export function nbSnapshots(sb: Pick<Sandbox, 'nbRemote'>) {
  /** Wait until ovn-northd has caught up with NB (it writes back to NB: Logical_Switch_Port.up, NB_Global). */
  const settle = () => nbctl(sb, '--wait=sb', 'sync');

  /** Every row of every NB table, with _uuid and _version. */
  async function snapshot(): Promise<Snapshot> {
    const txn = ['OVN_Northbound', ...NB_TABLES.map((table) => ({ op: 'select', table, where: [] }))];
    const { stdout } = await run(await findBinary('ovsdb-client'), ['--timeout=20', 'transact', sb.nbRemote, JSON.stringify(txn)]);
    const res = JSON.parse(stdout) as { rows: Row[] }[];
    return new Map(NB_TABLES.map((table, i) => [table, new Map(res[i].rows.map((r) => [(r._uuid as [string, string])[1], r]))]));
  }

  /** Settle, snapshot, run `fn`, settle, snapshot: what `fn` changed in NB (NB_Global, which the settling itself bumps, left out). */
  async function changedBy(fn: () => Promise<unknown>): Promise<string[]> {
    await settle();
    const a = await snapshot();
    await fn();
    await settle();
    return diff(a, await snapshot(), ['NB_Global']);
  }

  /** Asserts that `fn` is refused with an error matching `message`, and that NB is as before, row versions and NB_Global included. */
  async function refused(t: Test, fn: () => Promise<unknown>, message: RegExp): Promise<void> {
    await settle();
    const a = await snapshot();
    const err = (await catchAsync(fn())) as Error | undefined;
    t.ok(err, 'refused');
    t.match(err?.message ?? '', message, 'the error names object, field and reason');
    t.same(diff(a, await snapshot()), [], 'NB unchanged');
  }

  return { settle, snapshot, changedBy, refused };
}
