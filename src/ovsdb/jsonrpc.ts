// One JSON-RPC session over a connected stream (RFC 7047 section 4): request
// ids and the pending-request map, notifications, answering the server's
// "echo", an inactivity probe and per-request timeouts.

import type { Duplex } from 'node:stream';
import { FramingError, JsonStreamParser, type LeafSink } from './framing.js';
import { ConnectionClosedError, RequestTimeoutError, RpcError } from './errors.js';

export interface SessionOptions {
  /** Maximum size of one incoming message (bytes). */
  maxMessageBytes?: number;
  /**
   * Inactivity probe in ms: after this long with nothing received, send an
   * echo; if nothing arrives for another interval, drop the connection.
   * 0 disables it (the default for unix sockets).
   */
  probeIntervalMs?: number;
  /** Gives a sink for the params of a notification (rows decoded as they arrive). */
  notificationSink?: (method: string) => LeafSink | undefined;
  /**
   * How the session gets the bytes (a transport Link's read); default: the
   * stream's 'data' events. Chunks need only be valid during the call.
   */
  read?: (onData: (chunk: Buffer) => void) => void;
}

export interface RequestOptions {
  /** Reject with RequestTimeoutError after this long (0 or undefined: no timeout). */
  timeoutMs?: number;
  /** Receives the leaves of the reply's "result" as they arrive. */
  sink?: LeafSink;
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  sink?: LeafSink;
}

export type NotificationHandler = (method: string, params: unknown, sink: LeafSink | undefined) => void;

export class JsonRpcSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly parser: JsonStreamParser;
  private closedError: Error | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private sawTraffic = false;
  private probeSent = false;
  private currentNotificationSink: LeafSink | undefined;
  private readonly closeHandlers: ((err: Error) => void)[] = [];
  onNotification: NotificationHandler = () => {};

  constructor(
    private readonly sock: Duplex,
    private readonly opts: SessionOptions = {},
  ) {
    this.parser = new JsonStreamParser((m) => this.dispatch(m), {
      ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      sinkChooser: (partial, member) => this.chooseSink(partial, member),
    });
    const onData = (chunk: Buffer): void => {
      this.sawTraffic = true;
      try {
        this.parser.push(chunk);
      } catch (e) {
        this.close(e as Error);
      }
    };
    if (opts.read) opts.read(onData);
    else sock.on('data', onData);
    sock.on('error', (e) => this.close(e));
    sock.on('close', () => this.close(new ConnectionClosedError('connection closed by peer')));
    sock.on('end', () => this.close(new ConnectionClosedError('connection closed by peer')));
    const probe = opts.probeIntervalMs ?? 0;
    if (probe > 0) this.probeTimer = setInterval(() => this.probeTick(), probe);
  }

  get isOpen(): boolean {
    return this.closedError === undefined;
  }

  /** Why the session closed (undefined while open). */
  get closeReason(): Error | undefined {
    return this.closedError;
  }

  onClose(fn: (err: Error) => void): void {
    if (this.closedError) fn(this.closedError);
    else this.closeHandlers.push(fn);
  }

  /** Send a request; resolves with its "result", rejects with RpcError, timeout or close. */
  request(method: string, params: unknown, ropts: RequestOptions = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closedError) {
        reject(new ConnectionClosedError(`${method}: not connected (${this.closedError.message})`));
        return;
      }
      const p: Pending = { method, resolve, reject, ...(ropts.sink ? { sink: ropts.sink } : {}) };
      if (ropts.timeoutMs && ropts.timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestTimeoutError(method, ropts.timeoutMs!));
        }, ropts.timeoutMs);
      }
      this.pending.set(id, p);
      this.send({ method, params, id });
    });
  }

  /** The id the next request will get (for "cancel"). */
  peekNextId(): number {
    return this.nextId;
  }

  notify(method: string, params: unknown): void {
    if (!this.closedError) this.send({ method, params, id: null });
  }

  close(err: Error = new ConnectionClosedError('connection closed')): void {
    if (this.closedError) return;
    this.closedError = err;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.sock.destroy();
    this.parser.reset();
    const pend = [...this.pending.values()];
    this.pending.clear();
    for (const p of pend) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err instanceof ConnectionClosedError ? err : new ConnectionClosedError(`${p.method}: ${err.message}`));
    }
    for (const h of this.closeHandlers.splice(0)) h(err);
  }

  private send(msg: unknown): void {
    // messages sent in one tick (a burst of pipelined transactions) leave in one write
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(() => {
        this.corked = false;
        this.sock.uncork();
      });
    }
    this.sock.write(JSON.stringify(msg));
  }
  private corked = false;

  private chooseSink(partial: Record<string, unknown>, member: string): LeafSink | undefined {
    if (member === 'result' && typeof partial.id === 'number') {
      return this.pending.get(partial.id)?.sink;
    }
    if (member === 'params' && typeof partial.method === 'string' && partial.id === null) {
      this.currentNotificationSink = this.opts.notificationSink?.(partial.method);
      return this.currentNotificationSink;
    }
    return undefined;
  }

  private dispatch(msg: unknown): void {
    const m = msg as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    const sink = this.currentNotificationSink;
    this.currentNotificationSink = undefined;
    // closed by an earlier message of the same chunk (e.g. an inconsistent update): believe nothing more
    if (this.closedError) return;
    // a request or notification has a string method, a reply an id and a result or error (RFC 7047 4.1)
    if (Array.isArray(m) || (typeof m.method !== 'string' && (m.id === undefined || (!('result' in m) && !('error' in m))))) {
      const text = JSON.stringify(msg);
      this.close(new FramingError(`not a JSON-RPC message (no request, reply or notification): ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`));
      return;
    }
    if (typeof m.method === 'string') {
      if (m.id === null || m.id === undefined) {
        this.onNotification(m.method, m.params, sink);
        return;
      }
      // a request from the server: only echo is defined for clients
      if (m.method === 'echo') this.send({ id: m.id, result: m.params ?? [], error: null });
      else this.send({ id: m.id, result: null, error: { error: 'unknown method', details: m.method } });
      return;
    }
    if (typeof m.id === 'string' && m.id.startsWith('probe-')) {
      this.probeSent = false;
      return;
    }
    if (typeof m.id !== 'number') return; // a reply to nothing we sent
    const p = this.pending.get(m.id);
    if (!p) return; // timed out earlier
    this.pending.delete(m.id);
    if (p.timer) clearTimeout(p.timer);
    if (m.error !== null && m.error !== undefined) p.reject(new RpcError(p.method, m.error));
    else p.resolve(m.result);
  }

  private probeTick(): void {
    if (this.sawTraffic) {
      // bytes arrived (possibly part of a long message): the peer is alive
      this.sawTraffic = false;
      this.probeSent = false;
      return;
    }
    if (this.probeSent) {
      this.close(new ConnectionClosedError(`inactivity probe: no answer for ${2 * (this.opts.probeIntervalMs ?? 0)} ms, disconnecting`));
      return;
    }
    this.probeSent = true;
    this.send({ method: 'echo', params: [], id: `probe-${Date.now()}` });
  }
}
