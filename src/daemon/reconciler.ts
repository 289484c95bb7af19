/**
 * The daemon's reconcile loop: the manifest directory is the owner's whole
 * desired state. A change of a file, a reload, or NB drifting from what was
 * applied (an owned row changed or deleted by another writer, a workload port
 * that appeared) plans again; the baseline (src/nat/baseline.ts) makes that
 * plan cover only what changed, and applies it in one transaction.
 *
 * The directory is read whole at the start and on a reload; after that a
 * change reads only the files that changed (directory.ts: by their names
 * from the watcher, and their stamps), and a drift only the stale objects'
 * files, each applied as one change of the whole state (NatGateway.applyChange),
 * so that neither holds nor compares a copy of the whole directory.
 *
 * A directory that cannot be read, holds no objects, or holds an object
 * that is refused is never applied: the last state stays in NB and the
 * status says why (a failed mount must not wipe the gateways). Drift repairs
 * are rate-limited (at most one per `driftIntervalMs`) and logged with what
 * changed.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ApplyOptions, ApplyResult, NatGateway } from '../nat/apply.js';
import { formatProblem, idOf } from '../nat/rows.js';
import type { Manifest, ManifestObject } from '../nat/objects.js';
import type { Change, Plan } from '../nat/plan.js';
import type { Metrics } from './metrics.js';
import { ManifestDirectory, inodeOf, type DirChange, type DirObject } from './directory.js';

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
  /** the chassis taken as up (liveness: every SB chassis but the dead ones); undefined: every SB chassis */
  live?: () => ReadonlySet<string> | undefined;
  /** the chassis being drained */
  draining?: () => ReadonlySet<string>;
  /** chassis whose node missed a ping (not yet dead): no new slots for them */
  suspect?: () => ReadonlySet<string>;
  /** after each plan, with the directory as now applied (objects by id): readiness follows it */
  onPlanned?: (plan: Plan, objects: ReadonlyMap<string, DirObject>, first: boolean) => void;
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
  /** objects left as they are: they wait for what other writers make (a workload port), with why */
  waiting?: string[];
  error?: string;
}

/** A change refused: this daemon stands by (another holds the leader lock). */
export class StandbyError extends Error {
  override name = 'StandbyError';
  constructor() {
    super('this ovn-natgwd stands by: another holds the leader lock and writes; send the change to it (or to every node\'s directory)');
  }
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
  /** the directory as last applied: files, objects and their keys (not the objects) */
  private readonly directory: ManifestDirectory;
  /** whether a whole read was applied yet (before: nothing to change against) */
  private applied = false;
  /** The objects last applied, by id (not to be changed by the caller); undefined before the first apply. */
  appliedObjects(): ReadonlyMap<string, DirObject> | undefined {
    return this.applied ? this.directory.objects : undefined;
  }
  /** files named by the watcher since the last reconcile ('all': read every file's stamp) */
  private names: Set<string> | 'all' = 'all';
  /** the directory's problem when it was refused since */
  refused: string | undefined;
  counts = { reconciles: 0, transactions: 0, driftRepairs: 0, refusals: 0, errors: 0 };
  private readonly offStale: () => void;

  constructor(
    private readonly gw: NatGateway,
    private o: ReconcileOptions,
  ) {
    this.offStale = gw.onStale((owner) => owner === this.o.owner && this.drift());
    this.directory = new ManifestDirectory(o.dir);
  }

  /**
   * The first reconcile (after the replicas are complete), then the
   * directory watched; `standby`: watched only, nothing planned or written
   * until resume() (another daemon holds the leader lock).
   */
  async start(standby = false): Promise<ReconcileResult | undefined> {
    if (standby) {
      this.paused = true;
      this.watchDir();
      return undefined;
    }
    await this.run('start');
    this.watchDir();
    return this.last!;
  }

  /** whether this daemon stands by: nothing is planned or written */
  private paused = false;

