/**
 * Plan: desired rows (desired.ts) against NB -> the changes a person reads
 * (add / change / remove per row) and the OVSDB operations of ONE transaction
 * that makes them. Pure: no I/O.
 *
 * Rules:
 *  - a row ovn-natgw owns carries external_ids ovn-natgw:owner/kind/name/part
 *    and is found again by them: a rebinding updates it in place;
 *  - owned rows that no desired row claims are removed (they left the
 *    manifest), and only those; a switch or router ovn-natgw created is not
 *    removed while it holds rows it does not own;
 *  - a named row (switch, router, port) that exists without being ours is used
 *    as it is, never changed or removed ("ensure");
 *  - a NAT row that would duplicate one in NB (same router, type, external
 *    IP, logical IP, gateway port) is refused; duplicates already in NB are
 *    reported;
 *  - new addresses go into the switch's external_ids ledger guarded by an
 *    OVSDB `wait` on that column, so two writers never hand out one address.
 */
import type { Operation } from '../ovsdb/operations.js';
import type { NbTables } from '../models/ovn-nb.js';
import type { Desired } from './desired.js';
import {
  GLOBAL_SPEC_PREFIX,
  IP_LEDGER_PREFIX,
  KIND_KEY,
  NAME_KEY,
  OWNER_KEY,
  PART_KEY,
  PlanError,
  SPEC_KEY,
  isRef,
  objectId,
  ownedKey,
  type NbTableName,
  type Problem,
  type RowSpec,
} from './rows.js';
import { NbFacts, OBJECT_INDEX, holdersOf, type NbView } from './nb-view.js';
import { CHILD_COLUMNS, OWNED_TABLES, PARENTS, ROOT, ROOT_REFS } from './topology.js';


export interface Change {
  action: 'add' | 'change' | 'remove';
  table: NbTableName;
  label: string;
  /** change: column -> [old, new] as text */
  columns?: Record<string, [string, string]>;
  /** the owning object, "kind/name" */
  object: string;
  /** the object's last-applied document, stored on this row, changes too (or only it) */
  spec?: true;
}

export interface Plan {
  /** the rows (and reservations) added, changed and removed */
  changes: Change[];
  /**
   * Objects whose last-applied document is stored anew while their rows stay
   * as they are (on their anchor row, or in NB_Global): a changed field that
   * no row holds, an anchor that moves. A row change that also stores the
   * document is in `changes`, with `spec`.
   */
  specs: Change[];
  ops: Operation[];
  /** problems found in NB that do not stop the plan (duplicate rows not ours) */
  warnings: string[];
  /** the objects ("Kind/name") the plan could write; absent: the owner's whole state */
  scope?: readonly string[];
  /**
   * With ApplyOptions.wait: the problems of the objects left as NB has them
   * because they wait for what other writers make (a workload port), and of
   * what uses them; the plan is made without them.
   */
  waiting?: readonly Problem[];
}

/** Map columns whose whole value ovn-natgw sets, per table (others: only its own keys). */
const FULL_MAPS: Partial<Record<NbTableName, ReadonlySet<string>>> = { Load_Balancer: new Set(['vips']) };

const NAMED: ReadonlySet<string> = new Set(['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Load_Balancer', 'Gateway_Chassis', 'HA_Chassis_Group', 'Address_Set']);

/** The update that clears a going row's strong references to root rows (none when it holds none). */
export function clearRootRefs(table: NbTableName, r: Readonly<Record<string, unknown>> & { _uuid: string }): Operation[] {
  const set = (ROOT_REFS[table] ?? []).filter((c) => r[c] !== null && r[c] !== undefined);
  return set.length ? [{ op: 'update', table, where: [['_uuid', '==', r._uuid]], row: Object.fromEntries(set.map((c) => [c, null])) }] : [];
}

type AnyRow = { _uuid: string; external_ids: ReadonlyMap<string, string> } & Record<string, unknown>;

export interface PlanOptions {
  /**
   * The objects ("Kind/name") this plan may write: insert, change and remove
   * their rows, reservations and stored documents. Default: every object of
   * the owner (the desired rows are its whole state, and an owned row no
   * desired row claims is removed). The rows of an object out of scope are
   * only read, to resolve references to them; one that NB lacks is a
   * problem, never inserted.
   */
  scope?: ReadonlySet<string>;
  /**
   * A switch or router to remove that holds rows ovn-natgw does not own (a
   * workload port) is refused instead of kept with a warning: an explicit
   * delete must not leave half an object behind, or cut a pod off.
   */
  strict?: boolean;
  /** why a row no desired row claims goes, as the plan says it (default "left the manifest") */
  removal?: string;
  /**
   * Also warn of duplicate NAT rows anywhere in NB (a scan of NAT), not only
   * among the external addresses the plan writes: a one-shot command's check;
   * a change of one object does not scan NB.
   */
  nbWarnings?: boolean;
  /** The derived NB facts (reservations by holder), kept from the replica; made by a scan when not given. */
  facts?: NbFacts;
  /**
   * Scope by row key ("<kind>/<name>/<part>"), within the objects in scope:
   * the plan inserts, changes and removes only the owned rows whose key this
   * accepts (a failover: the Gateway_Chassis rows of one port), reads the
   * others, and leaves reservations and stored documents alone.
   */
  rows?: (key: string) => boolean;
  /**
   * With `rows`: the only tables whose rows it accepts; the owned rows of
   * the others are not looked at (a failover writes slots and policies of
   * hundreds of objects, whose other rows stay as they are).
   */
  tables?: ReadonlySet<NbTableName>;
}

/** Switch external_ids key of the ledger's version: moved by every plan that reserves an address there. */
export const LEDGER_VERSION_KEY = 'ovn-natgw:ledger-version';

