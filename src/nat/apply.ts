/**
 * Declarative apply against live databases: a replica of the NB tables
 * ovn-natgw writes (and SB Chassis for gateway placement), the planner, and
 * ONE transaction. On a conflict (another writer changed what the plan read,
 * e.g. took an address) the replica catches up and the plan is made again.
 *
 * What a manifest means (ApplyOptions.mode):
 *  - replace (the default here): the manifest is the owner's whole desired
 *    state; owned objects not in it are removed (`ovn-natgwctl apply --prune`);
 *  - merge: its objects are created or updated, every other object of the
 *    owner stays, and objects it names that were applied before (an OvnFip's
 *    OvnEip, an EIP's network) are read from NB, where each object's
 *    last-applied document is kept (store.ts): `ovn-natgwctl apply -f`, as
 *    `kubectl apply`;
 *  - delete: its objects are deleted (`ovn-natgwctl delete`).
 * In merge and delete the plan writes only the rows of the objects given and
 * of the objects that depend on them (a FIP on an EIP that changed); a change
 * that would break one of those is refused with that object's problem.
 */
import { shared } from '../intern.js';
import { SB_BFD_COLUMNS } from '../gateway/bfd-status.js';
import * as crypto from 'node:crypto';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { OvsdbClient } from '../ovsdb/client.js';
import { transactVerified } from '../ovsdb/verify.js';
import { ops } from '../ovsdb/operations.js';
import type { Replica } from '../ovsdb/replica.js';
import type { TlsFiles } from '../ovsdb/transport.js';
import type { NbTables } from '../models/ovn-nb.js';
import type { SbTables } from '../models/ovn-sb.js';
import type { SbChassis } from '../gateway/chassis.js';
import { chassisLoad, type ChassisLoad } from '../gateway/load.js';
import { buildDesired, type Desired, type DesiredOptions } from './desired.js';
import type { Manifest, ManifestObject } from './objects.js';
import { EXTERNAL_GW_CONFIG } from './manifest.js';
import { buildPlan, type Plan } from './plan.js';
import { OWNED_TABLES, PARENTS } from './topology.js';
import { EgressIndex } from './egress-index.js';
import { DEFAULT_OWNER, DRAINING_PREFIX, KIND_KEY, NAME_KEY, OWNER_KEY, PART_KEY, PlanError, idOf, objectId, rowKey, type NbTableName, type Problem, type RowSpec } from './rows.js';
import type { StoredObjects } from './store.js';
import { ObjectStore } from './object-store.js';
import { NB_INDEXES, NbFacts, byName, gatewayPortChassis, holdersOf, otherActiveLoad, type NbView } from './nb-view.js';
import { rebalance, type Move } from '../gateway/scheduler.js';
import { DEFAULT_GATEWAY_CHASSIS, asCandidates, gatewayCandidates, isGatewayCapable, placementCandidates } from '../gateway/chassis.js';
import { failoverSlots, type PortSlots } from '../gateway/failover.js';
import type { PortChassisIndex } from '../gateway/port-chassis.js';
import { Baseline, OTHERS_WRITE, changedOutside } from './baseline.js';
import { ReadLog } from './reads.js';
import { walk } from './graph.js';

export interface ConnectOptions {
  /** NB remote(s), as OVN_NB_DB */
  nb: string;
  /** SB remote(s), as OVN_SB_DB; needed to place gateway chassis */
  sb?: string;
  tls?: TlsFiles;
  logger?: Logger;
  /** how long connect() may take (default 30 s) */
  timeoutMs?: number;
  /**
   * Keep reconnecting (default true, for a long-running process). A one-shot
   * command passes false: connect() then fails at once with the cause when
   * no remote can be reached (connection refused, no such socket, another
   * database, a TLS error).
   */
  reconnect?: boolean;
  /** bound of each request (default 60 s) */
  requestTimeoutMs?: number;
  /** bound of dialing and of each step of the connection sequence, for a server that does not answer (default the request bound) */
  handshakeTimeoutMs?: number;
  /** also follow SB Port_Binding of chassisredirect ports: which chassis carries each gateway port */
  gatewayBindings?: boolean;
  /** every transaction asserts this NB lock (held by the caller: the daemon's leader lock); it fails "not owner" otherwise */
  lock?: string;
}

export type ApplyMode = 'replace' | 'merge' | 'delete';

export interface ApplyOptions {
  owner?: string;
  gatewayChassis?: number;
  /** Kube-OVN's default VPC router, attached by ConfigMap enable-external-gw (default ovn-cluster) */
  clusterRouter?: string;
  /** what the manifest means: see the module comment (default replace) */
  mode?: ApplyMode;
  /**
   * replace: accept a manifest without objects, which removes every object of
   * the owner. Without it an empty manifest is refused: an empty or
   * unreadable input never deletes anything.
   */
  allowEmpty?: boolean;
  /** attempts on conflict (default 10) */
  attempts?: number;
  /**
   * After a commit, plan again against the replica that now shows it, and
   * report whether nothing is left to change (`converged`). Default true.
   */
  verify?: boolean;
  /** Plan in full even when nothing changed since the last converged plan. */
  full?: boolean;
  /** Also warn of duplicate NAT rows anywhere in NB (a scan; a one-shot command's check). */
  nbWarnings?: boolean;
  /** Write only the rows whose key this accepts (PlanOptions.rows: a failover writes one port's chassis rows). */
  rows?: (key: string) => boolean;
  /** With `rows`: the only tables whose rows it may accept (PlanOptions.tables: the others are not looked at). */
  tables?: ReadonlySet<NbTableName>;
  /** The chassis that are up (DesiredOptions.live; default every SB chassis). */
  live?: ReadonlySet<string>;
  /** Chassis being drained (DesiredOptions.draining). */
  draining?: ReadonlySet<string>;
  /**
   * Chassis whose node missed a ping, not yet dead (DesiredOptions.suspect):
   * they keep their slots and are given no new ones. Not part of what a
   * converged plan is keyed by: it steers only where new slots go.
   */
  suspect?: ReadonlySet<string>;
  /** Gateway ports to order so (DesiredOptions.placement: a rebalance). */
  placement?: ReadonlyMap<string, readonly string[]>;
  /**
   * Objects whose only problems are that they wait for what other writers
   * make in NB (Problem.waiting: a workload port not there yet) are left as
   * NB has them, with what uses them, and the rest is planned (Plan.waiting
   * names them); the plan's reads make them stale when that appears. The
   * daemon's reconcile: one pod not yet running must not hold back the
   * directory. Without it such a problem refuses the manifest.
   */
  wait?: boolean;
}

/** Refused before planning: a manifest without objects (nothing to do, or everything to delete). */
export class EmptyManifestError extends Error {
  override name = 'EmptyManifestError';
}



/** Live NB (and SB) replicas for planning and applying. */
export class NatGateway {
  readonly nbClient: OvsdbClient;
  readonly sbClient: OvsdbClient | undefined;
  nb!: Replica<NbTables>;
  /** owned Subnets by the gateway nodes of their centralized egress (failover's lookup) */
  private egress!: EgressIndex;
  sb: Replica<SbTables> | undefined;
  /** changes the replicas applied that a plan may depend on (see OTHERS_WRITE) */
  private nbChanges = 0;
  private sbChanges = 0;
  /** per owner: the whole manifest last planned with nothing to change, per object (baseline.ts) */
  private readonly baselines = new Map<string, Baseline>();
  /** the one write queue: transactions of this gateway go one at a time, in call order */
  private readonly writes = new PQueue({ concurrency: 1 });
  /** what the plans read beyond column indexes (addresses in use, reservations by holder), kept from every commit */
  private facts!: NbFacts;
  /** the owners' objects as NB holds them, kept from every commit */
  private store!: ObjectStore;

