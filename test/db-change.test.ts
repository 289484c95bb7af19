/**
 * Online schema conversion against a real ovsdb-server (ovsdb-server(7):
 * set_db_change_aware, monitor_canceled).
 *
 * The client sends set_db_change_aware, so when `ovsdb-client convert` changes
 * the NB schema under it (a copy of ovn-nb.ovsschema with a bumped version, a
 * new Logical_Router column and a new table), the server cancels the monitors
 * (monitor_canceled) instead of closing the connection. The client then takes
 * the new schema and monitors again on the same connection.
 *
 * What a replica holds after a conversion (the rule the test checks):
 *   - a table given as `true` means "every column the schema has": it gains
 *     the new column, and each of its rows is announced as an `update` (old row
 *     without the column, new row with it), never as a second `insert`;
 *   - a table given with `columns` keeps exactly those columns (no event);
 *   - a new table never appears: a replica names its tables, there is no
 *     "all tables" spec; `table('<new>')` throws "not monitored".
 *   - a table or column the spec lists that a later schema lacks is left out
 *     of the monitor (as the C IDL does), listed in `replica.missing` and
 *     logged once as a warning; its rows are announced as deleted (table) or
 *     updated (column), and it comes back with a schema that has it again;
 *   - a name the database did not have when the replica was first bound is
 *     the caller's error (ReplicaSpecError): thrown at once on a connected
 *     client, else the replica's `ready` rejects, alone, without a reconnect.
 * The client's schema follows the conversion too, also on a client with no
 * replica at all (it has no monitor to cancel; it learns the new schema from
 * its _Server monitor), so a transaction using the new column and table is
 * not refused as unknown.
 */
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { isDeepStrictEqual } from 'node:util';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { ops, where } from '../src/ovsdb/operations.js';
import type { Replica } from '../src/ovsdb/replica.js';
import { findBinary, run, SCHEMAS } from '../tools/sandbox-lib.js';
import { nbctl, ovsdbClientDump, withSandbox } from './helpers/sandbox.js';
import { until } from './helpers/util.js';
import { expectSynced, mirrorOf, replicaState } from './helpers/replica-state.js';

const DB = 'OVN_Northbound';
const NEW_VERSION = '7.0.99';

const sb = await withSandbox(t, { northd: false });

/** A counter of a client's connection events. */
function watchClient(c: OvsdbClient) {
  const seen = { connected: 0, disconnected: 0, canceled: [] as unknown[] };
  c.on('connected', () => seen.connected++);
  c.on('disconnected', () => seen.disconnected++);
  c.on('monitor_canceled', (id) => seen.canceled.push(id));
  return seen;
}

