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

export class Readiness {
  /** object id -> "" when ready, else why not */
  private readonly state = new Map<string, string>();
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
  update(objects: ReadonlyMap<string, ObjectRef>, ids: readonly string[] | undefined, waiting: readonly Problem[] | undefined, quiet = false): void {
    const look = ids ? [...ids, ...(waiting ?? []).map((p) => `${p.kind}/${p.name}`)] : [...this.state.keys(), ...objects.keys()];
    if (!ids) this.waiting.clear();
    else for (const id of ids) this.waiting.delete(id);
    for (const p of waiting ?? []) {
      const id = objectId(p.kind, p.name);
      if (!this.waiting.has(id)) this.waiting.set(id, `waiting: ${p.field}: ${p.reason}`);
    }
    const present: ObjectRef[] = [];
    const gone: string[] = [];
    for (const id of new Set(look)) {
      const o = objects.get(id);
      if (o) present.push(o);
      else gone.push(id);
    }
    for (const id of gone) this.set(id, undefined);
    const status = objectsStatus(this.nb(), this.owner(), present.filter((o) => !this.waiting.has(`${o.kind}/${o.name}`)), this.statusOptions(), ids === undefined);
    for (const o of present) {
      const id = objectId(o.kind, o.name);
      const st = status.get(id);
      const reason = this.waiting.get(id) ?? (st ? (st.ready ? '' : st.reason || 'not ready') : 'not ready');
      const before = this.state.get(id);
      this.set(id, reason);
      if (quiet || before === reason) continue;
      this.onChange({ object: id, ready: reason === '', ...(reason ? { reason } : {}), was: before === undefined ? 'new' : before === '' ? 'ready' : 'not ready' });
    }
  }

  /** how many objects are not ready */
  notReadyCount = 0;

  private set(id: string, reason: string | undefined): void {
    const before = this.state.get(id);
    if (before !== undefined && before !== '') this.notReadyCount--;
    if (reason === undefined) this.state.delete(id);
    else {
      this.state.set(id, reason);
      if (reason !== '') this.notReadyCount++;
    }
  }

  /** The reason an object is not ready ("" when it is; undefined: not known). */
  reasonOf(id: string): string | undefined {
    return this.state.get(id);
  }

  /** Objects by kind, ready and not. */
  counts(): Map<string, { ready: number; notReady: number }> {
    const out = new Map<string, { ready: number; notReady: number }>();
    for (const [id, reason] of this.state) {
      const kind = id.slice(0, id.indexOf('/'));
      let c = out.get(kind);
      if (!c) out.set(kind, (c = { ready: 0, notReady: 0 }));
      if (reason === '') c.ready++;
      else c.notReady++;
    }
    return out;
  }

  /** The objects not ready, with why. */
  notReady(): [string, string][] {
    return [...this.state].filter(([, r]) => r !== '');
  }
}