  constructor(private readonly o: ConnectOptions) {
    const common = {
      ...(o.tls ? { tls: o.tls } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.reconnect === false ? { reconnect: false } : {}),
      ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
      ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs, connectTimeoutMs: o.handshakeTimeoutMs } : {}),
    };
    this.nbClient = new OvsdbClient({ remote: o.nb, database: 'OVN_Northbound', ...common });
    this.sbClient = o.sb ? new OvsdbClient({ remote: o.sb, database: 'OVN_Southbound', ...common }) : undefined;
  }

  /** Whether SB is read (gateway chassis are checked against it). */
  get hasSb(): boolean {
    return this.sbClient !== undefined;
  }

  async connect(): Promise<void> {
    const t = this.o.timeoutMs ?? 30_000;
    this.nb = this.nbClient.replica<NbTables>({
      tables: { ...Object.fromEntries(OWNED_TABLES.map((n) => [n, true])), NB_Global: { columns: ['external_ids'] } },
      indexes: NB_INDEXES,
    });
    const waits: Promise<unknown>[] = [this.nbClient.connect(t), this.nb.ready];
    if (this.sbClient) {
      this.sb = this.sbClient.replica<SbTables>({
        tables: {
          Chassis: { columns: ['name', 'hostname', 'other_config', 'external_ids'] },
          // where each gateway port runs (its chassisredirect port's binding), for a resident manager's events
          ...(this.o.gatewayBindings
            ? {
                Port_Binding: { columns: ['logical_port', 'type', 'chassis'], where: [['type', '==', 'chassisredirect']] },
                // the sessions each gateway port's chassis runs (the stale-status check: src/ha/bfd-check.ts)
                BFD: { columns: SB_BFD_COLUMNS },
              }
            : {}),
        },
      });
      waits.push(this.sbClient.connect(t), this.sb.ready);
    }
    await Promise.all(waits);
    this.facts = new NbFacts(this.view());
    this.store = new ObjectStore(this.view(), this.facts);
    this.egress = new EgressIndex((owner, id) => this.store.get(owner, id));
    for (const r of this.nb.table('Logical_Router_Policy').values()) this.egress.note(r);
    for (const r of this.nb.table('Logical_Switch').values()) this.egress.note(r);
    this.nb.onCommit((changes) => {
      const moved = this.facts.apply(changes);
      this.store.apply(changes, moved);
      // (a Subnet's policies, or its anchor row holding its last-applied document)
      for (const e of changes) if ((e.row as { external_ids?: ReadonlyMap<string, string> }).external_ids?.get(KIND_KEY) === 'Subnet') this.egress.note(e.row as never);
      for (const b of this.baselines.values()) b.noteCommit(changes, moved);
      this.tellStale();
    });
    // counted from here on: only changes after a plan matter, and the initial sync then emits nothing
    this.nb.onChange((e) => {
      if (e.kind === 'update' && e.old && OTHERS_WRITE[e.table] && !changedOutside(e.old, e.row, OTHERS_WRITE[e.table])) return;
      this.nbChanges++;
    });
    this.sb?.onChange((e) => {
      // (only the chassis place gateways; a port binding moving is no reason to plan again)
      if (e.table !== 'Chassis') return;
      this.sbChanges++;
      for (const b of this.baselines.values()) b.noteSb();
      this.tellStale();
    });
  }

  private readonly staleListeners = new Set<(owner: string) => void>();

  /**
   * Calls `fn(owner)` after a commit (or an SB change) that left part of an
   * owner's whole state stale (baseline.ts): a resident reconciler plans it
   * again (drift repair, a workload port that appeared). Our own commits
   * settle in their apply; `fn` is called anyway and finds nothing to do.
   */
  onStale(fn: (owner: string) => void): () => void {
    this.staleListeners.add(fn);
    return () => this.staleListeners.delete(fn);
  }

  private tellStale(): void {
    if (this.staleListeners.size === 0) return;
    for (const b of this.baselines.values()) if (b.all || b.dirty.size > 0) for (const fn of this.staleListeners) fn(b.owner);
  }

  /** Whether part of the owner's whole state is stale since its last plan (no baseline: unknown, true). */
  isStale(owner: string): boolean {
    const b = this.baselines.get(owner);
    return !b || b.all || b.dirty.size > 0;
  }

  /** Resolves when no write of this gateway is queued or running. */
  idle(): Promise<void> {
    return this.writes.onIdle();
  }

  async close(): Promise<void> {
    await Promise.all([this.nbClient.close(), this.sbClient?.close()]);
  }

  /** The SB chassis (none when SB is not read). */
  chassis(): SbChassis[] {
    return this.sbChassis() ?? [];
  }

  /** The SB chassis, or undefined when SB is not read (then gateway nodes cannot be checked). */
  private sbChassis(): SbChassis[] | undefined {
    if (!this.sb) return undefined;
    return [...this.sb.table('Chassis').values()].map((c) => ({ name: c.name, hostname: c.hostname, other_config: c.other_config, external_ids: c.external_ids }));
  }

  /**
   * Per SB chassis: the gateway ports (router ports with Gateway_Chassis, BFD
   * ports' HA chassis groups) it is active and standby for, and those bound to
   * it in SB (with gatewayBindings). A scan of the router ports: a report.
   */
  gatewayLoad(): ChassisLoad[] {
    const ports = gatewayPortChassis(this.view());
    const bound = new Map<string, string>();
    if (this.o.gatewayBindings && this.sb) {
      for (const pb of this.sb.table('Port_Binding').values()) {
        const ch = pb.chassis ? this.sb.table('Chassis').get(pb.chassis)?.name : undefined;
        if (ch) bound.set(pb.logical_port.replace(/^cr-/, ''), ch);
      }
    }
    return chassisLoad(ports, this.chassis(), bound);
  }

  /** The gateway ports' chassis in priority order and the active count per chassis, kept from every NB commit (the HA index reads it: one copy). */
  gatewayPorts(): PortChassisIndex {
    return this.facts.gatewayPorts;
  }

  /** The owners' address reservations by holder, kept from every commit (for object status by index). */
  reservations(): { reservationsOf(holder: string): ReadonlyMap<string, ReadonlySet<string>> } {
    return this.facts;
  }

  /** The SB chassis names (for object status); undefined when SB is not read. */
  chassisNames(): ReadonlySet<string> | undefined {
    const c = this.sbChassis();
    return c ? new Set(c.map((x) => x.name)) : undefined;
  }

  view(): NbView {
    return this.nb as unknown as NbView;
  }

  /** The owner's objects as NB holds them (their last-applied documents), from the store kept from every commit. */
  stored(owner = DEFAULT_OWNER): StoredObjects {
    const { objects, problems } = this.store.all(owner);
    const store = this.store;
    return { manifest: { objects, notices: [] }, problems, withoutSpec: store.withoutSpec(owner), present: { has: (id) => store.has(owner, id) } };
  }

  private desiredOptions(opts: ApplyOptions, incoming?: ReadonlySet<string>): DesiredOptions {
    return {
      owner: opts.owner ?? DEFAULT_OWNER,
      ...(opts.gatewayChassis !== undefined ? { gatewayChassis: opts.gatewayChassis } : {}),
      ...(opts.clusterRouter ? { clusterRouter: opts.clusterRouter } : {}),
      ...(opts.live ? { live: opts.live } : {}),
      ...(opts.draining?.size ? { draining: opts.draining } : {}),
      ...(opts.suspect?.size ? { suspect: opts.suspect } : {}),
      ...(opts.placement ? { placement: opts.placement } : {}),
      ...(incoming ? { incoming } : {}),
    };
  }

  /** The desired rows of a manifest taken as the owner's whole state (mode replace). */
  desired(manifest: Manifest, opts: ApplyOptions = {}): Desired {
    return buildDesired(manifest, this.view(), this.sbChassis(), this.desiredOptions(opts), this.facts);
  }

  /**
   * The desired rows and the scope of a request: in replace mode the manifest
   * alone, everything in scope; in merge and delete mode the owner's stored
   * objects with the manifest's added, replaced or taken out, and in scope the
   * manifest's objects and what depends on them.
   */
  private request(manifest: Manifest, opts: ApplyOptions, reads?: ReadLog, only?: DesiredOptions['only']): { desired: Desired; scope?: ReadonlySet<string>; built?: ReadonlySet<string> } {
    const mode = opts.mode ?? 'replace';
    if (mode === 'replace') {
      if (manifest.objects.length === 0 && !opts.allowEmpty) throw new EmptyManifestError('no objects given: a manifest without objects would remove every object of the owner');
      return { desired: buildDesired(manifest, this.view(), this.sbChassis(), { ...this.desiredOptions(opts), ...(reads ? { reads } : {}) }, this.facts) };
    }
    if (manifest.objects.length === 0) throw new EmptyManifestError('no objects given');
    const owner = opts.owner ?? DEFAULT_OWNER;
    const store = this.store;
    const given = new Set(manifest.objects.map(idOf));
    if (mode === 'delete') {
      const missing = [...given].filter((id) => !store.has(owner, id));
      if (missing.length) throw new PlanError(missing.map((id) => notFound(id, owner)));
    }
    // in scope: the objects given and what reads them; rendered too: what those read, and what they may conflict with
    const overrides = new Map(mode === 'merge' ? manifest.objects.map((o) => [idOf(o), o] as const) : []);
    // (a plan of some rows writes only rows of the objects given, which the row filter names: what depends on them is not planned)
    const scope = opts.rows ? new Set(given) : store.dependents(owner, given);
    const build = store.closure(owner, scope, overrides);
    const storedOf = (ids: Iterable<string>) => [...ids].map((id) => store.get(owner, id)).filter((o): o is ManifestObject => o !== undefined);
    const objects: ManifestObject[] = [...build].filter((id) => !(mode === 'delete' && given.has(id))).map((id) => overrides.get(id) ?? store.get(owner, id)).filter((o): o is ManifestObject => o !== undefined);
    const desired = buildDesired({ objects, notices: [] }, this.view(), this.sbChassis(), { ...this.desiredOptions(opts, mode === 'merge' ? given : undefined), ...(reads ? { reads } : {}), ...(only ? { only } : {}) }, this.facts);
    // the same objects as NB holds them: what depends on what, and the problems they have anyway
    let base: Desired | undefined;
    const baseline = () => (base ??= buildDesired({ objects: storedOf(build), notices: [] }, this.view(), this.sbChassis(), { ...this.desiredOptions(opts), ...(only ? { only } : {}) }, this.facts));
    const problems = this.blockingProblems(desired, given, scope, baseline, mode === 'delete');
    const unreadable = [...build].map((id) => store.problem(owner, id)).filter((p): p is string => p !== undefined);
    const warnings = [...desired.warnings, ...unreadable.map((p) => `not read from NB, left as it is: ${p}`)];
    return { desired: { ...desired, problems, warnings }, scope, built: build };
  }

  /**
   * The problems that stop a merge or delete: those of the objects given; of
   * the objects that depend on them only those the request causes (a problem
   * such an object has anyway, say a workload port that is gone, does not
   * stop a change of another object), with the problems of what a blocked
   * object uses; and for a delete, per deleted object, who still uses it.
   */
  private blockingProblems(desired: Desired, given: ReadonlySet<string>, scope: ReadonlySet<string>, baseline: () => Desired, deleting: boolean): Problem[] {
    const of = (p: Problem) => objectId(p.kind, p.name);
    const global = (p: Problem) => p.kind === 'option';
    const dependents = desired.problems.filter((p) => scope.has(of(p)) && !given.has(of(p)));
    let before: Set<string> | undefined;
    if (dependents.length > 0) before = new Set(baseline().problems.map(problemKey));
    const blocking = desired.problems.filter((p) => global(p) || given.has(of(p)) || (scope.has(of(p)) && !before!.has(problemKey(p))));
    // a blocked object that could not be planned because of another one: that one's problems too
    const withProblems = new Map<string, Problem[]>();
    for (const p of desired.problems) withProblems.set(of(p), [...(withProblems.get(of(p)) ?? []), p]);
    const shown = new Set(blocking);
    const seen = new Set<string>();
    const todo = [...new Set(blocking.map(of))];
    while (todo.length) {
      const id = todo.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const d of desired.deps.get(id) ?? []) {
        const ps = withProblems.get(d);
        if (!ps) continue;
        for (const p of ps) if (!shown.has(p)) (shown.add(p), blocking.push(p));
        todo.push(d);
      }
    }
    if (deleting && blocking.length > 0) {
      const base = baseline();
      const out: Problem[] = [];
      for (const id of given) {
        const users = [...new Set(blocking.filter((p) => of(p) !== id && base.deps.get(of(p))?.has(id)).map((p) => `${p.kind} ${p.name}`))];
        if (users.length) out.push({ kind: id.slice(0, id.indexOf('/')), name: id.slice(id.indexOf('/') + 1), field: 'metadata.name', reason: `in use by ${users.join(', ')}; delete those first` });
      }
      return [...out, ...blocking];
    }
    return blocking;
  }

  /**
   * Whether a plan of this request writes rows placed by the SB chassis
   * (gateway chassis, egress next hops), so that it must catch up with SB
   * too: a whole state, or a Vpc, Subnet or the ConfigMap (and what they
   * name) merged. A FIP, EIP, SNAT or DNAT change, or a delete, reads the
   * chassis only for rows it does not write; SB, busy with ovn-northd's
   * writes, is then not waited for.
   */
  private placesGateways(manifest: Manifest, opts: ApplyOptions): boolean {
    if (!this.sbClient) return false;
    const mode = opts.mode ?? 'replace';
    if (mode === 'replace') return true;
    if (mode === 'delete') return false;
    return manifest.objects.some((o) => GATEWAY_KINDS.has(o.kind));
  }

  /** Resolves once both replicas hold every change committed before the call (OvsdbClient.caughtUp). */
  async caughtUp(): Promise<void> {
    await Promise.all([this.nbClient.caughtUp(), this.sbClient?.caughtUp()]);
  }

  /**
   * What apply would change; writes nothing. It plans against the replicas as
   * they are: after another writer's change, `await caughtUp()` first (apply
   * does). Throws PlanError on bad input or conflicts. A whole state (mode
   * replace) planned again after a plan that found nothing to change plans
   * only the objects that changed since, by the baseline (baseline.ts);
   * `opts.full` plans the whole manifest anyway.
   */
  plan(manifest: Manifest, opts: ApplyOptions = {}): Plan {
    return this.planOf(manifest, opts);
  }

  /** plan(), with the objects' keys when the caller has them (an apply plans one manifest several times). */
  private planOf(manifest: Manifest, opts: ApplyOptions, known: () => ReadonlyMap<string, string> = () => objectKeys(manifest)): Plan {
    // (a plan of some rows, or with chassis taken as down, is no whole state to keep)
    // (a whole state planned with some chassis taken as down is kept like any other: the live set is in its options)
    if (opts.rows || (opts.live && (opts.mode ?? 'replace') !== 'replace')) return this.planRequest(this.request(manifest, opts), opts, manifest);
    if ((opts.mode ?? 'replace') !== 'replace') {
      // a merge or delete on a whole state kept (the daemon's put): once it finds nothing left, the
      // baseline takes its objects as they are now, so the next whole plan need not plan them again
      const b = this.baselines.get(opts.owner ?? DEFAULT_OWNER);
      const reads = b && !b.all ? new ReadLog() : undefined;
      const req = this.request(manifest, opts, reads);
      const plan = this.planRequest(req, opts, manifest);
      if (b && reads && plan.ops.length === 0 && req.built) {
        const keys = opts.mode === 'delete' ? new Map<string, string>() : objectKeys(manifest);
        b.settle(new Set(manifest.objects.map(idOf)), req.built, keys, reads, req.desired.deps);
      }
      return plan;
    }
    // a whole state: against the baseline, only what changed since (and what depends on it)
    const owner = opts.owner ?? DEFAULT_OWNER;
    const options = optionsKey(opts);
    const b = this.baselines.get(owner);
    if (!opts.full && b && !b.all && b.options === options && manifest.objects.length > 0) {
      const keys = known();
      const changed = b.changed(keys);
      if (changed.size === 0) return nothingPlanned();
      const reads = new ReadLog();
      const req = this.changedRequest(manifest, changed, b, opts, reads);
      const plan = this.planRequest(req, opts, manifest);
      if (plan.ops.length === 0) b.settle(changed, req.built, keys, reads, req.desired.deps);
      return plan;
    }
    const reads = new ReadLog();
    const req = this.request(manifest, opts, reads);
    const plan = this.planRequest(req, opts, manifest);
    // (the keys only for a baseline: a first plan that writes everything does not need them)
    if (plan.ops.length === 0) this.baselines.set(owner, new Baseline(owner, options, known(), reads, req.desired.deps, this.view()));
    else this.baselines.delete(owner);
    return plan;
  }

  private planRequest(req: { desired: Desired; scope?: ReadonlySet<string> }, opts: ApplyOptions, manifest: Manifest): Plan {
    const removal = opts.mode === 'delete' ? 'deleted' : opts.mode === 'merge' ? 'no longer wanted' : 'left the manifest';
    const owner = opts.owner ?? DEFAULT_OWNER;
    const held = opts.wait ? this.waitingOf(req.desired) : undefined;
    if (held) {
      // planned without the waiting objects: in scope everything else the request may write
      const all = req.scope ?? new Set([...manifest.objects.map(idOf), ...this.store.ids(owner)]);
      const scope = new Set([...all].filter((id) => !held.has(id)));
      const plan = buildPlan({ ...req.desired, problems: [] }, this.view(), owner, { strict: opts.mode === 'delete', removal, facts: this.facts, scope, ...(opts.rows ? { rows: opts.rows } : {}) });
      return { ...plan, ...(req.scope ? { scope: [...scope].sort() } : {}), waiting: req.desired.problems };
    }
    const { desired, scope } = req;
    const plan = buildPlan(desired, this.view(), owner, {
      ...(scope ? { scope } : {}),
      strict: opts.mode === 'delete',
      removal,
      facts: this.facts,
      ...(opts.nbWarnings ? { nbWarnings: true } : {}),
      ...(opts.rows ? { rows: opts.rows } : {}),
      ...(opts.tables ? { tables: opts.tables } : {}),
    });
    return scope ? { ...plan, scope: [...scope].sort() } : plan;
  }

  /**
   * The objects a plan with `wait` leaves out: those whose problems are all
   * waits, and what uses them (Desired.deps); undefined when there are none,
   * or when another problem refuses the request anyway.
   */
  private waitingOf(desired: Desired): Set<string> | undefined {
    const of = (p: Problem) => objectId(p.kind, p.name);
    const waiting = desired.problems.filter((p) => p.waiting).map(of);
    if (waiting.length === 0) return undefined;
    const users = new Map<string, string[]>();
    for (const [id, ds] of desired.deps) {
      for (const d of ds) {
        const u = users.get(d);
        if (u) u.push(id);
        else users.set(d, [id]);
      }
    }
    const held = walk(waiting, (id) => users.get(id));
    return desired.problems.every((p) => held.has(of(p))) ? held : undefined;
  }

  /**
   * A whole manifest planned against its baseline: the objects that changed
   * (new, different, gone from it, or stale) as a merge of the new ones and a
   * removal of the gone ones, with what depends on them in scope.
   */
  private changedRequest(manifest: Manifest, changed: ReadonlySet<string>, b: Baseline, opts: ApplyOptions, reads: ReadLog): { desired: Desired; scope: ReadonlySet<string>; built: ReadonlySet<string> } {
    const owner = opts.owner ?? DEFAULT_OWNER;
    const store = this.store;
    const given = new Map(manifest.objects.map((o) => [idOf(o), o] as const));
    // in scope: what changed and whatever depends on it: by the documents' references (the store) and by
    // what the last plans read (the baseline: a Vpc reads an lrp EIP named like its port, the ConfigMap
    // the default VPC it attaches), to a fixed point
    let scope: Set<string> = new Set(changed);
    for (let n = -1; n !== scope.size; ) {
      n = scope.size;
      scope = new Set([...store.dependents(owner, scope), ...b.usersOf(scope)]);
    }
    // rendered: those and what they read
    const build = store.closure(owner, b.readBy(scope), given);
    const objects = [...build].map((id) => given.get(id) ?? (changed.has(id) ? undefined : store.get(owner, id))).filter((o): o is ManifestObject => o !== undefined);
    const incoming = new Set([...changed].filter((id) => given.has(id)));
    const desired = buildDesired({ objects, notices: [] }, this.view(), this.sbChassis(), { ...this.desiredOptions(opts, incoming), reads }, this.facts);
    return { desired, scope, built: build };
  }
  /**
   * Apply the manifest in one transaction. Returns the plan that was applied;
   * with nothing to change no transaction is sent (`transacted` false). On a
   * conflict the plan is made again once the replica has caught up
   * (transactVerified). Resolves once the replica shows the commit.
   */
  apply(manifest: Manifest, opts: ApplyOptions = {}): Promise<ApplyResult> {
    return this.writes.add(() => this.applyNow(manifest, opts));
  }

  /**
   * Runs `fn`, which writes NB, in this gateway's one write queue: every writer
   * through it (apply, delete, the one-object API, later failover) goes one at
   * a time, each planning from what the one before committed.
   */
  write<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.add(fn);
  }

  /** The chassis the owner's leader was draining, as NB keeps them (NB_Global external_ids; none: empty). */
  drainedOf(owner = DEFAULT_OWNER): string[] {
    const g = [...this.nb.table('NB_Global').values()][0] as { external_ids: ReadonlyMap<string, string> } | undefined;
    return (g?.external_ids.get(`${DRAINING_PREFIX}${owner}`) ?? '').split(',').filter(Boolean);
  }

  /** Keeps the owner's drained chassis in NB (in the write queue, asserting the leader lock), so that the next leader keeps them. */
  setDrained(owner: string, chassis: Iterable<string>): Promise<void> {
    return this.writes.add(async () => {
      const g = [...this.nb.table('NB_Global').values()][0];
      if (!g) throw new Error('NB has no NB_Global row');
      const key = `${DRAINING_PREFIX}${owner}`;
      const value = [...new Set(chassis)].sort().join(',');
      if (((g as { external_ids: ReadonlyMap<string, string> }).external_ids.get(key) ?? '') === value) return;
      const mutations: [string, 'delete' | 'insert', unknown][] = [['external_ids', 'delete', [key]]];
      if (value) mutations.push(['external_ids', 'insert', new Map([[key, value]])]);
      await this.nbClient.transact([ops.mutate('NB_Global', [['_uuid', '==', g._uuid]], mutations as never)], { comment: `ovn-natgw draining (${owner})`, ...(this.o.lock ? { assertLock: this.o.lock } : {}) });
      await this.nbClient.caughtUp();
    });
  }

  private async applyNow(manifest: Manifest, opts: ApplyOptions): Promise<ApplyResult> {
    // the objects' keys, once for every plan of this apply (a whole state only)
    let known: Map<string, string> | undefined;
    const keys = () => (known ??= objectKeys(manifest));
    const owner = opts.owner ?? DEFAULT_OWNER;
    return this.commit(() => this.planOf(manifest, opts, keys), manifest.objects, opts, this.placesGateways(manifest, opts), () => {
      if (opts.mode !== 'delete') return this.planOf(manifest, opts, keys).ops.length; // against the baseline: what changed, not the whole manifest
      const left = manifest.objects.filter((o) => this.store.has(owner, idOf(o))).length;
      // gone as asked: the whole-state baseline no longer has them (their commit marked them stale)
      if (left === 0) this.baselines.get(owner)?.settle(new Set(manifest.objects.map(idOf)), [], new Map(), new ReadLog(), new Map());
      return left;
    });
  }

  /**
   * Plans (`plan`, made again as needed) and commits in one transaction:
   * plans against NB (and SB, `withSb`) as they are now, not as the replicas
   * last heard (a workload port the CNI has just added): the catch-up's round
   * trip runs while a first plan is made, and when it brought anything the
   * plan is made again; on a conflict, again after the replica caught up
   * (transactVerified). After the commit, `left()` says what a new plan still
   * finds (0: converged).
   */
  private async commit(plan: () => Plan, objects: readonly ManifestObject[], opts: ApplyOptions, withSb: boolean, left: () => number): Promise<ApplyResult> {
    const seen = [this.nbChanges, this.sbChanges];
    const t0 = performance.now();
    let caughtAt = 0;
    const caught = (withSb ? this.caughtUp() : this.nbClient.caughtUp()).then(() => void (caughtAt = performance.now()));
    let first: Plan | undefined;
    let early: unknown;
    try {
      first = plan();
    } catch (e) {
      early = e;
    }
    const planned = performance.now();
    await caught;
    // (only what a plan reads counts: ovn-northd setting a port's `up` does not; SB only when waited for)
    const fresh = this.nbChanges === seen[0] && (!withSb || this.sbChanges === seen[1]);
    if (fresh && !first) throw early;
    let p: Plan = fresh ? first! : plan();
    if (p.ops.length === 0) return { plan: p, transacted: false, attempts: 1, converged: true };
    let attempts = 0;
    this.store.expect(objects);
    const sent = performance.now();
    try {
      await transactVerified(
        this.nbClient,
        this.nb,
        () => {
          if (attempts++ > 0) p = plan();
          return p.ops;
        },
        { attempts: opts.attempts ?? 10, comment: `ovn-natgw ${opts.mode === 'delete' ? 'delete' : 'apply'} (${opts.owner ?? DEFAULT_OWNER})`, ...(this.o.lock ? { assertLock: this.o.lock } : {}) },
      );
    } finally {
      this.store.settled();
    }
    const timings = { plan_ms: tenths(planned - t0), caught_up_ms: tenths(caughtAt - t0), commit_ms: tenths(performance.now() - sent) };
    // a re-plan after a conflict may find another writer made our change: then only the comment went out
    if (p.ops.length === 0) return { plan: p, transacted: false, attempts, converged: true, timings };
    // our own commit is in the replica already: ovsdb-server sends a client the updates of its
    // transaction before the reply (ovsdb-server(7), 4.1.6), and they are applied in order
    if (opts.verify === false) return { plan: p, transacted: true, attempts, timings };
    // the replica shows our commit: a plan now must find nothing left (else another writer got in, or a plan that does not settle)
    let n: number;
    try {
      n = left();
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      n = -1;
    }
    if (n !== 0) this.o.logger?.warn({ owner: opts.owner ?? DEFAULT_OWNER, ops: n }, 'apply: a plan made after the commit still finds changes');
    return { plan: p, transacted: true, attempts, converged: n === 0, timings };
  }

  /** The owner's objects of these ids as NB holds them (their stored documents), in id order. */
  private storedObjects(owner: string, ids: Iterable<string>): ManifestObject[] {
    return [...ids].sort().map((id) => this.store.get(owner, id)).filter((o): o is ManifestObject => o !== undefined);
  }

  /** The owner's objects with gateway chassis slots (Gateway_Chassis, HA_Chassis) on these chassis, by the chassis_name indexes. */
  private objectsOn(owner: string, chassis: ReadonlySet<string>): Set<string> {
    const nb = this.view();
    const ids = new Set<string>();
    const tagged = (r: { external_ids: ReadonlyMap<string, string> }) => {
      if (r.external_ids.get(OWNER_KEY) === owner) ids.add(objectId(r.external_ids.get(KIND_KEY) ?? '', r.external_ids.get(NAME_KEY) ?? ''));
    };
    for (const c of chassis) {
      for (const g of nb.table('Gateway_Chassis').lookup('chassis_name', c)) tagged(g);
      for (const h of nb.table('HA_Chassis').lookup('chassis_name', c)) tagged(h);
    }
    return ids;
  }

  /**
   * Drain: the gateway ports `chassis` leads are led by another chassis, in
   * one transaction; it stays in their sets as the lowest standby
   * (`opts.draining`: the chassis drained before, kept so; a later apply must
   * be given them and this one). Only gateway chassis rows are written.
   */
  async drain(chassis: string, opts: Omit<ApplyOptions, 'mode' | 'rows'> = {}): Promise<ApplyResult & { objects: string[] }> {
    const owner = opts.owner ?? DEFAULT_OWNER;
    const objects = this.storedObjects(owner, this.objectsOn(owner, new Set([chassis])));
    if (objects.length === 0) return { ...nothingApplied(), objects: [] };
    const r = await this.apply({ objects, notices: [] }, { ...opts, mode: 'merge', rows: chassisRow, draining: new Set([...(opts.draining ?? []), chassis]) });
    return { ...r, objects: objects.map(idOf) };
  }

  /**
   * Rebalance: the fewest moves of actives that bring every alive gateway
   * chassis within one active port of the others (scheduler.ts rebalance;
   * draining chassis lead none), written as the moved ports' Gateway_Chassis
   * priorities, in one transaction. A later apply keeps the new order.
   */
  async rebalance(opts: Omit<ApplyOptions, 'mode' | 'rows' | 'placement'> = {}): Promise<ApplyResult & { moves: Move[] }> {
    const owner = opts.owner ?? DEFAULT_OWNER;
    const { placements, objectOf } = this.ownedPlacements(owner);
    // among the chassis the ports have now and the gateway nodes an apply places on (the ConfigMap's
    // external-gw-nodes, else every gateway-capable chassis: a chassis back after a failure is one), that are up
    const up = opts.live ?? new Set(this.chassis().filter(isGatewayCapable).map((c) => c.name));
    const cm = [...this.store.ids(owner)].filter((id) => id.startsWith('ConfigMap/')).map((id) => this.store.get(owner, id));
    const nodes = cm.flatMap((o) => (o?.kind === 'ConfigMap' ? o.externalGwNodes : []));
    const inUse = new Set([...placements.values()].flat());
    for (const n of gatewayCandidates(this.chassis(), nodes).names) inUse.add(n);
    const candidates = asCandidates([...inUse].filter((c) => up.has(c)).sort(), opts.draining ?? new Set(), undefined, opts.suspect);
    const k = Math.max(0, ...[...placements.values()].map((l) => l.length));
    const r = rebalance(placements, candidates, k);
    if (r.moves.length === 0) return { ...nothingApplied(), moves: [] };
    const moved = new Map(r.moves.map((m) => [m.port, r.placements.get(m.port)!] as const));
    const ids = new Set([...moved.keys()].map((p) => objectOf.get(p)!));
    const objects = this.storedObjects(owner, ids);
    const res = await this.apply({ objects, notices: [] }, { ...opts, mode: 'merge', rows: chassisRow, placement: moved });
    return { ...res, moves: r.moves };
  }

  /** The owner's gateway router ports (not HA groups), each with its chassis in priority order and its object. */
  private ownedPlacements(owner: string, only?: ReadonlySet<string>): { placements: Map<string, string[]>; objectOf: Map<string, string> } {
    const nb = this.view();
    const placements = new Map<string, string[]>();
    const objectOf = new Map<string, string>();
    for (const p of gatewayPortChassis(nb)) {
      if (p.group || (only && !only.has(p.port))) continue;
      const lrp = byName(nb, 'Logical_Router_Port', p.port);
      if (lrp?.external_ids.get(OWNER_KEY) !== owner) continue;
      placements.set(p.port, [...p.chassis].sort((a, b) => b.priority - a.priority || (a.chassis_name < b.chassis_name ? -1 : 1)).map((g) => g.chassis_name));
      objectOf.set(p.port, objectId(lrp.external_ids.get(KIND_KEY) ?? '', lrp.external_ids.get(NAME_KEY) ?? ''));
    }
    return { placements, objectOf };
  }

  /**
   * Failback with preempt (OVN's own behaviour, made a choice): the gateway
   * ports `chassis` led before it failed, still the owner's, are led by it
   * again, the others kept in their order below it (the lowest dropped when
   * the set was full), written as those ports' Gateway_Chassis priorities in
   * one transaction. `chassis` must be in `opts.live`.
   */
  async failback(chassis: string, ports: readonly string[], opts: Omit<ApplyOptions, 'mode' | 'rows' | 'placement'> = {}): Promise<ApplyResult & { moves: Move[] }> {
    const owner = opts.owner ?? DEFAULT_OWNER;
    const { placements, objectOf } = this.ownedPlacements(owner, new Set(ports));
    const moved = new Map<string, string[]>();
    const moves: Move[] = [];
    for (const [port, list] of placements) {
      if (list[0] === chassis || list.length === 0) continue;
      moved.set(port, [chassis, ...list.filter((c) => c !== chassis)].slice(0, list.length));
      moves.push({ port, from: list[0], to: chassis });
    }
    if (moves.length === 0) return { ...nothingApplied(), moves: [] };
    const objects = this.storedObjects(owner, new Set([...moved.keys()].map((p) => objectOf.get(p)!)));
    const res = await this.apply({ objects, notices: [] }, { ...opts, mode: 'merge', rows: chassisRow, placement: moved });
    return { ...res, moves };
  }

  /**
   * Failover: `dead` chassis are taken as down, and the owner's objects that
   * use them are planned again with the one scheduler over the chassis left
   * (src/gateway/scheduler.ts: the active kept on top or the next promoted, the
   * gap filled at the lowest priority), writing only their gateway chassis
   * rows (Gateway_Chassis, HA_Chassis) and their centralized egress policies
   * (a dead node's next hop replaced or dropped): one transaction, in the one
   * write queue, asserting the lock when one is set. The objects are found
   * from the dead chassis's rows (the chassis_name indexes: O(affected)) and
   * the owner's egress subnets naming a dead node (the egress index): no
   * scan, no plan of the whole state. A later
   * apply over the same chassis keeps what this wrote (placement keeps the
   * chassis a port has).
   */
  async failover(dead: readonly string[], opts: Omit<ApplyOptions, 'mode' | 'rows' | 'live'> = {}): Promise<ApplyResult & { objects: string[] }> {
    const asked = performance.now();
    return this.writes.add(async () => {
      const started = performance.now();
      const first = this.failoverRequest(dead, opts);
      if (!first) return { ...nothingApplied(), objects: [] };
      const found = performance.now() - started;
      let next: FailoverRequest | undefined = first;
      const plan = () => {
        // (found again for every plan after the first: the replica may have moved on)
        const req = next ?? this.failoverRequest(dead, opts);
        next = undefined;
        return req ? this.failoverPlanOf(req, opts) : nothingPlanned();
      };
      // (NB caught up only: SB gives the chassis left, and a chassis that registered a moment ago
      // can wait for the next plan; SB is the busiest server when a node dies, measured up to 0.6 s
      // for its echo in the drill, where NB answered in 0.13 s)
      const r = await this.commit(plan, first.subnets, opts, false, () => plan().ops.length);
      const t = r.timings;
      // (the ports found by index count as planning)
      const timings = t ? { ...t, queued_ms: tenths(started - asked), plan_ms: tenths(t.plan_ms + found), caught_up_ms: tenths(t.caught_up_ms + found) } : undefined;
      return { ...r, ...(timings ? { timings } : {}), objects: [...first.objects].sort() };
    });
  }

  /** What failover(dead) would write, planned now; writes nothing (the benchmark's raw limit sends it itself). */
  failoverPlan(dead: readonly string[], opts: Omit<ApplyOptions, 'mode' | 'rows' | 'live'> = {}): Plan {
    const req = this.failoverRequest(dead, opts);
    return req ? this.failoverPlanOf(req, opts) : nothingPlanned();
  }

  /**
   * What a failover of `dead` plans, found by index (O(affected)): the
   * gateway ports with an owned slot on a dead chassis, each with its slots
   * as NB has them and the object that owns them (failover.ts places and
   * renders them); and the owner's Subnets whose centralized egress names a
   * dead node (the egress index), whose policies are planned from their
   * stored documents. Undefined when there is nothing to move.
   */
  private failoverRequest(dead: readonly string[], opts: Omit<ApplyOptions, 'mode' | 'rows' | 'live'>): FailoverRequest | undefined {
    if (!this.sb) throw new Error('failover needs SB (the chassis that are left)');
    const owner = opts.owner ?? DEFAULT_OWNER;
    const gone = new Set(dead);
    const nb = this.view();
    const ports: (PortSlots & { kind: string; name: string; prefix: string })[] = [];
    const seen = new Set<string>();
    const objects = new Set<string>();
    const skipped: string[] = [];
    for (const c of gone) {
      for (const table of ['Gateway_Chassis', 'HA_Chassis'] as const) {
        for (const g of nb.table(table).lookup('chassis_name', c)) {
          if (g.external_ids.get(OWNER_KEY) !== owner) continue;
          for (const h of holdersOf(nb, PARENTS[table] ?? [], g._uuid)) {
            if (seen.has(h.uuid)) continue;
            seen.add(h.uuid);
            const parent = nb.table(h.table).get(h.uuid) as unknown as { name: string } & Record<string, unknown>;
            const p = slotsOf(nb, table, parent, h, owner);
            if (typeof p === 'string') {
              // (one port ovn-natgw does not wholly own must not keep the others on a dead chassis)
              skipped.push(`failover: ${p}; its chassis are left as they are`);
              continue;
            }
            ports.push(p);
            objects.add(objectId(p.kind, p.name));
          }
        }
      }
    }
    // centralized egress: the owner's subnets whose gatewayNode names a dead node (by name or hostname), by the egress index
    const hostOf = new Map(this.chassis().map((c) => [c.name, c.hostname]));
    const subnetIds = [...this.egress.subnetsOf(owner, [...gone].flatMap((c) => [c, hostOf.get(c) ?? c]))];
    if (ports.length === 0 && subnetIds.length === 0) {
      if (skipped.length) this.o.logger?.warn({ dead: [...gone], skipped }, 'failover: nothing to move but ports it does not own');
      return undefined;
    }
    for (const id of subnetIds) objects.add(id);
    return { gone, ports, objects, subnets: this.storedObjects(owner, subnetIds), skipped };
  }

  /**
   * A failover's plan: the moved ports' slot rows (failover.ts, over the
   * gateway nodes an apply places on that are not down, with the one
   * scheduler) and the egress subnets' policies (their desired rows as an
   * apply renders them), through the generic planner scoped to those rows.
   */
  private failoverPlanOf(req: FailoverRequest, opts: Omit<ApplyOptions, 'mode' | 'rows' | 'live'>): Plan {
    const owner = opts.owner ?? DEFAULT_OWNER;
    const live = new Set(this.chassis().map((c) => c.name).filter((n) => !req.gone.has(n)));
    const rows: RowSpec[] = [];
    const slotKeys = new Set<string>();
    if (req.ports.length > 0) {
      const sbc = this.chassis();
      // (the one ConfigMap read: manifest.ts ignores the others)
      const cm = this.store.get(owner, objectId('ConfigMap', EXTERNAL_GW_CONFIG));
      const nodes = cm?.kind === 'ConfigMap' ? cm.externalGwNodes : [];
      const candidates = placementCandidates(sbc, nodes, live, opts.draining, opts.suspect);
      // a port that has lost every chassis gets the least-loaded one: the active ports of the others
      const names = new Set(candidates.map((c) => c.name));
      const orphaned = req.ports.some((p) => !p.slots.some((s) => names.has(s.chassis)));
      const moved = new Set(req.ports.map((p) => p.port));
      const load = orphaned ? otherActiveLoad(this.facts, moved) : undefined;
      const placed = failoverSlots(req.ports, candidates, { k: opts.gatewayChassis ?? DEFAULT_GATEWAY_CHASSIS, ...(load ? { load } : {}) });
      // only the slots that change are planned and written: a new chassis or priority, and the slots that go
      for (const p of req.ports) {
        const had = new Map(p.slots.map((x) => [x.chassis, x.priority]));
        const stays = new Set<string>();
        for (const { part, parent, ...row } of placed.get(p.port)!) {
          const chassis = String(row.columns.chassis_name);
          stays.add(chassis);
          if (had.get(chassis) === row.columns.priority) continue;
          const key = rowKey(p.kind, p.name, part);
          slotKeys.add(key);
          rows.push({ key, kind: p.kind, name: p.name, part, ...row, ...(parent ? { parent: { ...parent, table: parent.table as NbTableName } } : {}) });
        }
        for (const x of p.slots) if (!stays.has(x.chassis)) slotKeys.add(rowKey(p.kind, p.name, `${p.prefix}:chassis:${x.chassis}`));
      }
    }
    const egress = new Set(req.subnets.map(idOf));
    const accept = (k: string) => (k.includes(':chassis:') ? slotKeys.has(k) : partOf(k).startsWith('egress:') && egress.has(k.split('/', 2).join('/')));
    let desired: Desired = { rows, reservations: [], problems: [], warnings: [], originOf: () => undefined, specs: new Map(), deps: new Map() };
    if (req.subnets.length > 0) {
      // (the egress stages only: of these objects, only their reroute policies are planned, and no
      // gateway port or slot of their routers is rendered beside the slots placed above)
      const sub = this.request({ objects: req.subnets, notices: [] }, { ...opts, mode: 'merge', live, rows: accept }, undefined, 'egress').desired;
      desired = { ...sub, rows: [...rows, ...sub.rows] };
    }
    const plan = this.planRequest({ desired, scope: req.objects }, { ...opts, mode: 'merge', live, rows: accept, tables: FAILOVER_TABLES }, { objects: req.subnets, notices: [] });
    return req.skipped.length ? { ...plan, warnings: [...plan.warnings, ...req.skipped] } : plan;
  }

  /**
   * A change of the owner's whole state, as a resident manager keeps it (the
   * daemon's directory): `put` the objects new or changed, `remove` those
   * gone; every other object stays as the last whole plan left it (the
   * baseline), and the objects that went stale since (another writer changed
   * their rows, a workload port appeared) are planned with them, their
   * desired documents given by `source.stale(ids)`. One plan of those and
   * what depends on them, one transaction: O(change), with no copy of the
   * whole manifest held or compared. Without a baseline to plan against (no
   * whole plan yet, other options, or everything stale: SB changed),
   * `source.whole()` gives the whole manifest, planned as apply() does
   * (mode replace).
   */
  applyChange(
    change: { put: readonly ManifestObject[]; remove: readonly string[] },
    source: { stale(ids: readonly string[]): Promise<ManifestObject[]>; whole(): Promise<Manifest> },
    opts: ApplyOptions = {},
  ): Promise<ApplyResult> {
    return this.writes.add(async () => {
      const owner = opts.owner ?? DEFAULT_OWNER;
      const b = this.baselines.get(owner);
      if (!b || b.all || b.options !== optionsKey(opts) || opts.mode || opts.rows) return this.applyNow(await source.whole(), { ...opts, mode: 'replace' });
      const given = new Map(change.put.map((o) => [idOf(o), o] as const));
      const staleIds = [...b.dirty].filter((id) => !given.has(id));
      for (const o of staleIds.length ? await source.stale(staleIds) : []) if (!given.has(idOf(o))) given.set(idOf(o), o);
      const keys = new Map([...given].map(([id, o]) => [id, objectKey(o)] as const));
      // (a stale object the source does not have is no longer wanted: the source is the whole state)
      const removed = new Set([...change.remove, ...staleIds].filter((id) => !given.has(id)));
      const manifest: Manifest = { objects: [...given.values()], notices: [] };
      // (against the baseline found at the start: an SB change meanwhile marks it all stale, which the
      // next reconcile plans in full; this change is still planned as a change, never as a whole state)
      const base = b;
      const planned = () => {
        // what changed: a document that differs, an object gone, a stale one we have the document of
        const changed = new Set<string>();
        for (const [id, k] of keys) if (base.keyOf(id) !== k || base.dirty.has(id)) changed.add(id);
        for (const id of removed) if (base.keyOf(id) !== undefined || base.dirty.has(id)) changed.add(id);
        if (changed.size === 0) return nothingPlanned();
        const reads = new ReadLog();
        const req = this.changedRequest(manifest, changed, base, opts, reads);
        const plan = this.planRequest(req, opts, manifest);
        if (plan.ops.length === 0) base.settle(changed, req.built, keys, reads, req.desired.deps);
        return plan;
      };
      return this.commit(planned, manifest.objects, opts, this.sbClient !== undefined && manifest.objects.some((o) => GATEWAY_KINDS.has(o.kind)), () => planned().ops.length);
    });
  }
}