t.test('convert online: monitors re-established on the same connection, replica == dump, schema refreshed', async (t) => {
  // rows before the conversion
  await nbctl(sb, 'lr-add', 'r1', '--', 'lr-nat-add', 'r1', 'snat', '172.16.0.10', '10.0.1.0/24', '--', 'lr-add', 'r2', '--', 'ls-add', 'sw1');

  const c = new OvsdbClient({ remote: sb.nbRemote, database: DB, minBackoffMs: 100, maxBackoffMs: 500, requestTimeoutMs: 20_000 });
  const bare = new OvsdbClient({ remote: sb.nbRemote, database: DB, minBackoffMs: 100, maxBackoffMs: 500, requestTimeoutMs: 20_000 });
  t.teardown(async () => {
    await c.close();
    await bare.close();
  });
  const rep = c.replica({ tables: { Logical_Router: true, NAT: true, Logical_Switch: { columns: ['name', 'external_ids'] } } });
  const tables = ['Logical_Router', 'NAT', 'Logical_Switch'];
  const mirror = mirrorOf(rep, tables);
  const cs = watchClient(c);
  const bs = watchClient(bare);
  await c.connect(20_000);
  await bare.connect(20_000);
  await rep.ready;
  const oldSchema = c.schema!;
  t.equal(oldSchema.version, '7.0.0');
  t.equal(rep.stats.fullSyncs, 1);
  await until('mirror to hold the initial rows', () => isDeepStrictEqual(mirror.state(), replicaState(rep, tables)));
  const routersBefore = rep.table('Logical_Router').filter(() => true).map((r) => r._uuid);
  const natBefore = replicaState(rep, ['NAT']);
  const eventsBefore = mirror.events.length;

  // before the conversion, the new column is unknown to the client (it is refused before sending)
  await t.rejects(
    c.transact([ops.update('Logical_Router', [where.eq('name', 'r1')], { natgw_note: 'x' })]),
    /natgw_note/,
    'the new column is unknown before the conversion',
  );

  // a real schema change: bumped version, one more column, one more table
  const schema = JSON.parse(await readFile(SCHEMAS.nb, 'utf8')) as {
    version: string;
    cksum?: string;
    tables: Record<string, { columns: Record<string, unknown>; isRoot?: boolean }>;
  };
  schema.version = NEW_VERSION;
  delete schema.cksum;
  schema.tables.Logical_Router.columns.natgw_note = { type: { key: 'string', min: 0, max: 1 } };
  schema.tables.Natgw_Test = { columns: { name: { type: 'string' } }, isRoot: true };
  const schemaFile = path.join(sb.dir, 'nb-converted.ovsschema');
  await writeFile(schemaFile, JSON.stringify(schema));
  await run(await findBinary('ovsdb-client'), ['--timeout=30', 'convert', sb.nbRemote, schemaFile], { timeoutMs: 40_000 });
  // the server now has it
  const dumped = await ovsdbClientDump(sb.nbRemote, DB, 'Logical_Router');
  t.ok(dumped.Logical_Router.every((r) => 'natgw_note' in r), 'ovsdb-client dump shows the new column');

  // (with or without a reconnect the client ends with the new schema; what follows tells them apart)
  await until('the client to take the new schema', () => c.schema?.version === NEW_VERSION);
  t.strictSame(cs.canceled, [rep.monitorId], 'the server canceled our monitor (monitor_canceled), once');
  const newSchema = c.schema!;
  t.ok(newSchema.tables.get('Logical_Router')!.columns.has('natgw_note'), "the client's schema has the new column");
  t.ok(newSchema.tables.has('Natgw_Test'), "the client's schema has the new table");

  // the replica ends equal to ovsdb-client dump after the conversion
  await until('the replica to have the new column', () => rep.table('Logical_Router').filter((r) => 'natgw_note' in r).length === routersBefore.length);
  await expectSynced(t, rep, sb.nbRemote, newSchema, ['Logical_Router', 'NAT'], 'Logical_Router (all columns, now with natgw_note) and NAT == dump');
  await expectSynced(t, rep, sb.nbRemote, newSchema, ['Logical_Switch'], 'Logical_Switch (its listed columns only) == dump', {
    columns: ['name', 'external_ids'],
  });
  t.notOk(rep.table('Logical_Switch').filter(() => true).some((r) => 'natgw_note' in r || 'ports' in r), 'a column-listed table keeps only its columns');
  t.throws(() => (rep as Replica<any>).table('Natgw_Test'), /not monitored/, 'a new table does not appear in a replica that names its tables');
  t.strictSame(replicaState(rep, ['NAT']), natBefore, 'NAT is unchanged');

  // without a reconnect
  t.equal(cs.disconnected, 0, "no 'disconnected' event");
  t.equal(cs.connected, 1, 'connected once, before the conversion');
  t.ok(c.connected, 'still connected');
  t.equal(bs.disconnected, 0, "the client without replicas saw no 'disconnected' either");
  t.strictSame(bs.canceled, [], 'and no monitor_canceled (it has no monitor of the NB database)');

  // change events make a listener's view right: one update per router (the
  // row gained a column), no insert for a row the listener already has, and
  // nothing for the unchanged tables
  const after = mirror.events.slice(eventsBefore);
  t.strictSame(
    after.map((e) => `${e.kind} ${e.table}`).sort(),
    routersBefore.map(() => 'update Logical_Router'),
    'the conversion is announced as one update per Logical_Router row',
  );
  for (const e of after) {
    t.ok(e.old && !('natgw_note' in e.old) && (e.row as Record<string, unknown>).natgw_note === null, `update of ${e.row._uuid}: old without, new with the (empty) column`);
  }
  t.strictSame(mirror.state(), replicaState(rep, tables), "the listener's view equals the replica");

  // the refreshed schema is used for transactions: the new column and table work
  const mark = mirror.events.length;
  await c.transact([ops.update('Logical_Router', [where.eq('name', 'r1')], { natgw_note: 'hello' }), ops.insert('Natgw_Test', { name: 'n1' })]);
  const lr = await ovsdbClientDump(sb.nbRemote, DB, 'Logical_Router', 'name', 'natgw_note');
  t.strictSame(lr.Logical_Router.find((r) => r.name === 'r1')?.natgw_note, 'hello', 'dump shows the new column written by the client');
  t.strictSame((await ovsdbClientDump(sb.nbRemote, DB, 'Natgw_Test', 'name')).Natgw_Test.map((r) => r.name), ['n1'], 'and the row in the new table');
  await expectSynced(t, rep, sb.nbRemote, newSchema, ['Logical_Router'], 'the replica follows a change of the new column');
  await until('the update event', () => mirror.events.length > mark);
  t.strictSame(
    mirror.events.slice(mark).map((e) => [e.kind, e.table, (e.row as Record<string, unknown>).natgw_note]),
    [['update', 'Logical_Router', 'hello']],
    'announced as one update',
  );

  // later changes by other writers still arrive on the re-established monitor
  await nbctl(sb, 'lr-nat-add', 'r2', 'dnat_and_snat', '172.16.0.20', '10.0.2.20', '--', 'lr-del', 'r1');
  await expectSynced(t, rep, sb.nbRemote, newSchema, ['Logical_Router', 'NAT'], 'after ovn-nbctl changes on the converted database');
  await until("the listener's view to follow", () => isDeepStrictEqual(mirror.state(), replicaState(rep, tables)));
  t.pass("the listener's view follows");

  // a client without replicas has no monitor to cancel and hears nothing of the
  // conversion (ovsdb-server 3.1 does not even update _Server.Database.schema of
  // a standalone database); a transaction naming the new column makes it fetch
  // the schema again instead of refusing the column as unknown
  t.equal(bare.schema?.version, '7.0.0', 'the client without replicas still has the old schema');
  await bare.transact([ops.update('Logical_Router', [where.eq('name', 'r2')], { natgw_note: 'bare' }), ops.insert('Natgw_Test', { name: 'n2' })]);
  const lr2 = await ovsdbClientDump(sb.nbRemote, DB, 'Logical_Router', 'name', 'natgw_note');
  t.strictSame(lr2.Logical_Router.find((r) => r.name === 'r2')?.natgw_note, 'bare', 'a client without replicas writes the new column');
  t.equal(bare.schema?.version, NEW_VERSION, 'and now has the new schema');
  await t.rejects(
    bare.transact([ops.update('Logical_Router', [where.eq('name', 'r2')], { no_such_column: 'x' })]),
    /no column "no_such_column" in table Logical_Router/,
    'a column the server does not have either is still refused, naming it',
  );

  t.equal(cs.disconnected + bs.disconnected, 0, 'still no reconnect on either client');
  t.equal(cs.connected + bs.connected, 2);
});

