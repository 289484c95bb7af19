/**
 * The schema facts the planner acts on, for the tables ovn-natgw may own,
 * derived from the generated model (NB_ROOT_TABLES, NB_REFS: ovn-nb.ovsschema
 * itself), not written by hand:
 *  - ROOT: the owned root tables, removed by a `delete`; the others go by
 *    leaving their parent (OVSDB collects a non-root row nobody refers to);
 *  - PARENTS: the set columns of owned tables that hold rows of a table ("the
 *    router whose `nat` holds this NAT row"), read back by element indexes;
 *  - ROOT_REFS: a non-root row's single strong references to owned root rows
 *    (a port's HA chassis group, a NAT's address sets), cleared before the
 *    row goes: OVSDB checks references before it collects the unreferenced row;
 *  - CHILD_COLUMNS: the owned non-root rows a switch or router takes along
 *    when it is deleted.
 */
import { NB_REFS, NB_ROOT_TABLES, type NbTables, type SchemaRef } from '../models/ovn-nb.js';
import type { NbTableName } from './rows.js';

/** Tables whose rows ovn-natgw may own (each has the object index). */
export const OWNED_TABLES: readonly NbTableName[] = [
  'Logical_Switch',
  'Logical_Switch_Port',
  'Logical_Router',
  'Logical_Router_Port',
  'Gateway_Chassis',
  'NAT',
  'Logical_Router_Static_Route',
  'Logical_Router_Policy',
  'Load_Balancer',
  'BFD',
  'HA_Chassis_Group',
  'HA_Chassis',
  'Address_Set',
];

const owned: ReadonlySet<string> = new Set(OWNED_TABLES);

/** Every reference column of an owned table to an owned table. */
function ownedRefs(): { table: NbTableName; column: string; ref: SchemaRef<keyof NbTables> }[] {
  const out: { table: NbTableName; column: string; ref: SchemaRef<keyof NbTables> }[] = [];
  for (const table of OWNED_TABLES) {
    for (const [column, ref] of Object.entries(NB_REFS[table] ?? {})) if (owned.has(ref.refTable) && ref.in === 'key') out.push({ table, column, ref });
  }
  return out;
}

export const ROOT: ReadonlySet<NbTableName> = new Set(OWNED_TABLES.filter((t) => NB_ROOT_TABLES.has(t)));

/** The (table, column) pairs whose set holds rows of each owned table. */
export const PARENTS: Readonly<Partial<Record<NbTableName, readonly (readonly [NbTableName, string])[]>>> = (() => {
  const out: Partial<Record<NbTableName, [NbTableName, string][]>> = {};
  for (const { table, column, ref } of ownedRefs()) if (ref.max > 1) (out[ref.refTable] ??= []).push([table, column]);
  return out;
})();

/** Per owned non-root table, its single strong reference columns to owned root tables. */
export const ROOT_REFS: Readonly<Partial<Record<NbTableName, readonly string[]>>> = (() => {
  const out: Partial<Record<NbTableName, string[]>> = {};
  for (const { table, column, ref } of ownedRefs()) {
    if (!ROOT.has(table) && ROOT.has(ref.refTable) && ref.refType === 'strong' && ref.max === 1) (out[table] ??= []).push(column);
  }
  return out;
})();

/** The child columns of a switch and a router: its strong sets of owned non-root rows, with their table. */
export const CHILD_COLUMNS: Readonly<Record<'Logical_Switch' | 'Logical_Router', readonly (readonly [string, NbTableName])[]>> = (() => {
  const out: Record<'Logical_Switch' | 'Logical_Router', [string, NbTableName][]> = { Logical_Switch: [], Logical_Router: [] };
  for (const { table, column, ref } of ownedRefs()) {
    if ((table === 'Logical_Switch' || table === 'Logical_Router') && ref.refType === 'strong' && ref.max > 1 && !ROOT.has(ref.refTable)) out[table].push([column, ref.refTable]);
  }
  return out;
})();

/** The columns NB element indexes must cover for PARENTS lookups, per table. */
export const PARENT_INDEXES: Readonly<Partial<Record<NbTableName, readonly string[]>>> = (() => {
  const out: Partial<Record<NbTableName, string[]>> = {};
  for (const pairs of Object.values(PARENTS)) for (const [t, c] of pairs ?? []) if (!(out[t] ??= []).includes(c)) out[t]!.push(c);
  return out;
})();
