/**
 * ovn-natgw's own client as a benchmark contender.
 *
 * STUB: the client engineer plugs the real implementation in here (only this
 * file needs to change). bench/run.ts prints
 * `bench <scenario> ovn-natgw skipped=not-implemented` while these throw.
 *
 * Contract:
 *  - natgwApply: connect to nbRemote (an empty NB database) and apply the whole
 *    workload (every router with its port, gateway chassis, NAT rows and route,
 *    as in bench/workload.ts), resolving once the server has committed all of
 *    it. Timed by the caller around the whole call (connect included).
 *  - natgwReplica: connect, build an in-memory replica of ALL NB tables (all
 *    columns) and resolve once the initial contents are in it, with the number
 *    of rows held. Runs in its own process (bench/child-replica.ts) so peak RSS
 *    is its own.
 */
import type { Workload } from '../workload.js';

export async function natgwApply(nbRemote: string, w: Workload): Promise<void> {
  void nbRemote;
  void w;
  throw new Error('not implemented');
}

export async function natgwReplica(nbRemote: string): Promise<{ rows: number }> {
  void nbRemote;
  throw new Error('not implemented');
}