/** A row key's part ("<kind>/<name>/<part>": rows.ts rowKey). */
const partOf = (key: string): string => key.split('/').slice(2).join('/');

/** The gateway chassis slots (Gateway_Chassis, HA_Chassis rows), by their part: what a drain or rebalance writes. */
function chassisRow(key: string): boolean {
  return partOf(key).includes(':chassis:');
}

/** The tables a failover writes: gateway chassis slots, and the reroute policies of centralized egress. */
const FAILOVER_TABLES: ReadonlySet<NbTableName> = new Set(['Gateway_Chassis', 'HA_Chassis', 'Logical_Router_Policy']);

/** What a failover found to move (NatGateway.failoverRequest). */
interface FailoverRequest {
  gone: ReadonlySet<string>;
  /** the gateway ports with a slot on a dead chassis, with the object owning their slots and the slots' part prefix */
  ports: (PortSlots & { kind: string; name: string; prefix: string })[];
  /** the objects whose rows it writes */
  objects: ReadonlySet<string>;
  /** the Subnets whose centralized egress names a dead node, as NB holds them */
  subnets: ManifestObject[];
  /** ports with a slot on a dead chassis left as they are, and why */
  skipped: string[];
}

/**
 * One gateway port's slots (Gateway_Chassis rows of a router port, HA_Chassis
 * rows of a BFD port's group) and the object that owns them, by their tags
 * ("<prefix>:chassis:<chassis>"). A slot that is not the owner's, or a port
 * whose slots belong to several objects, is refused: a failover writes only
 * what one object of its own has there.
 */
