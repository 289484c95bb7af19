/**
 * Raw OVSDB JSON-RPC helpers for the benchmarks: a streaming scanner that
 * finds the boundaries of top-level JSON texts without parsing them, a
 * pipelined transaction sender (the "raw limit") and small utilities.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { unixPath } from './sandbox.js';

import { BACKSLASH, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from '../src/ovsdb/json-bytes.js';

/**
 * Finds the end of each top-level JSON text in a byte stream (OVSDB sends
 * back-to-back JSON objects). Strings are skipped with indexOf, so the cost is
 * dominated by the structural bytes. With keep=true the bytes of each message
 * are handed to onMessage; with keep=false only its size is.
 */
export class JsonStreamScanner {
  private depth = 0;
  private inString = false;
  private escape = false;
  private pieces: Buffer[] = [];
  private msgBytes = 0;
  messages = 0;
  bytes = 0;

  constructor(
    private readonly onMessage: (msg: Buffer | null, size: number) => void,
    private readonly keep = true,
  ) {}

  feed(buf: Buffer): void {
    const n = buf.length;
    this.bytes += n;
    let i = 0;
    let msgStart = this.depth > 0 ? 0 : -1;
    let nextBs = -2; // cached position of the next backslash (-1: none left)
    while (i < n) {
      if (this.inString) {
        if (this.escape) {
          this.escape = false;
          i++;
          continue;
        }
        const q = buf.indexOf(QUOTE, i);
        if (nextBs !== -1 && nextBs < i) nextBs = buf.indexOf(BACKSLASH, i);
        if (nextBs !== -1 && (q === -1 || nextBs < q)) {
          // skip the escaped character (which may be in the next chunk)
          if (nextBs + 1 >= n) {
            this.escape = true;
            i = n;
          } else {
            i = nextBs + 2;
          }
          continue;
        }
        if (q === -1) {
          i = n;
          continue;
        }
        this.inString = false;
        i = q + 1;
        continue;
      }
      const c = buf[i];
      if (c === QUOTE) {
        this.inString = true;
      } else if (c === LBRACE || c === LBRACKET) {
        if (this.depth === 0) msgStart = i;
        this.depth++;
      } else if (c === RBRACE || c === RBRACKET) {
        this.depth--;
        if (this.depth === 0) {
          const end = i + 1;
          const size = this.msgBytes + (end - msgStart);
          let msg: Buffer | null = null;
          if (this.keep) {
            const last = buf.subarray(msgStart, end);
            msg = this.pieces.length === 0 ? last : Buffer.concat([...this.pieces, last]);
            this.pieces = [];
          }
          this.msgBytes = 0;
          msgStart = -1;
          this.messages++;
          this.onMessage(msg, size);
        } else if (this.depth < 0) {
          throw new Error('JSON stream: unbalanced closing bracket');
        }
      }
      i++;
    }
    if (this.depth > 0 && msgStart >= 0) {
      this.msgBytes += n - msgStart;
      if (this.keep) this.pieces.push(Buffer.from(buf.subarray(msgStart, n)));
    }
  }
}

export function connectUnix(remote: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(unixPath(remote));
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Answer an echo request from the server, if msg is one (never expected on unix sockets). */
function maybeEcho(sock: Socket, msg: Buffer): boolean {
  if (msg.length > 512 || msg.indexOf('"method"') < 0) return false;
  const m = JSON.parse(msg.toString('utf8')) as { method?: string; params?: unknown; id?: unknown };
  if (m.method === 'echo') sock.write(JSON.stringify({ result: m.params, error: null, id: m.id }));
  return true;
}

/**
 * One request/response on an open socket (not for benchmarking: JSON.parse'd).
 */
export function rpc<T = unknown>(sock: Socket, method: string, params: unknown[], id: number | string = 'rpc'): Promise<T> {
  return new Promise((resolve, reject) => {
    const scanner = new JsonStreamScanner((msg) => {
      if (!msg || maybeEcho(sock, msg)) return;
      const reply = JSON.parse(msg.toString('utf8')) as { id: unknown; result: T; error: unknown };
      if (reply.id !== id) return;
      cleanup();
      if (reply.error !== null && reply.error !== undefined) reject(new Error(`${method}: ${JSON.stringify(reply.error)}`));
      else resolve(reply.result);
    });
    const onData = (b: Buffer) => {
      try {
        scanner.feed(b);
      } catch (e) {
        cleanup();
        reject(e as Error);
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`${method}: connection closed`));
    };
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('close', onClose);
    };
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.write(JSON.stringify({ method, params, id }));
  });
}

