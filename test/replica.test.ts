/**
 * The replica (src/ovsdb/replica.ts) against a real standalone ovsdb-server:
 * the ready gate, update2 diffs applied exactly (checked against
 * `ovsdb-client dump` after every change), column and row conditions and
 * monitor_cond_change, secondary indexes, change events and back-pressure.
 */
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { ops, opsFor, where, mutation } from '../src/ovsdb/operations.js';
import type { Replica, ChangeEvent } from '../src/ovsdb/replica.js';
import type { NbTables } from '../src/models/ovn-nb.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { norm, waitFor } from './helpers/util.js';
import { expectSynced } from './helpers/replica-state.js';

const DB = 'OVN_Northbound';

const sb = await withSandbox(t, { northd: false });

// ---------------------------------------------------------------- helpers

const clients: OvsdbClient[] = [];
t.teardown(async () => {
  for (const c of clients) await c.close();
});

async function connectClient(): Promise<OvsdbClient> {
  const c = new OvsdbClient({ remote: sb.nbRemote, database: DB, minBackoffMs: 100, maxBackoffMs: 500, requestTimeoutMs: 20_000 });
  clients.push(c);
  await c.connect(20_000);
  return c;
}

// ---------------------------------------------------------------- tests

t.test('ready gate: tables cannot be read before the first sync', async (t) => {
  const c = new OvsdbClient({ remote: sb.nbRemote, database: DB, minBackoffMs: 100 });
  clients.push(c);
  const rep = c.replica<NbTables>({ tables: { Logical_Switch: true } });
  t.equal(rep.synced, false, 'not synced before connecting');
  t.throws(() => rep.table('Logical_Switch'), /not ready/, 'reading before ready throws');
  await nbctl(sb, 'ls-add', 'gate-ls');
  await c.connect(20_000);
  await rep.ready;
  t.equal(rep.synced, true);
  t.equal(
    rep.table('Logical_Switch').filter((r) => r.name === 'gate-ls').length,
    1,
    'after ready the table has the row written before connecting',
  );
  t.throws(() => (rep as Replica<any>).table('NAT'), /not monitored/, 'a table outside the spec is refused');

  // a replica made on a live connection is not ready until its own monitor reply
  const late = c.replica<NbTables>({ tables: { Logical_Switch: { columns: ['name'] } } });
  t.throws(() => late.table('Logical_Switch'), /not ready/, 'a replica added later is gated too');
  await late.ready;
  t.same(
    late.table('Logical_Switch').filter((r) => r.name === 'gate-ls').map((r) => Object.keys(r).sort()),
    [['_uuid', 'name']],
    'then readable, with only its columns',
  );
  await nbctl(sb, 'ls-del', 'gate-ls');
  await c.close();
});