function slotsOf(nb: NbView, table: 'Gateway_Chassis' | 'HA_Chassis', parent: { name: string } & Record<string, unknown>, h: { table: NbTableName; column: string; uuid: string }, owner: string): (PortSlots & { kind: string; name: string; prefix: string }) | string {
  const slots: { chassis: string; priority: number }[] = [];
  let tag: { kind: string; name: string; prefix: string } | undefined;
  for (const u of parent[h.column] as readonly string[]) {
    const r = nb.table(table).get(u) as unknown as { chassis_name: string; priority: number; external_ids: ReadonlyMap<string, string> } | undefined;
    if (!r) continue;
    const part = r.external_ids.get(PART_KEY) ?? '';
    const i = part.indexOf(':chassis:');
    const t = { kind: r.external_ids.get(KIND_KEY) ?? '', name: r.external_ids.get(NAME_KEY) ?? '', prefix: i < 0 ? '' : part.slice(0, i) };
    const what = `${table} ${r.chassis_name} of ${h.table} ${parent.name}`;
    if (r.external_ids.get(OWNER_KEY) !== owner || i < 0) return `${what} is not ${owner}'s gateway chassis slot`;
    if (tag && (tag.kind !== t.kind || tag.name !== t.name || tag.prefix !== t.prefix)) return `${what} belongs to ${t.kind} ${t.name}, the port's other slots to ${tag.kind} ${tag.name}`;
    tag = t;
    slots.push({ chassis: r.chassis_name, priority: r.priority });
  }
  if (!tag) return `${h.table} ${parent.name} has no slots left`;
  if (table === 'Gateway_Chassis' && !tag.prefix.startsWith('external:')) return `the slots of ${parent.name} are tagged ${tag.prefix}, not as an external network's`;
  return { port: parent.name, table, parentRef: `uuid:${h.uuid}`, ...(table === 'Gateway_Chassis' ? { network: tag.prefix.slice('external:'.length) } : {}), slots, ...tag };
}

