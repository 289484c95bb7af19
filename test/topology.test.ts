/**
 * The planner's schema facts (src/nat/topology.ts) come from the generated
 * model, which test/models.test.ts keeps equal to the installed
 * ovn-nb.ovsschema: what the planner relies on, checked against it.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { DEFAULT_NB_SCHEMA } from '../tools/gen-models.js';
import { CHILD_COLUMNS, OWNED_TABLES, PARENTS, ROOT, ROOT_REFS } from '../src/nat/topology.js';
import { NB_INDEXES } from '../src/nat/nb-view.js';

type Col = { type: string | { key: string | { refTable?: string; refType?: string }; max?: number | string } };
const schema = JSON.parse(await readFile(DEFAULT_NB_SCHEMA, 'utf8')) as { tables: Record<string, { isRoot?: boolean; columns: Record<string, Col> }> };
const refOf = (table: string, column: string) => {
  const ty = schema.tables[table].columns[column].type;
  const key = typeof ty === 'object' && typeof ty.key === 'object' ? ty.key : undefined;
  return key?.refTable ? { refTable: key.refTable, refType: key.refType ?? 'strong', max: typeof ty === 'object' ? (ty.max ?? 1) : 1 } : undefined;
};

t.test('root tables are the schema\'s isRoot tables among the owned ones', async (t) => {
  for (const tab of OWNED_TABLES) t.equal(ROOT.has(tab), schema.tables[tab].isRoot === true, tab);
  t.notOk(ROOT.has('NAT'), 'a NAT row goes by leaving its router');
});

t.test('every parent column is a set column of the schema that refers to the child table, with an element index', async (t) => {
  for (const [child, pairs] of Object.entries(PARENTS)) {
    for (const [pt, col] of pairs!) {
      const r = refOf(pt, col);
      t.equal(r?.refTable, child, `${pt}.${col} refers to ${child}`);
      t.ok(r && r.max !== 1, `${pt}.${col} is a set`);
      t.ok(NB_INDEXES[pt]?.includes(col), `${pt} indexes ${col}`);
    }
  }
  // every owned non-root table has a parent, so a row of it can be attached and found again
  for (const tab of OWNED_TABLES) if (!ROOT.has(tab)) t.ok((PARENTS[tab] ?? []).length > 0, `${tab} has a parent`);
  t.same(PARENTS.Gateway_Chassis, [['Logical_Router_Port', 'gateway_chassis']]);
});

t.test('root references to clear are single strong references to owned root tables', async (t) => {
  for (const [tab, cols] of Object.entries(ROOT_REFS)) {
    for (const c of cols!) {
      const r = refOf(tab, c)!;
      t.ok(ROOT.has(r.refTable as never) && r.refType === 'strong' && r.max === 1, `${tab}.${c} -> ${r.refTable}`);
    }
  }
  t.ok(ROOT_REFS.Logical_Router_Port?.includes('ha_chassis_group'), 'a BFD port clears its HA chassis group');
  t.ok(ROOT_REFS.NAT?.includes('allowed_ext_ips') && ROOT_REFS.NAT?.includes('exempted_ext_ips'), 'a NAT clears its address sets');
});

t.test('a router takes along its ports, NAT, routes and policies; a switch its ports', async (t) => {
  t.same(new Set(CHILD_COLUMNS.Logical_Router.map(([c]) => c)), new Set(['ports', 'nat', 'static_routes', 'policies']));
  t.same(CHILD_COLUMNS.Logical_Switch.map(([c]) => c), ['ports']);
});
