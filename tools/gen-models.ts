// Generate typed row interfaces for the OVN Northbound and Southbound databases
// from their .ovsschema files.
//
//   npx tsx tools/gen-models.ts [--check] [--nb PATH] [--sb PATH] [--out DIR]
//
// Writes <out>/ovn-nb.ts and <out>/ovn-sb.ts (default out dir: src/models of this
// repository). With --check nothing is written: the output is generated in memory
// and compared with the files on disk, and the exit status is 1 if any is stale.
//
// The property types follow the native value form of src/ovsdb/schema.ts:
//   exactly one atom -> the atom; optional atom -> atom | null;
//   other sets -> readonly array of atoms; maps -> ReadonlyMap<K, V>;
// and enums become literal unions.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseSchema, type Atom, type BaseType, type ColumnSchema, type TableSchema } from '../src/ovsdb/schema.js';

export const DEFAULT_NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
export const DEFAULT_SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT_DIR = path.join(REPO_ROOT, 'src', 'models');
/** Output file name per prefix. */
export const MODEL_FILES = { Nb: 'ovn-nb.ts', Sb: 'ovn-sb.ts' } as const;

const IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Code-unit order, independent of the locale. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A single-quoted TypeScript string literal. */
function tsString(s: string): string {
  return `'${JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

function propName(name: string): string {
  return IDENT_RE.test(name) ? name : tsString(name);
}

/** Text safe inside a single-line TSDoc comment. */
function docText(s: string): string {
  return s.replace(/\*\//g, '*\\/').replace(/[\r\n]+/g, ' ');
}

/** `Logical_Router_Port` -> `LogicalRouterPortRow`, `NAT` -> `NATRow`. */
export function rowInterfaceName(table: string): string {
  const base = table
    .split('_')
    .filter((p) => p !== '')
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
  const name = `${base}Row`;
  if (!IDENT_RE.test(name)) throw new Error(`table "${table}" does not give a valid interface name ("${name}")`);
  return name;
}

// ---------------------------------------------------------------- TypeScript types

function literal(a: Atom): string {
  return typeof a === 'string' ? tsString(a) : String(a);
}

/** The TypeScript type of one atom of a base type (enums in schema order). */
function atomType(bt: BaseType): string {
  if (bt.enum && bt.enum.size > 0) {
    if (bt.type === 'boolean' && bt.enum.size === 2) return 'boolean';
    return [...bt.enum].map(literal).join(' | ');
  }
  switch (bt.type) {
    case 'integer':
    case 'real':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
    case 'uuid':
      return 'string';
  }
}

function isUnion(t: string): boolean {
  return t.includes(' | ');
}

function columnTsType(c: ColumnSchema): string {
  const ct = c.type;
  const k = atomType(ct.key);
  switch (ct.kind) {
    case 'scalar':
      return k;
    case 'optional':
      return `${k} | null`;
    case 'set':
      return `readonly ${isUnion(k) ? `(${k})` : k}[]`;
    case 'map':
      return `ReadonlyMap<${k}, ${atomType(ct.value!)}>`;
  }
}

// ---------------------------------------------------------------- OVSDB type descriptions

function baseDesc(bt: BaseType): string {
  let s: string = bt.type;
  if (bt.enum && bt.enum.size > 0) s += ` ∈ {${[...bt.enum].map(literal).join(', ')}}`;
  const range = (lo: number | undefined, hi: number | undefined): string =>
    lo !== undefined && hi !== undefined ? ` in [${lo}, ${hi}]` : lo !== undefined ? ` ≥ ${lo}` : hi !== undefined ? ` ≤ ${hi}` : '';
  if (bt.type === 'integer') s += range(bt.minInteger, bt.maxInteger);
  if (bt.type === 'real') s += range(bt.minReal, bt.maxReal);
  if (bt.type === 'string' && (bt.minLength !== undefined || bt.maxLength !== undefined)) {
    s += ' of length' + range(bt.minLength, bt.maxLength);
  }
  if (bt.refTable !== undefined) s += ` → ${bt.refTable} (${bt.refType ?? 'strong'})`;
  return s;
}

function columnDesc(c: ColumnSchema): string {
  const ct = c.type;
  const bounds = `${ct.min}..${ct.max === Infinity ? 'unlimited' : ct.max}`;
  let s: string;
  if (ct.kind === 'scalar') s = baseDesc(ct.key);
  else if (ct.kind === 'map') {
    const wrap = (bt: BaseType): string => (bt.refTable !== undefined ? `(${baseDesc(bt)})` : baseDesc(bt));
    s = `map of ${bounds} ${wrap(ct.key)} → ${wrap(ct.value!)}`;
  } else s = `set of ${bounds} ${baseDesc(ct.key)}`;
  if (c.ephemeral) s += '; ephemeral';
  if (!c.mutable) s += '; immutable';
  return s;
}

function tableDesc(dbName: string, t: TableSchema): string {
  const parts = [t.isRoot ? 'root' : 'non-root'];
  if (t.maxRows !== undefined) parts.push(`at most ${t.maxRows} row${t.maxRows === 1 ? '' : 's'}`);
  if (t.indexes.length > 0) parts.push(`indexes: ${t.indexes.map((ix) => `(${ix.join(', ')})`).join(', ')}`);
  return `A row of ${dbName} table ${t.name} (${parts.join('; ')}).`;
}

// ---------------------------------------------------------------- generation

/**
 * The TypeScript source of the models of one database schema.
 * `sourcePath` is only used (by its base name) in the header comment, so the
 * output does not depend on where the schema is installed.
 */
export function generateModels(schemaJson: unknown, prefix: 'Nb' | 'Sb', sourcePath: string): string {
  const schema = parseSchema(schemaJson);
  const upper = prefix.toUpperCase();
  const tables = [...schema.tables.values()].sort((a, b) => byCodeUnit(a.name, b.name));
  const sourceName = sourcePath.split(/[\\/]/).pop() || sourcePath;

  const names = new Map<string, string>();
  for (const t of tables) {
    const n = rowInterfaceName(t.name);
    const clash = names.get(n);
    if (clash !== undefined) throw new Error(`tables "${clash}" and "${t.name}" both map to interface ${n}`);
    names.set(n, t.name);
  }

  const out: string[] = [];
  out.push(
    '// Code generated by tools/gen-models.ts. DO NOT EDIT BY HAND.',
    `// Source: ${docText(sourceName)}, schema ${docText(schema.name)} version ${docText(schema.version || '(none)')}, cksum ${docText(schema.cksum ?? '(none)')}.`,
    '// Regenerate with `npm run gen-models`; `npm run gen-models -- --check` tells whether it is current.',
    '//',
    '// Column types follow the native value form of src/ovsdb/schema.ts: exactly one atom -> the atom,',
    '// optional atom -> atom | null, other sets -> readonly arrays, maps -> ReadonlyMap; uuid -> string.',
    '',
    '/** A reference column: the table referred to, strong or weak, in the key or the value, at most `max` UUIDs. */',
    'export interface SchemaRef<T extends string = string> {',
    '  readonly refTable: T;',
    "  readonly refType: 'strong' | 'weak';",
    "  readonly in: 'key' | 'value';",
    '  readonly max: number;',
    '}',
    '',
  );

  for (const t of tables) {
    out.push(`/** ${docText(tableDesc(schema.name, t))} */`);
    out.push(`export interface ${rowInterfaceName(t.name)} {`);
    out.push('  /** uuid: the UUID of the row */', '  readonly _uuid: string;');
    const cols = [...t.columns.values()].sort((a, b) => byCodeUnit(a.name, b.name));
    for (const c of cols) {
      if (c.name === '_uuid') throw new Error(`table ${t.name}: column name "_uuid" is reserved`);
      out.push(`  /** ${docText(columnDesc(c))} */`);
      out.push(`  readonly ${propName(c.name)}: ${columnTsType(c)};`);
    }
    out.push('}', '');
  }

  out.push(`/** The row type of each table of ${docText(schema.name)}. */`);
  out.push(`export interface ${prefix}Tables {`);
  for (const t of tables) out.push(`  ${propName(t.name)}: ${rowInterfaceName(t.name)};`);
  out.push('}', '');

  out.push(`export const ${upper}_SCHEMA_NAME = ${tsString(schema.name)};`);
  out.push(`export const ${upper}_SCHEMA_VERSION = ${tsString(schema.version)};`);
  out.push(`export const ${upper}_SCHEMA_CKSUM = ${tsString(schema.cksum ?? '')};`, '');

  out.push(
    `/** The root tables of ${docText(schema.name)} (ovsdb(7): a row of another table lives only while a row refers to it strongly). */`,
    `export const ${upper}_ROOT_TABLES: ReadonlySet<keyof ${prefix}Tables> = new Set([`,
  );
  for (const t of tables) if (t.isRoot) out.push(`  ${tsString(t.name)},`);
  out.push(']);', '');

  out.push(
    '/**',
    ` * The reference columns of ${docText(schema.name)}: table -> column -> the table referred to, strong or weak,`,
    ' * where in the column the UUIDs are (the key of a set, optional value or map, or a map\'s value) and the',
    ' * most UUIDs it holds (Infinity: unlimited).',
    ' */',
    `export const ${upper}_REFS: { readonly [T in keyof ${prefix}Tables]?: Readonly<Record<string, SchemaRef<keyof ${prefix}Tables>>> } = {`,
  );
  for (const t of tables) {
    const refs: string[] = [];
    for (const c of [...t.columns.values()].sort((a, b) => byCodeUnit(a.name, b.name))) {
      for (const [where, bt] of [['key', c.type.key], ['value', c.type.value]] as const) {
        if (bt?.refTable === undefined) continue;
        const max = c.type.max === Infinity ? 'Infinity' : String(c.type.max);
        refs.push(`    ${propName(c.name)}: { refTable: ${tsString(bt.refTable)}, refType: ${tsString(bt.refType ?? 'strong')}, in: ${tsString(where)}, max: ${max} },`);
      }
    }
    if (refs.length === 0) continue;
    out.push(`  ${propName(t.name)}: {`, ...refs, '  },');
  }
  out.push('};', '');

  out.push(`/** The tables of ${docText(schema.name)}, sorted by name. */`);
  out.push(`export const ${upper}_TABLES = [`);
  for (const t of tables) out.push(`  ${tsString(t.name)},`);
  out.push('] as const;', '');

  return out.join('\n');
}