export function buildPlan(desired: Desired, nb: NbView, owner: string, opts: PlanOptions = {}): Plan {
  if (desired.problems.length > 0) throw new PlanError(desired.problems);
  return new Planner(desired, nb, owner, opts).run();
}

/** The gateway chassis slot tables: one row per chassis of a gateway port or HA chassis group. */
const SLOT_TABLES: ReadonlySet<NbTableName> = new Set(['Gateway_Chassis', 'HA_Chassis']);

/** The parts whose row is an object's anchor, in order of preference (see chooseAnchors). */
const ANCHOR_PARTS = ['router', 'switch', 'lb', 'port', 'nat:4', 'nat:6', 'localnet', 'router-port', 'switch-port'];

class Planner {
  private readonly changes: Change[] = [];
  private readonly specChanges: Change[] = [];
  private readonly ops: Operation[] = [];
  private readonly warnings: string[] = [];
  private readonly problems: Problem[] = [];
  /** RowSpec key -> uuid of the existing row it maps to */
  private readonly resolved = new Map<string, string>();
  /** UUIDs of the existing rows that desired rows map to */
  private readonly resolvedUuids = new Set<string>();
  /** existing switch UUID -> the RowSpec key resolved to it */
  private readonly switchKey = new Map<string, string>();
  /** RowSpec key -> uuid-name of a row inserted by this plan */
  private readonly named = new Map<string, string>();
  private readonly owned = new Map<string, Map<string, AnyRow>>();
  /** switches of ours that left the manifest but stay for rows of others */
  private readonly keptSwitches = new Set<string>();
  private readonly specs = new Map<string, RowSpec>();
  private inserts: Operation[] = [];
  private attach: Operation[] = [];
  private updates: Operation[] = [];
  private removals: Operation[] = [];

  /** RowSpec key -> the desired row of an object out of scope that NB lacks (a reference to it is a problem) */
  private readonly absent = new Map<string, RowSpec>();
  /** object id -> the key of the row its document is stored on */
  private readonly anchors = new Map<string, string>();

  private readonly scope: ReadonlySet<string> | undefined;
  private readonly strict: boolean;
  private readonly removal: string;
  private factsMade: NbFacts | undefined;

  constructor(
    private readonly desired: Desired,
    private readonly nb: NbView,
    private readonly owner: string,
    private readonly opts: PlanOptions,
  ) {
    this.scope = opts.scope;
    this.strict = opts.strict ?? false;
    this.removal = opts.removal ?? 'left the manifest';
  }

  private get facts(): NbFacts {
    return (this.factsMade ??= this.opts.facts ?? new NbFacts(this.nb));
  }

  /** May the plan write this object's rows (or reservations)? */
  private inScope(kind: string | undefined, name: string | undefined): boolean {
    return !this.scope || this.scope.has(`${kind}/${name}`);
  }

  /** May the plan write this row (its object in scope, and its key in the row scope)? */
  private writes(kind: string | undefined, name: string | undefined, key: string): boolean {
    return this.inScope(kind, name) && (!this.opts.rows || this.opts.rows(key));
  }

  private rows(t: NbTableName): Iterable<AnyRow> {
    return this.nb.table(t).values() as Iterable<AnyRow>;
  }

  private lookup(t: NbTableName, index: string, value: unknown): readonly AnyRow[] {
    return this.nb.table(t).lookup(index, value) as unknown as readonly AnyRow[];
  }

  /**
   * The owned rows a plan considers, per table: every one of the owner's
   * (no scope), or those of the objects in scope, found by the object index.
   */
  private ownedCandidates(t: NbTableName): Iterable<AnyRow> {
    if (this.opts.rows && this.opts.tables && !this.opts.tables.has(t)) return [];
    if (!this.scope) return this.rows(t);
    const out: AnyRow[] = [];
    const names = new Set<string>();
    for (const id of this.scope) names.add(id.slice(id.indexOf('/') + 1));
    for (const name of names) {
      for (const r of this.lookup(t, OBJECT_INDEX, name)) {
        if (this.inScope(r.external_ids.get(KIND_KEY), name)) out.push(r);
      }
    }
    return out;
  }

  run(): Plan {
    // owned rows, by key; extra rows with a key already seen are duplicates to remove
    for (const t of OWNED_TABLES) {
      const m = new Map<string, AnyRow>();
      const dupes: AnyRow[] = [];
      for (const r of this.ownedCandidates(t)) {
        const k = ownedKey(r, this.owner);
        if (!k) continue;
        const prev = m.get(k);
        if (!prev) m.set(k, r);
        else if (r._uuid < prev._uuid) {
          // keep the lowest UUID, so every planner picks the same survivor
          dupes.push(prev);
          m.set(k, r);
        } else dupes.push(r);
      }
      this.owned.set(t, m);
      for (const r of dupes) {
        if (this.writes(r.external_ids.get(KIND_KEY), r.external_ids.get(NAME_KEY), ownedKey(r, this.owner)!)) this.remove(t, r, `duplicate of ${m.get(ownedKey(r, this.owner)!)!._uuid}`);
      }
    }
    // resolve existing rows first, so references to them are UUIDs
    let n = 0;
    const toInsert: RowSpec[] = [];
    for (const s of this.desired.rows) {
      const ex = this.existing(s);
      if (ex) {
        this.resolved.set(s.key, ex._uuid);
        this.resolvedUuids.add(ex._uuid);
        if (s.table === 'Logical_Switch') this.switchKey.set(ex._uuid, s.key);
      } else if (!this.writes(s.kind, s.name, s.key)) {
        this.absent.set(s.key, s);
      } else {
        this.named.set(s.key, `row${n++}`);
        toInsert.push(s);
        if (s.table === 'Address_Set') {
          // a unique name: one that is taken would fail the whole transaction at the server
          const taken = this.byName('Address_Set', String(s.columns.name));
          if (taken) this.problem(s, 'metadata.name', `Address_Set ${String(s.columns.name)} already exists in NB (${taken._uuid}) and is not this rule's; rename the rule or remove that address set`);
        }
      }
    }
    this.checkNatConflicts();
    if (this.problems.length > 0) throw new PlanError(this.problems);
    if (!this.opts.rows) this.chooseAnchors();
    // a gateway chassis slot that moves to another chassis rewrites the row it leaves (reuseSlots)
    const inserting = this.reuseSlots(toInsert);
    // what goes into the inserts whole (nothing is patched in afterwards): children under a parent
    // inserted here, and the reservations (with the ledger's first version) of a switch inserted here
    for (const s of inserting) if (s.parent) this.addChild(s);
    if (!this.opts.rows) this.newLedgers();
    for (const s of inserting) this.insert(s);
    this.attachChildren();
    for (const s of this.desired.rows) {
      const uuid = this.resolved.get(s.key);
      if (uuid && this.writes(s.kind, s.name, s.key)) this.update(s, uuid);
    }
    for (const t of OWNED_TABLES) {
      for (const r of this.owned.get(t)!.values()) {
        // still wanted (under its key, or adopted under another one)
        if (!this.resolvedUuids.has(r._uuid) && this.writes(r.external_ids.get(KIND_KEY), r.external_ids.get(NAME_KEY), ownedKey(r, this.owner)!)) this.remove(t, r, this.removal);
      }
    }
    if (!this.opts.rows) {
      this.ledger();
      this.globalSpecs();
    }
    if (this.problems.length > 0) throw new PlanError(this.problems);
    const ops = [...this.ops, ...this.inserts, ...this.attach, ...this.updates, ...this.removals];
    return { changes: this.changes, specs: this.specChanges, ops, warnings: [...this.desired.warnings, ...this.warnings] };
  }

