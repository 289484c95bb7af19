/**
 * Declarative apply against live databases: a replica of the NB tables
 * ovn-natgw writes (and SB Chassis for gateway placement), the planner, and
 * ONE transaction. On a conflict (another writer changed what the plan read,
 * e.g. took an address) the replica catches up and the plan is made again.
 */
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
import { DEFAULT_OWNER, type NbView } from './rows.js';

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
}

/** Live NB (and SB) replicas for planning and applying. */
export class NatGateway {
  readonly nbClient: OvsdbClient;
  readonly sbClient: OvsdbClient | undefined;
  nb!: Replica<NbTables>;
  sb: Replica<SbTables> | undefined;

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
  }

  async close(): Promise<void> {
    await Promise.all([this.nbClient.close(), this.sbClient?.close()]);
  }

  chassis(): SbChassis[] {
    if (!this.sb) return [];
    return [...this.sb.table('Chassis').values()].map((c) => ({ name: c.name, hostname: c.hostname, other_config: c.other_config, external_ids: c.external_ids }));
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

  /** What apply would change; writes nothing. Throws PlanError on bad input or conflicts. */
  plan(manifest: Manifest, opts: ApplyOptions = {}): Plan {
    return buildPlan(this.desired(manifest, opts), this.view(), opts.owner ?? DEFAULT_OWNER, opts.removable ? { removable: opts.removable } : {});
  }

  /**
   * Apply the manifest in one transaction. Returns the plan that was applied;
   * with nothing to change no transaction is sent (`transacted` false). On a
   * conflict the plan is made again once the replica has caught up
   * (transactVerified).
   */
  async apply(manifest: Manifest, opts: ApplyOptions = {}): Promise<{ plan: Plan; transacted: boolean; attempts: number }> {
    let plan = this.plan(manifest, opts);
    if (plan.ops.length === 0) return { plan, transacted: false, attempts: 1 };
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
      if (plan.ops.length === 0) return { plan, transacted: false, attempts };
      await Promise.race([seen, new Promise((res) => setTimeout(res, 2000))]);
    } finally {
      off();
    }
    return { plan, transacted: true, attempts };
  }
}
