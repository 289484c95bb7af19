/**
 * A monitor reply larger than the longest string V8 can make
 * (buffer.constants.MAX_STRING_LENGTH, about 512 MiB) goes through the framer
 * (src/ovsdb/framing.ts) without ever being one string: "messages of hundreds
 * of MB must not be held as one JS string".
 *
 * The reply is generated on the fly in 64 KiB chunks (the whole message never
 * exists) and fed to a JsonStreamParser chosen the way jsonrpc.ts does it (a
 * sinkChooser that gives the pending request's sink for "result"). The sink is
 * built like the replica's UpdateDecoder: each row is parsed straight from the
 * bytes by the replica's fast path (rowparse.ts parseRow, rows cut by a chunk
 * boundary are offered again whole), falling back to the parsed JSON leaf; it
 * checks each row and keeps nothing. Asserted: the message is bigger than the
 * string limit, every row arrives once and in order with its content, the
 * reply completes with the right id, and the process's RSS grows by far less
 * than the message size.
 */
import t from 'tap';
import { constants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { JsonStreamParser, RAW_NOT_HANDLED, type LeafSink, type PathElem } from '../src/ovsdb/framing.js';
import { RowShape, parseRow, parsedRow } from '../src/ovsdb/rowparse.js';
import { defaultValue, parseSchema } from '../src/ovsdb/schema.js';
import { SCHEMAS } from '../tools/sandbox-lib.js';

const CHUNK = 64 * 1024;
const MAX = constants.MAX_STRING_LENGTH;
const TARGET = MAX + 16 * 1024 * 1024; // bytes of the message (all ASCII: bytes = characters)
const ID = 4242;
const LAST_TXN = '5a1f0d2e-7c3b-4e8a-9f60-1b2c3d4e5f60';

const uuidOf = (i: number) => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-${(i * 7919).toString(16).padStart(12, '0').slice(-12)}`;
const ipOf = (i: number) => `${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
/** One NAT row as ovsdb-server writes it in a monitor_cond_since reply: "<uuid>":{"initial":{...}}. */
const rowText = (i: number) =>
  `"${uuidOf(i)}":{"initial":{"external_ids":["map",[["neutron:fip_id","fip-${i}"],["ovn-natgw:owner","natgw"]]],` +
  `"external_ip":"172.${ipOf(i)}","logical_ip":"10.${ipOf(i)}","type":"dnat_and_snat","options":["map",[["stateless","false"]]],` +
  `"logical_port":"lsp-${i}","external_mac":"0a:00:00:${ipOf(i).split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}"}}`;

/**
 * The reply {"id":ID,"result":[false,"<txn>",{"NAT":{rows...}}],"error":null},
 * in fresh 64 KiB Buffers (a socket's chunks are never reused), made as they
 * are asked for. Stops adding rows once TARGET bytes are reached.
 */
function* replyChunks(): Generator<Buffer, { bytes: number; rows: number }> {
  let bytes = 0;
  let rows = 0;
  let chunk = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  function* emit(text: string): Generator<Buffer> {
    const b = Buffer.from(text, 'latin1');
    bytes += b.length;
    for (let off = 0; off < b.length; ) {
      const n = b.copy(chunk, used, off);
      used += n;
      off += n;
      if (used === CHUNK) {
        yield chunk;
        chunk = Buffer.allocUnsafe(CHUNK);
        used = 0;
      }
    }
  }
  yield* emit(`{"id":${ID},"result":[false,"${LAST_TXN}",{"NAT":{`);
  const tail = '}}],"error":null}';
  while (bytes + tail.length < TARGET) {
    let batch = '';
    for (let k = 0; k < 256; k++) batch += (rows === 0 ? '' : ',') + rowText(rows++);
    yield* emit(batch);
  }
  yield* emit(tail);
  if (used > 0) yield chunk.subarray(0, used);
  return { bytes, rows };
}

t.test('a monitor reply larger than the longest JS string is parsed row by row', async (t) => {
  t.throws(() => 'x'.repeat(MAX + 1), RangeError, `V8 cannot make a string of more than ${MAX} characters`);

  // the replica's way of parsing a NAT row: a RowShape and a row factory from the NB schema
  const nat = parseSchema(JSON.parse(readFileSync(SCHEMAS.nb, 'utf8'))).tables.get('NAT')!;
  const cols = [...nat.columns.values()];
  const shape = new RowShape(cols);
  const newRow = (uuid: string) => {
    const r: Record<string, unknown> = { _uuid: uuid };
    for (const c of cols) r[c.name] = defaultValue(c.type);
    return r;
  };

  let rows = 0;
  let fast = 0;
  let bad: string | undefined;
  const check = (uuid: unknown, fipId: unknown, externalIp: unknown) => {
    if (bad === undefined && (uuid !== uuidOf(rows) || fipId !== `fip-${rows}` || externalIp !== `172.${ipOf(rows)}`)) {
      bad = `row ${rows}: got ${String(uuid)} ${String(fipId)} ${String(externalIp)}`;
    }
    rows++;
  };
  const isRow = (path: readonly PathElem[]) => path.length === 3 && path[0] === 2 && path[1] === 'NAT';
  const sink: LeafSink = {
    rawLeaf(path, buf, start, limit) {
      if (!isRow(path)) return RAW_NOT_HANDLED;
      const end = parseRow(buf, start, limit, shape, newRow, path[2] as string, true);
      if (end >= 0) {
        const r = parsedRow!;
        check(r._uuid, (r.external_ids as ReadonlyMap<string, string>).get('neutron:fip_id'), r.external_ip);
        fast++;
      }
      return end;
    },
    onLeaf(path, value) {
      if (!isRow(path)) return false;
      const cols = (value as { initial: { external_ids: ['map', [string, string][]]; external_ip: string } }).initial;
      check(path[2], new Map(cols.external_ids[1]).get('neutron:fip_id'), cols.external_ip);
      return true; // consumed: nothing of the row stays in the message
    },
  };

  const chosen: unknown[] = [];
  const messages: unknown[] = [];
  const parser = new JsonStreamParser((m) => messages.push(m), {
    maxMessageBytes: 1024 * 1024 * 1024,
    // as JsonRpcSession.chooseSink: the sink of the pending request whose id the reply carries
    sinkChooser: (partial, member) => {
      if (member !== 'result') return undefined;
      chosen.push(partial.id);
      return partial.id === ID ? sink : undefined;
    },
  });

  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const began = Date.now();
  const gen = replyChunks();
  let chunks = 0;
  let r = gen.next();
  while (!r.done) {
    parser.push(r.value);
    if (++chunks % 64 === 0) {
      peak = Math.max(peak, process.memoryUsage.rss());
      // as from a socket: chunks arrive over many turns of the event loop
      await new Promise((res) => setImmediate(res));
    }
    r = gen.next();
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  const { bytes, rows: sent } = r.value;
  const secs = (Date.now() - began) / 1000;
  t.comment(`${bytes} bytes in ${chunks} chunks, ${sent} rows (${fast} by the fast path) in ${secs.toFixed(1)} s; RSS +${((peak - rss0) / 2 ** 20).toFixed(0)} MiB`);

  t.ok(bytes > MAX, `the message (${bytes} bytes) is longer than the longest string (${MAX})`);
  t.ok(parser.idle, 'the parser is idle after the last byte');
  t.equal(messages.length, 1, 'one message');
  t.strictSame(chosen, [ID], 'the sink was chosen once, for the reply id');
  t.strictSame(messages[0], { id: ID, result: [false, LAST_TXN, { NAT: {} }], error: null }, 'the reply with the right id, its rows consumed by the sink');
  t.equal(rows, sent, `every row reached the sink (${sent})`);
  t.equal(bad, undefined, 'each row once, in order, with its content');
  t.ok(fast > sent / 2, 'rows went through the replica fast path');
  // measured: +14..50 MiB (young generation, chunks awaiting GC); holding the message would take > 528 MiB
  t.ok(peak - rss0 < 128 * 2 ** 20, `RSS grew by ${((peak - rss0) / 2 ** 20).toFixed(0)} MiB, far below the ${(bytes / 2 ** 20).toFixed(0)} MiB message`);
});