  /** RowSpec key of a slot that rewrites a going slot's row -> that row's chassis (reuseSlots) */
  private readonly inPlaceOf = new Map<string, string>();

  /**
   * Gateway chassis slots (Gateway_Chassis, HA_Chassis) that move: a new
   * slot of an object's port takes over a slot row of the same object and
   * port that is going (a failover replaces the dead chassis, a drain or a
   * list change another one) by an update of its chassis, priority, name
   * and key, instead of an insert, a reference added to the port and one
   * removed: the same rows after the commit, in half the server's time (one
   * failover rewrites hundreds of slots). Pairs in key order, so every
   * planner makes the same pairs. Returns the rows still to insert.
   */
  private reuseSlots(toInsert: RowSpec[]): RowSpec[] {
    if (!toInsert.some((s) => SLOT_TABLES.has(s.table) && s.parent)) return toInsert;
    // the owned slot rows the plan considers, by UUID; per parent, those no desired row claims that the plan may write
    const byUuid = new Map<string, AnyRow>();
    for (const t of SLOT_TABLES) for (const r of this.owned.get(t)?.values() ?? []) byUuid.set(r._uuid, r);
    const going = new Map<string, AnyRow[]>();
    const goingOf = (table: NbTableName, uuid: string, column: string): AnyRow[] => {
      let l = going.get(uuid);
      if (l) return l;
      l = [];
      for (const u of ((this.nb.table(table).get(uuid) as AnyRow | undefined)?.[column] as readonly string[] | undefined) ?? []) {
        const r = byUuid.get(u);
        if (r && !this.resolvedUuids.has(u) && this.writes(r.external_ids.get(KIND_KEY), r.external_ids.get(NAME_KEY), ownedKey(r, this.owner)!)) l.push(r);
      }
      // (the lowest key first, so every planner makes the same pairs)
      if (l.length > 1) l.sort((a, b) => (String(a.external_ids.get(PART_KEY)) < String(b.external_ids.get(PART_KEY)) ? -1 : 1));
      going.set(uuid, l);
      return l;
    };
    const taken = new Set<string>();
    const rest = new Set<RowSpec>();
    for (const s of [...toInsert].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      const p = SLOT_TABLES.has(s.table) ? s.parent : undefined;
      const parent = p ? (p.ref.startsWith('uuid:') ? p.ref.slice(5) : this.resolved.get(p.ref)) : undefined;
      // a going slot of the same object on that parent: one at the same priority first (then only its chassis and name change)
      let r: AnyRow | undefined;
      for (const x of parent ? goingOf(p!.table, parent, p!.column) : []) {
        if (taken.has(x._uuid) || x.external_ids.get(KIND_KEY) !== s.kind || x.external_ids.get(NAME_KEY) !== s.name) continue;
        if (x.priority === s.columns.priority) {
          r = x;
          break;
        }
        r ??= x;
      }
      if (!r) {
        rest.add(s);
        continue;
      }
      taken.add(r._uuid);
      this.inPlaceOf.set(s.key, String(r.chassis_name));
      this.named.delete(s.key);
      this.resolved.set(s.key, r._uuid);
      this.resolvedUuids.add(r._uuid);
    }
    // (in the desired order, as without reuse)
    return toInsert.filter((s) => rest.has(s));
  }

  private problem(s: RowSpec, field: string, reason: string): void {
    const origin = this.desired.originOf(s.kind, s.name);
    this.problems.push({ kind: s.kind, name: s.name, field, reason, ...(origin ? { origin } : {}) });
  }

  /** A desired row by key (built on first use: only conflict checks need it). */
  private spec(key: string): RowSpec | undefined {
    if (this.specs.size === 0) for (const s of this.desired.rows) this.specs.set(s.key, s);
    return this.specs.get(key);
  }

  private byName(table: NbTableName, name: string): AnyRow | undefined {
    return this.lookup(table, 'name', name)[0];
  }

  private existing(s: RowSpec): AnyRow | undefined {
    const mine = this.owned.get(s.table)?.get(s.key) ?? (this.writes(s.kind, s.name, s.key) ? undefined : this.ownedByKey(s));
    if (mine) return mine;
    return s.ensureName !== undefined ? this.byName(s.table, s.ensureName) : undefined;
  }