t.test('update2 diffs are applied exactly (replica == ovsdb-client dump after every change)', async (t) => {
  const c = await connectClient();
  const w = await connectClient(); // a second client writes, so every change reaches the replica as a notification
  const tables = ['Logical_Switch', 'Logical_Router', 'Logical_Router_Port', 'NAT', 'Address_Set'];
  const rep = c.replica<NbTables>({
    tables: { Logical_Switch: true, Logical_Router: true, Logical_Router_Port: true, NAT: true, Address_Set: true },
  });
  await rep.ready;
  const schema = c.schema!;
  const check = (msg: string) => expectSynced(t, rep, sb.nbRemote, schema, tables, msg);
  const ls = () => rep.table('Logical_Switch').filter((r) => r.name.startsWith('d-ls'))[0];
  const as = () => rep.table('Address_Set').filter((r) => r.name === 'd_as')[0];
  const nat = () => rep.table('NAT').filter((r) => r.logical_ip === '10.9.0.0/24')[0];
  const lr = () => rep.table('Logical_Router').filter((r) => r.name === 'd-lr')[0];

  await w.transact([
    ops.insert('Logical_Switch', { name: 'd-ls', other_config: new Map([['a', '1'], ['b', '2']]), external_ids: new Map([['x', 'y']]) }),
    ops.insert('Address_Set', { name: 'd_as', addresses: ['10.0.0.1', '10.0.0.2'] }),
    ops.insert('NAT', { type: 'snat', external_ip: '1.1.1.1', logical_ip: '10.9.0.0/24' }, 'n1'),
    ops.insert('Logical_Router', { name: 'd-lr', nat: ['n1'] }),
  ]);
  await check('initial inserts');

  const onLs = [where.eq('name', 'd-ls')];
  // --- map column: insert a key, change a value, delete a key, replace the whole map
  await w.transact([ops.mutate('Logical_Switch', onLs, [mutation.insert('other_config', new Map([['c', '3']]))])]);
  await check('map: key inserted');
  t.strictSame(norm(ls().other_config), [['a', '1'], ['b', '2'], ['c', '3']]);

  await w.transact([ops.update('Logical_Switch', onLs, { other_config: new Map([['a', '1'], ['b', '20'], ['c', '3']]) })]);
  await check('map: one value changed');
  t.strictSame(norm(ls().other_config), [['a', '1'], ['b', '20'], ['c', '3']]);

  await w.transact([ops.mutate('Logical_Switch', onLs, [mutation.delete('other_config', ['a'])])]);
  await check('map: key deleted');
  t.strictSame(norm(ls().other_config), [['b', '20'], ['c', '3']]);

  // one diff that deletes a pair, changes a value and inserts a pair at once
  await w.transact([ops.update('Logical_Switch', onLs, { other_config: new Map([['c', '30'], ['d', '4']]) })]);
  await check('map: delete + change + insert in one diff');
  t.strictSame(norm(ls().other_config), [['c', '30'], ['d', '4']]);

  await nbctl(sb, 'set', 'Logical_Switch', 'd-ls', 'external_ids:x=z', 'external_ids:p=q');
  await check('map: changed by ovn-nbctl');
  t.strictSame(norm(ls().external_ids), [['p', 'q'], ['x', 'z']]);

  await w.transact([ops.update('Logical_Switch', onLs, { external_ids: new Map() })]);
  await check('map: emptied');
  t.equal(ls().external_ids.size, 0);

  // --- set column
  const onAs = [where.eq('name', 'd_as')];
  await w.transact([ops.mutate('Address_Set', onAs, [mutation.insert('addresses', ['10.0.0.3'])])]);
  await check('set: element inserted');
  await w.transact([ops.mutate('Address_Set', onAs, [mutation.delete('addresses', ['10.0.0.1'])])]);
  await check('set: element deleted');
  t.strictSame(norm(as().addresses), ['10.0.0.2', '10.0.0.3']);
  await w.transact([ops.update('Address_Set', onAs, { addresses: ['10.0.0.2', '10.0.0.9'] })]);
  await check('set: one element swapped for another in one diff');
  t.strictSame(norm(as().addresses), ['10.0.0.2', '10.0.0.9']);
  await w.transact([ops.update('Address_Set', onAs, { addresses: [] })]);
  await check('set: emptied');
  t.strictSame(as().addresses, []);

  // --- optional (0..1) columns
  const onNat = [where.eq('logical_ip', '10.9.0.0/24')];
  await w.transact([ops.update('NAT', onNat, { external_mac: 'aa:bb:cc:dd:ee:ff' })]);
  await check('optional: set');
  t.equal(nat().external_mac, 'aa:bb:cc:dd:ee:ff');
  await w.transact([ops.update('NAT', onNat, { external_mac: '00:11:22:33:44:55' })]);
  await check('optional: changed (two-element diff)');
  t.equal(nat().external_mac, '00:11:22:33:44:55');
  await w.transact([ops.update('NAT', onNat, { external_mac: null })]);
  await check('optional: cleared');
  t.equal(nat().external_mac, null);

  const onLr = [where.eq('name', 'd-lr')];
  for (const enabled of [true, false, null] as const) {
    await w.transact([ops.update('Logical_Router', onLr, { enabled })]);
    await check(`optional boolean: ${String(enabled)}`);
    t.equal(lr().enabled, enabled);
  }

  // --- scalars
  await w.transact([ops.update('Logical_Switch', onLs, { name: 'd-ls-renamed' })]);
  await check('scalar string changed');
  t.equal(ls().name, 'd-ls-renamed');
  await w.transact([ops.update('NAT', onNat, { external_ip: '1.1.1.2', type: 'dnat_and_snat' })]);
  await check('two scalars changed in one diff');
  t.equal(nat().external_ip, '1.1.1.2');
  t.equal(nat().type, 'dnat_and_snat');

  // --- uuid set with a referenced (non-root) row coming and going
  await w.transact([
    ops.insert('Logical_Router_Port', { name: 'd-lrp', mac: '00:00:00:00:00:01', networks: ['192.168.0.1/24'] }, 'p'),
    ops.mutate('Logical_Router', onLr, [mutation.insert('ports', ['p'])]),
  ]);
  await check('uuid set: port inserted');
  const lrp = rep.table('Logical_Router_Port').filter((r) => r.name === 'd-lrp')[0];
  t.ok(lrp, 'port row replicated');
  t.strictSame(lr().ports, [lrp._uuid], 'router references the port');
  await w.transact([ops.mutate('Logical_Router', onLr, [mutation.delete('ports', [lrp._uuid])])]);
  await check('uuid set: port removed and garbage-collected');
  t.equal(rep.table('Logical_Router_Port').get(lrp._uuid), undefined, 'unreferenced port row gone from the replica');

  // --- several rows and columns in one transaction, then deletes
  await w.transact([
    ops.update('NAT', onNat, { options: new Map([['stateless', 'true']]), external_ids: new Map([['k', 'v']]), external_mac: 'aa:aa:aa:aa:aa:aa' }),
    ops.mutate('Address_Set', onAs, [mutation.insert('addresses', ['10.1.1.1', '10.1.1.2']), mutation.insert('external_ids', new Map([['o', 'p']]))]),
    ops.update('Logical_Switch', [where.eq('name', 'd-ls-renamed')], { other_config: new Map() }),
  ]);
  await check('one transaction touching three tables');
  await nbctl(sb, 'lr-del', 'd-lr', '--', 'ls-del', 'd-ls-renamed', '--', 'destroy', 'Address_Set', 'd_as');
  await check('rows deleted (the router takes its NAT with it)');
  t.equal(nat(), undefined, 'NAT row gone with its router');
  t.equal(ls(), undefined);
});