// ---------------------------------------------------------------- CLI

export interface CliOptions {
  check: boolean;
  nb: string;
  sb: string;
  out: string;
}

const USAGE = 'usage: gen-models.ts [--check] [--nb PATH] [--sb PATH] [--out DIR]';

export function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = { check: false, nb: DEFAULT_NB_SCHEMA, sb: DEFAULT_SB_SCHEMA, out: DEFAULT_OUT_DIR };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') {
      opts.check = true;
      continue;
    }
    const m = /^--(nb|sb|out)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument "${arg}"`);
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === '') throw new Error(`--${m[1]} needs a value`);
    opts[m[1] as 'nb' | 'sb' | 'out'] = value;
  }
  return opts;
}

function firstDifferentLine(a: string, b: string): number {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return i + 1;
  return 0;
}

/** Run the generator; returns the process exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`gen-models: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const jobs = [
    { prefix: 'Nb' as const, schemaPath: opts.nb },
    { prefix: 'Sb' as const, schemaPath: opts.sb },
  ];
  const generated: { file: string; schemaPath: string; text: string }[] = [];
  for (const job of jobs) {
    let text: string;
    try {
      const json: unknown = JSON.parse(await readFile(job.schemaPath, 'utf8'));
      text = generateModels(json, job.prefix, job.schemaPath);
    } catch (e) {
      process.stderr.write(`gen-models: ${job.schemaPath}: ${(e as Error).message}\n`);
      return 2;
    }
    generated.push({ file: path.join(opts.out, MODEL_FILES[job.prefix]), schemaPath: job.schemaPath, text });
  }

  const shown = (f: string): string => path.relative(process.cwd(), f) || f;
  if (opts.check) {
    let stale = 0;
    for (const g of generated) {
      const onDisk = await readIfPresent(g.file);
      if (onDisk === g.text) {
        process.stdout.write(`${shown(g.file)} is up to date\n`);
        continue;
      }
      stale++;
      const why =
        onDisk === undefined
          ? `is missing (it is generated from ${g.schemaPath})`
          : `is out of date with respect to ${g.schemaPath} (first difference at line ${firstDifferentLine(onDisk, g.text)})`;
      process.stderr.write(`gen-models: ${shown(g.file)} ${why}\n`);
    }
    if (stale > 0) {
      const custom = opts.nb !== DEFAULT_NB_SCHEMA || opts.sb !== DEFAULT_SB_SCHEMA || opts.out !== DEFAULT_OUT_DIR;
      process.stderr.write(
        `gen-models: run \`npm run gen-models\`${custom ? ' (with the same --nb/--sb/--out options)' : ''} to regenerate\n`,
      );
      return 1;
    }
    return 0;
  }

  await mkdir(opts.out, { recursive: true });
  for (const g of generated) {
    const onDisk = await readIfPresent(g.file);
    if (onDisk === g.text) {
      process.stdout.write(`${shown(g.file)} unchanged\n`);
    } else {
      await writeFile(g.file, g.text);
      process.stdout.write(`wrote ${shown(g.file)} from ${g.schemaPath}\n`);
    }
  }
  return 0;
}

/** A file's text, or undefined when it cannot be read (not generated yet). */
async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.exitCode = await main(process.argv.slice(2));
}