  /** The owned row of a desired row of an object out of scope (lowest UUID among duplicates, as in scope). */
  private ownedByKey(s: RowSpec): AnyRow | undefined {
    let best: AnyRow | undefined;
    for (const r of this.lookup(s.table, OBJECT_INDEX, s.name)) {
      if (ownedKey(r, this.owner) === s.key && (!best || r._uuid < best._uuid)) best = r;
    }
    return best;
  }

  private isMine(r: AnyRow): boolean {
    return r.external_ids.get(OWNER_KEY) === this.owner;
  }

  /** A reference (RowSpec key, "uuid:", "name:<router>") as a value for a transaction. */
  private refValue(ref: string): string {
    if (ref.startsWith('uuid:')) return ref.slice(5);
    if (ref.startsWith('name:')) {
      const r = this.byName('Logical_Router', ref.slice(5));
      if (!r) throw new Error(`router ${ref.slice(5)} not found`);
      return r._uuid;
    }
    const u = this.resolved.get(ref) ?? this.named.get(ref);
    if (u) return u;
    const a = this.absent.get(ref);
    if (a) {
      // a row of an object this plan does not write, which NB lacks (deleted by hand, or not applied yet)
      if (!this.problems.some((p) => p.kind === a.kind && p.name === a.name && p.field === 'metadata.name')) {
        const origin = this.desired.originOf(a.kind, a.name);
        this.problems.push({ kind: a.kind, name: a.name, field: 'metadata.name', reason: `its row ${a.label} is not in NB, and objects applied now need it: apply ${a.kind} ${a.name} again`, ...(origin ? { origin } : {}) });
      }
      return `absent:${ref}`;
    }
    throw new Error(`internal: unresolved reference ${ref}`);
  }

  private tagsMatch(s: RowSpec, ex: ReadonlyMap<string, string>): boolean {
    return ex.get(OWNER_KEY) === this.owner && ex.get(KIND_KEY) === s.kind && ex.get(NAME_KEY) === s.name && ex.get(PART_KEY) === s.part;
  }

  private tags(s: RowSpec): Map<string, string> {
    return new Map([
      [OWNER_KEY, this.owner],
      [KIND_KEY, s.kind],
      [NAME_KEY, s.name],
      [PART_KEY, s.part],
    ]);
  }

  /**
   * Each object's anchor: of its rows that are ours after this plan (inserted,
   * or existing and owned, not a foreign row used as it is), the one that
   * lasts longest: its router, switch, balancer, port or NAT row, else the
   * lowest part that is not a gateway chassis (those move in a failover). Its
   * external_ids carry the object's document (store.ts).
   */
  private chooseAnchors(): void {
    const rank = (part: string) => {
      const i = ANCHOR_PARTS.indexOf(part);
      return i >= 0 ? i : part.includes(':chassis:') ? ANCHOR_PARTS.length + 1 : ANCHOR_PARTS.length;
    };
    const chosen = new Map<string, RowSpec>();
    for (const s of this.desired.rows) {
      const id = objectId(s.kind, s.name);
      if (!this.inScope(s.kind, s.name) || !this.desired.specs.has(id)) continue;
      const uuid = this.resolved.get(s.key);
      const ours = this.named.has(s.key) || (uuid !== undefined && this.isMine(this.nb.table(s.table).get(uuid) as unknown as AnyRow));
      if (!ours) continue;
      const cur = chosen.get(id);
      if (!cur || rank(s.part) < rank(cur.part) || (rank(s.part) === rank(cur.part) && s.part < cur.part)) chosen.set(id, s);
    }
    for (const [id, s] of chosen) this.anchors.set(id, s.key);
  }

  /** The document to store on this row, or undefined when it is not its object's anchor. */
  private specFor(s: RowSpec): string | undefined {
    const id = objectId(s.kind, s.name);
    return this.anchors.get(id) === s.key ? this.desired.specs.get(id) : undefined;
  }

  /**
   * Documents of objects in scope without an anchor row: in NB_Global's
   * external_ids, except EIPs and Vips that have reservations (their document
   * is read back from those); a key of an object that now has an anchor, or
   * is gone, is removed.
   */
  private globalSpecs(): void {
    const g = [...this.nb.table('NB_Global').values()][0] as unknown as AnyRow | undefined;
    const prefix = `${GLOBAL_SPEC_PREFIX}${this.owner}/`;
    const reserved = new Set(this.desired.reservations.map((r) => objectId(r.kind, r.name)));
    const want = new Map<string, string>();
    for (const [id, json] of this.desired.specs) {
      const [kind, name] = [id.slice(0, id.indexOf('/')), id.slice(id.indexOf('/') + 1)];
      if (!this.inScope(kind, name) || this.anchors.has(id)) continue;
      if ((kind === 'OvnEip' || kind === 'Vip') && reserved.has(id)) continue;
      want.set(`${prefix}${id}`, json);
    }
    // what NB_Global holds of the objects in scope: their keys looked up (it may hold thousands: lrp EIPs)
    const have = new Map<string, string>();
    if (this.scope) {
      for (const id of this.scope) {
        const v = g?.external_ids.get(`${prefix}${id}`);
        if (v !== undefined) have.set(`${prefix}${id}`, v);
      }
    } else for (const [k, v] of g?.external_ids ?? []) if (k.startsWith(prefix)) have.set(k, v);
    const add = [...want].filter(([k, v]) => have.get(k) !== v);
    const drop = [...have.keys()].filter((k) => !want.has(k) || have.get(k) !== want.get(k));
    if (add.length === 0 && drop.length === 0) return;
    const label = (k: string) => `${k.slice(prefix.length).replace('/', ' ')}: its last-applied spec, in NB_Global`;
    for (const [k] of add) this.specChanges.push({ action: have.has(k) ? 'change' : 'add', table: 'NB_Global', label: label(k), object: k.slice(prefix.length), spec: true });
    for (const k of drop) if (!want.has(k)) this.specChanges.push({ action: 'remove', table: 'NB_Global', label: label(k), object: k.slice(prefix.length), spec: true });
    if (!g) {
      // a database no ovn-northd or ovn-nbctl has initialised yet (NB_Global has at most one row)
      this.inserts.push({ op: 'insert', table: 'NB_Global', row: { external_ids: new Map(add) } });
      return;
    }
    const muts: [string, 'insert' | 'delete', unknown][] = [];
    if (drop.length) muts.push(['external_ids', 'delete', drop]);
    if (add.length) muts.push(['external_ids', 'insert', new Map(add)]);
    this.updates.push({ op: 'mutate', table: 'NB_Global', where: [['_uuid', '==', g._uuid]], mutations: muts });
  }