t.test('column and row conditions; monitor_cond_change switches the view', async (t) => {
  const c = await connectClient();
  const w = await connectClient();
  await w.transact([
    ops.insert('NAT', { type: 'snat', external_ip: '2.2.2.1', logical_ip: '10.1.0.0/24' }, 's1'),
    ops.insert('NAT', { type: 'snat', external_ip: '2.2.2.2', logical_ip: '10.2.0.0/24' }, 's2'),
    ops.insert('NAT', { type: 'dnat_and_snat', external_ip: '3.3.3.1', logical_ip: '10.1.0.5' }, 'f1'),
    ops.insert('NAT', { type: 'dnat_and_snat', external_ip: '3.3.3.2', logical_ip: '10.1.0.6' }, 'f2'),
    ops.insert('NAT', { type: 'dnat', external_ip: '4.4.4.4', logical_ip: '10.1.0.7' }, 'd1'),
    ops.insert('Logical_Router', { name: 'cond-lr', nat: ['s1', 's2', 'f1', 'f2', 'd1'] }),
  ]);
  const rep = c.replica<NbTables>({ tables: { NAT: { columns: ['type', 'external_ip'], where: [['type', '==', 'snat']] } } });
  await rep.ready;
  const schema = c.schema!;
  const events: ChangeEvent[] = [];
  rep.onChange((e) => events.push(e));
  const view = (type: string) =>
    expectSynced(t, rep, sb.nbRemote, schema, ['NAT'], `replica shows exactly the ${type} rows, columns type and external_ip`, {
      columns: ['type', 'external_ip'],
      keep: (r) => r.type === type,
    });

  await view('snat');
  t.strictSame(
    rep.table('NAT').values().next().value && Object.keys(rep.table('NAT').values().next().value!).sort(),
    ['_uuid', 'external_ip', 'type'],
    'rows carry only the monitored columns',
  );
  t.strictSame([...rep.table('NAT')].map((r) => r.external_ip).sort(), ['2.2.2.1', '2.2.2.2']);

  // rows that do not match are not sent
  await w.transact([
    ops.insert('NAT', { type: 'dnat_and_snat', external_ip: '3.3.3.3', logical_ip: '10.1.0.8' }, 'f3'),
    ops.insert('NAT', { type: 'snat', external_ip: '2.2.2.3', logical_ip: '10.3.0.0/24' }, 's3'),
    ops.mutate('Logical_Router', [where.eq('name', 'cond-lr')], [mutation.insert('nat', ['f3', 's3'])]),
  ]);
  await view('snat');
  t.notOk(events.some((e) => e.row.type !== 'snat'), 'no event for a non-matching row');

  const snatUuids = [...rep.table('NAT')].map((r) => r._uuid).sort();
  events.length = 0;
  await c.setCondition(rep, 'NAT', [['type', '==', 'dnat_and_snat']]);
  await view('dnat_and_snat');
  t.strictSame([...rep.table('NAT')].map((r) => r.external_ip).sort(), ['3.3.3.1', '3.3.3.2', '3.3.3.3'], 'the FIPs appear');
  t.strictSame(
    events.filter((e) => e.kind === 'delete').map((e) => e.row._uuid).sort(),
    snatUuids,
    'every snat row leaves the replica with a delete event',
  );
  t.strictSame(events.filter((e) => e.kind === 'insert').map((e) => e.row.external_ip).sort(), ['3.3.3.1', '3.3.3.2', '3.3.3.3']);

  // a row that stops matching leaves; one that starts matching comes in
  events.length = 0;
  await w.transact([
    ops.update('NAT', [where.eq('external_ip', '3.3.3.3')], { type: 'snat' }),
    ops.update('NAT', [where.eq('external_ip', '4.4.4.4')], { type: 'dnat_and_snat' }),
  ]);
  await view('dnat_and_snat');
  t.strictSame([...rep.table('NAT')].map((r) => r.external_ip).sort(), ['3.3.3.1', '3.3.3.2', '4.4.4.4']);
  t.strictSame(
    events.map((e) => `${e.kind} ${e.row.external_ip}`).sort(),
    ['delete 3.3.3.3', 'insert 4.4.4.4'],
    'moving across the condition is a delete / insert for the replica',
  );
  await nbctl(sb, 'lr-del', 'cond-lr');
  await waitFor(() => rep.table('NAT').size === 0);
  t.equal(rep.table('NAT').size, 0, 'router deletion removes its NATs from the view');
});

