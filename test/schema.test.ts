/**
 * OVSDB schemas and values (src/ovsdb/schema.ts, the encoding half of
 * src/ovsdb/operations.ts): the installed OVN_Northbound schema, round trips
 * between the wire notation and native values, and validation errors that
 * name table, column and reason. The last test shows, against a real
 * ovsdb-server, that a bad value is refused before anything is sent.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  EMPTY_MAP,
  EMPTY_SET,
  OvsdbSchemaError,
  OvsdbValueError,
  decodeValue,
  defaultValue,
  encodeValue,
  parseColumnType,
  parseSchema,
  type ColumnType,
  type DatabaseSchema,
} from '../src/ovsdb/schema.js';
import { encodeOperation, ops, where, mutation, type Operation } from '../src/ovsdb/operations.js';
import { OvsdbClient } from '../src/ovsdb/client.js';
import type { JsonRpcSession } from '../src/ovsdb/jsonrpc.js';
import { nbctl, ovsdbClientDump, withSandbox } from './helpers/sandbox.js';
import { catchAsync } from './helpers/util.js';

const NB_FILE = '/usr/share/ovn/ovn-nb.ovsschema';
const nbJson = JSON.parse(readFileSync(NB_FILE, 'utf8')) as { name: string; version: string; cksum: string };
const nb = parseSchema(nbJson);

const U1 = '6b6e4a6e-3b43-4e0c-9a39-1f0e0c6f2b11';
const U2 = '0f6a8a55-7a0e-4a5d-8f5c-2d6e1c9b7a22';

function col(schema: DatabaseSchema, table: string, column: string): ColumnType {
  const c = schema.tables.get(table)?.columns.get(column);
  if (!c) throw new Error(`no ${table}.${column} in the schema`);
  return c.type;
}

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

// ------------------------------------------------------------------ parsing

t.test('parseSchema of the installed OVN_Northbound schema', async (t) => {
  t.equal(nb.name, 'OVN_Northbound');
  t.equal(nb.version, nbJson.version, 'version from the file');
  t.equal(nb.cksum, nbJson.cksum, 'cksum from the file');
  t.ok(nb.tables.size >= 20, `${nb.tables.size} tables`);

  const natType = col(nb, 'NAT', 'type');
  t.equal(natType.kind, 'scalar', 'NAT.type is a scalar');
  t.equal(natType.key.type, 'string');
  t.strictSame([...(natType.key.enum ?? [])].sort(), ['dnat', 'dnat_and_snat', 'snat'], 'NAT.type enum');

  const gw = col(nb, 'NAT', 'gateway_port');
  t.equal(gw.kind, 'optional', 'NAT.gateway_port is optional');
  t.equal(gw.min, 0);
  t.equal(gw.max, 1);
  t.equal(gw.key.type, 'uuid');
  t.equal(gw.key.refTable, 'Logical_Router_Port');
  t.equal(gw.key.refType, 'weak', 'weak reference');
  t.equal(col(nb, 'NAT', 'allowed_ext_ips').key.refType, 'strong', 'strong reference to Address_Set');

  const ports = col(nb, 'Logical_Router', 'ports');
  t.equal(ports.kind, 'set', 'Logical_Router.ports is a set');
  t.equal(ports.min, 0);
  t.equal(ports.max, Infinity, 'max "unlimited"');
  t.equal(ports.key.refTable, 'Logical_Router_Port');
  t.equal(ports.key.refType, 'strong');

  const ext = col(nb, 'Logical_Router', 'external_ids');
  t.equal(ext.kind, 'map', 'external_ids is a map');
  t.equal(ext.key.type, 'string');
  t.equal(ext.value?.type, 'string');

  const prio = col(nb, 'ACL', 'priority');
  t.equal(prio.kind, 'scalar');
  t.equal(prio.key.minInteger, 0);
  t.equal(prio.key.maxInteger, 32767);
  t.equal(col(nb, 'ACL', 'name').key.maxLength, 63);
  t.equal(col(nb, 'Logical_Router_Port', 'networks').min, 1, 'networks needs at least one element');

  const as = nb.tables.get('Address_Set')!;
  t.ok(as.isRoot, 'Address_Set is a root table');
  t.strictSame(as.indexes, [['name']], 'Address_Set has a name index');
  t.notOk(nb.tables.get('NAT')!.isRoot, 'NAT is not a root table');

  const status = nb.tables.get('Connection')!.columns.get('status')!;
  t.ok(status.ephemeral, 'Connection.status is ephemeral');
});

t.test('parseSchema / parseColumnType reject malformed schemas', async (t) => {
  t.type(catchSync(() => parseSchema({ tables: {} })), OvsdbSchemaError, 'no name');
  t.type(catchSync(() => parseSchema({ name: 'x', tables: { T: {} } })), OvsdbSchemaError, 'table without columns');
  t.type(catchSync(() => parseColumnType('c', 'float')), OvsdbSchemaError, 'unknown atomic type');
  t.type(catchSync(() => parseColumnType('c', { key: 'string', min: 2 })), OvsdbSchemaError, 'min 2');
  t.type(catchSync(() => parseColumnType('c', { key: 'string', min: 1, max: 0 })), OvsdbSchemaError, 'max 0');
  t.type(catchSync(() => parseColumnType('c', { key: { type: 'integer', maxInteger: 'x' } })), OvsdbSchemaError, 'bad maxInteger');
  t.type(catchSync(() => parseColumnType('c', {})), OvsdbSchemaError, 'no key');
});

// ------------------------------------------------------------------ decoding and encoding

t.test('decodeValue / encodeValue round trips for each kind', async (t) => {
  // scalar
  const natType = col(nb, 'NAT', 'type');
  t.equal(decodeValue(natType, 'snat'), 'snat');
  t.equal(decodeValue(natType, ['set', ['dnat']]), 'dnat', 'a one-element set is accepted for a scalar');
  t.equal(encodeValue('NAT', 'type', natType, 'dnat_and_snat'), 'dnat_and_snat');
  t.equal(decodeValue(natType, encodeValue('NAT', 'type', natType, 'snat')), 'snat', 'scalar round trip');

  const prio = col(nb, 'ACL', 'priority');
  t.equal(decodeValue(prio, 1001), 1001);
  t.equal(encodeValue('ACL', 'priority', prio, 0), 0);
  t.equal(encodeValue('ACL', 'priority', prio, 32767), 32767, 'maximum itself is allowed');

  const log = col(nb, 'ACL', 'log');
  t.equal(decodeValue(log, true), true);
  t.equal(encodeValue('ACL', 'log', log, false), false);

  // optional atom
  const lport = col(nb, 'NAT', 'logical_port');
  t.equal(decodeValue(lport, ['set', []]), null, 'empty set -> null');
  t.equal(decodeValue(lport, 'lsp1'), 'lsp1', 'a bare atom');
  t.equal(decodeValue(lport, ['set', ['lsp1']]), 'lsp1', 'a one-element set');
  t.strictSame(encodeValue('NAT', 'logical_port', lport, null), ['set', []], 'null -> empty set');
  t.strictSame(encodeValue('NAT', 'logical_port', lport, 'lsp1'), ['set', ['lsp1']]);
  for (const v of [null, 'lsp1']) t.equal(decodeValue(lport, encodeValue('NAT', 'logical_port', lport, v)), v, `optional round trip ${v}`);

  // optional uuid
  const gw = col(nb, 'NAT', 'gateway_port');
  t.equal(decodeValue(gw, ['uuid', U1]), U1);
  t.equal(decodeValue(gw, ['set', [['uuid', U1]]]), U1);
  t.strictSame(encodeValue('NAT', 'gateway_port', gw, U1), ['set', [['uuid', U1]]]);
  t.strictSame(encodeValue('NAT', 'gateway_port', gw, U1.toUpperCase()), ['set', [['uuid', U1]]], 'UUIDs are lower-cased');
  t.equal(decodeValue(gw, encodeValue('NAT', 'gateway_port', gw, U2)), U2, 'optional uuid round trip');

  // set
  const ports = col(nb, 'Logical_Router', 'ports');
  const empty = decodeValue(ports, ['set', []]);
  t.strictSame(empty, [], 'empty set -> []');
  t.equal(empty, EMPTY_SET, 'the shared empty set');
  t.ok(Object.isFrozen(empty), 'which is frozen');
  t.strictSame(decodeValue(ports, ['uuid', U1]), [U1], 'a bare atom is a one-element set');
  t.strictSame(decodeValue(ports, ['set', [['uuid', U1], ['uuid', U2]]]), [U1, U2]);
  t.strictSame(encodeValue('Logical_Router', 'ports', ports, [U1, U2]), ['set', [['uuid', U1], ['uuid', U2]]]);
  t.strictSame(encodeValue('Logical_Router', 'ports', ports, new Set([U1])), ['set', [['uuid', U1]]], 'a Set is accepted');
  t.strictSame(encodeValue('Logical_Router', 'ports', ports, []), ['set', []]);
  t.strictSame(decodeValue(ports, encodeValue('Logical_Router', 'ports', ports, [U2, U1])), [U2, U1], 'set round trip');
  const addrs = col(nb, 'Address_Set', 'addresses');
  t.strictSame(decodeValue(addrs, encodeValue('Address_Set', 'addresses', addrs, ['10.0.0.1', 'é😀'])), ['10.0.0.1', 'é😀']);

  // map
  const ext = col(nb, 'Logical_Router', 'external_ids');
  const emptyMap = decodeValue(ext, ['map', []]) as Map<string, string>;
  t.equal(emptyMap, EMPTY_MAP, 'empty map -> the shared empty map');
  t.equal(emptyMap.size, 0);
  t.throws(() => emptyMap.set('a', 'b'), TypeError, 'the shared empty map is read-only');
  const m = decodeValue(ext, ['map', [['neutron:id', 'x'], ['k', 'v']]]);
  t.type(m, Map);
  t.strictSame([...(m as Map<string, string>)], [['neutron:id', 'x'], ['k', 'v']]);
  t.strictSame(encodeValue('Logical_Router', 'external_ids', ext, new Map([['a', '1']])), ['map', [['a', '1']]], 'Map');
  t.strictSame(encodeValue('Logical_Router', 'external_ids', ext, { a: '1', b: '2' }), ['map', [['a', '1'], ['b', '2']]], 'plain object');
  const rt = decodeValue(ext, encodeValue('Logical_Router', 'external_ids', ext, new Map([['x', 'y'], ['z', '']])));
  t.strictSame([...(rt as Map<string, string>)], [['x', 'y'], ['z', '']], 'map round trip');
  const bw = col(nb, 'QoS', 'bandwidth');
  t.strictSame(encodeValue('QoS', 'bandwidth', bw, { rate: 100, burst: 10 }), ['map', [['rate', 100], ['burst', 10]]], 'map with integer values');

  // defaults (what update2 leaves out)
  t.equal(defaultValue(natType), '');
  t.equal(defaultValue(prio), 0);
  t.equal(defaultValue(log), false);
  t.equal(defaultValue(gw), null);
  t.equal(defaultValue(ports), EMPTY_SET);
  t.equal(defaultValue(ext), EMPTY_MAP);
  t.equal(defaultValue(col(nb, 'Logical_Switch_Port', 'tag_request')), null);

  // real numbers (NB has none: a column type of our own)
  const real = parseColumnType('T.r', { key: { type: 'real', minReal: 0, maxReal: 1.5 } });
  t.equal(decodeValue(real, encodeValue('T', 'r', real, 0.25)), 0.25);
  t.match(catchSync(() => encodeValue('T', 'r', real, 2)), { reason: /greater than the maximum 1.5/ });
  t.match(catchSync(() => encodeValue('T', 'r', real, Number.NaN)), { reason: /not a finite real/ });
});

t.test('named-uuid only where allowed, and only for uuid-name strings', async (t) => {
  const ports = col(nb, 'Logical_Router', 'ports');
  t.strictSame(
    encodeValue('Logical_Router', 'ports', ports, ['lrp0', U1], { namedUuids: true }),
    ['set', [['named-uuid', 'lrp0'], ['uuid', U1]]],
    'a non-UUID string becomes a named-uuid, a UUID stays a uuid',
  );
  const e1 = catchSync(() => encodeValue('Logical_Router', 'ports', ports, ['lrp0']));
  t.type(e1, OvsdbValueError, 'named-uuid refused without namedUuids');
  t.match(e1, { table: 'Logical_Router', column: 'ports', reason: /"lrp0" is not a UUID/ });
  const e2 = catchSync(() => encodeValue('Logical_Router', 'ports', ports, ['not a name!'], { namedUuids: true }));
  t.match(e2, { reason: /neither a UUID nor a valid uuid-name/ });
  t.strictSame(decodeValue(ports, ['set', [['named-uuid', 'lrp0']]]), ['lrp0'], 'decoding accepts a named-uuid atom');

  // operations allow named-uuids (insert rows, conditions, mutations)
  const enc = encodeOperation(nb, ops.insert('Logical_Router', { name: 'r1', ports: ['lrp0'] }, 'r1'));
  t.strictSame(enc, { op: 'insert', table: 'Logical_Router', row: { name: 'r1', ports: ['set', [['named-uuid', 'lrp0']]] }, 'uuid-name': 'r1' });
  t.match(catchSync(() => encodeOperation(nb, ops.insert('Logical_Router', { name: 'r1' }, 'bad-name'))), {
    name: 'OvsdbValueError',
    column: 'uuid-name',
  });
});

t.test('encodeOperation: every value is checked; errors name table, column and reason', async (t) => {
  const cases: [string, Operation, { table: string; column: string; reason: RegExp }][] = [
    ['wrong enum', ops.insert('NAT', { type: 'bogus', external_ip: '1.1.1.1', logical_ip: '10.0.0.1' }), { table: 'NAT', column: 'type', reason: /"bogus" is not one of the allowed values \(.*snat/ }],
    ['integer above the maximum', ops.insert('ACL', { priority: 32768 }), { table: 'ACL', column: 'priority', reason: /32768 is greater than the maximum 32767/ }],
    ['integer below the minimum', ops.update('ACL', [], { priority: -1 }), { table: 'ACL', column: 'priority', reason: /-1 is less than the minimum 0/ }],
    ['string where an integer is expected', ops.insert('ACL', { priority: '100' }), { table: 'ACL', column: 'priority', reason: /"100" is not an integer/ }],
    ['fraction where an integer is expected', ops.insert('ACL', { priority: 1.5 }), { table: 'ACL', column: 'priority', reason: /not an integer/ }],
    ['number where a string is expected', ops.insert('NAT', { external_ip: 1 }), { table: 'NAT', column: 'external_ip', reason: /1 is not a string/ }],
    ['string too long', ops.insert('ACL', { name: 'n'.repeat(64) }), { table: 'ACL', column: 'name', reason: /longer than 63 characters/ }],
    ['too many elements for a max-1 column', ops.insert('NAT', { gateway_port: [U1, U2] }), { table: 'NAT', column: 'gateway_port', reason: /at most 1 element\(s\), got 2/ }],
    ['too few elements for a min-1 column', ops.insert('Logical_Router_Port', { name: 'p', networks: [] }), { table: 'Logical_Router_Port', column: 'networks', reason: /at least 1 element/ }],
    ['duplicate set elements', ops.insert('Logical_Router', { ports: [U1, U1] }), { table: 'Logical_Router', column: 'ports', reason: /duplicate/ }],
    ['array of pairs for a map', ops.insert('Logical_Router', { external_ids: [['a', '1']] }), { table: 'Logical_Router', column: 'external_ids', reason: /not a Map or object/ }],
    ['map value of the wrong type', ops.insert('Logical_Router', { external_ids: { a: 1 } }), { table: 'Logical_Router', column: 'external_ids', reason: /1 is not a string/ }],
    ['map value out of range', ops.insert('QoS', { bandwidth: { rate: 0 } }), { table: 'QoS', column: 'bandwidth', reason: /0 is less than the minimum 1/ }],
    ['map key not in its enum', ops.insert('QoS', { bandwidth: { speed: 5 } }), { table: 'QoS', column: 'bandwidth', reason: /"speed" is not one of the allowed values/ }],
    ['set where a scalar is expected', ops.insert('NAT', { type: ['snat'] }), { table: 'NAT', column: 'type', reason: /exactly one value/ }],
    ['null for a scalar', ops.insert('NAT', { type: null }), { table: 'NAT', column: 'type', reason: /required/ }],
    ['scalar for a set', ops.insert('Logical_Router', { ports: U1 }), { table: 'Logical_Router', column: 'ports', reason: /not an array/ }],
    ['unknown column', ops.insert('NAT', { bogus: 1 }), { table: 'NAT', column: 'bogus', reason: /no column "bogus" in table NAT/ }],
    ['unknown column in a condition', ops.select('NAT', [['nope', '==', 1]]), { table: 'NAT', column: 'nope', reason: /no column/ }],
    ['unknown column in select columns', ops.select('NAT', [], ['type', 'nope'] as never), { table: 'NAT', column: 'nope', reason: /no column/ }],
    ['unknown column in a wait', ops.wait('NAT', [], '==', [], ['nope'] as never), { table: 'NAT', column: 'nope', reason: /no column/ }],
    ['unknown table', ops.insert('Nope', { name: 'x' }), { table: 'Nope', column: '-', reason: /no table "Nope" in database OVN_Northbound/ }],
    ['bad value in a condition', ops.delete('NAT', [where.eq('type', 'bogus')]), { table: 'NAT', column: 'type', reason: /not one of the allowed values/ }],
    ['ordering on a string column', ops.select('NAT', [['type', '<', 'snat']]), { table: 'NAT', column: 'type', reason: /applies only to integer or real/ }],
    ['+= on a string column', ops.mutate('NAT', [], [['external_ip', '+=', 1]]), { table: 'NAT', column: 'external_ip', reason: /needs an integer or real column/ }],
    ['mutation operand out of range', ops.mutate('ACL', [], [mutation.add('priority', 40000)]), { table: 'ACL', column: 'priority', reason: /greater than the maximum/ }],
    ['insert mutation on a scalar', ops.mutate('NAT', [], [mutation.insert('type', 'snat')]), { table: 'NAT', column: 'type', reason: /needs a set or map column/ }],
    ['bad element in a set insert', ops.mutate('Logical_Router', [], [mutation.insert('ports', ['not a name!'])]), { table: 'Logical_Router', column: 'ports', reason: /neither a UUID nor a valid uuid-name/ }],
    ['writing _uuid', ops.insert('NAT', { _uuid: U1 } as never), { table: 'NAT', column: '_uuid', reason: /cannot be written/ }],
    ['wrong type in a wait row', ops.wait('NAT', [], '==', [{ type: 'bogus' }]), { table: 'NAT', column: 'type', reason: /not one of the allowed values/ }],
  ];
  for (const [name, op, want] of cases) {
    const e = catchSync(() => encodeOperation(nb, op));
    t.type(e, OvsdbValueError, name);
    t.match(e, want, `${name}: names table, column and reason`);
    if (e instanceof OvsdbValueError) t.equal(e.message, `table ${e.table}, column ${e.column}: ${e.reason}`, `${name}: message`);
  }
  // the relaxed size check: mutate operands and set conditions may be any size
  t.doesNotThrow(() => encodeOperation(nb, ops.mutate('Logical_Router_Port', [], [mutation.delete('networks', [])])), 'empty set operand');
  t.doesNotThrow(() => encodeOperation(nb, ops.select('NAT', [where.includes('gateway_port', [])])), 'includes with an empty set');

  // immutable columns (NB has none that are writable: a schema of our own)
  const own = parseSchema({
    name: 'Own',
    tables: { T: { columns: { fixed: { type: 'string', mutable: false }, n: { type: 'integer' } }, isRoot: true } },
  });
  t.doesNotThrow(() => encodeOperation(own, ops.insert('T', { fixed: 'x' })), 'immutable column can be set at insert');
  t.match(catchSync(() => encodeOperation(own, ops.update('T', [], { fixed: 'y' }))), { table: 'T', column: 'fixed', reason: /immutable/ });
  t.match(catchSync(() => encodeOperation(own, ops.mutate('T', [], [['fixed', 'insert', ['y']]]))), { column: 'fixed', reason: /immutable/ });
  t.match(catchSync(() => encodeOperation(own, ops.mutate('T', [], [['n', '^=' as never, 1]]))), { column: 'n', reason: /unknown mutator/ });
});

t.test('encodeOperation: the wire form of valid operations', async (t) => {
  t.strictSame(
    encodeOperation(nb, ops.insert('NAT', { type: 'snat', external_ip: '1.1.1.1', logical_ip: '10.0.0.0/24', gateway_port: null, external_ids: new Map([['k', 'v']]) }, 'n1')),
    {
      op: 'insert',
      table: 'NAT',
      row: { type: 'snat', external_ip: '1.1.1.1', logical_ip: '10.0.0.0/24', gateway_port: ['set', []], external_ids: ['map', [['k', 'v']]] },
      'uuid-name': 'n1',
    },
  );
  t.strictSame(encodeOperation(nb, ops.select('NAT', [where.uuid(U1), where.eq('type', 'snat')], ['type'])), {
    op: 'select',
    table: 'NAT',
    where: [
      ['_uuid', '==', ['uuid', U1]],
      ['type', '==', 'snat'],
    ],
    columns: ['type'],
  });
  t.strictSame(
    encodeOperation(nb, ops.mutate('Logical_Router', [where.eq('name', 'r1')], [mutation.insert('external_ids', { a: 'b' }), mutation.delete('external_ids', ['a', 'c'])])),
    {
      op: 'mutate',
      table: 'Logical_Router',
      where: [['name', '==', 'r1']],
      mutations: [
        ['external_ids', 'insert', ['map', [['a', 'b']]]],
        ['external_ids', 'delete', ['set', ['a', 'c']]],
      ],
    },
    'map delete by key list',
  );
  t.strictSame(encodeOperation(nb, ops.wait('Logical_Router', [where.eq('name', 'r1')], '==', [{ name: 'r1' }])), {
    op: 'wait',
    table: 'Logical_Router',
    where: [['name', '==', 'r1']],
    columns: ['name'],
    until: '==',
    rows: [{ name: 'r1' }],
    timeout: 0,
  });
});

// ------------------------------------------------------------------ against a real server

t.test('transact with a bad value throws OvsdbValueError before sending anything', async (t) => {
  const sb = await withSandbox(t, { northd: false });
  await nbctl(sb, 'lr-add', 'r0');
  await nbctl(sb, 'lr-nat-add', 'r0', 'snat', '172.16.0.1', '10.0.0.0/24');
  const natBefore = await nbctl(sb, 'list', 'NAT');
  const dumpBefore = await ovsdbClientDump(sb.nbRemote, 'OVN_Northbound');
  t.match(natBefore, /172\.16\.0\.1/, 'one NAT exists before');

  const client = new OvsdbClient({ remote: sb.nbRemote, database: 'OVN_Northbound', requestTimeoutMs: 10_000, minBackoffMs: 100, reconnect: false });
  t.teardown(() => client.close());
  await client.connect(20_000);
  const session = (client as unknown as { session: JsonRpcSession }).session;
  // what goes out: nothing but, for an unknown table or column, one get_schema (the
  // database may have been converted since the client read it; see test/db-change)
  const sent: string[] = [];
  const request = session.request.bind(session);
  session.request = ((method: string, ...rest: unknown[]) => {
    sent.push(method);
    return (request as (...a: unknown[]) => unknown)(method, ...rest);
  }) as typeof session.request;

  const bad: [string, Operation[]][] = [
    ['bad enum after a valid insert', [ops.insert('NAT', { type: 'snat', external_ip: '172.16.0.9', logical_ip: '10.9.0.0/24' }, 'ok'), ops.insert('NAT', { type: 'bogus', external_ip: '172.16.0.10', logical_ip: '10.10.0.0/24' })]],
    ['priority out of range', [ops.insert('Logical_Router', { name: 'r-new' }), ops.insert('ACL', { priority: 99999, direction: 'to-lport', match: '1', action: 'drop' })]],
    ['unknown column', [ops.update('NAT', [], { no_such_column: 'x' })]],
    ['unknown table', [ops.delete('No_Such_Table', [])]],
  ];
  for (const [name, operations] of bad) {
    const e = await catchAsync(client.transact(operations));
    t.type(e, OvsdbValueError, `${name}: OvsdbValueError`);
  }
  const e = (await catchAsync(client.transact(bad[0][1]))) as OvsdbValueError;
  t.match(e, { table: 'NAT', column: 'type', reason: /"bogus" is not one of the allowed values/ });

  t.same(sent, ['get_schema', 'get_schema'], 'no transact went out: only a schema refresh for each unknown name');
  t.equal(await nbctl(sb, 'list', 'NAT'), natBefore, 'ovn-nbctl list NAT is unchanged');
  t.equal(await nbctl(sb, '--bare', '--columns=name', 'list', 'Logical_Router'), 'r0', 'no router was added');
  t.strictSame(await ovsdbClientDump(sb.nbRemote, 'OVN_Northbound'), dumpBefore, 'ovsdb-client dump of the whole database is unchanged');

  // the same connection still works for a valid transaction
  const [res] = await client.transact([ops.insert('NAT', { type: 'dnat', external_ip: '172.16.0.2', logical_ip: '10.0.0.2' }, 'n'), ops.mutate('Logical_Router', [where.eq('name', 'r0')], [mutation.insert('nat', ['n'])])]);
  t.match(res.uuid, /^[0-9a-f-]{36}$/);
  t.match(await nbctl(sb, 'lr-nat-list', 'r0'), /dnat\s+172\.16\.0\.2\s+10\.0\.0\.2/, 'a valid transaction afterwards is committed');
});