  private wire(v: unknown): unknown {
    return isRef(v) ? this.refValue(v.ref) : v;
  }

  private insert(s: RowSpec): void {
    const row: Record<string, unknown> = {};
    for (const [c, v0] of Object.entries(s.columns)) {
      // a map key wanted absent (null) is simply not in a new row
      const v = v0 instanceof Map && [...v0.values()].includes(null) ? new Map([...v0].filter(([, x]) => x !== null)) : v0;
      // an empty optional, set or map is what the server puts in a new row anyway: not sent
      if (v === null || (Array.isArray(v) && v.length === 0) || (v instanceof Map && v.size === 0)) continue;
      row[c] = this.wire(v);
    }
    const uuidName = this.named.get(s.key)!;
    for (const [column, uuids] of this.childrenOf.get(uuidName) ?? []) row[column] = [...((row[column] as string[] | undefined) ?? []), ...uuids];
    const tags = this.tags(s);
    const spec = this.specFor(s);
    if (spec !== undefined) tags.set(SPEC_KEY, spec);
    for (const [k, v] of this.newLedger.get(s.key) ?? []) tags.set(k, v);
    row.external_ids = tags;
    this.inserts.push({ op: 'insert', table: s.table, row, uuidName });
    // a named switch or router is created only if no writer created one since we read: else conflict,
    // re-plan, use it (their names have no unique index; port names do, the server refuses those itself)
    if (s.ensureName !== undefined && (s.table === 'Logical_Switch' || s.table === 'Logical_Router')) {
      this.ops.push({ op: 'wait', table: s.table, where: [['name', '==', s.ensureName]], columns: ['name'], until: '==', rows: [], timeout: 0 });
    }
    this.changes.push({ action: 'add', table: s.table, label: s.label, object: `${s.kind}/${s.name}` });
  }

  /** children of existing parents, per parent and column: one mutate each */
  private readonly children = new Map<string, { table: NbTableName; ref: string; column: string; uuids: string[] }>();
  /** children of parents inserted here: parent uuid-name -> column -> child uuid-names (in the parent's insert) */
  private readonly childrenOf = new Map<string, Map<string, string[]>>();
  /** the ledger entries of switches inserted here: RowSpec key -> external_ids */
  private readonly newLedger = new Map<string, Map<string, string>>();

  /** A row inserted here goes into its parent's column: the parent's insert, or one mutate per existing parent. */
  private addChild(s: RowSpec): void {
    const p = s.parent!;
    const uuidName = this.named.get(s.key)!;
    const parent = this.refValue(p.ref);
    if (this.named.get(p.ref) === parent) {
      let cols = this.childrenOf.get(parent);
      if (!cols) this.childrenOf.set(parent, (cols = new Map()));
      const l = cols.get(p.column);
      if (l) l.push(uuidName);
      else cols.set(p.column, [uuidName]);
      return;
    }
    const pk = `${p.table}\0${p.ref}\0${p.column}`;
    const a = this.children.get(pk);
    if (a) a.uuids.push(uuidName);
    else this.children.set(pk, { table: p.table, ref: p.ref, column: p.column, uuids: [uuidName] });
  }

  private attachChildren(): void {
    for (const c of this.children.values()) this.attach.push({ op: 'mutate', table: c.table, where: [['_uuid', '==', this.refValue(c.ref)]], mutations: [[c.column, 'insert', c.uuids]] });
  }

  /** The reservations of the objects in scope on switches inserted here, with the ledger's first version. */
  private newLedgers(): void {
    for (const r of this.desired.reservations) {
      if (!this.inScope(r.kind, r.name) || !this.named.has(r.switchRef)) continue;
      let m = this.newLedger.get(r.switchRef);
      if (!m) this.newLedger.set(r.switchRef, (m = new Map([[LEDGER_VERSION_KEY, '1']])));
      m.set(`${IP_LEDGER_PREFIX}${r.ip}`, `${this.owner}/${r.kind}/${r.name}`);
    }
  }