t.test('secondary indexes follow inserts, updates and deletes', async (t) => {
  const c = await connectClient();
  const w = await connectClient();
  const rep = c.replica<NbTables>({
    tables: { NAT: true, Logical_Router: { columns: ['name', 'nat'] } },
    indexes: { NAT: ['external_ip', 'external_ids:owner'], Logical_Router: ['name'] },
  });
  await rep.ready;
  t.throws(() => rep.table('NAT').lookup('logical_ip', '10.0.0.1'), /no index/, 'an undeclared index is refused');

  await w.transact([
    ops.insert('NAT', { type: 'snat', external_ip: '5.5.5.5', logical_ip: '10.5.0.0/24', external_ids: new Map([['owner', 'alice']]) }, 'a'),
    ops.insert('NAT', { type: 'dnat_and_snat', external_ip: '5.5.5.5', logical_ip: '10.5.0.9', external_ids: new Map([['owner', 'bob']]) }, 'b'),
    ops.insert('NAT', { type: 'dnat_and_snat', external_ip: '5.5.5.6', logical_ip: '10.5.0.10' }, 'n'),
    ops.insert('Logical_Router', { name: 'ix-lr', nat: ['a', 'b', 'n'] }),
  ]);
  const nat = rep.table('NAT');
  await waitFor(() => nat.size === 3);
  const uuidsOf = async (...cond: string[]) => (await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'NAT', ...cond)).split('\n').filter(Boolean).sort();
  const lookup = (ix: string, v: unknown) => nat.lookup(ix, v).map((r) => r._uuid).sort();

  t.strictSame(lookup('external_ip', '5.5.5.5'), await uuidsOf('external_ip="5.5.5.5"'), 'two rows share an external_ip');
  t.equal(lookup('external_ip', '5.5.5.5').length, 2);
  t.strictSame(lookup('external_ip', '5.5.5.6'), await uuidsOf('external_ip="5.5.5.6"'));
  const alice = await uuidsOf('external_ids:owner=alice');
  t.equal(alice.length, 1);
  t.strictSame(lookup('external_ids:owner', 'alice'), alice, 'map-key index');
  t.strictSame(lookup('external_ids:owner', 'carol'), [], 'no row for an unknown value');
  const lrRows = rep.table('Logical_Router').lookup('name', 'ix-lr');
  t.equal(lrRows.length, 1);
  t.equal(lrRows[0].nat.length, 3);

  // the owner changes: the row moves in the index
  await nbctl(sb, 'set', 'NAT', alice[0], 'external_ids:owner=carol');
  await waitFor(() => nat.lookup('external_ids:owner', 'carol').length === 1);
  t.strictSame(lookup('external_ids:owner', 'alice'), [], 'gone from the old key');
  t.strictSame(lookup('external_ids:owner', 'carol'), alice, 'found under the new key');
  t.strictSame(lookup('external_ids:owner', 'carol'), await uuidsOf('external_ids:owner=carol'));

  // the key is removed: in no owner bucket, still by external_ip
  await nbctl(sb, 'remove', 'NAT', alice[0], 'external_ids', 'owner');
  await waitFor(() => nat.lookup('external_ids:owner', 'carol').length === 0);
  t.strictSame(lookup('external_ids:owner', 'carol'), []);
  t.ok(lookup('external_ip', '5.5.5.5').includes(alice[0]), 'still indexed by external_ip');

  // delete: gone from every index
  const bob = lookup('external_ids:owner', 'bob');
  await nbctl(sb, 'lr-nat-del', 'ix-lr', 'dnat_and_snat', '5.5.5.5');
  await waitFor(() => nat.lookup('external_ids:owner', 'bob').length === 0);
  t.strictSame(lookup('external_ids:owner', 'bob'), []);
  t.strictSame(lookup('external_ip', '5.5.5.5'), alice, 'only the remaining row');
  t.equal(nat.get(bob[0]), undefined);

  await nbctl(sb, 'set', 'Logical_Router', 'ix-lr', 'name=ix-lr2');
  await waitFor(() => rep.table('Logical_Router').lookup('name', 'ix-lr2').length === 1);
  t.strictSame(rep.table('Logical_Router').lookup('name', 'ix-lr'), [], 'renamed router left the old name');
  t.equal(rep.table('Logical_Router').lookup('name', 'ix-lr2').length, 1);
  await nbctl(sb, 'lr-del', 'ix-lr2');
  await waitFor(() => nat.size === 0);
  t.strictSame(lookup('external_ip', '5.5.5.5'), []);
  t.strictSame(rep.table('Logical_Router').lookup('name', 'ix-lr2'), []);
});

