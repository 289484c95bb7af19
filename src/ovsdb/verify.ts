// Optimistic concurrency (the Python IDL's verify / ovsdbapp's TRY_AGAIN):
// build a transaction from what the replica shows, add "wait" operations that
// assert those values are still what was read, and when another writer got in
// first, let the replica catch up and build it again.

import type { OvsdbClient, TransactOptions } from './client.js';
import type { Replica, ReplicaRow } from './replica.js';
import { type Operation, type OperationResult } from './operations.js';
import { TransactionError } from './errors.js';

/** A "wait" that fails the transaction unless `row`'s `columns` still hold the values read. */
export function verify(table: string, row: ReplicaRow, columns: readonly string[]): Operation {
  const expected: Record<string, unknown> = {};
  for (const c of columns) expected[c] = row[c];
  return { op: 'wait', table, where: [['_uuid', '==', row._uuid]], columns: [...columns], until: '==', rows: [expected], timeout: 0 };
}

export interface VerifiedOptions extends TransactOptions {
  /** Attempts before giving up (default 30). */
  attempts?: number;
  /** How long to wait for the replica to see the competing change (default 1000 ms). */
  settleMs?: number;
}

/**
 * Run `build` (which reads the replica and returns operations, including
 * `verify` waits for what it read) as one transaction; on a conflict, wait for
 * the replica to change and run `build` again. Other errors are thrown as they are.
 */
export async function transactVerified(
  client: OvsdbClient,
  replica: Replica<any>,
  build: () => Operation[],
  opts: VerifiedOptions = {},
): Promise<OperationResult[]> {
  const attempts = opts.attempts ?? 30;
  for (let i = 1; ; i++) {
    // register before building: a change that lands while we build still wakes us
    let changed!: () => void;
    const sawChange = new Promise<void>((res) => (changed = res));
    const off = replica.onChange(() => changed());
    try {
      return await client.transact(build(), opts);
    } catch (e) {
      if (!(e instanceof TransactionError) || !e.isConflict || i >= attempts) throw e;
      await Promise.race([sawChange, new Promise((res) => setTimeout(res, opts.settleMs ?? 1000))]);
      // writers that keep colliding must not retry in lockstep: jittered, growing pause
      await new Promise((res) => setTimeout(res, Math.random() * Math.min(2 ** i, 200)));
    } finally {
      off();
    }
  }
}
