// A hand-written fake OVSDB server on a unix socket in a temp dir, for faults
// a real ovsdb-server does not produce on demand; and a client for it.
import type { Test } from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { OvsdbClient, type ClientOptions } from '../../src/ovsdb/client.js';
import { JsonStreamParser } from '../../src/ovsdb/framing.js';
import { SCHEMAS } from '../../tools/sandbox-lib.js';

export const NB = 'OVN_Northbound';
/** The installed NB schema, as get_schema returns it. */
export const NB_SCHEMA_JSON = JSON.parse(readFileSync(SCHEMAS.nb, 'utf8')) as { version: string };

export type Rpc = { id?: unknown; method?: string; params?: unknown[]; result?: unknown; error?: unknown };

export interface FakeConn {
  /** 0 for the first connection accepted, 1 for the next, ... */
  n: number;
  sock: net.Socket;
  /** Every message received on this connection. */
  received: Rpc[];
  send(msg: unknown): void;
  /** Raw bytes, for frames that are not what JSON.stringify makes. */
  write(raw: string): void;
  isClosed: boolean;
  closed: Promise<void>;
}

export interface Fake {
  remote: string;
  /** The socket's path (for a bare net.connect). */
  path: string;
  conns: FakeConn[];
  /** Every message received on any connection. */
  received: Rpc[];
}

/**
 * A unix-socket peer reading JSON-RPC; `handle` decides what (if anything) to
 * answer. Closed, and its temp dir removed, in t.teardown.
 */
export async function fakeServer(t: Test, handle: (msg: Rpc, conn: FakeConn) => void = () => {}): Promise<Fake> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'natgw-fake-'));
  const sockPath = path.join(dir, 'fake.sock');
  const fake: Fake = { remote: `unix:${sockPath}`, path: sockPath, conns: [], received: [] };
  const server = net.createServer((sock) => {
    let onClose!: () => void;
    const conn: FakeConn = {
      n: fake.conns.length,
      sock,
      received: [],
      send: (m) => {
        if (!sock.destroyed) sock.write(JSON.stringify(m));
      },
      write: (raw) => {
        if (!sock.destroyed) sock.write(raw);
      },
      isClosed: false,
      closed: new Promise<void>((res) => (onClose = res)),
    };
    sock.on('close', () => {
      conn.isClosed = true;
      onClose();
    });
    sock.on('error', () => {});
    fake.conns.push(conn);
    const parser = new JsonStreamParser((m) => {
      conn.received.push(m as Rpc);
      fake.received.push(m as Rpc);
      handle(m as Rpc, conn);
    });
    sock.on('data', (c: Buffer) => {
      try {
        parser.push(c);
      } catch {
        sock.destroy();
      }
    });
  });
  await new Promise<void>((res) => server.listen(sockPath, res));
  t.teardown(async () => {
    for (const c of fake.conns) c.sock.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });
  return fake;
}

/** The handshake of a server without _Server: list_dbs, get_schema (the real NB schema). True if it answered `msg`. */
export function handshake(msg: Rpc, conn: FakeConn): boolean {
  if (msg.method === 'list_dbs') {
    conn.send({ id: msg.id, result: [NB], error: null });
    return true;
  }
  if (msg.method === 'get_schema' && msg.params?.[0] === NB) {
    conn.send({ id: msg.id, result: NB_SCHEMA_JSON, error: null });
    return true;
  }
  return false;
}

/** An NB client for a fake server (no reconnect unless asked for), closed in t.teardown. */
export function fakeClient(t: Test, remote: string, extra: Partial<ClientOptions> = {}): OvsdbClient {
  const c = new OvsdbClient({ remote, database: NB, reconnect: false, requestTimeoutMs: 10_000, minBackoffMs: 20, maxBackoffMs: 100, ...extra });
  t.teardown(() => c.close());
  return c;
}
