/**
 * Declarative apply against live databases: a replica of the NB tables
 * ovn-natgw writes (and SB Chassis for gateway placement), the planner, and
 * ONE transaction. On a conflict (another writer changed what the plan read,
 * e.g. took an address) the replica catches up and the plan is made again.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { OvsdbClient } from '../ovsdb/client.js';
import { transactVerified } from '../ovsdb/verify.js';
import type { Replica } from '../ovsdb/replica.js';
import type { TlsFiles } from '../ovsdb/transport.js';
import type { NbTables } from '../models/ovn-nb.js';
import type { SbTables } from '../models/ovn-sb.js';
import type { SbChassis } from '../gateway/chassis.js';
import { buildDesired, type Desired } from './desired.js';
import type { Manifest } from './objects.js';
import { buildPlan, OWNED_TABLES, type Plan } from './plan.js';
import { DEFAULT_OWNER, PlanError, type NbView } from './rows.js';

export interface ConnectOptions {
  /** NB remote(s), as OVN_NB_DB */
  nb: string;
  /** SB remote(s), as OVN_SB_DB; needed to place gateway chassis */
  sb?: string;
  tls?: TlsFiles;
  logger?: Logger;
  timeoutMs?: number;
}

export interface ApplyOptions {
  owner?: string;
  gatewayChassis?: number;
  /** Kube-OVN's default VPC router, attached by ConfigMap enable-external-gw (default ovn-cluster) */
  clusterRouter?: string;
  /** objects ("kind/name") whose left-over rows may be removed (default: all of the owner's) */
  removable?: ReadonlySet<string>;
  /** attempts on conflict (default 10) */
  attempts?: number;
  /**
   * After a commit, plan again against the replica that now shows it, and
   * report whether nothing is left to change (`converged`). Default true.
   */
  verify?: boolean;
  /** Plan in full even when nothing changed since the last converged plan. */
  full?: boolean;
}

/**
 * Columns other daemons keep up to date that no plan reads: their changes do
 * not make a converged plan stale (ovn-northd sets a port's `up` and copies
 * BFD session state into NB all the time).
 */
const IGNORED_COLUMNS: Readonly<Record<string, ReadonlySet<string>>> = {
  Logical_Switch_Port: new Set(['up']),
  BFD: new Set(['status']),
};

/** A plan that found nothing to change, and what it was made from. */
interface Converged {
  input: string;
  nbChanges: number;
  sbChanges: number;
  warnings: string[];
}

/** Live NB (and SB) replicas for planning and applying. */
export class NatGateway {
  readonly nbClient: OvsdbClient;
  readonly sbClient: OvsdbClient | undefined;
  nb!: Replica<NbTables>;
  sb: Replica<SbTables> | undefined;
  /** changes the replicas applied that a plan may depend on (see IGNORED_COLUMNS) */
  private nbChanges = 0;
  private sbChanges = 0;
  private converged: Converged | undefined;

  constructor(private readonly o: ConnectOptions) {
    const common = { ...(o.tls ? { tls: o.tls } : {}), ...(o.logger ? { logger: o.logger } : {}) };
    this.nbClient = new OvsdbClient({ remote: o.nb, database: 'OVN_Northbound', ...common });
    this.sbClient = o.sb ? new OvsdbClient({ remote: o.sb, database: 'OVN_Southbound', ...common }) : undefined;
  }

  async connect(): Promise<void> {
    const t = this.o.timeoutMs ?? 30_000;
    await this.nbClient.connect(t);
    this.nb = this.nbClient.replica<NbTables>({ tables: Object.fromEntries(OWNED_TABLES.map((n) => [n, true])) });
    const waits: Promise<unknown>[] = [this.nb.ready];
    if (this.sbClient) {
      await this.sbClient.connect(t);
      this.sb = this.sbClient.replica<SbTables>({ tables: { Chassis: { columns: ['name', 'hostname', 'other_config', 'external_ids'] } } });
      waits.push(this.sb.ready);
    }
    await Promise.all(waits);
    // counted from here on: only changes after a plan matter, and the initial sync then emits nothing
    this.nb.onChange((e) => {
      if (e.kind === 'update' && e.old && IGNORED_COLUMNS[e.table] && !changedOutside(e.old, e.row, IGNORED_COLUMNS[e.table])) return;
      this.nbChanges++;
    });
    this.sb?.onChange(() => this.sbChanges++);
  }

  async close(): Promise<void> {
    await Promise.all([this.nbClient.close(), this.sbClient?.close()]);
  }

  chassis(): SbChassis[] {
    if (!this.sb) return [];
    return [...this.sb.table('Chassis').values()].map((c) => ({ name: c.name, hostname: c.hostname, other_config: c.other_config, external_ids: c.external_ids }));
  }

  /** The SB chassis names (for object status); undefined when SB is not read. */
  chassisNames(): ReadonlySet<string> | undefined {
    return this.sb ? new Set(this.chassis().map((c) => c.name)) : undefined;
  }