export interface RawApplyResult {
  seconds: number;
  replies: number;
  requestBytes: number;
  replyBytes: number;
}

/** Checks one transact reply: error null, one result per operation, no "error" member anywhere in results. */
export function checkTransactReply(reply: unknown, ops: number): string | null {
  if (typeof reply !== 'object' || reply === null) return 'reply is not an object';
  const r = reply as { result?: unknown; error?: unknown; id?: unknown };
  if (r.error !== null) return `rpc error ${JSON.stringify(r.error)}`;
  if (!Array.isArray(r.result)) return 'result is not an array';
  for (const x of r.result) {
    if (x && typeof x === 'object' && 'error' in x) return `operation error ${JSON.stringify(x)}`;
  }
  // a commit failure adds one result beyond the operations; a failed op truncates it
  if (r.result.length !== ops) return `expected ${ops} results, got ${r.result.length}`;
  return null;
}

/**
 * Sends all pre-built transact requests pipelined on a fresh connection and
 * waits for every reply. Timed from the first byte written to the last reply
 * received; replies are only counted (scanned) inside the timed window and
 * fully verified (JSON.parse'd, ids, results) after it.
 */
export async function rawApply(remote: string, requests: string[]): Promise<RawApplyResult> {
  // prepare outside the timed window
  const expected = new Map<number, number>(); // id → number of operations
  for (const r of requests) {
    const m = JSON.parse(r) as { method: string; params: unknown[]; id: number };
    if (m.method !== 'transact' || typeof m.id !== 'number') throw new Error('rawApply: not a transact request with a numeric id');
    if (expected.has(m.id)) throw new Error(`rawApply: duplicate id ${m.id}`);
    expected.set(m.id, m.params.length - 1);
  }
  const payload = Buffer.from(requests.join(''), 'utf8');
  const sock = await connectUnix(remote);
  sock.setNoDelay?.(true);
  const replies: Buffer[] = [];
  const want = requests.length;
  try {
    const { t0, t1, replyBytes } = await new Promise<{ t0: number; t1: number; replyBytes: number }>((resolve, reject) => {
      let t0 = 0;
      const scanner = new JsonStreamScanner((msg) => {
        if (msg!.length < 512 && msg!.indexOf('"method"') >= 0 && maybeEcho(sock, msg!)) return;
        replies.push(msg!);
        if (replies.length === want) resolve({ t0, t1: performance.now(), replyBytes: scanner.bytes });
      });
      sock.on('data', (b: Buffer) => {
        try {
          scanner.feed(b);
        } catch (e) {
          reject(e as Error);
        }
      });
      sock.once('close', () => reject(new Error(`rawApply: connection closed after ${replies.length}/${want} replies`)));
      sock.once('error', reject);
      t0 = performance.now();
      sock.write(payload);
    });
    // verification, outside the timed window
    const seen = new Set<number>();
    for (const buf of replies) {
      const reply = JSON.parse(buf.toString('utf8')) as { id: unknown };
      const id = reply.id as number;
      const ops = expected.get(id);
      if (ops === undefined) throw new Error(`rawApply: reply with unexpected id ${JSON.stringify(reply.id)}`);
      if (seen.has(id)) throw new Error(`rawApply: duplicate reply id ${id}`);
      seen.add(id);
      const err = checkTransactReply(reply, ops);
      if (err) throw new Error(`rawApply: transaction ${id} failed: ${err}`);
    }
    return { seconds: (t1 - t0) / 1000, replies: replies.length, requestBytes: payload.length, replyBytes };
  } finally {
    sock.destroy();
  }
}

/** Row count of each given table (select _uuid), via one transaction on a fresh connection. */
export async function countRows(remote: string, tables: string[], db = 'OVN_Northbound'): Promise<Record<string, number>> {
  const sock = await connectUnix(remote);
  try {
    const ops = tables.map((table) => ({ op: 'select', table, where: [], columns: ['_uuid'] }));
    const result = await rpc<Array<{ rows?: unknown[]; error?: string }>>(sock, 'transact', [db, ...ops], 'count');
    const out: Record<string, number> = {};
    tables.forEach((t, k) => {
      const r = result[k];
      if (!r || r.error || !Array.isArray(r.rows)) throw new Error(`countRows ${t}: ${JSON.stringify(r)}`);
      out[t] = r.rows.length;
    });
    return out;
  } finally {
    sock.destroy();
  }
}
