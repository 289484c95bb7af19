/**
 * The daemon's reconcile loop: the manifest directory is the owner's whole
 * desired state. A change of a file, a reload, or NB drifting from what was
 * applied (an owned row changed or deleted by another writer, a workload port
 * that appeared) plans again; the baseline (src/nat/baseline.ts) makes that
 * plan cover only what changed, and applies it in one transaction.
 *
 * A directory that cannot be read, holds no objects, or holds an object
 * that is refused is never applied: the last state stays in NB and the
 * status says why (a failed mount must not wipe the gateways). Drift repairs
 * are rate-limited (at most one per `driftIntervalMs`) and logged with what
 * changed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ApplyOptions, ApplyResult, NatGateway } from '../nat/apply.js';
import { loadManifests } from '../nat/manifest.js';
import { idOf } from '../nat/rows.js';
import type { Manifest, ManifestObject } from '../nat/objects.js';
import type { Change, Plan } from '../nat/plan.js';
import type { Metrics } from './metrics.js';

export interface ReconcileOptions {
  dir: string;
  owner: string;
  gatewayChassis?: number;
  clusterRouter?: string;
  /** the least time between two plans started by drift (default 1000 ms) */
  driftIntervalMs?: number;
  logger: Logger;
  metrics?: Metrics;
  /** an applied change, a drift repaired, the directory refused */
  onEvent?: (e: { type: 'applied' | 'drift-repaired' | 'refused'; [k: string]: unknown }) => void;
}

export interface ReconcileResult {
  at: string;
  reason: string;
  ok: boolean;
  /** what the plan changed (labels), when it wrote */
  changes: string[];
  transacted: boolean;
  /** the objects planned ("Kind/name"); absent: the whole state */
  planned?: readonly string[];
  error?: string;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again: string | undefined;
  private watcher: FSWatcher | undefined;
  private lastDrift = 0;
  private stopped = false;
  /** the last reconcile, and the last that wrote */
  last: ReconcileResult | undefined;
  lastWrite: ReconcileResult | undefined;
  /** the manifest last applied (also by id, kept up to date by changes through the socket) */
  private appliedManifest: Manifest | undefined;
  private appliedIndex: Map<string, ManifestObject> | undefined;
  get applied(): Manifest | undefined {
    if (!this.appliedManifest && this.appliedIndex) this.appliedManifest = { objects: [...this.appliedIndex.values()], notices: [] };
    return this.appliedManifest;
  }
  set applied(m: Manifest | undefined) {
    this.appliedManifest = m;
    this.appliedIndex = undefined;
  }
  /** The objects last applied, by id (not to be changed by the caller). */
  appliedObjects(): ReadonlyMap<string, ManifestObject> | undefined {
    if (!this.appliedIndex && this.appliedManifest) this.appliedIndex = new Map(this.appliedManifest.objects.map((o) => [idOf(o), o]));
    return this.appliedIndex;
  }
  /** the directory's problem when it was refused since */
  refused: string | undefined;
  counts = { reconciles: 0, transactions: 0, driftRepairs: 0, refusals: 0, errors: 0 };
  private readonly offStale: () => void;

  constructor(
    private readonly gw: NatGateway,
    private o: ReconcileOptions,
  ) {
    this.offStale = gw.onStale((owner) => owner === this.o.owner && this.drift());
  }

  /** The first reconcile (after the replicas are complete), then the directory watched. */
  async start(): Promise<ReconcileResult> {
    await this.run('start');
    this.watchDir();
    return this.last!;
  }

  /** Takes new options (a reload): the directory is watched again and planned. */
  reconfigure(o: ReconcileOptions): void {
    const moved = o.dir !== this.o.dir;
    this.o = o;
    if (moved) this.watchDir();
  }

