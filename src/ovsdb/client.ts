// The OVSDB client: one database on a list of remotes, reconnecting with
// backoff, optionally to the Raft leader only, keeping replicas in sync and
// turning every server error into a typed error.
//
// Connection sequence (each step bounded by a timeout; any failure drops the
// connection and moves on to the next remote):
//   dial -> list_dbs -> _Server check (monitor_cond on _Server.Database: schema
//   present, connected, leader, index not older than seen before) -> get_schema
//   -> set_db_change_aware -> re-take locks -> each replica's monitor
//   (monitor_cond_since from its last transaction id, falling back to
//   monitor_cond, then monitor) -> connected.

import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { dial, parseRemotes, type Remote, type TlsFiles } from './transport.js';
import { JsonRpcSession } from './jsonrpc.js';
import { type DatabaseSchema, OvsdbUnknownNameError, parseSchema, ZERO_UUID } from './schema.js';
import { type Condition, type Operation, type OperationResult, decodeResult, encodeOperation } from './operations.js';
import { type Flow, Replica, type ReplicaRow, type ReplicaSpec, UpdateDecoder } from './replica.js';
import {
  CommitUnknownError,
  ConnectionClosedError,
  type OperationFailure,
  ReplicaInconsistentError,
  ReplicaSpecError,
  RequestTimeoutError,
  RpcError,
  TransactionError,
} from './errors.js';

export interface ClientOptions {
  /** One remote or a comma-separated list ("unix:/run/ovn/ovnnb_db.sock", "tcp:10.0.0.1:6641,tcp:10.0.0.2:6641"). */
  remote: string;
  /** Database name, e.g. "OVN_Northbound". */
  database: string;
  /** Only use the Raft leader of a clustered database (default true, as the OVN tools). */
  leaderOnly?: boolean;
  /** Private key, certificate and CA certificate for ssl: remotes. */
  tls?: TlsFiles;
  /** Inactivity probe interval in ms (default 60000 for tcp/ssl, off for unix). 0 disables. */
  probeIntervalMs?: number;
  /** Timeout of each request such as transact (default 60000 ms). */
  requestTimeoutMs?: number;
  /** Timeout of an initial or resync monitor reply (default 600000 ms); separate because big databases take long. */
  syncTimeoutMs?: number;
  /** Timeout of dialing one remote (default 10000 ms). */
  connectTimeoutMs?: number;
  /**
   * Timeout of each request of the connection sequence (list_dbs, the _Server
   * check, get_schema, ...), default the request timeout: a server that
   * accepts the connection but does not answer (stopped, overloaded) is given
   * up on after this long, with that cause.
   */
  handshakeTimeoutMs?: number;
  /** Maximum size of one incoming message (default 1 GiB). */
  maxMessageBytes?: number;
  /** Reconnect after a drop (default true). */
  reconnect?: boolean;
  /** Backoff between rounds over all remotes: starts at min, doubles up to max, with jitter. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
}

export interface TransactOptions {
  timeoutMs?: number;
  /** Appended as a "comment" operation (shows in the server's log). */
  comment?: string;
  /** Prefix an "assert" of this lock: the transaction fails with "not owner" if we do not hold it. */
  assertLock?: string;
}

/** A _Server.Database row, as the client's _Server monitor decodes it. */
export interface ServerDbRow {
  name: string;
  model: string;
  connected: boolean;
  leader: boolean;
  index: number | null;
  schema: string | null;
  sid: string | null;
  cid: string | null;
}

/** Why a server was not accepted (or dropped): the remote goes to the back of the list. */
class ServerRejected extends Error {
  override name = 'ServerRejected';
}

const SERVER_MONITOR_ID = '_server';

/**
 * One step of the reconnect backoff: wait `delayMs` now (the current backoff,
 * capped at `maxMs`, minus up to half of it as jitter), and `nextMs` next time
 * (doubled, capped at `maxMs`). `random` is Math.random or an injected source in [0, 1).
 */
export function backoffStep(currentMs: number, maxMs: number, random: () => number = Math.random): { delayMs: number; nextMs: number } {
  const cur = Math.min(Math.max(currentMs, 1), maxMs); // at least 1 ms: a 0 minimum must not spin
  return { delayMs: cur * (0.5 + random() * 0.5), nextMs: Math.min(cur * 2, maxMs) };
}