  private update(s: RowSpec, uuid: string): void {
    const cur = this.nb.table(s.table).get(uuid) as AnyRow | undefined;
    if (!cur) return;
    if (!this.isMine(cur)) return; // used as it is
    const diff: Record<string, [string, string]> = {};
    const set: Record<string, unknown> = {};
    const mutations: [string, 'insert' | 'delete', unknown][] = [];
    const cols = s.columns;
    for (const c in cols) {
      const want = this.wire(cols[c]);
      const have = cur[c];
      if (want instanceof Map && !FULL_MAPS[s.table]?.has(c)) {
        // only the keys listed: a value sets the key, null removes it (when the row has it)
        const haveMap = (have ?? EMPTY_MAP) as ReadonlyMap<string, unknown>;
        const changedKeys = [...want].filter(([k, v]) => (v === null ? haveMap.has(k) : haveMap.get(k) !== v));
        if (changedKeys.length === 0) continue;
        const stale = changedKeys.filter(([k]) => haveMap.has(k)).map(([k]) => k);
        const put = changedKeys.filter(([, v]) => v !== null);
        if (stale.length) mutations.push([c, 'delete', stale]);
        if (put.length) mutations.push([c, 'insert', new Map(put)]);
        diff[c] = [fmt(new Map(changedKeys.map(([k]) => [k, haveMap.get(k)]))), fmt(new Map(changedKeys.map(([k, v]) => [k, v ?? undefined])))];
        continue;
      }
      if (!same(have, want)) {
        set[c] = want;
        diff[c] = [fmt(have), fmt(want)];
      }
    }
    // tags (a row found by name that we own under an older key), and the object's document on its anchor only
    const tagDiff = this.tagsMatch(s, cur.external_ids) ? [] : [...this.tags(s)].filter(([k, v]) => cur.external_ids.get(k) !== v);
    const spec = this.specFor(s);
    const haveSpec = cur.external_ids.get(SPEC_KEY);
    if (spec !== undefined && haveSpec !== spec) tagDiff.push([SPEC_KEY, spec]);
    const dropSpec = !this.opts.rows && spec === undefined && haveSpec !== undefined && this.desired.specs.has(objectId(s.kind, s.name));
    const specChanged = (spec !== undefined && spec !== haveSpec) || dropSpec;
    if (tagDiff.length || dropSpec) mutations.push(['external_ids', 'delete', [...tagDiff.map(([k]) => k), ...(dropSpec ? [SPEC_KEY] : [])]]);
    if (tagDiff.length) mutations.push(['external_ids', 'insert', new Map(tagDiff)]);
    // a row that moved to another parent (a FIP rebound to another router)
    if (s.parent) {
      const want = this.refValue(s.parent.ref);
      // the holders in the parent's column (a load balancer someone also put on a switch stays there)
      const holders = this.parentsOf(s.table, uuid).filter((h) => h.table === s.parent!.table && h.column === s.parent!.column);
      if (!holders.some((h) => h.uuid === want)) {
        for (const h of holders) this.updates.push({ op: 'mutate', table: h.table, where: [['_uuid', '==', h.uuid]], mutations: [[h.column, 'delete', [uuid]]] });
        this.attach.push({ op: 'mutate', table: s.parent.table, where: [['_uuid', '==', want]], mutations: [[s.parent.column, 'insert', [uuid]]] });
        diff['(parent)'] = [holders.map((h) => h.uuid).join(',') || '-', want];
      }
    }
    if (Object.keys(set).length) this.updates.push({ op: 'update', table: s.table, where: [['_uuid', '==', uuid]], row: set });
    if (mutations.length) this.updates.push({ op: 'mutate', table: s.table, where: [['_uuid', '==', uuid]], mutations });
    const was = this.inPlaceOf.get(s.key);
    if (Object.keys(diff).length) this.changes.push({ action: 'change', table: s.table, label: was === undefined ? s.label : `${s.label}, in place of ${was}`, columns: diff, object: `${s.kind}/${s.name}`, ...(specChanged ? { spec: true as const } : {}) });
    else if (specChanged) this.specChanges.push({ action: 'change', table: s.table, label: `${s.kind} ${s.name}: its last-applied spec, on ${s.label}`, object: `${s.kind}/${s.name}`, spec: true });
  }

  /** The rows holding a child row (its router, switch, port or group), by the parents' element indexes. */
  private parentsOf(table: NbTableName, uuid: string): { table: NbTableName; column: string; uuid: string }[] {
    return holdersOf(this.nb, PARENTS[table] ?? [], uuid);
  }

  private remove(table: NbTableName, r: AnyRow, why: string): void {
    const label = `${table} ${NAMED.has(table) ? String(r.name) : describeRow(table, r)}`;
    const object = `${r.external_ids.get(KIND_KEY)}/${r.external_ids.get(NAME_KEY)}`;
    if (table === 'Logical_Switch_Port' && r.type === 'localnet' && this.parentsOf(table, r._uuid).some((h) => this.keptSwitches.has(h.uuid))) {
      // the uplink of a switch that stays for others: removing it would cut them off the provider network
      this.warnings.push(`${label} (${object}) left the manifest but is kept: its switch stays for rows of others, and they need its uplink`);
      return;
    }
    if (table === 'Logical_Switch' || table === 'Logical_Router') {
      const foreign = this.foreignChildren(table, r);
      if (foreign.length > 0 && this.strict) {
        const [kind, name] = [r.external_ids.get(KIND_KEY) ?? table, r.external_ids.get(NAME_KEY) ?? String(r.name)];
        const origin = this.desired.originOf(kind, name);
        const list = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
        this.problems.push({ kind, name, field: 'metadata.name', reason: `its ${table === 'Logical_Switch' ? 'switch' : 'router'} ${String(r.name)} holds ${list}; delete those first`, ...(origin ? { origin } : {}) });
        return;
      }
      if (foreign.length > 0) {
        this.warnings.push(`${label} (${object}) left the manifest but is kept: it holds rows ovn-natgw does not own (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`);
        if (table === 'Logical_Switch') this.keptSwitches.add(r._uuid);
        return;
      }
      // deleted only as read: a row or reservation another writer added since makes it a conflict
      const cols = [...CHILD_COLUMNS[table].map(([c]) => c), ...(table === 'Logical_Switch' ? ['external_ids'] : [])];
      this.ops.push({ op: 'wait', table, where: [['_uuid', '==', r._uuid]], columns: cols, until: '==', rows: [Object.fromEntries(cols.map((c) => [c, r[c]]))], timeout: 0 });
    }
    if (ROOT.has(table)) {
      this.removals.push({ op: 'delete', table, where: [['_uuid', '==', r._uuid]] });
    } else {
      // a strong reference to a root row (an HA chassis group) would keep that row from being deleted with it
      this.removals.push(...clearRootRefs(table, r));
      const holders = this.parentsOf(table, r._uuid);
      for (const h of holders) this.removals.push({ op: 'mutate', table: h.table, where: [['_uuid', '==', h.uuid]], mutations: [[h.column, 'delete', [r._uuid]]] });
      if (holders.length === 0) return; // already unreferenced: OVSDB collects it
    }
    this.changes.push({ action: 'remove', table, label: `${label} (${why})`, object });
  }

