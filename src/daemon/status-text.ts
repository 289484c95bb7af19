/** ovn-natgwd's status as text, for `ovs-appctl natgw/status` and `ovn-natgwctl status` alike. */

/** The parts of the daemon's status (its `status` method) the text shows. */
export interface StatusParts {
  ready: boolean;
  owner: string;
  role?: 'leader' | 'standby';
  lock?: string | null;
  nb: { remote: string; connected: boolean };
  manifests: { dir: string; objects: number; not_ready?: number; refused: string | null };
  last_reconcile: { at: string; reason: string; ok: boolean; transacted: boolean; error?: string } | null;
}

export function formatStatus(s: StatusParts): string {
  const last = s.last_reconcile;
  const m = s.manifests;
  return [
    `ready: ${s.ready}`,
    `owner: ${s.owner}`,
    ...(s.role ? [`role: ${s.role}${s.lock ? ` (lock ${s.lock}${s.role === 'standby' ? ' held by another ovn-natgwd' : ''})` : ''}`] : []),
    `nb: ${s.nb.remote} (${s.nb.connected ? 'connected' : 'not connected'})`,
    `manifests: ${m.dir} (${m.objects} objects${m.not_ready ? `, ${m.not_ready} not ready` : ''})${m.refused ? `, refused: ${m.refused}` : ''}`,
    `last reconcile: ${last ? `${last.at} (${last.reason}) ${last.ok ? (last.transacted ? 'applied' : 'nothing to change') : `failed: ${last.error}`}` : 'none yet'}`,
    '',
  ].join('\n');
}

/** One failover of the daemon's history (its `failovers` method), for `ovs-appctl natgw/failovers` and `ovn-natgwctl failovers` alike. */
export interface FailoverRecord {
  at: string;
  cause: string;
  chassis: string[];
  objects: string[];
  ms: number;
  /** where the time went (ms): the wait for the write queue; from the write's start, the plan done, the replicas caught up (asked for beside the plan); the NB commit */
  timings?: { queued_ms?: number; plan_ms: number; caught_up_ms: number; commit_ms: number };
}

export function formatFailover(f: FailoverRecord): string {
  const t = f.timings;
  const parts = t ? ` (${t.queued_ms !== undefined ? `queued ${t.queued_ms}, ` : ''}plan ${t.plan_ms}, caught up ${t.caught_up_ms}, commit ${t.commit_ms})` : '';
  return `${f.at} ${f.cause} ${f.chassis.join(',')}: ${f.objects.join(' ') || '(nothing)'} ${f.ms} ms${parts}\n`;
}
