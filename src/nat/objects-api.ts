/**
 * The one-object-at-a-time API (what the admin socket will serve): put,
 * delete, get and list single objects of one owner, each change planned and
 * written as ONE transaction, like `apply`.
 *
 * It keeps the owner's objects in memory: an object is planned with the
 * others it needs (a FIP with its EIP and VPC), and a change that breaks
 * another object (deleting an EIP a FIP uses) is refused with that object's
 * problem, leaving the set and NB unchanged. Left-over rows are removed only
 * for objects this set has held, so a set that was not loaded with the whole
 * manifest never removes rows of objects it was not told about.
 * Changes are serialized (one at a time, in call order).
 */
import PQueue from 'p-queue';
import type { ApplyOptions, NatGateway } from './apply.js';
import type { Manifest, ManifestObject } from './objects.js';
import type { Plan } from './plan.js';
import { DEFAULT_OWNER } from './rows.js';
import { objectStatus, type ObjectStatus, type StatusOptions } from './status.js';

export interface ChangeResult {
  plan: Plan;
  transacted: boolean;
}

const id = (kind: string, name: string) => `${kind}/${name}`;
const asManifest = (m: ReadonlyMap<string, ManifestObject>): Manifest => ({ objects: [...m.values()], notices: [] });

export class NatObjects {
  private objects = new Map<string, ManifestObject>();
  /** every object this set has held: the only ones whose rows a change may remove */
  private readonly known = new Set<string>();
  private readonly queue = new PQueue({ concurrency: 1 });

  constructor(
    private readonly gw: NatGateway,
    private readonly opts: Omit<ApplyOptions, 'removable'> = {},
  ) {}

  private get owner(): string {
    return this.opts.owner ?? DEFAULT_OWNER;
  }

  /** The objects held now (a manifest of them). */
  manifest(): Manifest {
    return asManifest(this.objects);
  }

  /**
   * Replace the whole set (the owner's complete desired state, as from the
   * manifest files) and apply it: rows of objects not in it are removed, as
   * `apply` does.
   */
  load(manifest: Manifest): Promise<ChangeResult> {
    return this.queue.add(() => this.commit(new Map(manifest.objects.map((o) => [id(o.kind, o.name), o])), undefined));
  }

  /** What put() would change; writes nothing. */
  planPut(...objs: ManifestObject[]): Plan {
    const next = this.with(objs);
    return this.gw.plan(asManifest(next), { ...this.opts, removable: this.removable(next) });
  }

  /** Add or replace objects (by kind and name) in one transaction; on a refusal nothing changes. */
  put(...objs: ManifestObject[]): Promise<ChangeResult> {
    return this.queue.add(() => {
      const next = this.with(objs);
      return this.commit(next, this.removable(next));
    });
  }

  /** Remove one object and its rows in one transaction; refused while another object needs it. */
  delete(kind: string, name: string): Promise<ChangeResult> {
    return this.queue.add(async () => {
      if (!this.objects.has(id(kind, name))) throw new Error(`${kind} "${name}" not found (owner ${this.owner})`);
      const next = new Map(this.objects);
      next.delete(id(kind, name));
      return this.commit(next, this.removable(next, id(kind, name)));
    });
  }

  /** Status of one object as NB shows it (undefined when it has no rows). */
  get(kind: string, name: string): ObjectStatus | undefined {
    return objectStatus(this.gw.view(), this.owner, kind, name, this.statusOptions())[0];
  }

  /** Status of every object of a kind. */
  list(kind: string): ObjectStatus[] {
    return objectStatus(this.gw.view(), this.owner, kind, undefined, this.statusOptions());
  }

  private statusOptions(): StatusOptions {
    const chassis = this.gw.chassisNames();
    return chassis ? { chassis } : {};
  }

  private with(objs: readonly ManifestObject[]): Map<string, ManifestObject> {
    const next = new Map(this.objects);
    for (const o of objs) next.set(id(o.kind, o.name), o);
    return next;
  }

  private removable(next: ReadonlyMap<string, ManifestObject>, gone?: string): Set<string> {
    const s = new Set(this.known);
    for (const k of next.keys()) s.add(k);
    if (gone) s.add(gone);
    return s;
  }

  /** Apply `next` as the set; `removable` undefined: every object of the owner may lose its rows (load). */
  private async commit(next: Map<string, ManifestObject>, removable: ReadonlySet<string> | undefined): Promise<ChangeResult> {
    const r = await this.gw.apply(asManifest(next), removable ? { ...this.opts, removable } : this.opts);
    // only after the transaction: a refusal (PlanError) or a failed commit leaves the set as it was
    this.objects = next;
    for (const k of next.keys()) this.known.add(k);
    return { plan: r.plan, transacted: r.transacted };
  }
}