  private foreignChildren(table: 'Logical_Switch' | 'Logical_Router', r: AnyRow): string[] {
    const out: string[] = [];
    for (const [col, ct] of CHILD_COLUMNS[table]) {
      for (const u of r[col] as readonly string[]) {
        const c = this.nb.table(ct).get(u) as AnyRow | undefined;
        if (!c) continue;
        if (!this.isMine(c)) out.push(`${ct} ${NAMED.has(ct) ? String(c.name) : u}`);
        // an explicit delete also keeps the rows of our other objects that stay (OVSDB would take them along)
        else if (this.strict && (this.resolvedUuids.has(c._uuid) || !this.inScope(c.external_ids.get(KIND_KEY), c.external_ids.get(NAME_KEY)))) {
          if (c.external_ids.get(KIND_KEY) !== r.external_ids.get(KIND_KEY) || c.external_ids.get(NAME_KEY) !== r.external_ids.get(NAME_KEY)) {
            out.push(`${c.external_ids.get(KIND_KEY)} ${c.external_ids.get(NAME_KEY)} (${ct} ${NAMED.has(ct) ? String(c.name) : u})`);
          }
        }
      }
    }
    // another owner's address reservations in the switch's ledger
    if (table === 'Logical_Switch') {
      for (const [k, v] of r.external_ids) if (k.startsWith(IP_LEDGER_PREFIX) && !v.startsWith(`${this.owner}/`)) out.push(`reservation ${k.slice(IP_LEDGER_PREFIX.length)} of ${v}`);
    }
    return out;
  }

  /** NAT identity: (router, type, external_ip, logical_ip, gateway_port). */
  private checkNatConflicts(): void {
    // NB NAT rows by external IP: an identity includes it, so only rows sharing one can collide;
    // those of the plan's external IPs (NB-wide only with nbWarnings: a scan)
    const byExt = new Map<string, NbTables['NAT'][]>();
    const group = (ip: string) => {
      let g = byExt.get(ip);
      if (!g) byExt.set(ip, (g = this.nb.table('NAT').lookup('external_ip', ip) as NbTables['NAT'][]));
      return g;
    };
    if (this.opts.nbWarnings) for (const nat of this.nb.table('NAT').values()) group(nat.external_ip);
    for (const s of this.desired.rows) if (s.table === 'NAT' && this.inScope(s.kind, s.name)) group(String(s.columns.external_ip));
    const identity = (nat: NbTables['NAT']): string => {
      const router = this.nb.table('Logical_Router').lookup('nat', nat._uuid)[0]?.name ?? '?';
      const gp = nat.gateway_port ? (this.nb.table('Logical_Router_Port').get(nat.gateway_port)?.name ?? '') : '';
      return natIdentity(router, nat.type, nat.external_ip, nat.logical_ip, gp);
    };
    for (const g of byExt.values()) {
      if (g.length < 2) continue;
      const seen = new Map<string, string[]>();
      for (const nat of g) {
        const id = identity(nat);
        const l = seen.get(id);
        if (l) l.push(nat._uuid);
        else seen.set(id, [nat._uuid]);
      }
      for (const [id, uuids] of seen) if (uuids.length > 1) this.warnings.push(`duplicate NAT rows in NB for ${id}: ${uuids.join(', ')}`);
    }
    const fipIps = new Map<string, string>();
    for (const s of this.desired.rows) {
      if (s.table !== 'NAT') continue;
      const ext = String(s.columns.external_ip);
      const logical = String(s.columns.logical_ip);
      const fip = s.columns.type === 'dnat_and_snat';
      const mine = this.inScope(s.kind, s.name);
      let id: string | undefined;
      for (const nat of mine ? group(ext) : []) {
        if (this.isMine(nat as unknown as AnyRow)) continue;
        if (id === undefined) {
          const router = s.parent!.ref.startsWith('name:') ? s.parent!.ref.slice(5) : (this.spec(s.parent!.ref)?.name ?? '?');
          const gp = s.columns.gateway_port;
          const gwName = isRef(gp) ? String((this.spec(gp.ref)?.columns.name as string | undefined) ?? '') : '';
          id = natIdentity(router, String(s.columns.type), ext, logical, gwName);
        }
        if (identity(nat) === id) {
          this.problem(s, 'spec', `NB already has NAT ${nat._uuid} (${id}) that ovn-natgw does not own; remove it or leave it out of the manifest`);
        }
        if (fip && nat.type === 'dnat_and_snat' && nat.logical_ip !== logical) {
          this.problem(s, 'spec.ovnEip', `${ext} is already a floating IP for ${nat.logical_ip} (NAT ${nat._uuid}, not owned by ovn-natgw)`);
        }
      }
      if (fip) {
        const prev = fipIps.get(ext);
        if (prev !== undefined && prev !== logical && mine) {
          this.problem(s, 'spec.ovnEip', `${ext} would be a floating IP for both ${prev} and ${logical}`);
        }
        fipIps.set(ext, logical);
      }
    }
  }