t.test('onChange: insert, update and delete with old and new rows', async (t) => {
  const c = await connectClient();
  const w = await connectClient();
  const rep = c.replica<NbTables>({ tables: { Address_Set: true } });
  await rep.ready;
  const seen: ChangeEvent[] = [];
  const off = rep.onChange((e) => {
    if ((e.row as Record<string, unknown>).name === 'ev_as') seen.push(e);
  });
  const [{ uuid }] = await w.transact([ops.insert('Address_Set', { name: 'ev_as', addresses: ['1.0.0.1'], external_ids: new Map([['v', '1']]) })]);
  await w.transact([ops.update('Address_Set', [where.uuid(uuid!)], { addresses: ['1.0.0.1', '1.0.0.2'], external_ids: new Map([['v', '2']]) })]);
  await w.transact([ops.delete('Address_Set', [where.uuid(uuid!)])]);
  await waitFor(() => seen.length >= 3);
  t.strictSame(
    seen.map((e) => e.kind),
    ['insert', 'update', 'delete'],
  );
  const [ins, upd, del] = seen as ChangeEvent<Record<string, any>>[];
  t.equal(ins.table, 'Address_Set');
  t.equal(ins.row._uuid, uuid);
  t.strictSame(ins.row.addresses, ['1.0.0.1']);
  t.equal(ins.old, undefined);
  t.strictSame(norm(upd.old!.addresses), ['1.0.0.1'], 'update carries the old row');
  t.strictSame(norm(upd.row.addresses), ['1.0.0.1', '1.0.0.2'], 'and the new row');
  t.equal(upd.old!.external_ids.get('v'), '1');
  t.equal(upd.row.external_ids.get('v'), '2');
  t.equal(del.row._uuid, uuid);
  t.equal(del.row.external_ids.get('v'), '2', 'delete carries the row as it was');
  t.equal(rep.table('Address_Set').get(uuid!), undefined);

  off();
  await w.transact([ops.insert('Address_Set', { name: 'ev_as' })]);
  await waitFor(() => rep.table('Address_Set').filter((r) => r.name === 'ev_as').length === 1);
  t.equal(rep.table('Address_Set').filter((r) => r.name === 'ev_as').length, 1);
  t.equal(seen.length, 3, 'no events after unsubscribing');
  await nbctl(sb, 'destroy', 'Address_Set', 'ev_as');
});