  view(): NbView {
    return this.nb as unknown as NbView;
  }

  desired(manifest: Manifest, opts: ApplyOptions = {}): Desired {
    return buildDesired(manifest, this.view(), this.chassis(), {
      owner: opts.owner ?? DEFAULT_OWNER,
      ...(opts.gatewayChassis ? { gatewayChassis: opts.gatewayChassis } : {}),
      ...(opts.clusterRouter ? { clusterRouter: opts.clusterRouter } : {}),
    });
  }

  /** Resolves once both replicas hold every change committed before the call (OvsdbClient.caughtUp). */
  async caughtUp(): Promise<void> {
    await Promise.all([this.nbClient.caughtUp(), this.sbClient?.caughtUp()]);
  }

  /**
   * What apply would change; writes nothing. It plans against the replicas as
   * they are: after another writer's change, `await caughtUp()` first (apply
   * does). Throws PlanError on bad input or conflicts. When the same input
   * (manifest content and options) was last planned with nothing to change,
   * and neither replica has applied a change a plan reads since, the answer is
   * the same and is given without planning again (`opts.full` plans anyway).
   */
  plan(manifest: Manifest, opts: ApplyOptions = {}): Plan {
    const input = inputKey(manifest, opts);
    const c = this.converged;
    if (!opts.full && c && c.input === input && c.nbChanges === this.nbChanges && c.sbChanges === this.sbChanges) {
      return { changes: [], ops: [], warnings: [...c.warnings] };
    }
    const before = { nbChanges: this.nbChanges, sbChanges: this.sbChanges };
    const plan = buildPlan(this.desired(manifest, opts), this.view(), opts.owner ?? DEFAULT_OWNER, opts.removable ? { removable: opts.removable } : {});
    this.converged = plan.ops.length === 0 ? { input, ...before, warnings: [...plan.warnings] } : undefined;
    return plan;
  }

  /**
   * Apply the manifest in one transaction. Returns the plan that was applied;
   * with nothing to change no transaction is sent (`transacted` false). On a
   * conflict the plan is made again once the replica has caught up
   * (transactVerified).
   */
  async apply(manifest: Manifest, opts: ApplyOptions = {}): Promise<ApplyResult> {
    // plan against NB and SB as they are now, not as the replicas last heard
    // (e.g. a workload port the CNI has just added)
    await this.caughtUp();
    let plan = this.plan(manifest, opts);
    if (plan.ops.length === 0) return { plan, transacted: false, attempts: 1, converged: true };
    let attempts = 0;
    let seen: Promise<void> = Promise.resolve();
    let off = () => {};
    try {
      await transactVerified(
        this.nbClient,
        this.nb,
        () => {
          if (attempts++ > 0) plan = this.plan(manifest, opts);
          // our own write, seen by the replica, so that a following plan starts from it
          off();
          seen = new Promise<void>((res) => (off = this.nb.onChange(() => res())));
          return [...plan.ops, { op: 'comment', comment: `ovn-natgw apply (${opts.owner ?? DEFAULT_OWNER})` }];
        },
        { attempts: opts.attempts ?? 10 },
      );
      // a re-plan after a conflict may find another writer made our change: then only the comment went out
      if (plan.ops.length === 0) return { plan, transacted: false, attempts, converged: true };
      await Promise.race([seen, new Promise((res) => setTimeout(res, 2000))]);
    } finally {
      off();
    }
    if (opts.verify === false) return { plan, transacted: true, attempts };
    // the replica shows our commit: a plan now must find nothing left (else another writer got in, or a plan that does not settle)
    let left: number;
    try {
      left = this.plan(manifest, { ...opts, full: true }).ops.length;
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      left = -1;
    }
    if (left !== 0) this.o.logger?.warn({ owner: opts.owner ?? DEFAULT_OWNER, ops: left }, 'apply: a plan made after the commit still finds changes');
    return { plan, transacted: true, attempts, converged: left === 0 };
  }
}

export interface ApplyResult {
  plan: Plan;
  transacted: boolean;
  attempts: number;
  /** after the commit a new plan found nothing to change (undefined: not checked, verify false) */
  converged?: boolean;
}

/** Whether a column outside `ignored` changed (the replica shares the values of unchanged columns). */
function changedOutside(old: object, nu: object, ignored: ReadonlySet<string>): boolean {
  const a = old as Record<string, unknown>;
  const b = nu as Record<string, unknown>;
  for (const c in b) if (!ignored.has(c) && a[c] !== b[c]) return true;
  return false;
}

/** The content of a plan's input, as a short key (manifest objects and the options a plan uses). */
function inputKey(manifest: Manifest, opts: ApplyOptions): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([opts.owner ?? DEFAULT_OWNER, opts.gatewayChassis ?? null, opts.clusterRouter ?? null, opts.removable ? [...opts.removable].sort() : null]));
  for (const o of manifest.objects) h.update(JSON.stringify(o));
  return h.digest('base64');
}
