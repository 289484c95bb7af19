/**
 * The desired state of a whole manifest, kept per object between plans of a
 * resident manager (mode replace), so that a manifest in which one object
 * changed plans one object and what depends on it, not the whole manifest.
 *
 * A baseline is what the last plan that found nothing to change was made
 * from: per object, its document (the key of its desired rows), and what its
 * plan read in NB (ReadLog). From then on each commit marks objects stale
 * (`dirty`), in O(change):
 *  - a row of the owner's that changed: its object (drift, another instance);
 *  - a row or index value an object's plan read: that object (a workload
 *    port's address, a router port's MAC);
 *  - a reservation that moved: its holder;
 *  - a stored document in NB_Global: its object;
 *  - anything read outside any object, and every SB change (gateway
 *    placement is planned across all ports): everything (`all`).
 * The next plan takes the objects whose document differs, that left the
 * manifest or are stale, and plans them with their dependents; NB then holds
 * the rest as planned.
 */
import { shared } from '../intern.js';
import { UsersIndex } from '../multimap.js';
import type { ChangeEvent } from '../ovsdb/replica.js';
import { ANY_OBJECT, ReadLog } from './reads.js';
import type { NbView } from './nb-view.js';
import { walk } from './graph.js';
import { GLOBAL_SPEC_PREFIX, IP_LEDGER_PREFIX, KIND_KEY, NAME_KEY, OWNER_KEY, objectId } from './rows.js';
import { CHILD_COLUMNS, OWNED_TABLES } from './topology.js';
import { LEDGER_VERSION_KEY } from './plan.js';

/**
 * Columns whose change does not concern an object that read the row by
 * name: membership sets (a lookup by element follows those), the address
 * ledger (followed per holder), the tags (followed per owner), and what
 * other daemons keep up to date (a port's `up`, a BFD session's status).
 */
/**
 * Columns other daemons keep up to date, which no plan reads or writes
 * (ovn-northd sets a port's `up` and copies BFD session state into NB all the
 * time): their changes make no plan stale.
 */
export const OTHERS_WRITE: Readonly<Record<string, ReadonlySet<string>>> = {
  Logical_Switch_Port: new Set(['up']),
  BFD: new Set(['status']),
};

const NOT_READ: Readonly<Record<string, ReadonlySet<string>>> = {
  Logical_Switch: new Set(['ports', 'load_balancer', 'external_ids']),
  Logical_Router: new Set(['ports', 'nat', 'static_routes', 'policies', 'load_balancer', 'external_ids']),
  Logical_Switch_Port: new Set([...OTHERS_WRITE.Logical_Switch_Port, 'external_ids']),
  Logical_Router_Port: new Set(['external_ids']),
  BFD: new Set([...OTHERS_WRITE.BFD, 'external_ids']),
};

/** A switch's or router's sets of children: their rows say what changed in them (and whose they are). */
const MEMBERSHIP: Readonly<Record<string, ReadonlySet<string>>> = {
  Logical_Switch: new Set([...CHILD_COLUMNS.Logical_Switch.map(([c]) => c), 'load_balancer']),
  Logical_Router: new Set([...CHILD_COLUMNS.Logical_Router.map(([c]) => c), 'load_balancer']),
};

const owned: ReadonlySet<string> = new Set(OWNED_TABLES);

type Row = { _uuid: string; external_ids?: ReadonlyMap<string, string> } & Record<string, unknown>;

export class Baseline {
  /** objects that may plan otherwise since */
  readonly dirty = new Set<string>();
  /** something every object may depend on changed: plan in full */
  all = false;

  /**
   * per object: the key of its document when it is in the manifest
   * (undefined: it is not), then the objects its plan read (Desired.deps),
   * in one array (one map of 200k objects, not two: 7 MB); and the reverse
   */
  private readonly known = new Map<string, (string | undefined)[]>();
  private readonly users = new UsersIndex<string>((dep) => this.readers(dep));

  /** The objects whose plan read `dep` (by a scan: what users does not keep for a dep nearly every object read). */
  private *readers(dep: string): Iterable<string> {
    for (const [id, r] of this.known) if (r.indexOf(dep, 1) > 0) yield id;
  }

  constructor(
    readonly owner: string,
    /** the options the plan was made with (another set of options plans in full) */
    readonly options: string,
    objects: ReadonlyMap<string, string>,
    readonly reads: ReadLog,
    deps: ReadonlyMap<string, ReadonlySet<string>>,
    private readonly nb: NbView,
  ) {
    for (const [id, k] of objects) this.known.set(shared(id), [shared(k)]);
    for (const [id, ds] of deps) this.setDeps(id, ds);
  }

  /** The key of an object's document in the manifest this baseline holds (undefined: not in it). */
  keyOf(id: string): string | undefined {
    return this.known.get(id)?.[0];
  }

  private setKey(id: string, k: string | undefined): void {
    const cur = this.known.get(id);
    if (cur) {
      cur[0] = k === undefined ? undefined : shared(k);
      if (k === undefined && cur.length === 1) this.known.delete(id);
    } else if (k !== undefined) this.known.set(shared(id), [shared(k)]);
  }

  private setDeps(id: string, ds: ReadonlySet<string>): void {
    const cur = this.known.get(id);
    for (let i = 1; i < (cur?.length ?? 0); i++) this.users.delete(cur![i]!, id);
    // (an array, not a Set: one per object, most with a few elements; of the exact size, as map makes it)
    const list = [cur?.[0], ...ds].map((x) => (x === undefined ? x : shared(x)));
    if (list.length === 1 && list[0] === undefined) this.known.delete(id);
    else this.known.set(shared(id), list);
    const sid = shared(id);
    for (let i = 1; i < list.length; i++) this.users.add(list[i]!, sid);
  }

