/**
 * The SB write that withdraws a stale BFD session (src/ha/bfd-check.ts
 * finds them): its status set to `down`, which ovn-northd copies to NB and
 * so drops the static routes and reroutes that depend on it, as
 * ovn-org/ovn#321 has northd do itself when no chassis can run a session.
 * When a chassis takes the port again, its ovn-controller starts the
 * session afresh and writes `up` once the peer answers (a session meeting
 * `down` is not left stale: ovn-org/ovn#322).
 *
 * One transaction for all, each guarded by `wait`: the session's status is
 * still what was read and its port's binding is still on the chassis read
 * (a chassis that claimed the port meanwhile runs the session: nothing is
 * written then, and the next check sees the new binding).
 */
import { opsFor, type Operation } from '../ovsdb/operations.js';
import type { SbTables } from '../models/ovn-sb.js';

const sb = opsFor<SbTables>();

/** The SB BFD columns a reader of the sessions needs (where, what status, how fast it detects). */
export const SB_BFD_COLUMNS = ['logical_port', 'dst_ip', 'status', 'min_rx', 'detect_mult'] as const;

export interface SessionToWithdraw {
  uuid: string;
  status: string;
  binding: { row: string; chassis: string | null };
}

export function withdrawSessionOps(sessions: readonly SessionToWithdraw[]): Operation[] {
  const out: Operation[] = [];
  const bindings = new Map<string, string | null>();
  for (const s of sessions) bindings.set(s.binding.row, s.binding.chassis);
  for (const [row, chassis] of bindings) {
    out.push(sb.wait('Port_Binding', [['_uuid', '==', row]], '==', [{ chassis }], ['chassis']));
  }
  for (const s of sessions) {
    out.push(sb.wait('BFD', [['_uuid', '==', s.uuid]], '==', [{ status: s.status as SbTables['BFD']['status'] }], ['status']));
    out.push(sb.update('BFD', [['_uuid', '==', s.uuid]], { status: 'down' }));
  }
  return out;
}
