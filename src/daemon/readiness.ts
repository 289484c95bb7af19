/**
 * Whether each object of the directory is ready (its rows in NB and, for a
 * NAT rule or a Vpc, a gateway chassis to leave by: src/nat/status.ts), kept
 * between plans so that a change of readiness is an event (`ready`, with the
 * reason when it is not). After each plan only the objects it planned are
 * looked at, by index lookups (O(change)); a plan of the whole state (the
 * start, a reload, the SB chassis changing) looks at every object, by one
 * scan per kind. An object that waits for a workload port (Plan.waiting) is
 * not ready, with that as its reason.
 */
import { objectId, type Problem } from '../nat/rows.js';
import { objectsStatus, type ObjectRef, type StatusOptions } from '../nat/status.js';
import type { NbView } from '../nat/nb-view.js';

export interface ReadyChange {
  object: string;
  ready: boolean;
  /** why not (absent when ready) */
  reason?: string;
  /** what it was: new (just applied), ready, or not ready (for another reason, when it still is not) */
  was: 'new' | 'ready' | 'not ready';
}

/**
 * An object as the directory holds it, with its readiness kept on it (one
 * record per object: a map of 200k reasons beside the directory's own cost
 * 7 MB): "" when ready, else why not; undefined while not looked at.
 */
export type ReadinessRecord = ObjectRef & { reason?: string };

export class Readiness {
  /** the objects (the directory as applied), as last given */
  private objects: ReadonlyMap<string, ReadinessRecord> = new Map();
  /** object id -> why it is not ready (the few that are not) */
  private readonly notReadyById = new Map<string, string>();
  /** objects that wait for what other writers make, and why */
  private readonly waiting = new Map<string, string>();

  constructor(
    private readonly nb: () => NbView,
    private readonly owner: () => string,
    private readonly statusOptions: () => StatusOptions,
    private readonly onChange: (c: ReadyChange) => void,
  ) {}

  /**
   * After a plan: looks at `ids` (absent: every object), of `objects` (the
   * directory as applied now), and says each one whose readiness changed;
   * `waiting`: the plan's waiting objects. `quiet`: takes the state without
   * events (the first look).
   */
  update(objects: ReadonlyMap<string, ReadinessRecord>, ids: readonly string[] | undefined, waiting: readonly Problem[] | undefined, quiet = false): void {
    this.objects = objects;
    // (an object gone from the directory takes its readiness with it; those not ready are forgotten here)
    const look = ids ? [...ids, ...(waiting ?? []).map((p) => `${p.kind}/${p.name}`), ...[...this.notReadyById.keys()].filter((id) => !objects.has(id))] : [...this.notReadyById.keys(), ...objects.keys()];
    if (!ids) this.waiting.clear();
    else for (const id of ids) this.waiting.delete(id);
    for (const p of waiting ?? []) {
      const id = objectId(p.kind, p.name);
      if (!this.waiting.has(id)) this.waiting.set(id, `waiting: ${p.field}: ${p.reason}`);
    }
    const present: ReadinessRecord[] = [];
    for (const id of new Set(look)) {
      const o = objects.get(id);
      if (o) present.push(o);
      else this.notReadyById.delete(id);
    }
    const status = objectsStatus(this.nb(), this.owner(), present.filter((o) => !this.waiting.has(`${o.kind}/${o.name}`)), this.statusOptions(), ids === undefined);
    for (const o of present) {
      const id = objectId(o.kind, o.name);
      const st = status.get(id);
      const reason = this.waiting.get(id) ?? (st ? (st.ready ? '' : st.reason || 'not ready') : 'not ready');
      const before = o.reason;
      o.reason = reason;
      if (reason === '') this.notReadyById.delete(id);
      else this.notReadyById.set(id, reason);
      if (quiet || before === reason) continue;
      this.onChange({ object: id, ready: reason === '', ...(reason ? { reason } : {}), was: before === undefined ? 'new' : before === '' ? 'ready' : 'not ready' });
    }
  }

  /** how many objects are not ready */
  get notReadyCount(): number {
    return this.notReadyById.size;
  }

  /** The reason an object is not ready ("" when it is; undefined: not known). */
  reasonOf(id: string): string | undefined {
    return this.objects.get(id)?.reason;
  }

  /** Objects by kind, ready and not. */
  counts(): Map<string, { ready: number; notReady: number }> {
    const out = new Map<string, { ready: number; notReady: number }>();
    for (const o of this.objects.values()) {
      if (o.reason === undefined) continue;
      let c = out.get(o.kind);
      if (!c) out.set(o.kind, (c = { ready: 0, notReady: 0 }));
      if (o.reason === '') c.ready++;
      else c.notReady++;
    }
    return out;
  }

  /** The objects not ready, with why. */
  notReady(): [string, string][] {
    return [...this.notReadyById];
  }
}
