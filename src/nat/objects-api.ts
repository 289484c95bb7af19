/**
 * The one-object-at-a-time API (what the admin socket will serve): put,
 * delete, get and list single objects of one owner, each change planned and
 * written as ONE transaction, like `apply`.
 *
 * The owner's objects are those NB holds (each with its last-applied
 * document, store.ts), so every instance of this API, and the CLI, sees the
 * same set. An object is planned with the others it needs (a FIP with its
 * EIP and VPC), and a change that breaks another object (deleting an EIP a
 * FIP uses) is refused with that object's problem, leaving NB unchanged. A
 * put or delete writes only the rows of the objects it is given and of what
 * depends on them, so it never removes rows of objects it was not told
 * about; `load` is the owner's whole state and removes what is not in it.
 * Changes are serialized (one at a time, in call order).
 */
import PQueue from 'p-queue';
import type { ApplyOptions, NatGateway } from './apply.js';
import type { Manifest, ManifestObject } from './objects.js';
import type { Plan } from './plan.js';
import { DEFAULT_OWNER, objectId } from './rows.js';
import { objectStatus, type ObjectStatus, type StatusOptions } from './status.js';

export interface ChangeResult {
  plan: Plan;
  transacted: boolean;
}

export class NatObjects {
  private readonly queue = new PQueue({ concurrency: 1 });

  constructor(
    private readonly gw: NatGateway,
    private readonly opts: Omit<ApplyOptions, 'mode'> = {},
  ) {}

  private get owner(): string {
    return this.opts.owner ?? DEFAULT_OWNER;
  }

  /** The owner's objects as NB holds them (a manifest of them). */
  manifest(): Manifest {
    return this.gw.stored(this.owner).manifest;
  }

  /**
   * Replace the whole set (the owner's complete desired state, as from the
   * manifest files) and apply it: rows of objects not in it are removed, as
   * `apply --prune` does. A manifest without objects is refused.
   */
  load(manifest: Manifest): Promise<ChangeResult> {
    return this.queue.add(() => this.commit(manifest, 'replace'));
  }

  /** What put() would change; writes nothing. */
  planPut(...objs: ManifestObject[]): Plan {
    return this.gw.plan({ objects: objs, notices: [] }, { ...this.opts, mode: 'merge' });
  }

  /** Add or replace objects (by kind and name) in one transaction; on a refusal nothing changes. */
  put(...objs: ManifestObject[]): Promise<ChangeResult> {
    return this.queue.add(() => this.commit({ objects: objs, notices: [] }, 'merge'));
  }

  /** Remove one object and its rows in one transaction; refused while another object needs it. */
  delete(kind: string, name: string): Promise<ChangeResult> {
    return this.queue.add(async () => {
      await this.gw.caughtUp();
      if (!this.gw.stored(this.owner).present.has(objectId(kind, name))) throw new Error(`${kind} "${name}" not found (owner ${this.owner})`);
      return this.commit({ objects: [{ kind, name } as ManifestObject], notices: [] }, 'delete');
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

  private async commit(manifest: Manifest, mode: NonNullable<ApplyOptions['mode']>): Promise<ChangeResult> {
    const r = await this.gw.apply(manifest, { ...this.opts, mode });
    return { plan: r.plan, transacted: r.transacted };
  }
}
