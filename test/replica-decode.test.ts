/**
 * Decoding of a monitor reply into replica rows without a server (the wire
 * bytes are what ovsdb-server sends; the server-backed tests are in
 * replica.test.ts): rows built by the per-table row factory, unusual column
 * names, shared (interned) strings and chunk boundaries anywhere.
 */
import t from 'tap';
import type { Replica, ReplicaRow } from '../src/ovsdb/replica.js';
import { decodeReply } from './helpers/decode.js';
import { parseSchema } from '../src/ovsdb/schema.js';

const schema = parseSchema({
  name: 'Test',
  version: '1.0.0',
  tables: {
    T: {
      columns: {
        ['__proto__']: { type: 'string' },
        constructor: { type: { key: 'integer', min: 0, max: 1 } },
        type: { type: { key: { type: 'string', enum: ['set', ['snat', 'dnat', 'dnat_and_snat']] } } },
        external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        tags: { type: { key: 'string', min: 0, max: 'unlimited' } },
      },
    },
  },
});

function feed(text: string, cut: number, fast: boolean): Replica {
  return decodeReply(schema, text, () => cut, fast);
}

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const reply = JSON.stringify({
  id: 7,
  result: [
    false,
    '00000000-0000-0000-0000-000000000000',
    {
      T: {
        [U1]: {
          initial: {
            ['__proto__']: 'not a prototype',
            constructor: 3,
            type: 'dnat_and_snat',
            external_ids: ['map', [['neutron:fip_id', 'a'], ['owner', 'ovn-natgw']]],
            tags: ['set', ['x', 'y']],
          },
        },
        [U2]: { initial: { type: 'snat', external_ids: ['map', [['neutron:fip_id', 'b']]] } },
      },
    },
  ],
  error: null,
});

for (const [cut, fast] of [1, 3, 17, reply.length].flatMap((c) => [[c, true] as const, [c, false] as const])) {
  t.test(`rows decoded with chunks of ${cut} bytes, fast row parser ${fast ? 'on' : 'off'}`, async (t) => {
    const rep = feed(reply, cut, fast);
    const r1 = rep.table('T').get(U1) as ReplicaRow & Record<string, unknown>;
    const r2 = rep.table('T').get(U2) as ReplicaRow & Record<string, unknown>;
    t.ok(r1 && r2, 'both rows present');
    t.equal(Object.getPrototypeOf(r1), Object.prototype, 'a column named __proto__ does not change the row prototype');
    t.same(Object.getOwnPropertyDescriptor(r1, '__proto__')?.value, 'not a prototype', '__proto__ column is an own property');
    t.equal(r1.constructor, 3, 'a column named constructor holds its value');
    t.equal(r1._uuid, U1);
    t.equal(r1.type, 'dnat_and_snat');
    t.same([...(r1.external_ids as Map<string, string>)], [['neutron:fip_id', 'a'], ['owner', 'ovn-natgw']]);
    t.same(r1.tags, ['x', 'y']);
    // defaults for columns left out of "initial"
    t.equal(Object.getOwnPropertyDescriptor(r2, '__proto__')?.value, '', 'left-out string column is ""');
    t.equal(r2.constructor, null, 'left-out optional column is null');
    t.same(r2.tags, []);
    t.same([...(r2.external_ids as Map<string, string>)], [['neutron:fip_id', 'b']]);
    t.same(Object.keys(r1).sort(), ['__proto__', '_uuid', 'constructor', 'external_ids', 'tags', 'type']);
  });
}