  /** `ids` and the objects whose plan read one of them, transitively. */
  usersOf(ids: Iterable<string>): Set<string> {
    return walk(ids, (id) => this.users.get(id));
  }

  /** `ids` and the objects their plans read, transitively. */
  readBy(ids: Iterable<string>): Set<string> {
    return walk(ids, (id) => this.known.get(id)?.slice(1) as string[] | undefined);
  }

  /** Marks the objects one NB commit may concern (`moved`: the holders whose reservations changed). */
  noteCommit(changes: readonly ChangeEvent[], moved: ReadonlySet<string>): void {
    if (this.all) return;
    const mine = `${this.owner}/`;
    for (const h of moved) if (h.startsWith(mine)) this.dirty.add(h.slice(mine.length));
    const readers = new Set<string>();
    for (const e of changes) {
      const row = e.row as Row;
      const old = e.old as Row | undefined;
      if (e.table === 'NB_Global') {
        this.globalSpecs(e);
        continue;
      }
      if (owned.has(e.table) && (e.kind !== 'update' || !old || ownChange(e, old, row))) {
        this.tagged(row);
        if (old) this.tagged(old);
      }
      // another writer's NAT row on an external IP of ours: the rows of ours on it are checked again
      if (e.table === 'NAT' && row.external_ids?.get(OWNER_KEY) !== this.owner) {
        for (const ip of new Set([row.external_ip, old?.external_ip])) {
          if (typeof ip === 'string') for (const r of this.nb.table('NAT').lookup('external_ip', ip)) this.tagged(r as unknown as Row);
        }
      }
      this.reads.readersOf(e, readers, !(e.kind === 'update' && old && !changedOutside(old, row, NOT_READ[e.table])));
    }
    if (readers.has(ANY_OBJECT)) this.all = true;
    for (const r of readers) this.dirty.add(r);
  }

  /** SB changed: gateway placement is planned again across all ports. */
  noteSb(): void {
    this.all = true;
  }

  private tagged(r: Row): void {
    const ext = r.external_ids;
    if (ext?.get(OWNER_KEY) === this.owner) this.dirty.add(objectId(ext.get(KIND_KEY) ?? '', ext.get(NAME_KEY) ?? ''));
  }

  private globalSpecs(e: ChangeEvent): void {
    const after = (e.kind === 'delete' ? new Map() : (e.row as Row).external_ids ?? new Map()) as ReadonlyMap<string, string>;
    const before = (e.kind === 'insert' ? new Map() : ((e.old ?? e.row) as Row).external_ids ?? new Map()) as ReadonlyMap<string, string>;
    if (e.kind === 'update' && before === after) return;
    const keys = e.diff?.has('external_ids') ? [...(e.diff.get('external_ids') as ReadonlyMap<string, string>).keys()] : [...new Set([...before.keys(), ...after.keys()])];
    const prefix = `${GLOBAL_SPEC_PREFIX}${this.owner}/`;
    for (const k of keys) if (k.startsWith(prefix) && before.get(k) !== after.get(k)) this.dirty.add(k.slice(prefix.length));
  }

  /**
   * The objects a manifest must plan against this baseline: those whose
   * document is new or differs, those that left it, and the stale ones.
   */
  changed(keys: ReadonlyMap<string, string>): Set<string> {
    const out = new Set(this.dirty);
    for (const [id, k] of keys) if (this.keyOf(id) !== k) out.add(id);
    for (const [id, r] of this.known) if (r[0] !== undefined && !keys.has(id)) out.add(id);
    return out;
  }

  /** A plan of `planned` (rendering `built`, reads recorded in `reads`) found nothing to change: NB holds them as planned. */
  settle(planned: ReadonlySet<string>, built: Iterable<string>, keys: ReadonlyMap<string, string>, reads: ReadLog, deps: ReadonlyMap<string, ReadonlySet<string>>): void {
    const b = [...built];
    this.reads.forget(b);
    this.reads.merge(reads);
    for (const id of b) this.setDeps(id, deps.get(id) ?? new Set());
    for (const id of planned) {
      this.setKey(id, keys.get(id));
      this.dirty.delete(id);
    }
  }
}


/**
 * Whether an update changed the row itself, not only what others keep up to
 * date, its children (their own rows tell), or its address ledger (followed
 * per holder).
 */
function ownChange(e: ChangeEvent, old: Row, row: Row): boolean {
  const others = OTHERS_WRITE[e.table];
  const children = MEMBERSHIP[e.table];
  for (const c in row) {
    if (c === '_uuid' || old[c] === row[c] || others?.has(c) || children?.has(c)) continue;
    if (c === 'external_ids' && e.table === 'Logical_Switch' && onlyLedger(old.external_ids!, row.external_ids!, e.diff?.get(c) as ReadonlyMap<string, string> | undefined)) continue;
    return true;
  }
  return false;
}

function onlyLedger(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, diff: ReadonlyMap<string, string> | undefined): boolean {
  const keys = diff ? diff.keys() : new Set([...before.keys(), ...after.keys()]).values();
  for (const k of keys) if (before.get(k) !== after.get(k) && !k.startsWith(IP_LEDGER_PREFIX) && k !== LEDGER_VERSION_KEY) return false;
  return true;
}

/** Whether a column outside `ignored` changed (the replica shares the values of unchanged columns). */
export function changedOutside(old: object, nu: object, ignored: ReadonlySet<string> | undefined): boolean {
  const a = old as Record<string, unknown>;
  const b = nu as Record<string, unknown>;
  for (const c in b) if (!ignored?.has(c) && c !== '_uuid' && a[c] !== b[c]) return true;
  return false;
}