/** ms to a tenth, as the timings are given */
const tenths = (ms: number): number => Math.round(ms * 10) / 10;

const nothingPlanned = (): Plan => ({ changes: [], specs: [], ops: [], warnings: [], scope: [] });
const nothingApplied = (): ApplyResult => ({ plan: nothingPlanned(), transacted: false, attempts: 0, converged: true });

/** Kinds whose plans place gateways by the SB chassis (see placesGateways). */
const GATEWAY_KINDS: ReadonlySet<string> = new Set(['Vpc', 'Subnet', 'ConfigMap', 'ProviderNetwork', 'Vlan']);

export interface ApplyResult {
  plan: Plan;
  transacted: boolean;
  attempts: number;
  /** after the commit a new plan found nothing to change (undefined: not checked, verify false) */
  converged?: boolean;
  /** where the time went, in ms from the start of the write: the first plan done; the replicas caught up (asked for beside the plan); the transaction(s) to their reply; and (failover) the wait for the write queue before */
  timings?: { plan_ms: number; caught_up_ms: number; commit_ms: number; queued_ms?: number };
}

function notFound(id: string, owner: string): Problem {
  const kind = id.slice(0, id.indexOf('/'));
  const name = id.slice(kind.length + 1);
  return { kind, name, field: 'metadata.name', reason: `not found (owner ${owner})` };
}