  /** Plans again soon (coalesced: changes within 100 ms make one plan). */
  trigger(reason: string, delayMs = 100): void {
    if (this.stopped) return;
    if (this.timer) {
      // a drift waits out its rate limit; anything else is planned soon, and covers the drift too
      if (reason === 'drift' || this.pending !== 'drift') return;
      clearTimeout(this.timer);
    }
    this.pending = reason;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pending = undefined;
      void this.run(reason);
    }, delayMs);
  }
  private pending: string | undefined;

  private drift(): void {
    const gap = this.o.driftIntervalMs ?? 1000;
    const wait = Math.max(0, this.lastDrift + gap - Date.now());
    this.trigger('drift', Math.max(wait, 50));
  }

  /**
   * A change made through the socket, in turn with the reconciles: `change`
   * (objects merged, or deleted) is applied as such, a plan of those objects
   * and what depends on them (O(change)), and the state applied changes by as
   * much. Throws what apply throws (a
   * PlanError: nothing written).
   */
  async applyGiven(reason: string, change: { objects: ManifestObject[]; mode: 'merge' | 'delete'; kept?: ManifestObject[] }): Promise<{ last: ReconcileResult; plan: Plan }> {
    while (this.running) await this.running.catch(() => undefined);
    let done!: () => void;
    this.running = new Promise<void>((r) => (done = r));
    try {
      const at = new Date().toISOString();
      const r = await this.applyAndRecord({ objects: change.objects, notices: [] }, { ...this.applyOptions(), mode: change.mode }, at, reason);
      // the state applied, changed by as much (O(change))
      const idx = this.appliedObjects() as Map<string, ManifestObject> | undefined;
      // (`kept`: the objects as the directory will hold them, in their own files)
      if (idx) for (const o of change.kept ?? change.objects) change.mode === 'merge' ? idx.set(idOf(o), o) : idx.delete(idOf(o));
      this.appliedManifest = undefined;
      return { last: this.last!, plan: r.plan };
    } finally {
      this.running = undefined;
      done();
      this.runAgain();
    }
  }

  /** A reconcile asked for while another ran (the directory's watcher, a drift): run now. */
  private runAgain(): void {
    const next = this.again;
    this.again = undefined;
    if (next && !this.stopped) void this.run(next);
  }

  /** Applies, then records the outcome: last (and last write), counts, metrics, the log and the event. */
  private async applyAndRecord(manifest: Manifest, opts: ApplyOptions, at: string, reason: string): Promise<ApplyResult> {
    const t0 = performance.now();
    const r = await this.gw.apply(manifest, opts);
    this.o.metrics?.latency.observe({ reason }, (performance.now() - t0) / 1000);
    const changes = r.transacted ? r.plan.changes.map(describe) : [];
    this.last = { at, reason, ok: true, changes, transacted: r.transacted, ...(r.plan.scope ? { planned: r.plan.scope } : {}) };
    for (const w of r.plan.warnings) this.o.logger.warn({ reason }, w);
    if (!r.transacted) {
      this.o.logger.debug({ reason, planned: r.plan.scope }, 'nothing to change');
      return r;
    }
    const drift = reason === 'drift';
    this.counts.transactions++;
    this.o.metrics?.transactions.inc({ reason });
    if (drift) (this.counts.driftRepairs++, this.o.metrics?.driftRepairs.inc());
    this.lastWrite = this.last;
    this.o.logger.info({ reason, changes, planned: r.plan.scope, attempts: r.attempts }, drift ? 'drift repaired: NB put back as the manifests say' : 'applied');
    this.o.onEvent?.({ type: drift ? 'drift-repaired' : 'applied', reason, changes, planned: r.plan.scope ?? null });
    return r;
  }

  private applyOptions() {
    return {
      owner: this.o.owner,
      ...(this.o.gatewayChassis !== undefined ? { gatewayChassis: this.o.gatewayChassis } : {}),
      ...(this.o.clusterRouter ? { clusterRouter: this.o.clusterRouter } : {}),
    };
  }

  /** One reconcile now (or after the one running). */
  async run(reason: string): Promise<void> {
    if (this.running) {
      // (a reason other than drift is kept: a drift alone may find nothing stale and skip)
      if (this.again === undefined || this.again === 'drift') this.again = reason;
      return this.running;
    }
    this.running = this.once(reason).finally(() => {
      this.running = undefined;
      this.runAgain();
    });
    return this.running;
  }

  private async once(reason: string): Promise<void> {
    // (our own commits settle in their apply: a drift that is only ours is no reconcile)
    if (reason === 'drift' && !this.gw.isStale(this.o.owner)) return;
    const at = new Date().toISOString();
    const log = this.o.logger;
    this.counts.reconciles++;
    this.o.metrics?.reconciles.inc({ reason });
    if (reason === 'drift') this.lastDrift = Date.now();
    let manifest: Manifest;
    try {
      // (a drift is NB moving, not the directory, which its watcher follows: planned from the state applied)
      manifest = reason === 'drift' && this.applied && !this.refused ? this.applied : await readDir(this.o.dir);
      if (manifest.objects.length === 0) throw new Error(`${this.o.dir}: no objects in the directory`);
    } catch (e) {
      // never act on a directory that cannot be read or says nothing: keep what NB has
      const problem = (e as Error).message;
      this.refused = problem;
      this.counts.refusals++;
      this.o.metrics?.refusals.inc();
      this.last = { at, reason, ok: false, changes: [], transacted: false, error: `manifest directory refused, the last state is kept: ${problem}` };
      log.error({ dir: this.o.dir, reason, problem }, 'manifest directory refused; NB keeps the last state applied');
      this.o.onEvent?.({ type: 'refused', reason, problem });
      return;
    }
    try {
      await this.applyAndRecord(manifest, this.applyOptions(), at, reason);
      this.applied = manifest;
      this.refused = undefined;
    } catch (e) {
      this.counts.errors++;
      this.o.metrics?.errors.inc();
      this.last = { at, reason, ok: false, changes: [], transacted: false, error: (e as Error).message };
      log.error({ reason, err: (e as Error).message }, 'reconcile failed; NB keeps the last state applied');
    }
  }

  private watchDir(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.stopped) return;
    try {
      this.watcher = watch(this.o.dir, (_event, name) => {
        // our own writes (a put's temporary files and the files it renamed into place) are applied already
        const n = typeof name === 'string' ? name : name ? String(name) : '';
        if (n.startsWith('.') || this.ours.has(n)) return;
        this.trigger('manifests');
      });
      this.watcher.on('error', () => {
        // the directory went (a mount gone): watched again when it is back; NB keeps its state
        this.watcher?.close();
        this.watcher = undefined;
        setTimeout(() => this.watchDir(), 2000).unref();
        this.trigger('manifests');
      });
    } catch (e) {
      this.o.logger.warn({ dir: this.o.dir, err: (e as Error).message }, 'cannot watch the manifest directory; retrying');
      setTimeout(() => this.watchDir(), 2000).unref();
    }
  }

  /** Files of the directory this daemon has just written or removed itself (their events are not changes to plan). */
  private readonly ours = new Set<string>();

  /** Marks files as written by the daemon (a put or delete through the socket) for the next 5 s. */
  wrote(names: readonly string[]): void {
    for (const n of names) this.ours.add(n);
    setTimeout(() => {
      for (const n of names) this.ours.delete(n);
    }, 5000).unref();
  }

  /** Stops watching and planning; resolves when a reconcile in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.offStale();
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.running;
  }
}

/**
 * The directory's manifests; a file that goes between the listing and its
 * read (an editor's or our own rename) is read again, a few times, before the
 * directory counts as unreadable.
 */
async function readDir(dir: string): Promise<Manifest> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await loadManifests([dir]);
    } catch (e) {
      if (attempt >= 3 || !/ENOENT/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
}

function describe(c: Change): string {
  const sign = c.action === 'add' ? '+' : c.action === 'remove' ? '-' : '~';
  return `${sign} ${c.label}${c.columns ? `: ${Object.keys(c.columns).join(',')}` : ''}`;
}