for (const when of ['made before connect()', 'added on a live connection'] as const) {
  t.test(`events(highWater), replica ${when}: a slow consumer pauses the socket; nothing is dropped`, async (t) => {
    // this client has only the one replica below
    let c: OvsdbClient;
    let rep: Replica<NbTables>;
    if (when === 'made before connect()') {
      c = new OvsdbClient({ remote: sb.nbRemote, database: DB, minBackoffMs: 100, requestTimeoutMs: 20_000 });
      clients.push(c);
      rep = c.replica<NbTables>({ tables: { Address_Set: { columns: ['name'] } } });
      await c.connect(20_000);
    } else {
      c = await connectClient();
      rep = c.replica<NbTables>({ tables: { Address_Set: { columns: ['name'] } } });
    }
    const w = await connectClient();
    await rep.ready;
    const it = rep.events(5);
    t.equal(rep.isPaused, false);

    const names = Array.from({ length: 50 }, (_, i) => `bp_${String(i).padStart(2, '0')}`);
    for (const name of names) await w.transact([ops.insert('Address_Set', { name })]);
    t.pass('all 50 transactions of the other client committed while the consumer did not read');

    t.ok(await waitFor(() => rep.isPaused), 'the replica paused its socket');
    const applied = rep.table('Address_Set').filter((r) => r.name.startsWith('bp_')).length;
    t.ok(applied < 50, `the replica stopped reading (${applied} of 50 applied while paused)`);
    const inDb = (await nbctl(sb, '--bare', '--columns=name', 'list', 'Address_Set')).split('\n').filter((n) => n.startsWith('bp_'));
    t.equal(inDb.length, 50, 'ovn-nbctl sees all 50 rows');

    // (a lost event would leave the consumer waiting: tap's per-file timeout ends it)
    const got: ChangeEvent[] = [];
    while (got.length < 50) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
    }
    t.equal(got.length, 50, 'the consumer received 50 events');
    t.strictSame(got.map((e) => e.kind), Array(50).fill('insert'), 'all inserts');
    t.strictSame(got.map((e) => (e.row as Record<string, unknown>).name), names, 'none dropped, none repeated, in commit order');
    t.equal(rep.isPaused, false, 'draining resumed the socket');
    t.equal(rep.table('Address_Set').filter((r) => r.name.startsWith('bp_')).length, 50, 'the replica caught up');

    // flow keeps working after the pause: one more change arrives
    await w.transact([ops.delete('Address_Set', [where.eq('name', 'bp_00')])]);
    const next = await it.next();
    t.equal(!next.done ? `${next.value.kind} ${String((next.value.row as Record<string, unknown>).name)}` : 'nothing', 'delete bp_00');
    await it.return!();
    await nbctl(sb, 'destroy', 'Address_Set', ...names.slice(1));
    await c.close();
    await w.close();
  });
}