/** A problem's identity, to tell one a change causes from one that was there before. */
function problemKey(p: Problem): string {
  return `${p.kind}\0${p.name}\0${p.field}\0${p.reason}`;
}



/** Each object as a key ("Kind/name" -> its JSON without where it came from: a document that moved in its file is the same object). */
function objectKeys(manifest: Manifest): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of manifest.objects) out.set(idOf(o), objectKey(o));
  return out;
}

/**
 * An object's key: a digest of its JSON without where it came from (a
 * document that moved in its file is the same object). A digest, not the
 * JSON: a resident manager keeps one per object.
 */
export function objectKey(o: ManifestObject): string {
  let s = JSON.stringify(o);
  if (o.origin) {
    // the reader puts origin last: cut it off the end (else take it out where it is)
    const tail = `"origin":${JSON.stringify(o.origin)}}`;
    s = s.endsWith(tail) ? s.slice(0, s.length - tail.length) + '}' : JSON.stringify({ ...o, origin: undefined });
  }
  return shared(sha1(s));
}

/** SHA-1 of a text, base64: crypto.hash (Node >= 20.12) where there is one, a third of createHash's cost for 24k short texts. */
const sha1: (s: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (s) => (crypto as unknown as { hash(alg: string, data: string, enc: 'base64'): string }).hash('sha1', s, 'base64')
    : (s) => crypto.createHash('sha1').update(s).digest('base64');

/** The options a whole-state plan is made with. */
function optionsKey(opts: ApplyOptions): string {
  return JSON.stringify([opts.owner ?? DEFAULT_OWNER, opts.gatewayChassis ?? null, opts.clusterRouter ?? null, opts.live ? [...opts.live].sort() : null, opts.draining?.size ? [...opts.draining].sort() : null]);
}