t.test('convert online to a schema without a table and a column a replica lists: left out, no reconnect, back when they return', async (t) => {
  // after the first test: the database has version NEW_VERSION, Logical_Router.natgw_note and Natgw_Test
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  const c = new OvsdbClient({ remote: sb.nbRemote, database: DB, minBackoffMs: 100, maxBackoffMs: 500, requestTimeoutMs: 20_000, logger });
  t.teardown(() => c.close());
  const cs = watchClient(c);

  // a name the database never had is the caller's error: said at once, nothing registered, and no reconnect loop
  const typo = c.replica({ tables: { Logical_Router: { columns: ['name', 'no_such_column'] } } });
  const good = c.replica({ tables: { Logical_Switch: { columns: ['name'] } } });
  await c.connect(20_000);
  await t.rejects(typo.ready, { name: 'ReplicaSpecError', message: /table Logical_Router has no column no_such_column \(database OVN_Northbound, schema version 7\.0\.99\)/ }, 'a replica made before connecting fails alone, naming the column');
  await good.ready;
  t.pass('another replica of the same client syncs');
  t.throws(() => c.replica({ tables: { No_Such_Table: true } as never }), { name: 'ReplicaSpecError', message: /table No_Such_Table does not exist/ }, 'a replica made while connected throws at once');
  t.throws(
    () => c.replica({ tables: { Logical_Router: { columns: ['name'] } }, indexes: { Logical_Router: ['external_ids:name'] } }),
    { name: 'ReplicaSpecError', message: /index "external_ids:name": column external_ids is not monitored/ },
    'so does an index over a column the replica does not monitor',
  );
  t.throws(
    () => c.replica({ tables: { Logical_Router: { columns: ['name'], where: [['no_such_column', '==', 'x']] } } }),
    { name: 'ReplicaSpecError', message: /condition on column no_such_column: table Logical_Router has no column no_such_column/ },
    'and a condition on a column the table does not have',
  );

  // (ovn-nbctl knows only its compiled schema: the extra column and table are written by the client)
  await nbctl(sb, 'lr-add', 'q1', '--', 'lr-add', 'q2');
  await c.transact([ops.update('Logical_Router', [where.eq('name', 'q1')], { natgw_note: 'kept' }), ops.insert('Natgw_Test', { name: 'gone-soon' })]);
  const rep = c.replica<any>({
    tables: { Logical_Router: { columns: ['name', 'natgw_note'] }, Natgw_Test: true },
    indexes: { Logical_Router: ['natgw_note'], Natgw_Test: ['name'] },
  });
  // a replica whose row condition uses the column that will go away
  const byNote = c.replica<any>({ tables: { Logical_Router: { columns: ['name'], where: [['natgw_note', '==', 'kept']] } } });
  await rep.ready;
  await byNote.ready;
  const mirror = mirrorOf(rep, ['Logical_Router', 'Natgw_Test']);
  t.strictSame(rep.missing, [], 'nothing missing before');
  t.strictSame(rep.table('Logical_Router').lookup('natgw_note', 'kept').map((r) => r.name), ['q1'], 'the index on natgw_note finds q1');
  const testRows = rep.table('Natgw_Test').size;
  t.ok(testRows >= 1, `Natgw_Test has rows (${testRows})`);
  const routers = rep.table('Logical_Router').size;

  // convert to the original schema (no natgw_note, no Natgw_Test), under another version
  const convert = async (version: string, withExtras: boolean) => {
    const schema = JSON.parse(await readFile(SCHEMAS.nb, 'utf8')) as { version: string; cksum?: string; tables: Record<string, { columns: Record<string, unknown>; isRoot?: boolean }> };
    schema.version = version;
    delete schema.cksum;
    if (withExtras) {
      schema.tables.Logical_Router.columns.natgw_note = { type: { key: 'string', min: 0, max: 1 } };
      schema.tables.Natgw_Test = { columns: { name: { type: 'string' } }, isRoot: true };
    }
    const file = path.join(sb.dir, `nb-${version}.ovsschema`);
    await writeFile(file, JSON.stringify(schema));
    await run(await findBinary('ovsdb-client'), ['--timeout=30', 'convert', sb.nbRemote, file], { timeoutMs: 40_000 });
    await until(`the client to take schema ${version}`, () => c.schema?.version === version);
  };
  const mark = mirror.events.length;
  await convert('7.0.100', false);
  await until('the replica to leave out what the schema lost', () => rep.missing.length === 2 && rep.table('Natgw_Test').size === 0);
  t.strictSame(rep.missing, ['Logical_Router.natgw_note', 'Natgw_Test'], 'missing names the column and the table');
  const warned = records.filter((r) => r.level === 40 && Array.isArray(r.missing) && r.monitor === rep.monitorId);
  t.strictSame(warned.map((r) => r.missing), [['Logical_Router.natgw_note', 'Natgw_Test']], 'one warning names them');
  t.equal(warned[0].schemaVersion, '7.0.100', 'with the server schema version');
  await expectSynced(t, rep, sb.nbRemote, c.schema!, ['Logical_Router'], 'Logical_Router == dump, with its remaining column', { columns: ['name'] });
  t.notOk(rep.table('Logical_Router').filter(() => true).some((r) => 'natgw_note' in r), 'no row keeps the removed column');
  t.strictSame(rep.table('Logical_Router').lookup('natgw_note', 'kept'), [], 'the index over it is empty');
  t.strictSame(rep.table('Natgw_Test').lookup('name', 'gone-soon'), [], 'an index of the removed table answers, empty');
  // the condition's column is gone: that table is left out rather than monitored without its condition
  await until('the conditioned replica to leave its table out', () => byNote.missing.length === 1 && byNote.table('Logical_Router').size === 0);
  t.strictSame(byNote.missing, ['Logical_Router.natgw_note'], 'missing names the condition column');
  const ev = mirror.events.slice(mark).map((e) => `${e.kind} ${e.table}`);
  t.equal(ev.filter((e) => e === 'update Logical_Router').length, routers, 'one update per router (the row lost a column)');
  t.equal(ev.filter((e) => e === 'delete Natgw_Test').length, testRows, 'one delete per row of the removed table');
  t.equal(ev.length, routers + testRows, 'and nothing else');
  t.equal(cs.disconnected, 0, 'no reconnect');
  t.equal(good.table('Logical_Switch').size >= 0 && good.synced, true, 'the other replica stays synced');

  // changes still arrive
  await nbctl(sb, 'lr-add', 'q3');
  await until('q3 to arrive', () => rep.table('Logical_Router').filter((r) => r.name === 'q3').length === 1);
  t.pass('a new router arrives after the conversion');

  // the column and the table come back with a later schema (their old contents did not survive the conversion)
  await convert('7.0.101', true);
  await until('the replica to take them back', () => rep.missing.length === 0 && rep.table('Logical_Router').filter((r) => 'natgw_note' in r).length === routers + 1);
  t.strictSame(rep.missing, [], 'nothing missing');
  await until('the conditioned replica to monitor its table again', () => byNote.missing.length === 0 && byNote.synced);
  await c.transact([ops.update('Logical_Router', [where.eq('name', 'q3')], { natgw_note: 'again' }), ops.insert('Natgw_Test', { name: 'back' })]);
  await until('the new values to arrive', () => rep.table('Natgw_Test').size === 1 && rep.table('Logical_Router').lookup('natgw_note', 'again').length === 1);
  t.strictSame(rep.table('Natgw_Test').filter(() => true).map((r) => r.name), ['back'], 'the table is monitored again');
  t.strictSame(rep.table('Natgw_Test').lookup('name', 'back').length, 1, 'and indexed again');
  await c.transact([ops.update('Logical_Router', [where.eq('name', 'q1')], { natgw_note: 'kept' })]);
  await until('the condition to select q1 again', () => byNote.table('Logical_Router').filter((r) => r.name === 'q1').length === 1);
  t.strictSame(byNote.table('Logical_Router').filter(() => true).map((r) => r.name), ['q1'], 'the conditioned replica holds exactly the matching router');
  await expectSynced(t, rep, sb.nbRemote, c.schema!, ['Logical_Router'], 'Logical_Router == dump with natgw_note again', { columns: ['name', 'natgw_note'] });
  t.equal(cs.disconnected, 0, 'still no reconnect');
  t.equal(cs.connected, 1, 'connected once');
});