  /** Stops planning and writing (the leader lock is lost); a reconcile running finishes (its transaction fails "not owner"). */
  pause(): void {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  /** Plans and writes again (the leader lock is held): the whole directory, against NB as it is now. */
  resume(reason: string): Promise<void> {
    this.paused = false;
    this.applied = false;
    this.names = 'all';
    return this.run(reason);
  }

  /** Takes new options (a reload): the directory is watched again and planned. */
  reconfigure(o: ReconcileOptions): void {
    const moved = o.dir !== this.o.dir;
    this.o = o;
    if (moved) {
      this.directory.dir = o.dir;
      this.applied = false;
      this.watchDir();
    }
  }

  /** Plans again soon (coalesced: changes within 100 ms make one plan). */
  trigger(reason: string, delayMs = 100): void {
    if (this.stopped || this.paused) return;
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
   * and what depends on them (O(change)); then `files` (the caller puts
   * their files in place, or removes them), and the directory as applied
   * changes by as much. Throws what apply throws (a PlanError: nothing
   * written, no file touched).
   */
  async applyGiven(reason: string, change: { objects: ManifestObject[]; mode: 'merge' | 'delete'; files: () => Promise<string[]> }): Promise<{ last: ReconcileResult; plan: Plan }> {
    if (this.paused) throw new StandbyError();
    while (this.running) await this.running.catch(() => undefined);
    if (this.paused) throw new StandbyError();
    let done!: () => void;
    this.running = new Promise<void>((r) => (done = r));
    try {
      const at = new Date().toISOString();
      const r = await this.applyAndRecord({ objects: change.objects, notices: [] }, { ...this.applyOptions(), mode: change.mode }, at, reason);
      const files = await change.files();
      for (const [i, o] of change.objects.entries()) {
        if (change.mode === 'merge') await this.directory.placed(o, files[i]);
        else this.directory.dropped(idOf(o), files[i]);
      }
      this.o.onPlanned?.(r.plan, this.directory.objects, false);
      return { last: this.last!, plan: r.plan };
    } finally {
      this.running = undefined;
      done();
      this.runAgain();
    }
  }

  /** What applying these objects as a merge would do now, with the options the reconciles use (nothing written). */
  planGiven(objects: ManifestObject[]): Plan {
    return this.gw.plan({ objects, notices: [] }, { ...this.applyOptions(), mode: 'merge' });
  }

  /** A reconcile asked for while another ran (the directory's watcher, a drift): run now. */
  private runAgain(): void {
    const next = this.again;
    this.again = undefined;
    if (next && !this.stopped) void this.run(next);
  }

  /** Applies, then records the outcome: last (and last write), counts, metrics, the log and the event. */
  private async applyAndRecord(
    manifest: Manifest | undefined,
    opts: ApplyOptions,
    at: string,
    reason: string,
    change?: { change: DirChange; source: Parameters<NatGateway['applyChange']>[1] },
  ): Promise<ApplyResult> {
    const t0 = performance.now();
    const r = manifest ? await this.gw.apply(manifest, opts) : await this.gw.applyChange(change!.change, change!.source, opts);
    this.o.metrics?.latency.observe({ reason }, (performance.now() - t0) / 1000);
    if (r.attempts > 1) this.o.metrics?.conflicts.inc(r.attempts - 1);
    // (at most SHOWN changes are kept, logged and sent as an event: a first apply of 200k objects is one line, not 30 MB)
    const all = r.transacted ? r.plan.changes : [];
    const changes = all.slice(0, SHOWN).map(describe);
    if (all.length > SHOWN) changes.push(`... and ${all.length - SHOWN} more changes`);
    const waiting = r.plan.waiting?.map(formatProblem);
    this.last = { at, reason, ok: true, changes, transacted: r.transacted, ...(r.plan.scope ? { planned: r.plan.scope } : {}), ...(waiting?.length ? { waiting } : {}) };
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
      // one pod not running yet holds back nothing else: its FIP waits, and is planned when its port appears
      wait: true,
      // the same live set as failover: an apply never undoes one
      ...(this.o.live?.() ? { live: this.o.live()! } : {}),
      ...(this.o.draining?.().size ? { draining: this.o.draining!() } : {}),
      ...(this.o.suspect?.().size ? { suspect: this.o.suspect!() } : {}),
      ...(this.o.gatewayChassis !== undefined ? { gatewayChassis: this.o.gatewayChassis } : {}),
      ...(this.o.clusterRouter ? { clusterRouter: this.o.clusterRouter } : {}),
    };
  }

  /** One reconcile now (or after the one running). */
  async run(reason: string): Promise<void> {
    if (this.paused) return;
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
    // the whole directory at the start, on a reload and after a refusal; else what changed
    const whole = !this.applied || this.refused !== undefined || reason === 'start' || reason === 'reload';
    let names = this.names;
    this.names = new Set();
    if ((await inodeOf(this.o.dir)) !== this.watchedIno || (await this.directory.replaced())) {
      // another directory in its place (a mount, a rename): watched anew, every file looked at
      this.watchDir();
      names = 'all';
    }
    let full: { manifest: Manifest; commit(): void } | undefined;
    let change: DirChange | undefined;
    try {
      if (whole) full = await readWhole(this.directory);
      else change = await this.directory.changes(names === 'all' ? undefined : names);
    } catch (e) {
      // never act on a directory that cannot be read or says nothing: keep what NB has
      if (names !== 'all') for (const n of names) this.pendingName(n);
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
      const first = !this.applied;
      let r: ApplyResult;
      if (full && reason === 'reload') {
        // a reload says what it will do before it does it (SIGHUP: the plan is logged, then applied)
        const plan = this.gw.plan(full.manifest, this.applyOptions());
        const shown = plan.changes.slice(0, SHOWN).map(describe);
        if (plan.changes.length > SHOWN) shown.push(`... and ${plan.changes.length - SHOWN} more changes`);
        log.info({ reason, changes: shown, warnings: plan.warnings.length }, plan.changes.length ? 'reload: the plan, applied next' : 'reload: the plan finds nothing to change');
      }
      if (full) r = await this.applyAndRecord(full.manifest, this.applyOptions(), at, reason);
      else {
        const dir = this.directory;
        r = await this.applyAndRecord(undefined, this.applyOptions(), at, reason, {
          change: change!,
          source: {
            stale: (ids) => dir.read(ids),
            whole: async () => (full = await readWhole(dir)).manifest,
          },
        });
      }
      if (full) full.commit();
      else change!.commit();
      this.applied = true;
      this.refused = undefined;
      this.o.onPlanned?.(r.plan, this.directory.objects, first);
    } catch (e) {
      if (names !== 'all') for (const n of names) this.pendingName(n);
      this.counts.errors++;
      this.o.metrics?.errors.inc();
      this.last = { at, reason, ok: false, changes: [], transacted: false, error: (e as Error).message };
      log.error({ reason, err: (e as Error).message }, 'reconcile failed; NB keeps the last state applied');
    }
  }

  /** A file the watcher named, to look at in the next reconcile. */
  private pendingName(n: string): void {
    if (this.names !== 'all') this.names.add(n);
  }

  /** the inode of the directory the watcher follows */
  private watchedIno: bigint | undefined;

  private watchDir(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedIno = undefined;
    if (this.stopped) return;
    try {
      this.watchedIno = statSync(this.o.dir, { bigint: true }).ino;
      this.watcher = watch(this.o.dir, (_event, name) => {
        // our own writes (a put's temporary files and the files it renamed into place) are applied already
        const n = typeof name === 'string' ? name : name ? String(name) : '';
        if (n.startsWith('.') || this.ours.has(n)) return;
        // (no name: every file's stamp is read)
        if (n && MANIFEST_NAME.test(n)) this.pendingName(n);
        else if (!n) this.names = 'all';
        this.trigger('manifests');
      });
      this.watcher.on('error', () => {
        // the directory went (a mount gone): watched again when it is back; NB keeps its state
        this.watcher?.close();
        this.watcher = undefined;
        this.names = 'all';
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

/** How many changes of one apply the status, the log and the event list. */
const SHOWN = 1000;

/** The names of manifest files (others in the directory are not looked at). */
const MANIFEST_NAME = /\.(?:ya?ml|json)$/;

/**
 * The whole directory; a file that goes between the listing and its read
 * (an editor's or our own rename) is read again, a few times, before the
 * directory counts as unreadable.
 */
async function readWhole(dir: ManifestDirectory): Promise<{ manifest: Manifest; commit(): void }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await dir.readAll();
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