t.test('replicas set up while another client writes miss nothing (reply and update in one chunk)', async (t) => {
  // A monitor reply and the update of a transaction committed just after it
  // often arrive in the same read. The update must be applied after the
  // reply's state, never before it (it would be overwritten, or refused).
  const c = await connectClient();
  const w = await connectClient();
  let stop = false;
  let n = 0;
  const writer = (async () => {
    while (!stop) await Promise.all(Array.from({ length: 8 }, () => w.transact([ops.insert('Address_Set', { name: `load_${n++}` })])));
  })();
  const reps: Replica<NbTables>[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const rep = c.replica<NbTables>({ tables: { Address_Set: { columns: ['name'] } } });
      reps.push(rep);
      await rep.ready;
      // let the writer commit another batch before the next replica is set up
      const before = n;
      await waitFor(() => n >= before + 8);
    }
  } finally {
    stop = true;
    await writer;
  }
  const truth = (await nbctl(sb, '--bare', '--columns=_uuid', 'list', 'Address_Set')).split('\n').filter(Boolean).sort();
  t.ok(truth.length >= n, `${n} rows written`);
  await waitFor(() => reps.every((r) => r.table('Address_Set').size === truth.length));
  const wrong = reps
    .map((r, i) => ({ i, size: r.table('Address_Set').size, same: isDeepStrictEqual([...r.table('Address_Set')].map((x) => x._uuid).sort(), truth) }))
    .filter((x) => !x.same);
  t.strictSame(wrong, [], `all ${reps.length} replicas hold exactly the ${truth.length} rows ovn-nbctl lists`);
  t.equal(reps.reduce((k, r) => k + r.stats.fullSyncs, 0), reps.length, 'one sync each (no resync after an inconsistency)');
  const names = (await nbctl(sb, '--bare', '--columns=name', 'list', 'Address_Set')).split('\n').filter((x) => x.startsWith('load_'));
  for (let i = 0; i < names.length; i += 500) await nbctl(sb, 'destroy', 'Address_Set', ...names.slice(i, i + 500));
  await c.close();
  await w.close();
});

