/**
 * ovn-natgwctl's side of the admin socket: one JSON-RPC 2.0 request to
 * ovn-natgwd, its result or its error. A daemon that cannot be reached fails
 * at once with the cause.
 */
import { createConnection } from 'node:net';
import { JsonStreamParser } from '../ovsdb/framing.js';

/** The daemon's default admin socket (ovn-natgwd --socket). */
export const DEFAULT_DAEMON_SOCKET = '/run/ovn-natgw/ovn-natgwd.ctl';

export class DaemonError extends Error {
  override name = 'DaemonError';
}

/** Why the daemon's socket could not be reached, as the error to show. */
function unreachable(socket: string, e: NodeJS.ErrnoException): DaemonError {
  const why = e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'connection refused' : e.message;
  return new DaemonError(`cannot reach ovn-natgwd at ${socket}: ${why}`);
}

export function callDaemon(socket: string, method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      c.destroy();
      fn();
    };
    const parser = new JsonStreamParser(
      (m) => {
        const r = m as { id?: unknown; result?: unknown; error?: { message?: string } };
        if (r.id !== 1) return;
        if (r.error) finish(() => reject(new DaemonError(r.error!.message ?? 'error')));
        else finish(() => resolve(r.result));
      },
      { leafLevel: 1 },
    );
    c.on('data', (b: Buffer) => parser.push(b));
    c.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(unreachable(socket, e))));
    c.on('close', () => finish(() => reject(new DaemonError(`ovn-natgwd at ${socket} closed the connection without an answer`))));
    c.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  });
}

/**
 * A request whose answer is followed by notifications (events -f): `onResult`
 * with the answer, `onNotify` for each notification; resolves when the
 * daemon closes the connection.
 */
export function followDaemon(socket: string, method: string, params: Record<string, unknown>, onResult: (r: unknown) => void, onNotify: (method: string, params: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let answered = false;
    const parser = new JsonStreamParser(
      (m) => {
        const r = m as { id?: unknown; method?: string; params?: unknown; result?: unknown; error?: { message?: string } };
        if (r.id === 1) {
          answered = true;
          if (r.error) {
            c.destroy();
            reject(new DaemonError(r.error.message ?? 'error'));
          } else onResult(r.result);
        } else if (typeof r.method === 'string') onNotify(r.method, r.params);
      },
      { leafLevel: 1 },
    );
    c.on('data', (b: Buffer) => parser.push(b));
    c.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(socket, e)));
    c.on('close', () => (answered ? resolve() : reject(new DaemonError(`ovn-natgwd at ${socket} closed the connection without an answer`))));
    c.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  });
}
