/**
 * Child process for the raw replica measurements (one process per mode, so
 * peak RSS is per measurement).
 *
 * usage: tsx bench/child-raw-replica.ts NB_REMOTE server-send|json-parse
 *
 * Connects, fetches the schema and prepares a `monitor_cond` request for every
 * NB table with every column (not timed); then, timed from the first byte
 * written:
 *  - server-send: reads bytes until the end of the top-level JSON reply
 *    (found by scanning, nothing is parsed or kept) — the server's own send time;
 *  - json-parse: keeps the bytes, concatenates and JSON.parse's them, and
 *    counts rows (seconds includes the receive).
 * Prints one JSON line: {"seconds":..,"bytes":..,"rss_mb":..,[rows, parse_seconds]}.
 */
import { performance } from 'node:perf_hooks';
import { connectUnix, JsonStreamScanner, rpc } from './raw.js';

const DB = 'OVN_Northbound';
const [remote, mode] = process.argv.slice(2);
if (!remote || (mode !== 'server-send' && mode !== 'json-parse')) {
  process.stderr.write('usage: child-raw-replica.ts NB_REMOTE server-send|json-parse\n');
  process.exit(2);
}

interface Schema {
  tables: Record<string, { columns: Record<string, unknown> }>;
}

const sock = await connectUnix(remote);
const schema = await rpc<Schema>(sock, 'get_schema', [DB], 'schema');
const requests: Record<string, Array<{ columns: string[] }>> = {};
for (const [name, t] of Object.entries(schema.tables)) requests[name] = [{ columns: Object.keys(t.columns) }];
const MON_ID = 424242;
const request = Buffer.from(JSON.stringify({ method: 'monitor_cond', params: [DB, 'bench', requests], id: MON_ID }));
const keep = mode === 'json-parse';

// first and last bytes received, to check the reply's id/error without parsing it
let head = '';
let tail: Buffer = Buffer.alloc(0);
const result = await new Promise<{ t0: number; t1: number; bytes: number; msg: Buffer | null }>((resolve, reject) => {
  let t0 = 0;
  const scanner = new JsonStreamScanner((msg, size) => {
    // the only message expected on this connection is the reply
    resolve({ t0, t1: performance.now(), bytes: size, msg });
  }, keep);
  sock.on('data', (b: Buffer) => {
    if (head.length < 256) head += b.subarray(0, 256).toString('latin1');
    tail = b.length >= 256 ? b : Buffer.concat([tail, b]).subarray(-256);
    try {
      scanner.feed(b);
    } catch (e) {
      reject(e as Error);
    }
  });
  sock.once('close', () => reject(new Error('connection closed before the monitor reply')));
  t0 = performance.now();
  sock.write(request);
});

const out: Record<string, number | string> = {
  seconds: (result.t1 - result.t0) / 1000,
  bytes: result.bytes,
};
if (keep) {
  const tp = performance.now();
  const reply = JSON.parse(result.msg!.toString('utf8')) as { id: unknown; error: unknown; result: Record<string, Record<string, unknown>> };
  const t2 = performance.now();
  if (reply.id !== MON_ID || reply.error !== null) throw new Error(`unexpected reply: id=${String(reply.id)} error=${JSON.stringify(reply.error)}`);
  let rows = 0;
  for (const t of Object.values(reply.result)) rows += Object.keys(t).length;
  out.seconds = (t2 - result.t0) / 1000;
  out.parse_seconds = (t2 - tp) / 1000;
  out.rows = rows;
} else {
  // sanity check without parsing the whole reply: "id" and "error" sit before or after the big "result"
  const ends = head.slice(0, 256) + tail.subarray(-256).toString('latin1');
  if (!ends.includes(`"id":${MON_ID}`) || !ends.includes('"error":null')) {
    throw new Error(`unexpected reply: ${head.slice(0, 120)} ... ${tail.subarray(-120).toString('latin1')}`);
  }
}
out.rss_mb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify(out) + '\n');
sock.destroy();
process.exit(0);