t.test("caughtUp: once it resolves, the replica holds another writer's finished commit", async (t) => {
  const reader = await connectClient();
  const writer = await connectClient();
  const rep = reader.replica<NbTables>({ tables: { Logical_Switch: { columns: ['name'] } } });
  await rep.ready;
  const ROUNDS = 50;
  let lagging = 0;
  const missing: string[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const name = `caught-up-${k}`;
    await writer.transact([ops.insert('Logical_Switch', { name })]);
    // the writer has its reply; the reader's update may still be on its way
    const has = () => rep.table('Logical_Switch').filter((r) => r.name === name).length === 1;
    if (!has()) lagging++;
    await reader.caughtUp();
    if (!has()) missing.push(name);
  }
  t.comment(`${lagging} of ${ROUNDS} rounds: the row was not in the replica yet when the writer had its reply`);
  t.same(missing, [], 'after caughtUp every row is there');
  await expectSynced(t, rep, sb.nbRemote, reader.schema!, ['Logical_Switch'], 'replica == dump', { columns: ['name'] });
});

t.test('commit boundary: one onCommit per transaction, after all its rows are in; seqno moves once; update diffs name only what changed', async (t) => {
  const c = await connectClient();
  const rep = c.replica<NbTables>({ tables: { Logical_Router: true, Logical_Router_Port: true, Gateway_Chassis: true }, indexes: { Logical_Router_Port: ['gateway_chassis', 'name'] } });
  await rep.ready;
  const commits: { seqno: number; events: ChangeEvent[]; resolved: boolean }[] = [];
  rep.onCommit((events, seqno) => {
    // at the boundary every reference of the transaction resolves: the port's new Gateway_Chassis is there
    const lrp = rep.table('Logical_Router_Port').lookup('name', 'cb-lrp')[0];
    const resolved = !!lrp && lrp.gateway_chassis.length === 2 && lrp.gateway_chassis.every((g) => rep.table('Gateway_Chassis').get(g) !== undefined);
    commits.push({ seqno, events: [...events], resolved });
  });
  const before = rep.seqno;
  const op = opsFor<NbTables>();
  await c.transact([
    op.insert('Gateway_Chassis', { name: 'cb-gc1', chassis_name: 'c1', priority: 2 }, 'gc1'),
    op.insert('Gateway_Chassis', { name: 'cb-gc2', chassis_name: 'c2', priority: 1 }, 'gc2'),
    op.insert('Logical_Router_Port', { name: 'cb-lrp', mac: '00:00:00:00:cb:01', networks: ['10.99.0.1/24'], gateway_chassis: ['gc1', 'gc2'] }, 'lrp'),
    op.insert('Logical_Router', { name: 'cb-lr', ports: ['lrp'], external_ids: new Map(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'])) }),
  ]);
  await c.caughtUp();
  t.equal(commits.length, 1, 'one commit event for the transaction');
  t.equal(commits[0].seqno, before + 1, 'seqno moved by one');
  t.equal(rep.seqno, before + 1);
  t.same(commits[0].events.map((e) => `${e.kind} ${e.table}`).sort(), ['insert Gateway_Chassis', 'insert Gateway_Chassis', 'insert Logical_Router', 'insert Logical_Router_Port'], 'with its four inserts');
  t.ok(commits[0].resolved, 'at the boundary the port and both its Gateway_Chassis are in the replica');
  t.same(rep.table('Logical_Router_Port').lookup('gateway_chassis', rep.table('Gateway_Chassis').filter((g) => g.name === 'cb-gc1')[0]._uuid).map((p) => p.name), ['cb-lrp'], 'set-element index: Gateway_Chassis -> port');

  await nbctl(sb, 'set', 'Logical_Router', 'cb-lr', 'external_ids:k7=w', '--', 'remove', 'Logical_Router', 'cb-lr', 'external_ids', 'k8');
  await c.caughtUp();
  t.equal(commits.length, 2);
  const upd = commits[1].events.find((e) => e.table === 'Logical_Router')!;
  t.equal(upd.kind, 'update');
  t.same([...upd.diff!.keys()], ['external_ids'], 'the diff names the one column changed');
  t.same(norm(upd.diff!.get('external_ids')), [['k7', 'w'], ['k8', 'v']], 'and of its 200 keys the two changed (k7 to w, k8 removed)');
  t.equal(upd.old!.ports, upd.row.ports, 'unchanged columns are shared with the old row');
});