/**
 * Why a server's _Server.Database row makes it unusable for `database`
 * (reason undefined when usable), after the Python IDL's rules, and the
 * highest Raft index seen so far (`minIndex`, raised by a usable row).
 */
export function judgeServer(
  row: ServerDbRow | undefined,
  opts: { database: string; leaderOnly: boolean; minIndex: number },
): { reason?: string; minIndex: number } {
  const minIndex = opts.minIndex;
  if (!row) return { reason: `database ${opts.database} is not listed in _Server`, minIndex };
  if (row.model === 'clustered' || row.model === 'relay') {
    if (row.model === 'clustered' && !row.schema) return { reason: 'not yet joined the cluster', minIndex };
    if (!row.connected) return { reason: 'disconnected from the cluster', minIndex };
    if (opts.leaderOnly && row.model === 'relay') return { reason: 'a relay cannot be the leader', minIndex };
    if (opts.leaderOnly && !row.leader) return { reason: 'not the cluster leader', minIndex };
    if (row.index !== null) {
      if (row.index < minIndex) return { reason: `stale data (index ${row.index}, but ${minIndex} was seen before)`, minIndex };
      return { minIndex: row.index };
    }
  }
  return { minIndex };
}

export class OvsdbClient extends EventEmitter {
  readonly database: string;
  private readonly o: Required<Omit<ClientOptions, 'tls' | 'logger' | 'probeIntervalMs'>> & Pick<ClientOptions, 'tls' | 'probeIntervalMs'>;
  private readonly log: Logger;
  private remotes: Remote[];
  private session: JsonRpcSession | undefined;
  private activeRemote: Remote | undefined;
  private sessionReady = false;
  private closing = false;
  private running = false;
  private connectWaiters: { resolve: (s: JsonRpcSession) => void; reject: (e: Error) => void }[] = [];
  private monitorMethod: 'monitor_cond_since' | 'monitor_cond' | 'monitor' = 'monitor_cond_since';
  private readonly replicas = new Map<string, Replica<any>>();
  private serverReplica: Replica | undefined;
  private serverSchema: DatabaseSchema | undefined;
  private minIndex = 0;
  /** held: granted to us; pending: a lock/steal request out; lost: a "stolen" came while it was (its reply not yet seen) */
  private readonly locks = new Map<string, { held: boolean; pending?: boolean; lost?: boolean }>();
  private backoffMs: number;
  /** Pauses/resumes the socket of the current session (replicas' back-pressure). */
  private flow: Flow | undefined;
  /**
   * Updates that arrived for a replica while its monitor reply was not yet
   * applied (the reply resolves a promise, the update comes synchronously
   * after it in the same chunk): applied right after the reply, in order.
   */
  private readonly held = new Map<Replica, { method: string; params: unknown[]; sink: UpdateDecoder }[]>();
  private wake: (() => void) | undefined;
  /** The schema of the database, once connected. */
  schema: DatabaseSchema | undefined;

