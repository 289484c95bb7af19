// Typed errors of the OVSDB client. Every server error reaches the caller as
// one of these; nothing is returned silently.

/** The connection closed (or was never open) while a request was pending. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

/** A request got no reply within its timeout. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  constructor(
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`${method}: no reply within ${timeoutMs} ms`);
  }
}

/** The server answered a JSON-RPC request with an error (not a transaction error). */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly method: string,
    readonly error: unknown,
  ) {
    super(`${method}: server error ${typeof error === 'string' ? error : JSON.stringify(error)}`);
  }

  /** The RFC 7047 error string, e.g. "unknown method". */
  get code(): string | undefined {
    const e = this.error as { error?: unknown } | string | null;
    if (typeof e === 'string') return e;
    return typeof e?.error === 'string' ? e.error : undefined;
  }
}

/** RFC 7047 section 4.1.3 error strings, plus the extensions ovsdb-server uses. */
export type OvsdbErrorCode =
  | 'referential integrity violation'
  | 'constraint violation'
  | 'resources exhausted'
  | 'I/O error'
  | 'duplicate uuid-name'
  | 'domain error'
  | 'range error'
  | 'timed out'
  | 'not supported'
  | 'aborted'
  | 'not owner'
  | 'syntax error'
  | 'unknown database'
  | string;

/** One failed operation of a transaction (or the commit itself, opIndex = -1). */
export interface OperationFailure {
  /**
   * Index of the failing operation among the caller's operations; -1 for what the
   * client added: the commit-time error (no `op`) or the lock assertion (`op` is the assert).
   */
  readonly opIndex: number;
  /** The operation as sent (wire form), absent for the commit-time error. */
  readonly op?: unknown;
  readonly error: OvsdbErrorCode;
  readonly details?: string;
}

/** A transaction that the server refused or aborted. Nothing of it was committed. */
export class TransactionError extends Error {
  override name = 'TransactionError';
  constructor(
    readonly failures: readonly OperationFailure[],
    readonly comment?: string,
  ) {
    super(
      'transaction failed: ' +
        failures
          .map((f) => {
            const what = f.opIndex >= 0 ? `operation ${f.opIndex} (${describeOp(f.op)})` : f.op ? `lock assertion (${describeOp(f.op)})` : 'commit';
            return `${what}: ${f.error}${f.details ? ` (${f.details})` : ''}`;
          })
          .join('; '),
    );
  }

  /** The first failure's error string. */
  get code(): OvsdbErrorCode {
    return this.failures[0]?.error ?? 'unknown';
  }

  /** True when a `wait` precondition failed: re-read and try again. */
  get isConflict(): boolean {
    return this.failures.some((f) => f.error === 'timed out' && (f.op as { op?: string } | undefined)?.op === 'wait');
  }
}

function describeOp(op: unknown): string {
  const o = op as { op?: string; table?: string } | undefined;
  if (!o || typeof o.op !== 'string') return '?';
  return o.table ? `${o.op} ${o.table}` : o.op;
}

/**
 * The connection dropped after a transaction was sent and before its reply
 * arrived: it may or may not have been committed. Re-read the database (the
 * replica after it resynchronises) to find out; never assume either outcome.
 */
export class CommitUnknownError extends Error {
  override name = 'CommitUnknownError';
  constructor(override readonly cause: Error) {
    super(`transaction outcome unknown: the connection dropped before the reply (${cause.message})`);
  }
}

/** A replica saw an update that contradicts its contents (e.g. modify of a missing row). */
export class ReplicaInconsistentError extends Error {
  override name = 'ReplicaInconsistentError';
}

/** A replica's spec names a table, column or index the database does not have, or cannot index. */
export class ReplicaSpecError extends Error {
  override name = 'ReplicaSpecError';
}

/** A remote string that cannot be used. */
export class RemoteError extends Error {
  override name = 'RemoteError';
}
