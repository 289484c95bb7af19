/**
 * The admin socket: a unix socket (mode 0660, a group if configured) that
 * speaks two protocols, told apart per message:
 *  - JSON-RPC 2.0 (`"jsonrpc": "2.0"`), for programs and ovn-natgwctl:
 *    params an object (or absent), result any JSON, errors
 *    `{code, message}` naming the method or parameter;
 *  - the OVS unixctl protocol (JSON-RPC 1.0: `{"id", "method", "params":
 *    [strings]}`, answered `{"id", "result": text, "error": null}` or
 *    `{"id", "result": null, "error": text}`), so that `ovs-appctl -t SOCKET
 *    list-commands`, `vlog/set`, `exit` and our `natgw/...` commands work as
 *    they do for ovn-northd.
 * Messages are JSON values back to back on the stream (as OVSDB). A malformed
 * message or one over the size limit gets an error and the connection is
 * closed; a client that does not read its replies is dropped rather than
 * buffered for; past `maxClients` a new connection is told so and closed.
 * Nothing a request does blocks the others: handlers are async.
 */
import { chmod, chown, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { FramingError, JsonStreamParser } from '../ovsdb/framing.js';

/** A JSON-RPC error to answer with (code and message as JSON-RPC 2.0 has them). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
export const INVALID_PARAMS = -32602;

/** The client connection a request came on: to send it notifications until it leaves. */
export interface AdminClient {
  /** a JSON-RPC 2.0 notification to this client (dropped with the client if it does not read) */
  notify(method: string, params: unknown): void;
  /** called once when the client leaves */
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

export interface AdminMethod {
  /** JSON-RPC 2.0: params (an object, {} when absent) to result */
  rpc?: (params: Record<string, unknown>, client: AdminClient) => unknown;
  /** unixctl: string arguments to a text answer */
  unixctl?: (args: string[]) => string | Promise<string>;
  /** for list-commands: the arguments, as ovs-appctl shows them */
  usage?: string;
}

export interface AdminOptions {
  path: string;
  /** the socket's group (a gid); default the daemon's */
  gid?: number;
  /** the most bytes one message may have (default 1 MiB) */
  maxMessageBytes?: number;
  /** the most clients at once (default 64) */
  maxClients?: number;
  /** a client whose unread replies pass this many bytes is dropped (default 16 MiB) */
  maxPendingBytes?: number;
  logger?: Logger;
}

export class AdminServer {
  private readonly methods = new Map<string, AdminMethod>();
  private readonly clients = new Set<Socket>();
  private server: Server | undefined;

  constructor(private readonly o: AdminOptions) {
    this.register('list-commands', {
      unixctl: () =>
        'The available commands are:\n' +
        [...this.methods]
          .filter(([, m]) => m.unixctl)
          .map(([n, m]) => `  ${n}${m.usage ? ` ${m.usage}` : ''}`)
          .sort()
          .join('\n') +
        '\n',
    });
  }

  register(name: string, m: AdminMethod): void {
    this.methods.set(name, m);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  async listen(): Promise<void> {
    await removeStale(this.o.path);
    const server = createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.o.path, 0o660);
    if (this.o.gid !== undefined) await chown(this.o.path, process.getuid?.() ?? 0, this.o.gid);
  }

  /** Stops accepting, ends every client, removes the socket. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.clients) c.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
    await rm(this.o.path, { force: true });
  }

  private accept(sock: Socket): void {
    if (this.clients.size >= (this.o.maxClients ?? 64)) {
      sock.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `too many clients (at most ${this.o.maxClients ?? 64})` } }));
      return;
    }
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => sock.destroy());
    const parser = new JsonStreamParser((m) => void this.handle(sock, m), { maxMessageBytes: this.o.maxMessageBytes ?? 1024 * 1024, leafLevel: 1 });
    sock.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (e) {
        const message = e instanceof FramingError ? `malformed message: ${e.message}` : `malformed message: ${(e as Error).message}`;
        this.send(sock, { jsonrpc: '2.0', id: null, error: { code: -32700, message } });
        sock.end();
        sock.removeAllListeners('data');
      }
    });
  }

  private send(sock: Socket, msg: unknown): void {
    if (sock.destroyed) return;
    if (sock.writableLength > (this.o.maxPendingBytes ?? 16 * 1024 * 1024)) {
      // a client that does not read its replies is not buffered for
      this.o.logger?.warn({ pending: sock.writableLength }, 'admin: dropping a client that does not read');
      sock.destroy();
      return;
    }
    sock.write(JSON.stringify(msg));
  }

  private async handle(sock: Socket, m: unknown): Promise<void> {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      this.send(sock, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'a request must be a JSON object' } });
      return;
    }
    const req = m as Record<string, unknown>;
    const id = req.id;
    const validId = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    if (req.jsonrpc === '2.0') return this.rpc(sock, req, validId ? (id as string | number | null | undefined) : null, validId);
    return this.unixctl(sock, req, validId ? id : null);
  }

  private async rpc(sock: Socket, req: Record<string, unknown>, id: string | number | null | undefined, validId: boolean): Promise<void> {
    const reply = (body: { result: unknown } | { error: { code: number; message: string } }) => {
      if (id !== undefined) this.send(sock, { jsonrpc: '2.0', id, ...body });
    };
    if (!validId) return reply({ error: { code: -32600, message: 'id: must be a string, a number or null' } });
    if (typeof req.method !== 'string') return reply({ error: { code: -32600, message: 'method: must be a string' } });
    const m = this.methods.get(req.method);
    if (!m?.rpc) return reply({ error: { code: -32601, message: `method "${req.method.slice(0, 100)}": unknown (known: ${[...this.methods].filter(([, x]) => x.rpc).map(([n]) => n).sort().join(', ')})` } });
    const params = req.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) return reply({ error: { code: INVALID_PARAMS, message: `${req.method}: params: must be an object` } });
    try {
      const client: AdminClient = {
        notify: (method, p) => this.send(sock, { jsonrpc: '2.0', method, params: p }),
        onClose: (fn) => void sock.once('close', fn),
        get closed() {
          return sock.destroyed;
        },
      };
      reply({ result: (await m.rpc(params as Record<string, unknown>, client)) ?? null });
    } catch (e) {
      const code = e instanceof RpcError ? e.code : -32000;
      reply({ error: { code, message: `${req.method}: ${(e as Error).message}` } });
    }
  }

  private async unixctl(sock: Socket, req: Record<string, unknown>, id: unknown): Promise<void> {
    const reply = (result: string | null, error: string | null) => this.send(sock, { id: id ?? null, result, error });
    if (typeof req.method !== 'string') return reply(null, 'method: must be a string');
    const params = req.params ?? [];
    if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) return reply(null, `${req.method.slice(0, 100)}: params: must be an array of strings`);
    const m = this.methods.get(req.method);
    if (!m?.unixctl) return reply(null, `"${req.method.slice(0, 100)}" is not a valid command (use list-commands to see them)`);
    try {
      reply(await m.unixctl(params as string[]), null);
    } catch (e) {
      reply(null, (e as Error).message);
    }
  }
}

/** Removes a socket file left by a daemon that died; refuses when one still answers there. */
async function removeStale(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path}: another daemon answers on this socket`);
  await rm(path, { force: true });
}