  /**
   * Address reservations in the switches' external_ids: those of the objects
   * in scope (every object of the owner without a scope), where the plan
   * wants them and where NB holds them (NbFacts, by holder: no ledger is
   * read whole). A switch that gets a new reservation is guarded by a `wait`
   * on its ledger version, which the same mutation moves: another writer's
   * reservation since the plan read fails the transaction (it plans again),
   * in constant bytes however big the ledger.
   */
  private ledger(): void {
    const want = new Map<string, Map<string, string>>(); // switch ref -> key -> holder
    const names = new Map<string, string>();
    for (const r of this.desired.reservations) {
      if (!this.inScope(r.kind, r.name)) continue;
      let m = want.get(r.switchRef);
      if (!m) want.set(r.switchRef, (m = new Map()));
      m.set(`${IP_LEDGER_PREFIX}${r.ip}`, `${this.owner}/${r.kind}/${r.name}`);
      names.set(r.switchRef, r.switchName);
    }
    // where the objects in scope hold reservations now: switch uuid -> key -> holder
    const mine = `${this.owner}/`;
    const holders = this.scope ? [...this.scope].map((id) => `${mine}${id}`) : [...this.facts.holders(mine)];
    const have = new Map<string, Map<string, string>>();
    for (const h of holders) {
      for (const [sw, ips] of this.facts.reservationsOf(h)) {
        let m = have.get(sw);
        if (!m) have.set(sw, (m = new Map()));
        for (const ip of ips) m.set(`${IP_LEDGER_PREFIX}${ip}`, h);
        const k = this.switchKey.get(sw) ?? `uuid:${sw}`;
        if (!want.has(k)) want.set(k, new Map());
      }
    }
    for (const [swRef, m] of want) {
      // a switch inserted here has its reservations in its insert (newLedgers)
      if (this.named.has(swRef)) continue;
      const uuid = this.refValue(swRef);
      const ls = this.nb.table('Logical_Switch').get(uuid);
      if (!ls) continue; // a switch of an object out of scope that NB lacks: refValue said so (a problem)
      const name = names.get(swRef) ?? ls.name;
      const held = have.get(uuid) ?? new Map<string, string>();
      const add = [...m].filter(([k, v]) => ls.external_ids.get(k) !== v);
      const drop = [...held.keys()].filter((k) => !m.has(k));
      if (add.length === 0 && drop.length === 0) continue;
      const taken = add.filter(([k]) => ls.external_ids.has(k) && !held.has(k));
      for (const [k] of taken) {
        this.problems.push({ kind: 'Logical_Switch', name, field: 'external_ids', reason: `${k.slice(IP_LEDGER_PREFIX.length)} is reserved by ${ls.external_ids.get(k)}` });
      }
      const muts: [string, 'insert' | 'delete', unknown][] = [];
      const del = [...drop, ...add.filter(([k]) => held.has(k)).map(([k]) => k)];
      const ins = new Map(add);
      if (add.length) {
        // another writer's reservation made since we read: the wait fails the transaction
        const version = ls.external_ids.get(LEDGER_VERSION_KEY);
        if (version !== undefined) {
          this.ops.push({ op: 'wait', table: 'Logical_Switch', where: [['_uuid', '==', uuid], ['external_ids', 'includes', new Map([[LEDGER_VERSION_KEY, version]])]], columns: [], until: '==', rows: [{}], timeout: 0 });
          del.push(LEDGER_VERSION_KEY);
        } else {
          // a ledger without a version yet (written by an older ovn-natgw): guarded whole, once
          this.ops.push({ op: 'wait', table: 'Logical_Switch', where: [['_uuid', '==', uuid]], columns: ['external_ids'], until: '==', rows: [{ external_ids: ls.external_ids }], timeout: 0 });
        }
        ins.set(LEDGER_VERSION_KEY, String(Number(version ?? '0') + 1));
      }
      if (del.length) muts.push(['external_ids', 'delete', del]);
      if (ins.size) muts.push(['external_ids', 'insert', ins]);
      this.updates.push({ op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', uuid]], mutations: muts });
      for (const [k, v] of add) this.changes.push({ action: 'add', table: 'Logical_Switch', label: `reservation ${k.slice(IP_LEDGER_PREFIX.length)} on ${name} for ${v}`, object: v.split('/').slice(1).join('/') });
      for (const k of drop) this.changes.push({ action: 'remove', table: 'Logical_Switch', label: `reservation ${k.slice(IP_LEDGER_PREFIX.length)} on ${name} (${held.get(k)})`, object: held.get(k)!.split('/').slice(1).join('/') });
    }
  }
}

/** A NAT row's identity (router, type, external IP, logical IP, gateway port), as text. */
export function natIdentity(router: string, type: string, externalIp: string, logicalIp: string, gatewayPort: string): string {
  return `router ${router}, ${type} ${externalIp} -> ${logicalIp}${gatewayPort ? ` via ${gatewayPort}` : ''}`;
}

function describeRow(table: NbTableName, r: AnyRow): string {
  switch (table) {
    case 'NAT':
      return `${String(r.type)} ${String(r.external_ip)} <-> ${String(r.logical_ip)}`;
    case 'Logical_Router_Static_Route':
      return `${String(r.ip_prefix)} via ${String(r.nexthop)}`;
    case 'Logical_Router_Policy':
      return `${String(r.priority)} ${String(r.match)}`;
    case 'BFD':
      return `${String(r.logical_port)} -> ${String(r.dst_ip)}`;
    case 'HA_Chassis':
      return `${String(r.chassis_name)} (priority ${String(r.priority)})`;
    default:
      return r._uuid;
  }
}

const EMPTY_MAP: ReadonlyMap<string, unknown> = new Map();


function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    let inOrder = true;
    for (let i = 0; i < a.length && inOrder; i++) inOrder = a[i] === b[i];
    if (inOrder) return true;
    const x = [...a].map(String).sort();
    const y = [...b].map(String).sort();
    return x.every((v, i) => v === y[i]);
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (b.get(k) !== v) return false;
    return true;
  }
  return false;
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '[]';
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${String(k)}=${x === undefined ? '(none)' : String(x)}`).join(', ')}}`;
  if (Array.isArray(v)) return `[${v.map(String).join(', ')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