  constructor(opts: ClientOptions) {
    super();
    this.database = opts.database;
    this.remotes = parseRemotes(opts.remote);
    this.o = {
      remote: opts.remote,
      database: opts.database,
      leaderOnly: opts.leaderOnly ?? true,
      tls: opts.tls,
      probeIntervalMs: opts.probeIntervalMs,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
      syncTimeoutMs: opts.syncTimeoutMs ?? 600_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? opts.requestTimeoutMs ?? 60_000,
      maxMessageBytes: opts.maxMessageBytes ?? 1024 * 1024 * 1024,
      reconnect: opts.reconnect ?? true,
      minBackoffMs: opts.minBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 8_000,
    };
    this.backoffMs = this.o.minBackoffMs;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ db: opts.database });
  }

  /** True while a connection is established and every replica is in sync. */
  get connected(): boolean {
    return this.sessionReady && !!this.session?.isOpen;
  }

  /** The remote in use. */
  get remote(): string | undefined {
    return this.activeRemote?.text;
  }

  /**
   * Start connecting; resolves once connected and every replica made so far is
   * synced. With reconnect on, keeps trying (and rejects only after
   * `timeoutMs`, default: the sync timeout); with it off, rejects when every
   * remote failed once.
   */
  connect(timeoutMs = this.o.syncTimeoutMs): Promise<void> {
    if (!this.running) {
      this.running = true;
      this.closing = false;
      void this.loop();
    }
    return this.whenConnected(timeoutMs).then(() => undefined);
  }

  /** Close the connection and stop reconnecting. Pending requests fail. */
  async close(): Promise<void> {
    this.closing = true;
    this.running = false;
    this.session?.close(new ConnectionClosedError('client closed'));
    this.wake?.();
    for (const r of this.replicas.values()) r.close();
    for (const w of this.connectWaiters.splice(0)) w.reject(new ConnectionClosedError('client closed'));
  }

  /**
   * A replica of some tables of this database. Its monitor is set up now if
   * connected, and on every (re)connection. Await `replica.ready` before reading.
   */
  replica<DB = Record<string, Record<string, unknown>>>(spec: ReplicaSpec<DB>): Replica<DB> {
    const rep = new Replica<DB>(spec);
    // a spec the known schema cannot serve is the caller's error, said now (ReplicaSpecError)
    if (this.schema) rep.bind(this.schema);
    this.replicas.set(rep.monitorId, rep);
    if (this.connected && this.session) {
      const s = this.session;
      rep.setFlow(this.flow);
      this.establish(rep, s).catch((e) => this.dropSession(s, e as Error));
    }
    return rep;
  }

  /** Stop a replica's monitor. */
  async dropReplica(rep: Replica<any>): Promise<void> {
    this.replicas.delete(rep.monitorId);
    rep.close();
    if (this.connected && this.session) await this.session.request('monitor_cancel', [rep.monitorId], { timeoutMs: this.o.requestTimeoutMs }).catch(() => {});
  }

  /** Change the row condition of one table of a replica (monitor_cond_change). */
  async setCondition(rep: Replica<any>, table: string, where: readonly Condition[]): Promise<void> {
    const spec = rep.spec.tables as Record<string, { columns?: readonly string[]; where?: readonly Condition[] } | true | undefined>;
    const cur = spec[table];
    if (!cur) throw new Error(`table ${table} is not monitored by this replica`);
    if (rep.tableState(table)?.absent) throw new Error(`table ${table} is left out of this replica: the server's schema lacks it or a column it needs`);
    // refused before anything changes (a bad column or value names itself)
    const request = this.schema ? rep.conditionRequest(this.schema, table, where) : undefined;
    if (this.connected && this.monitorMethod === 'monitor') throw new Error('the server does not support conditional monitoring');
    spec[table] = cur === true ? { where } : { ...cur, where };
    const version = ++rep.condVersion;
    // this replica's monitor is not live on the current session (not connected, or
    // being set up): its setup sends the condition (establish), from scratch if need be
    const session = this.session;
    if (!session || !session.isOpen || rep.liveOn !== session || !request) return;
    // while it is in flight condVersion is ahead of syncedCondVersion, so a
    // reconnect meanwhile monitors from scratch
    try {
      await session.request('monitor_cond_change', [rep.monitorId, rep.monitorId, request], { timeoutMs: this.o.requestTimeoutMs });
      // the server answers in order: versions in flight complete one by one
      if (rep.syncedCondVersion === version - 1) rep.syncedCondVersion = version;
    } catch (e) {
      rep.syncedCondVersion = -1; // unknown whether the server took it
      throw e;
    }
  }

  // ---------------------------------------------------------------- requests

  /** Send a raw JSON-RPC request on the current connection. */
  async request(method: string, params: unknown, timeoutMs = this.o.requestTimeoutMs): Promise<unknown> {
    const s = await this.whenConnected(timeoutMs);
    return s.request(method, params, { timeoutMs });
  }

  async listDbs(): Promise<string[]> {
    return (await this.request('list_dbs', [])) as string[];
  }

  async getSchema(db = this.database): Promise<DatabaseSchema> {
    return parseSchema(await this.request('get_schema', [db]));
  }

  async echo(payload: unknown[] = []): Promise<unknown> {
    return this.request('echo', payload);
  }

  /**
   * Resolves once this client's replicas hold every change committed on the
   * server before the call (by any client), with one echo round trip:
   * ovsdb-server sends a session's pending monitor updates before it reads the
   * session's next request, and the updates are applied as they are received.
   * Call it before reading a replica for a decision that must see another
   * writer's just-finished change (on a cluster, with leaderOnly). It waits for
   * the socket like any request: a replica paused by a slow events() consumer
   * holds it until that consumer reads on.
   */
  async caughtUp(): Promise<void> {
    await this.echo(['caught-up']);
  }

  /**
   * Run operations as one transaction. Values are validated against the schema
   * before anything is sent. Throws TransactionError (naming the failing
   * operation) when the server refuses it, CommitUnknownError when the
   * connection dropped before the reply.
   */
  async transact(operations: readonly Operation[], opts: TransactOptions = {}): Promise<OperationResult[]> {
    const timeoutMs = opts.timeoutMs ?? this.o.requestTimeoutMs;
    const session = await this.whenConnected(timeoutMs);
    const all: Operation[] = [];
    if (opts.assertLock) all.push({ op: 'assert', lock: opts.assertLock });
    all.push(...operations);
    if (opts.comment) all.push({ op: 'comment', comment: opts.comment });
    let wire: unknown[];
    try {
      wire = all.map((op) => encodeOperation(this.schema!, op));
    } catch (e) {
      // an unknown table or column: the database may have been converted since
      // we read its schema (a client without monitors gets no monitor_canceled)
      if (!(e instanceof OvsdbUnknownNameError)) throw e;
      const fresh = parseSchema(await session.request('get_schema', [this.database], { timeoutMs }));
      if (fresh.version !== this.schema!.version || fresh.cksum !== this.schema!.cksum) this.log.info({ version: fresh.version }, 'database schema changed');
      this.schema = fresh;
      wire = all.map((op) => encodeOperation(fresh, op));
    }
    let reply: unknown;
    try {
      reply = await session.request('transact', [this.database, ...wire], { timeoutMs });
    } catch (e) {
      if (e instanceof ConnectionClosedError || e instanceof RequestTimeoutError) throw new CommitUnknownError(e);
      throw e;
    }
    return this.checkResults(all, wire, reply, opts.assertLock ? 1 : 0, operations.length);
  }

  private checkResults(all: Operation[], wire: unknown[], reply: unknown, skip: number, count: number): OperationResult[] {
    if (!Array.isArray(reply)) throw new TransactionError([{ opIndex: -1, error: 'syntax error', details: `reply is not an array: ${JSON.stringify(reply)}` }]);
    const failures: OperationFailure[] = [];
    reply.forEach((r, i) => {
      const e = r as { error?: string; details?: string } | null;
      if (e && typeof e.error === 'string') {
        const opIndex = i < wire.length ? i - skip : -1;
        failures.push({ opIndex, ...(i < wire.length ? { op: wire[i] } : {}), error: e.error, ...(e.details ? { details: e.details } : {}) });
      }
    });
    if (failures.length) throw new TransactionError(failures);
    const out: OperationResult[] = [];
    for (let i = skip; i < skip + count; i++) out.push(decodeResult(this.schema!, all[i], reply[i]));
    return out;
  }

  /**
   * Cancel an outstanding request by id (RFC 7047 4.1.4). ovsdb-server only
   * honours it for transactions blocked in a "wait" operation.
   */
  cancel(id: number): void {
    this.session?.notify('cancel', [id]);
  }

  // ---------------------------------------------------------------- locks

  /** Ask for a lock. Resolves true when held now; otherwise "locked" is emitted when it is granted. */
  async lock(name: string): Promise<boolean> {
    this.locks.set(name, { held: false });
    const r = (await this.request('lock', [name])) as { locked?: boolean };
    if (r?.locked) this.setLock(name, true);
    return !!r?.locked;
  }

  /** Take a lock from its holder (who is told "stolen"). */
  async steal(name: string): Promise<boolean> {
    const l: { held: boolean; pending?: boolean; lost?: boolean } = { held: false, pending: true };
    this.locks.set(name, l);
    let r: { locked?: boolean };
    try {
      r = (await this.request('steal', [name])) as { locked?: boolean };
    } finally {
      l.pending = false;
    }
    if (this.locks.get(name) !== l) return !!r?.locked;
    if (r?.locked) this.setLock(name, true);
    // (a "stolen" read in the same chunk as the reply is handled before this continuation runs: the steal, then its loss)
    if (l.lost) {
      l.lost = false;
      this.setLock(name, false);
    }
    return !!r?.locked;
  }

  async unlock(name: string): Promise<void> {
    this.locks.delete(name);
    await this.request('unlock', [name]);
  }

  hasLock(name: string): boolean {
    return this.locks.get(name)?.held ?? false;
  }

  /** how: "notified" when the server told us (a queue's grant, a steal by another), "reply" when our own request's answer did, "session" when our session went */
  private setLock(name: string, held: boolean, how: 'notified' | 'reply' | 'session' = 'reply'): void {
    const l = this.locks.get(name);
    if (!l || l.held === held) return;
    l.held = held;
    this.emit(held ? 'locked' : 'stolen', name, how);
  }

  // ---------------------------------------------------------------- connection loop

  private whenConnected(timeoutMs: number): Promise<JsonRpcSession> {
    if (this.connected) return Promise.resolve(this.session!);
    if (!this.running) return Promise.reject(new ConnectionClosedError(`${this.database}: not connected (call connect() first)`));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (s: JsonRpcSession) => {
          clearTimeout(t);
          resolve(s);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        this.connectWaiters = this.connectWaiters.filter((x) => x !== w);
        reject(new ConnectionClosedError(`${this.database}: not connected within ${timeoutMs} ms (remotes: ${this.remotes.map((r) => r.text).join(',')})`));
      }, timeoutMs);
      this.connectWaiters.push(w);
    });
  }

  private async loop(): Promise<void> {
    let lastError: Error | undefined;
    while (!this.closing) {
      let progressed = false;
      // one attempt per remote per round, then back off: a rejected remote moves
      // to the back of the list, so count attempts rather than positions
      for (let i = 0, tries = 0; i < this.remotes.length && !this.closing; ) {
        if (tries++ >= this.remotes.length) break;
        const remote = this.remotes[i];
        let session: JsonRpcSession | undefined;
        try {
          session = await this.open(remote);
        } catch (e) {
          this.log.warn({ remote: remote.text, err: (e as Error).message }, 'connection attempt failed');
          lastError = e as Error;
          session?.close(e as Error);
          // a rejected server (follower, stale, not joined) goes to the back of the list
          if (e instanceof ServerRejected && this.remotes.length > 1) {
            this.remotes.push(...this.remotes.splice(i, 1));
            if (i === this.remotes.length - 1) break;
            continue;
          }
          i++;
          continue;
        }
        progressed = true;
        this.backoffMs = this.o.minBackoffMs;
        const reason = await new Promise<Error>((res) => session!.onClose(res));
        this.sessionReady = false;
        // ovsdb-server releases a session's locks when it closes: none is held until granted again
        for (const name of this.locks.keys()) this.setLock(name, false, 'session');
        if (this.closing) break;
        this.emit('disconnected', reason);
        this.log.info({ remote: remote.text, reason: reason.message }, 'disconnected');
        if (!this.o.reconnect) {
          this.running = false;
          this.closing = true;
          break;
        }
        if (reason instanceof ServerRejected) {
          // leadership moved or the server fell behind: try the others first, at once
          const at = this.remotes.indexOf(remote);
          if (at >= 0 && this.remotes.length > 1) this.remotes.push(...this.remotes.splice(at, 1));
          i = 0;
          tries = 0;
          continue;
        }
        i = 0;
        tries = 0;
      }
      if (this.closing) break;
      if (!this.o.reconnect && !progressed) {
        this.running = false;
        const err = new ConnectionClosedError(
          `${this.database}: could not connect to any remote (${this.remotes.map((r) => r.text).join(',')})${lastError ? `: ${lastError.message}` : ''}`,
        );
        for (const w of this.connectWaiters.splice(0)) w.reject(err);
        return;
      }
      if (!progressed) {
        const { delayMs: delay, nextMs } = backoffStep(this.backoffMs, this.o.maxBackoffMs);
        this.backoffMs = nextMs;
        await new Promise<void>((res) => {
          const t = setTimeout(res, delay);
          this.wake = () => {
            clearTimeout(t);
            res();
          };
        });
        this.wake = undefined;
      }
    }
    for (const w of this.connectWaiters.splice(0)) w.reject(new ConnectionClosedError('client closed'));
  }

  /** Open one remote fully (through every replica's initial sync). */
  private async open(remote: Remote): Promise<JsonRpcSession> {
    const link = await dial(remote, { ...(this.o.tls ? { tls: this.o.tls } : {}), timeoutMs: this.o.connectTimeoutMs });
    const sock = link.sock;
    const probe = this.o.probeIntervalMs ?? (remote.kind === 'unix' ? 0 : 60_000);
    const session = new JsonRpcSession(sock, {
      read: (onData) => link.read(onData),
      maxMessageBytes: this.o.maxMessageBytes,
      probeIntervalMs: probe,
      notificationSink: (method) =>
        method === 'update' || method === 'update2' || method === 'update3'
          ? new UpdateDecoder(undefined, (id) => (id === SERVER_MONITOR_ID ? this.serverReplica : this.replicas.get(id as string)), method === 'update3' ? 2 : 1)
          : undefined,
    });
    session.onNotification = (method, params, sink) => this.onNotification(session, method, params, sink as UpdateDecoder | undefined);
    // a replica that diverged (a row or update that contradicts it, while decoded,
    // applied or resumed) closes the session with that error: never trust it,
    // forget the transaction ids and rebuild from scratch
    session.onClose((err) => {
      if (!(err instanceof ReplicaInconsistentError)) return;
      this.log.error({ err: err.message }, 'replica inconsistent, resynchronising');
      for (const r of this.replicas.values()) r.lastTxnId = ZERO_UUID;
    });
    this.session = session;
    this.activeRemote = remote;
    const t = this.o.handshakeTimeoutMs;
    try {
      const dbs = (await session.request('list_dbs', [], { timeoutMs: t })) as string[];
      if (!dbs.includes(this.database)) throw new ServerRejected(`${remote.text} does not serve database ${this.database} (it has ${dbs.join(', ')})`);
      if (dbs.includes('_Server')) await this.checkServer(session, remote);
      const schema = parseSchema(await session.request('get_schema', [this.database], { timeoutMs: t }));
      if (!this.schema || this.schema.cksum !== schema.cksum || this.schema.version !== schema.version) this.schema = schema;
      if (dbs.includes('_Server')) {
        await session.request('set_db_change_aware', [true], { timeoutMs: t }).catch((e) => {
          if (!(e instanceof RpcError)) throw e;
        });
      }
      for (const name of this.locks.keys()) {
        this.locks.get(name)!.held = false;
        const r = (await session.request('lock', [name], { timeoutMs: t })) as { locked?: boolean };
        if (r?.locked) this.setLock(name, true);
      }
      for (const rep of this.replicas.values()) await this.establish(rep, session);
    } catch (e) {
      session.close(e as Error);
      if (this.session === session) this.session = undefined;
      throw e;
    }
    const flow: Flow = { pause: () => sock.pause(), resume: () => sock.resume() };
    this.flow = flow;
    for (const rep of this.replicas.values()) rep.setFlow(flow);
    this.sessionReady = true;
    this.log.info({ remote: remote.text, monitor: this.monitorMethod }, 'connected');
    this.emit('connected', remote.text);
    for (const w of this.connectWaiters.splice(0)) w.resolve(session);
    return session;
  }

  /** Check the _Server row of our database; keep watching it for leadership changes. */
  private async checkServer(session: JsonRpcSession, remote: Remote): Promise<void> {
    const t = this.o.handshakeTimeoutMs;
    if (!this.serverSchema) this.serverSchema = parseSchema(await session.request('get_schema', ['_Server'], { timeoutMs: t }));
    const rep = new Replica<{ Database: ServerDbRow }>({
      tables: { Database: { columns: ['name', 'model', 'connected', 'leader', 'index', 'schema', 'sid', 'cid'], where: [['name', '==', this.database]] } },
    });
    (rep as { monitorId: string }).monitorId = SERVER_MONITOR_ID;
    this.serverReplica = rep as unknown as Replica;
    await this.establish(rep as unknown as Replica, session, '_Server', this.serverSchema, 'monitor_cond');
    const why = this.judgeServer(rep.table('Database').values().next().value as ServerDbRow | undefined);
    if (why) throw new ServerRejected(`${remote.text}: ${why}`);
    rep.onChange(() => {
      const reason = this.judgeServer(rep.table('Database').values().next().value as ServerDbRow | undefined);
      if (reason && session.isOpen) {
        this.log.info({ remote: remote.text, reason }, 'server no longer usable, moving on');
        session.close(new ServerRejected(`${remote.text}: ${reason}`));
      }
    });
  }

  /** Why this server cannot be used (undefined when it can), after the Python IDL's rules. */
  private judgeServer(row: ServerDbRow | undefined): string | undefined {
    const { reason, minIndex } = judgeServer(row, { database: this.database, leaderOnly: this.o.leaderOnly, minIndex: this.minIndex });
    this.minIndex = minIndex;
    return reason;
  }

  /** Set up (or resume) one replica's monitor on a session. */
  private async establish(
    rep: Replica,
    session: JsonRpcSession,
    db = this.database,
    schema = this.schema!,
    only?: 'monitor_cond',
  ): Promise<void> {
    rep.liveOn = undefined;
    let gone: string[];
    try {
      gone = rep.bind(schema);
    } catch (e) {
      if (!(e instanceof ReplicaSpecError)) throw e;
      // this replica can never be served by this database: it fails alone (no reconnect loop)
      this.replicas.delete(rep.monitorId);
      rep.fail(e);
      rep.close();
      this.log.error({ err: e.message, monitor: rep.monitorId }, 'replica dropped');
      return;
    }
    if (gone.length > 0) {
      this.log.warn({ missing: gone, schemaVersion: schema.version, monitor: rep.monitorId }, 'server schema lacks tables or columns this replica monitors; left out (database needs upgrade?)');
    }
    for (;;) {
      const method = only ?? this.monitorMethod;
      const decoder = new UpdateDecoder(rep, undefined, 2);
      let params: unknown[];
      const sentCond = rep.condVersion;
      if (method === 'monitor_cond_since') {
        if (rep.syncedCondVersion !== sentCond) rep.lastTxnId = ZERO_UUID;
        params = [db, rep.monitorId, rep.monitorRequests(schema, true), rep.lastTxnId];
      } else {
        decoder.fresh = new Map();
        params = [db, rep.monitorId, rep.monitorRequests(schema, method === 'monitor_cond')];
      }
      const foundSink = method === 'monitor_cond_since' ? sinceSink(decoder) : decoder;
      let result: unknown;
      this.held.set(rep, []);
      try {
        result = await session.request(method, params, { timeoutMs: this.o.syncTimeoutMs, sink: foundSink });
      } catch (e) {
        this.held.delete(rep);
        if (e instanceof RpcError && e.code === 'unknown method' && !only && method !== 'monitor') {
          this.monitorMethod = method === 'monitor_cond_since' ? 'monitor_cond' : 'monitor';
          this.log.info({ method: this.monitorMethod }, 'server lacks a monitor method, falling back');
          continue;
        }
        rep.fail(e as Error);
        throw e;
      }
      const held = this.held.get(rep) ?? [];
      this.held.delete(rep);
      // (a reply that contradicts the replica throws: the session closes with it, see open())
      if (method === 'monitor_cond_since') {
        const [found, lastId] = result as [boolean, string];
        if (found) {
          rep.applyChanges(decoder.changes);
          rep.stats.resumes++;
          rep.lastTxnId = typeof lastId === 'string' ? lastId : ZERO_UUID;
          rep.markReady();
        } else {
          rep.applyFull(decoder.fresh ?? new Map());
          rep.lastTxnId = typeof lastId === 'string' ? lastId : ZERO_UUID;
        }
      } else {
        rep.applyFull(decoder.fresh!);
      }
      rep.syncedCondVersion = sentCond;
      for (const h of held) if (!this.applyUpdate(session, rep, h.method, h.params, h.sink)) break;
      // conditions changed while this monitor was being set up (setCondition only
      // changed the spec): bring the server's up to date before the monitor is live
      while (rep.condVersion !== rep.syncedCondVersion && method !== 'monitor' && session.isOpen) {
        const version = rep.condVersion;
        await session.request('monitor_cond_change', [rep.monitorId, rep.monitorId, rep.allConditionsRequest(schema)], { timeoutMs: this.o.requestTimeoutMs });
        rep.syncedCondVersion = version;
      }
      if (session.isOpen) rep.liveOn = session;
      return;
    }
  }

  /** Apply one update notification; false when the replica diverged (the session is then dropped). */
  private applyUpdate(session: JsonRpcSession, rep: Replica, method: string, p: unknown[], sink: UpdateDecoder): boolean {
    try {
      rep.applyChanges(sink.changes);
      if (method === 'update3' && typeof p[1] === 'string') rep.lastTxnId = p[1];
      return true;
    } catch (e) {
      if (e instanceof ReplicaInconsistentError) {
        session.close(e); // (open() resets the transaction ids and the client resyncs)
        return false;
      }
      throw e;
    }
  }

  private onNotification(session: JsonRpcSession, method: string, params: unknown, sink: UpdateDecoder | undefined): void {
    const p = params as unknown[];
    switch (method) {
      case 'update':
      case 'update2':
      case 'update3': {
        const rep = sink?.monitorId === SERVER_MONITOR_ID ? this.serverReplica : this.replicas.get(p[0] as string);
        if (!rep || !sink) return;
        const held = this.held.get(rep);
        if (held) held.push({ method, params: p, sink });
        else this.applyUpdate(session, rep, method, p, sink);
        break;
      }
      case 'locked':
        this.setLock(p[0] as string, true, 'notified');
        break;
      case 'stolen': {
        const l = this.locks.get(p[0] as string);
        if (l?.pending) l.lost = true;
        this.setLock(p[0] as string, false, 'notified');
        break;
      }
      case 'monitor_canceled': {
        // the database changed (e.g. schema conversion): fetch the schema again and re-monitor
        this.log.info({ monitor: p[0] }, 'monitor canceled by the server, re-establishing');
        this.emit('monitor_canceled', p[0]);
        const canceled = this.replicas.get(p[0] as string);
        if (canceled) canceled.liveOn = undefined; // condition changes wait for the new monitor
        void (async () => {
          this.schema = parseSchema(await session.request('get_schema', [this.database], { timeoutMs: this.o.requestTimeoutMs }));
          const rep = this.replicas.get(p[0] as string);
          if (rep) {
            rep.lastTxnId = ZERO_UUID;
            await this.establish(rep, session);
          } else if (p[0] === SERVER_MONITOR_ID) session.close(new ServerRejected('_Server monitor canceled'));
        })().catch((e) => this.dropSession(session, e as Error));
        break;
      }
      default:
        this.log.debug({ method }, 'ignoring notification');
    }
  }

  private dropSession(session: JsonRpcSession, e: Error): void {
    this.log.warn({ err: e.message }, 'dropping connection');
    session.close(e);
  }
}

/** For monitor_cond_since replies: learn "found" (result[0]) before the rows arrive. */
function sinceSink(decoder: UpdateDecoder) {
  return {
    onLeaf(path: readonly (string | number)[], value: unknown): boolean {
      if (path.length === 1 && path[0] === 0 && typeof value === 'boolean') {
        decoder.fresh = value ? undefined : new Map<string, Map<string, ReplicaRow>>();
      }
      return decoder.onLeaf(path, value);
    },
    rawLeaf(path: readonly (string | number)[], buf: Buffer, start: number, limit: number): number {
      return decoder.rawLeaf(path, buf, start, limit);
    },
  };
}

export { Replica };
