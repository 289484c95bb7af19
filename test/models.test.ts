/**
 * The generated models (src/models/ovn-nb.ts, src/models/ovn-sb.ts) and their
 * generator, tools/gen-models.ts.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_NB_SCHEMA, DEFAULT_SB_SCHEMA, generateModels, rowInterfaceName } from '../tools/gen-models.js';
import type { LogicalRouterRow, NATRow, NbTables } from '../src/models/ovn-nb.js';
import { NB_SCHEMA_NAME, NB_TABLES } from '../src/models/ovn-nb.js';
import type { PortBindingRow, SbTables } from '../src/models/ovn-sb.js';
import { SB_SCHEMA_NAME, SB_TABLES } from '../src/models/ovn-sb.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NB_FILE = path.join(root, 'src', 'models', 'ovn-nb.ts');
const SB_FILE = path.join(root, 'src', 'models', 'ovn-sb.ts');
const TSX = path.join(root, 'node_modules', '.bin', 'tsx');
const GEN = path.join(root, 'tools', 'gen-models.ts');

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runGen(...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(TSX, [GEN, ...args], { cwd: root, timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function readJson(p: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(p, 'utf8')) as Record<string, unknown>;
}

// Compile-time checks (enforced by `tsc --noEmit`, which `npm test` runs first).
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
const typeChecks: true[] = [
  true as Equal<NATRow['type'], 'dnat' | 'snat' | 'dnat_and_snat'>,
  true as Equal<NATRow['gateway_port'], string | null>,
  true as Equal<NATRow['external_ids'], ReadonlyMap<string, string>>,
  true as Equal<NATRow['logical_ip'], string>,
  true as Equal<LogicalRouterRow['ports'], readonly string[]>,
  true as Equal<NbTables['NAT'], NATRow>,
  true as Equal<SbTables['Port_Binding'], PortBindingRow>,
  true as Equal<(typeof NB_TABLES)[number], keyof NbTables>,
  true as Equal<(typeof SB_TABLES)[number], keyof SbTables>,
];

t.test('committed models are what the generator makes from the installed schemas', async (t) => {
  const nb = generateModels(await readJson(DEFAULT_NB_SCHEMA), 'Nb', DEFAULT_NB_SCHEMA);
  const sb = generateModels(await readJson(DEFAULT_SB_SCHEMA), 'Sb', DEFAULT_SB_SCHEMA);
  t.ok(nb === (await readFile(NB_FILE, 'utf8')), 'src/models/ovn-nb.ts is current (else run `npm run gen-models`)');
  t.ok(sb === (await readFile(SB_FILE, 'utf8')), 'src/models/ovn-sb.ts is current (else run `npm run gen-models`)');

  const r = await runGen('--check');
  t.equal(r.code, 0, `gen-models --check exits 0 (stderr: ${r.stderr.trim()})`);
  t.match(r.stdout, /ovn-nb\.ts is up to date/);
  t.match(r.stdout, /ovn-sb\.ts is up to date/);
});

t.test('generation is deterministic and follows the schema', async (t) => {
  const json = await readJson(DEFAULT_NB_SCHEMA);
  const a = generateModels(json, 'Nb', DEFAULT_NB_SCHEMA);
  t.equal(generateModels(json, 'Nb', '/elsewhere/ovn-nb.ovsschema'), a, 'only the base name of the source path matters');

  // The same schema with tables and columns listed in reverse order gives the same output.
  const tables = json.tables as Record<string, { columns: Record<string, unknown> }>;
  const reversed: Record<string, unknown> = {};
  for (const name of Object.keys(tables).reverse()) {
    const cols = Object.fromEntries(Object.entries(tables[name].columns).reverse());
    reversed[name] = { ...tables[name], columns: cols };
  }
  t.equal(generateModels({ ...json, tables: reversed }, 'Nb', DEFAULT_NB_SCHEMA), a, 'independent of schema order');
  t.same([...NB_TABLES], Object.keys(tables).sort(), 'NB_TABLES lists every table, sorted');
  t.equal(NB_SCHEMA_NAME, 'OVN_Northbound');
  t.equal(SB_SCHEMA_NAME, 'OVN_Southbound');
});

t.test('a changed schema gives different output and --check reports the stale file', async (t) => {
  const json = await readJson(DEFAULT_NB_SCHEMA);
  const tables = json.tables as Record<string, { columns: Record<string, unknown> }>;
  tables.NAT.columns.extra_test_column = { type: { key: 'integer', min: 0, max: 1 } };
  const dir = t.testdir({ 'ovn-nb.ovsschema': JSON.stringify(json, null, 2), out: {} });
  const modified = path.join(dir, 'ovn-nb.ovsschema');

  const text = generateModels(json, 'Nb', modified);
  t.not(text, await readFile(NB_FILE, 'utf8'), 'output differs from the committed file');
  t.match(text, /export interface NATRow \{(?:(?!\n\}\n)[\s\S])*readonly extra_test_column: number \| null;/);

  const stale = await runGen('--check', '--nb', modified);
  t.equal(stale.code, 1, 'exit status 1');
  t.match(stale.stderr, /src\/models\/ovn-nb\.ts is out of date/, 'names the stale file');
  t.match(stale.stderr, /npm run gen-models/, 'says how to regenerate');
  t.notMatch(stale.stderr, /ovn-sb\.ts/, 'the SB file is not reported');
  t.match(stale.stdout, /ovn-sb\.ts is up to date/);

  // Write mode into a scratch directory, then --check against it.
  const out = path.join(dir, 'out');
  const write = await runGen('--nb', modified, '--out', out);
  t.equal(write.code, 0, `writes (stderr: ${write.stderr.trim()})`);
  t.equal(await readFile(path.join(out, 'ovn-nb.ts'), 'utf8'), text, 'written file equals generateModels output');
  t.equal(await readFile(path.join(out, 'ovn-sb.ts'), 'utf8'), await readFile(SB_FILE, 'utf8'));
  t.equal((await runGen('--check', '--nb', modified, '--out', out)).code, 0, 'fresh output passes --check');

  await writeFile(path.join(out, 'ovn-sb.ts'), 'stale\n');
  const bad = await runGen('--check', '--nb', modified, '--out', out);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /ovn-sb\.ts is out of date/);
});

t.test('spot checks of the generated NB and SB models', async (t) => {
  const nb = await readFile(NB_FILE, 'utf8');
  const sb = await readFile(SB_FILE, 'utf8');
  t.ok(typeChecks.every(Boolean));

  t.match(nb, /^\/\/ Code generated by tools\/gen-models\.ts\. DO NOT EDIT BY HAND\./);
  t.match(nb, /schema OVN_Northbound version \d+\.\d+\.\d+, cksum \d+ \d+/);
  t.match(sb, /schema OVN_Southbound version \d+\.\d+\.\d+, cksum \d+ \d+/);

  const block = (src: string, name: string): string => {
    const m = new RegExp(`export interface ${name} \\{\\n([\\s\\S]*?)\\n\\}\\n`).exec(src);
    if (!m) throw new Error(`no interface ${name}`);
    return m[1];
  };
  const nat = block(nb, 'NATRow');
  t.match(nat, /readonly _uuid: string;/);
  t.match(nat, /readonly type: 'dnat' \| 'snat' \| 'dnat_and_snat';/);
  t.match(nat, /\/\*\* set of 0\.\.1 uuid → Logical_Router_Port \(weak\) \*\/\n\s+readonly gateway_port: string \| null;/);
  t.match(nat, /readonly external_ids: ReadonlyMap<string, string>;/);
  t.match(block(nb, 'LogicalRouterRow'), /readonly ports: readonly string\[\];/);
  t.match(block(nb, 'LogicalRouterPortRow'), /readonly networks: readonly string\[\];/);
  t.match(nb, /export interface NBGlobalRow \{/);
  t.match(nb, /export interface ACLRow \{/);
  t.match(nb, /export interface NbTables \{[^}]*\n {2}Logical_Router: LogicalRouterRow;/);
  t.match(nb, /export const NB_SCHEMA_CKSUM = '\d+ \d+';/);
  t.match(sb, /export interface SbTables \{[^}]*\n {2}Port_Binding: PortBindingRow;/);
  t.match(sb, /export const SB_TABLES = \[\n {2}'Address_Set',/);

  // Columns are sorted within each interface.
  const cols = [...nat.matchAll(/readonly (\w+):/g)].map((m) => m[1]);
  t.same(cols, [...cols].sort(), 'NATRow columns sorted');
});

t.test('odd schemas: quoted names, integer-keyed maps, enums, bounds', async (t) => {
  t.equal(rowInterfaceName('Logical_Router_Port'), 'LogicalRouterPortRow');
  t.equal(rowInterfaceName('NAT'), 'NATRow');
  t.equal(rowInterfaceName('DHCPv6_Options'), 'DHCPv6OptionsRow');
  t.equal(rowInterfaceName('NB_Global'), 'NBGlobalRow');

  const text = generateModels(
    {
      name: 'Test_DB',
      version: '1.2.3',
      tables: {
        T_b: {
          columns: {
            'odd-name': { type: 'string' },
            by_int: { type: { key: { type: 'integer', minInteger: 0 }, value: 'string', min: 0, max: 'unlimited' } },
            level: { type: { key: { type: 'integer', enum: ['set', [1, 2, 3]] } } },
            flags: { type: { key: { type: 'string', enum: ['set', ['a', 'b']] }, min: 0, max: 'unlimited' } },
            one_flag: { type: { key: { type: 'string', enum: 'only' }, min: 1, max: 2 } },
            ratio: { type: { key: { type: 'real', maxReal: 1.5 }, min: 0, max: 1 }, ephemeral: true, mutable: false },
            kv: { type: { key: { type: 'string', enum: ['set', ['x', "it's"]] }, value: 'boolean', min: 0, max: 'unlimited' } },
            ref: { type: { key: { type: 'uuid', refTable: 'T_a' }, min: 1, max: 'unlimited' } },
          },
        },
        T_a: { columns: { name: { type: { key: { type: 'string', minLength: 1, maxLength: 8 } } } } },
      },
    },
    'Nb',
    'test.ovsschema',
  );
  t.match(text, /cksum \(none\)/);
  t.match(text, /export const NB_SCHEMA_CKSUM = '';/);
  t.ok(text.indexOf('interface TARow') < text.indexOf('interface TBRow'), 'tables sorted');
  t.match(text, /readonly 'odd-name': string;/);
  t.match(text, /\/\*\* map of 0\.\.unlimited integer ≥ 0 → string \*\/\n\s+readonly by_int: ReadonlyMap<number, string>;/);
  t.match(text, /readonly level: 1 \| 2 \| 3;/);
  t.match(text, /readonly flags: readonly \('a' \| 'b'\)\[\];/);
  t.match(text, /\/\*\* set of 1\.\.2 string ∈ \{'only'\} \*\/\n\s+readonly one_flag: readonly 'only'\[\];/);
  t.match(text, /\/\*\* set of 0\.\.1 real ≤ 1\.5; ephemeral; immutable \*\/\n\s+readonly ratio: number \| null;/);
  t.match(text, /readonly kv: ReadonlyMap<'x' \| 'it\\'s', boolean>;/);
  t.match(text, /\/\*\* set of 1\.\.unlimited uuid → T_a \(strong\) \*\/\n\s+readonly ref: readonly string\[\];/);
  t.match(text, /\/\*\* string of length in \[1, 8\] \*\/\n\s+readonly name: string;/);

  t.throws(
    () => generateModels({ name: 'X', tables: { A_B: { columns: {} }, AB: { columns: {} } } }, 'Sb', 'x'),
    /both map to interface ABRow/,
  );
});
