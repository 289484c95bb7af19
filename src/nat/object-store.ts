/**
 * The objects each owner has in NB (store.ts says where their last-applied
 * documents live), kept from the replica's commits in O(change) instead of
 * read by a scan per plan, with what each object names (its references) and,
 * the other way, who names it, so that a change of one object plans that
 * object, what it needs, and what depends on it:
 *
 *  - `closure(owner, ids)`: the objects a plan of `ids` must render to plan
 *    them right: what they read (an OvnFip's OvnEip, its Vpc, the network),
 *    transitively, and the objects they could conflict with (the other users
 *    of the same EIP, the other SNAT rules of the same router);
 *  - `dependents(owner, ids)`: the objects to plan again with them (the FIPs
 *    on an EIP that changed, the EIPs on a network that changed).
 *
 * References are read from the objects' specs ("spec.ovnEip"), plus two
 * groups: "*ext", every external network (the default network is chosen
 * among them), and "lsp:<name>", a workload port a FIP or SNAT names (its
 * router is found through NB when planned).
 */
import { shared } from '../intern.js';
import { UsersIndex } from '../multimap.js';
import { LRUCache } from 'lru-cache';
import type { ManifestObject } from './objects.js';
import { parseStored } from './manifest.js';
import { NbFacts, type NbView } from './nb-view.js';
import { OWNED_TABLES } from './topology.js';
import { walk } from './graph.js';
import type { ChangeEvent } from '../ovsdb/replica.js';
import { GLOBAL_SPEC_PREFIX, KIND_KEY, NAME_KEY, OWNER_KEY, SPEC_KEY, idOf, objectId } from './rows.js';
import { derivedDocument, RESERVATION_KINDS } from './store.js';
import { EXTERNAL_GW_CONFIG, sourceOf } from './manifest.js';

/** The group of every external network (what a default network choice reads). */
export const EXT_GROUP = '*ext';
const CONFIG = objectId('ConfigMap', EXTERNAL_GW_CONFIG);

/**
 * The fields of an object that name others (a ManifestObject has them; so
 * has `refFields(doc)` of its stored document, read without the full reader).
 */
export interface RefFields {
  kind: string;
  name: string;
  provider?: string;
  vlan?: string;
  vpc?: string;
  addExternalSubnets?: readonly string[];
  externalSubnet?: string;
  subnet?: string;
  ovnEip?: string;
  vpcSubnet?: string;
  ipName?: string;
  ipType?: string;
  type?: string;
}

/** The RefFields of a stored document (apiVersion, kind, metadata, spec), with the reader's aliases. */
export function refFields(doc: unknown): RefFields | undefined {
  const d = doc as { kind?: unknown; metadata?: { name?: unknown }; spec?: Record<string, unknown> } | null;
  if (!d || typeof d.kind !== 'string' || typeof d.metadata?.name !== 'string') return undefined;
  const sp = d.spec ?? {};
  const str = (k: string) => (typeof sp[k] === 'string' ? (sp[k] as string) : undefined);
  const list = (k: string) => (Array.isArray(sp[k]) ? (sp[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
  const f: RefFields = { kind: d.kind, name: d.metadata.name };
  for (const k of ['provider', 'vlan', 'vpc', 'externalSubnet', 'subnet', 'ovnEip', 'vpcSubnet', 'ipName', 'ipType'] as const) {
    const v = str(k);
    if (v !== undefined) f[k] = v;
  }
  if (d.kind === 'Vpc') f.addExternalSubnets = [...new Set([...list('addExternalSubnets'), ...list('extraExternalSubnets')])];
  if (d.kind === 'OvnEip') f.type = str('type') ?? str('usageType') ?? 'nat';
  return f;
}

/** The RefFields of an object (a copy: not the object). */
function pickRefs(o: ManifestObject): RefFields {
  const src = o as unknown as Record<string, unknown>;
  const f: Record<string, unknown> = { kind: o.kind, name: o.name };
  for (const k of ['provider', 'vlan', 'vpc', 'externalSubnet', 'subnet', 'ovnEip', 'vpcSubnet', 'ipName', 'ipType', 'type', 'addExternalSubnets'] as const) if (src[k] !== undefined) f[k] = src[k];
  return f as unknown as RefFields;
}

/** What an object names: the objects (and groups) its plan reads. */
export function refsOf(o: RefFields): string[] {
  const out: string[] = [];
  const add = (kind: string, name: string | undefined) => name !== undefined && out.push(objectId(kind, name));
  switch (o.kind) {
    case 'Vlan':
      add('ProviderNetwork', o.provider);
      break;
    case 'Subnet':
      add('Vlan', o.vlan);
      add('ProviderNetwork', o.provider);
      add('Vpc', o.vpc);
      break;
    case 'Vpc':
      out.push(CONFIG, EXT_GROUP);
      for (const n of o.addExternalSubnets ?? []) add('Subnet', n);
      break;
    case 'OvnEip':
      if (o.externalSubnet) add('Subnet', o.externalSubnet);
      else out.push(CONFIG, EXT_GROUP);
      break;
    case 'Vip':
      add('Subnet', o.subnet);
      break;
    case 'OvnFip':
    case 'OvnDnatRule':
    case 'OvnSnatRule':
      out.push(CONFIG);
      add('OvnEip', o.ovnEip);
      add('Vpc', o.vpc);
      if (o.kind === 'OvnSnatRule') add('Subnet', o.vpcSubnet);
      if (o.ipName !== undefined) {
        if (o.kind !== 'OvnSnatRule' && o.ipType === 'vip') add('Vip', o.ipName);
        else out.push(shared(`lsp:${o.ipName}`));
      }
      break;
  }
  return sameAsLast(o.kind, out);
}

/** per kind, the refs last made (objects of a kind often name the same: 100k EIPs on one network) */
const lastRefs = new Map<string, string[]>();

/** `refs`, or the equal array made last for the kind (read-only: shared). */
function sameAsLast(kind: string, refs: string[]): string[] {
  const last = lastRefs.get(kind);
  if (last && last.length === refs.length && last.every((r, i) => r === refs[i])) return last;
  // (kept per object: a copy holds as many slots as it has elements, a pushed-to array 17)
  const out = refs.slice();
  lastRefs.set(kind, out);
  return out;
}

/**
 * What the store knows of one object (one record per object, not one per
 * structure: 200k objects in three maps and their entries cost 15 MB more):
 * its owned rows, its document in NB_Global, and what its document says once
 * read.
 */
class Known {
  /** its first owned row (in the order they came), and the spec it carries (undefined: none) */
  uuid: string | undefined = undefined;
  spec: string | undefined = undefined;
  /** its further rows, uuid then spec for each (most objects have one row) */
  more: (string | undefined)[] | undefined = undefined;
  /** its document in NB_Global */
  global: string | undefined = undefined;
  /** its document as read; undefined when made from its reservations (made again when asked for: 17 MB at 100k EIPs) */
  json: string | undefined = undefined;
  problem: string | undefined = undefined;
  /** its document could not be read at all (not JSON, or another object's): nothing is known of it */
  unread = false;
  /**
   * what it names, read from the document without the full reader (what else
   * a plan asks of it: fieldsOf); undefined while no document of it is read
   */
  refs: string[] | undefined = undefined;

  /** Whether NB holds a row or an NB_Global document of it. */
  get held(): boolean {
    return this.uuid !== undefined || this.global !== undefined;
  }

  setRow(uuid: string, spec: string | undefined): void {
    if (this.uuid === undefined || this.uuid === uuid) {
      this.uuid = uuid;
      this.spec = spec;
      return;
    }
    const m = this.more ?? [];
    for (let i = 0; i < m.length; i += 2) {
      if (m[i] === uuid) {
        m[i + 1] = spec;
        return;
      }
    }
    // (a new array of the exact size: concat makes one, a spread or a push holds 17 slots or more)
    this.more = m.concat([uuid, spec]);
  }

  deleteRow(uuid: string): void {
    const m = this.more;
    if (this.uuid === uuid) {
      this.uuid = m?.[0];
      this.spec = m?.[1];
      this.more = m && m.length > 2 ? m.slice(2) : undefined;
      return;
    }
    if (!m) return;
    for (let i = 0; i < m.length; i += 2) {
      if (m[i] === uuid) {
        this.more = m.length > 2 ? m.slice(0, i).concat(m.slice(i + 2)) : undefined;
        return;
      }
    }
  }

  /** The document its rows carry (the first that has one), or else its NB_Global one. */
  get stored(): string | undefined {
    if (this.uuid !== undefined && this.spec !== undefined) return this.spec;
    for (let i = 1; i < (this.more?.length ?? 0); i += 2) if (this.more![i] !== undefined) return this.more![i];
    return this.global;
  }
}

/** A Known whose document was read (refs set). */
type Parsed = Known & { refs: string[] };
const isParsed = (k: Known | undefined): k is Parsed => k?.refs !== undefined;

/**
 * What closure() and dependents() read of a stored object, from its id and
 * what it names (not kept per object: 200k of them cost 17 MB): the EIP, Vpc
 * and (of an SNAT rule) subnet it names. An EIP's type is kept apart
 * (OwnerObjects.lrpEips), as a Subnet's being external is (extSubnets).
 */
function fieldsOf(id: string, k: Known | undefined): RefFields | undefined {
  // (a problem the full reader finds later, in objectOf, leaves what the refs say: as the refs stay)
  if (!isParsed(k) || k.unread) return undefined;
  const i = id.indexOf('/');
  const f: RefFields = { kind: id.slice(0, i), name: id.slice(i + 1) };
  for (const r of k.refs) {
    const j = r.indexOf('/');
    if (j < 0) continue;
    const kd = r.slice(0, j);
    if (kd === 'OvnEip') f.ovnEip = r.slice(j + 1);
    else if (kd === 'Vpc') f.vpc = r.slice(j + 1);
    else if (kd === 'Subnet' && f.kind === 'OvnSnatRule') f.vpcSubnet = r.slice(j + 1);
  }
  return f;
}

class OwnerObjects {
  readonly known = new Map<string, Known>();
  /**
   * per kind of the namer: ref -> the objects of that kind that name it. A
   * ref named by more than UsersIndex's `wide` objects of one kind keeps no
   * Set (found by a scan when asked); apart by kind, so that what a plan asks
   * of one object (a Vpc's subnets and SNAT rules, not its 10k FIPs) stays
   * a lookup. The scans: only when that ref itself changes.
   */
  private readonly byKind = new Map<string, UsersIndex<string>>();
  /** how many scans for a wide ref's namers were made (tests) */
  scans = 0;
  readonly extSubnets = new Set<string>();
  /** the OvnEips of type lrp (a router's port on an external network) */
  readonly lrpEips = new Set<string>();

  private namersOf(kind: string): UsersIndex<string> {
    let u = this.byKind.get(kind);
    if (!u) this.byKind.set(kind, (u = new UsersIndex((ref) => this.namers(ref, kind))));
    return u;
  }

  private *namers(ref: string, kind: string): Iterable<string> {
    this.scans++;
    const prefix = `${kind}/`;
    for (const [id, k] of this.known) if (id.startsWith(prefix) && k.refs?.includes(ref)) yield id;
  }

  /** `id` names `ref` (or no longer does). */
  addUser(ref: string, id: string): void {
    this.namersOf(shared(id.slice(0, id.indexOf('/')))).add(ref, id);
  }

  deleteUser(ref: string, id: string): void {
    this.byKind.get(id.slice(0, id.indexOf('/')))?.delete(ref, id);
  }

  /** The objects (of `kind`, else of any) that name `ref`. */
  *users(ref: string, kind?: string): Iterable<string> {
    if (kind !== undefined) yield* this.byKind.get(kind)?.get(ref) ?? [];
    else for (const u of this.byKind.values()) yield* u.get(ref);
  }

  entry(id: string): Known {
    let k = this.known.get(id);
    if (!k) this.known.set(id, (k = new Known()));
    return k;
  }

  /** The object's record when its document was read. */
  parsed(id: string): Parsed | undefined {
    const k = this.known.get(id);
    return isParsed(k) ? k : undefined;
  }

  /** The object's record when NB holds a row or document of it. */
  held(id: string): Known | undefined {
    const k = this.known.get(id);
    return k?.held ? k : undefined;
  }

  /** Forgets a record that holds nothing any more. */
  prune(id: string, k: Known): void {
    if (!k.held && k.refs === undefined) this.known.delete(id);
  }
}

type Row = { _uuid: string; external_ids: ReadonlyMap<string, string> };

export class ObjectStore {
  private readonly owners = new Map<string, OwnerObjects>();

  constructor(
    private readonly nb: NbView,
    private readonly facts: NbFacts,
  ) {
    for (const t of OWNED_TABLES) for (const r of this.nb.table(t).values() as Iterable<Row>) this.addRow(r);
    for (const g of this.nb.table('NB_Global').values()) for (const [k, v] of g.external_ids) this.setGlobal(k, v);
    const dirty = new Set<string>();
    for (const [owner, oo] of this.owners) for (const id of oo.known.keys()) dirty.add(`${owner}/${id}`);
    for (const h of this.facts.holders('')) dirty.add(h);
    this.refresh(dirty);
  }

  private of(owner: string): OwnerObjects {
    let oo = this.owners.get(owner);
    if (!oo) this.owners.set(owner, (oo = new OwnerObjects()));
    return oo;
  }

  /** "<owner>/<kind>/<name>" of a row of ours, or undefined. */
  private static holder(r: Row): string | undefined {
    const owner = r.external_ids.get(OWNER_KEY);
    return owner === undefined ? undefined : `${owner}/${r.external_ids.get(KIND_KEY) ?? ''}/${r.external_ids.get(NAME_KEY) ?? ''}`;
  }

  private addRow(r: Row): string | undefined {
    const h = ObjectStore.holder(r);
    if (!h) return undefined;
    const [owner, id] = split(h);
    this.of(owner).entry(id).setRow(r._uuid, r.external_ids.get(SPEC_KEY));
    return h;
  }

  private removeRow(r: Row): string | undefined {
    const h = ObjectStore.holder(r);
    if (!h) return undefined;
    const [owner, id] = split(h);
    const oo = this.owners.get(owner);
    const k = oo?.known.get(id);
    if (k) {
      k.deleteRow(r._uuid);
      oo!.prune(id, k);
    }
    return h;
  }

  private setGlobal(k: string, v: string | undefined): string | undefined {
    if (!k.startsWith(GLOBAL_SPEC_PREFIX)) return undefined;
    const h = k.slice(GLOBAL_SPEC_PREFIX.length);
    const [owner, id] = split(h);
    const oo = this.of(owner);
    if (v === undefined) {
      const k = oo.known.get(id);
      if (k) {
        k.global = undefined;
        oo.prune(id, k);
      }
    } else oo.entry(id).global = v;
    return h;
  }

  /** Follows one commit (after NbFacts has: `moved` are the holders whose reservations changed). */
  apply(changes: readonly ChangeEvent[], moved: ReadonlySet<string>): void {
    const dirty = new Set(moved);
    for (const e of changes) {
      if (e.table === 'NB_Global') {
        const ext = (e.row as unknown as Row).external_ids;
        const before = e.kind === 'insert' ? new Map<string, string>() : ((e.old ?? e.row) as unknown as Row).external_ids;
        const after = e.kind === 'delete' ? new Map<string, string>() : ext;
        if (e.kind === 'update' && before === after) continue;
        const keys = e.diff?.has('external_ids') ? [...(e.diff.get('external_ids') as ReadonlyMap<string, string>).keys()] : [...new Set([...before.keys(), ...after.keys()])];
        for (const k of keys) if (before.get(k) !== after.get(k)) {
          const h = this.setGlobal(k, after.get(k));
          if (h) dirty.add(h);
        }
        continue;
      }
      if (!(OWNED_TABLES as readonly string[]).includes(e.table)) continue;
      const row = e.row as unknown as Row;
      const old = e.old as unknown as Row | undefined;
      if (e.kind === 'update' && old!.external_ids === row.external_ids) continue;
      // (the same object's row with the same document: a slot rewritten in place keeps both, only its part moves)
      if (e.kind === 'update' && ObjectStore.holder(old!) === ObjectStore.holder(row) && old!.external_ids.get(SPEC_KEY) === row.external_ids.get(SPEC_KEY)) continue;
      if (e.kind !== 'insert') {
        const h = this.removeRow(e.kind === 'delete' ? row : old!);
        if (h) dirty.add(h);
      }
      if (e.kind !== 'delete') {
        const h = this.addRow(row);
        if (h) dirty.add(h);
      }
    }
    this.refresh(dirty);
  }

  /** Re-reads the documents of these holders ("<owner>/<kind>/<name>"), parsing those that changed. */
  private refresh(holders: Iterable<string>): void {
    const todo: { owner: string; id: string; json: string; derived: boolean }[] = [];
    for (const h of holders) {
      const [owner, id] = split(h);
      const oo = this.of(owner);
      const stored = this.storedDocument(owner, id);
      const json = stored ?? this.derivedDocument(owner, id);
      const cur = oo.parsed(id);
      if (json === undefined) {
        if (cur) {
          this.unlink(oo, id, cur);
          const k: Known = cur;
          k.json = k.problem = k.refs = undefined;
          k.unread = false;
          oo.prune(id, k);
        }
        continue;
      }
      // (a document made from reservations is not kept: read again)
      if (cur?.json === json) continue;
      todo.push({ owner, id, json, derived: stored === undefined });
    }
    if (todo.length === 0) return;
    for (const { owner, id, json: text, derived } of todo) {
      const json = derived ? undefined : text;
      const oo = this.of(owner);
      const cur = oo.parsed(id);
      if (cur) this.unlink(oo, id, cur);
      // an object this process has just applied is the object it holds; the others are read in full when asked for
      const mine = this.expected.get(text);
      let p: { problem?: string; unread?: true; refs: string[] };
      let fields: RefFields | undefined;
      // (only what it names is kept: the object is read again from its document when asked for, so
      // that a store of 200k objects does not hold 200k objects; recent ones stay in a cache)
      if (mine && idOf(mine) === id) {
        fields = pickRefs(mine);
        p = { refs: refsOf(mine) };
        this.cache.set(text, mine);
      }
      else {
        let doc: unknown;
        try {
          doc = JSON.parse(text);
        } catch (e) {
          doc = undefined;
          p = { problem: `${id} (stored in NB): its stored spec is not JSON: ${(e as Error).message}`, unread: true, refs: [] };
        }
        fields = refFields(doc);
        if (doc !== undefined) p = fields && objectId(fields.kind, fields.name) === id ? { refs: refsOf(fields) } : { problem: `${id} (stored in NB): its stored spec names another object`, unread: true, refs: [] };
        if (p!.problem) fields = undefined;
      }
      const k = oo.entry(id);
      k.json = json;
      k.problem = p!.problem;
      k.unread = p!.unread === true;
      k.refs = p!.refs;
      for (const r of k.refs) oo.addUser(r, id);
      if (fields?.kind === 'Subnet' && !fields.vpc) oo.extSubnets.add(id);
      if (fields?.kind === 'OvnEip' && fields.type === 'lrp') oo.lrpEips.add(id);
    }
  }

  /** The object of a document, by the full reader (once); its problem when it cannot be read. */
  private objectOf(p: Parsed, id: string, owner: string): ManifestObject | undefined {
    if (p.problem) return undefined;
    const json = p.json ?? this.derivedDocument(owner, id);
    if (json === undefined) return undefined;
    const hit = this.cache.get(json);
    if (hit) return hit;
    const { manifest, problems } = parseStored([{ id, json }]);
    const o = manifest.objects[0];
    if (!o) p.problem = problems[0] ?? `${id}: its stored spec cannot be read`;
    else this.cache.set(json, o);
    return o;
  }

  /** objects read from their documents lately, by document */
  private readonly cache = new LRUCache<string, ManifestObject>({ max: 1024 });

  private unlink(oo: OwnerObjects, id: string, p: Parsed): void {
    for (const r of p.refs) oo.deleteUser(r, id);
    oo.extSubnets.delete(id);
    oo.lrpEips.delete(id);
  }

  /** A row's or NB_Global's document of the object (or else derivedDocument). */
  private storedDocument(owner: string, id: string): string | undefined {
    return this.owners.get(owner)?.known.get(id)?.stored;
  }

  /** The document of an object NB holds only reservations of (an EIP), made from them. */
  private derivedDocument(owner: string, id: string): string | undefined {
    const kind = id.slice(0, id.indexOf('/'));
    if (!RESERVATION_KINDS.has(kind)) return undefined;
    const held = this.facts.reservationsOf(`${owner}/${id}`);
    for (const [sw, ips] of held) {
      const name = this.nb.table('Logical_Switch').get(sw)?.name;
      if (name !== undefined) return JSON.stringify(derivedDocument(kind, id.slice(kind.length + 1), name, [...ips]));
    }
    return undefined;
  }

  private expected = new Map<string, ManifestObject>();

  /**
   * The objects about to be written, by their documents: when their commit
   * comes back, they are taken as they are instead of parsed again (a bulk
   * apply of 24k objects would parse them all). Until `settled()`.
   */
  expect(objects: readonly ManifestObject[]): void {
    for (const o of objects) {
      const src = sourceOf(o);
      if (src) this.expected.set(JSON.stringify(src), o);
    }
  }

  settled(): void {
    this.expected.clear();
  }

  /** An object of the owner, as NB holds it (undefined: none, or its spec cannot be read). */
  get(owner: string, id: string): ManifestObject | undefined {
    const p = this.owners.get(owner)?.parsed(id);
    return p ? this.objectOf(p, id, owner) : undefined;
  }

  /** Whether NB holds anything of the object (rows, a document, reservations). */
  has(owner: string, id: string): boolean {
    return this.owners.get(owner)?.held(id) !== undefined || this.facts.reservationsOf(`${owner}/${id}`).size > 0;
  }

  /** Every object of the owner NB holds a readable document for, and the problems of those it cannot read. */
  all(owner: string): { objects: ManifestObject[]; problems: string[] } {
    const oo = this.owners.get(owner);
    const objects: ManifestObject[] = [];
    const problems: string[] = [];
    for (const [id, p] of oo?.known ?? []) {
      if (!isParsed(p)) continue;
      const o = this.objectOf(p, id, owner);
      if (o) objects.push(o);
      else if (p.problem) problems.push(p.problem);
    }
    return { objects, problems };
  }

  /** Why an object's stored spec cannot be read (undefined when it can, or there is none). */
  problem(owner: string, id: string): string | undefined {
    const p = this.owners.get(owner)?.parsed(id);
    if (p) this.objectOf(p, id, owner);
    return p?.problem;
  }

  /** Every object of the owner NB holds anything of (rows, a document, reservations). */
  ids(owner: string): Set<string> {
    const oo = this.owners.get(owner);
    const out = new Set<string>(oo?.known.keys() ?? []);
    for (const h of this.facts.holders(`${owner}/`)) out.add(h.slice(owner.length + 1));
    return out;
  }

  /** Objects with rows or reservations of the owner but no document (applied by an older ovn-natgw). */
  withoutSpec(owner: string): string[] {
    const oo = this.owners.get(owner);
    const out = new Set<string>();
    for (const [id, k] of oo?.known ?? []) if (k.held && !isParsed(k)) out.add(id);
    for (const h of this.facts.holders(`${owner}/`)) {
      const id = h.slice(owner.length + 1);
      if (!oo?.parsed(id)) out.add(id);
    }
    return [...out].sort();
  }

  private users(owner: string, ref: string, kind?: string): Iterable<string> {
    return this.owners.get(owner)?.users(ref, kind) ?? [];
  }

  /** How many scans for a wide ref's users the owner's objects needed (tests: a change's plan needs none). */
  scansOf(owner: string): number {
    return this.owners.get(owner)?.scans ?? 0;
  }

  /** The objects that, transitively, read one of `ids` (a plan of `ids` plans them too), with `ids`. */
  dependents(owner: string, ids: Iterable<string>): Set<string> {
    const oo = this.owners.get(owner);
    return walk(ids, (id) => {
      const refs = [id];
      const o = fieldsOf(id, oo?.known.get(id));
      if (o?.kind === 'Subnet' && !o.vpc) refs.push(EXT_GROUP);
      // the workload ports on a subnet's switch: the FIPs and SNATs that name them
      if (o?.kind === 'Subnet') {
        const ls = this.nb.table('Logical_Switch').lookup('name', o.name)[0];
        for (const pu of ls?.ports ?? []) {
          const p = this.nb.table('Logical_Switch_Port').get(pu);
          if (p) refs.push(`lsp:${p.name}`);
        }
      }
      return refs.flatMap((r) => [...this.users(owner, r)]);
    });
  }

  /**
   * What a plan of `ids` must render besides them (read, not written): what
   * they read, transitively (groups expanded), the lrp EIPs and internal
   * subnets of the Vpcs among them, and the objects they could conflict with
   * (the other users of an EIP; the other SNAT rules of a router).
   */
  closure(owner: string, ids: Iterable<string>, overrides: ReadonlyMap<string, ManifestObject> = new Map()): Set<string> {
    const oo = this.owners.get(owner);
    const out = new Set<string>();
    const todo = [...ids];
    const push = (id: string) => !out.has(id) && todo.push(id);
    while (todo.length) {
      const id = todo.pop()!;
      if (out.has(id)) continue;
      out.add(id);
      const over = overrides.get(id);
      const p = over ? undefined : oo?.parsed(id);
      const o = over ? (over as RefFields) : fieldsOf(id, p);
      for (const r of over ? refsOf(over) : (p?.refs ?? [])) {
        if (r === EXT_GROUP) for (const s of oo?.extSubnets ?? []) push(s);
        else if (r.startsWith('lsp:')) this.portRefs(owner, r.slice(4)).forEach(push);
        else push(r);
      }
      if (!o) {
        // a Vpc without a document of its own (the default VPC, attached by the ConfigMap): its networks
        if (id.startsWith('Vpc/')) {
          for (const s of oo?.extSubnets ?? []) push(s);
          for (const u of this.users(owner, id, 'Subnet')) push(u);
        }
        continue;
      }
      if (o.kind === 'Vpc') {
        for (const u of this.users(owner, id, 'Subnet')) push(u);
        for (const s of oo?.extSubnets ?? []) {
          const lrpEip = objectId('OvnEip', `${o.name}-${s.slice('Subnet/'.length)}`);
          if (oo?.parsed(lrpEip) || overrides.has(lrpEip)) push(lrpEip);
        }
      }
      if (o.kind === 'OvnEip' && (over ? o.type === 'lrp' : oo?.lrpEips.has(id))) {
        for (const s of oo?.extSubnets ?? []) {
          const net = s.slice('Subnet/'.length);
          if (o.name.endsWith(`-${net}`)) push(objectId('Vpc', o.name.slice(0, -net.length - 1)));
        }
      }
      if (o.kind === 'OvnFip' || o.kind === 'OvnDnatRule' || o.kind === 'OvnSnatRule') {
        for (const u of this.users(owner, objectId('OvnEip', o.ovnEip ?? ''))) push(u);
        if (o.kind === 'OvnSnatRule') {
          // the other SNAT rules of its router: named by the router, or by one of its subnets
          const subId = o.vpcSubnet ? objectId('Subnet', o.vpcSubnet) : undefined;
          const sub = subId ? (overrides.get(subId) ?? fieldsOf(subId, oo?.known.get(subId))) : undefined;
          const vpc = o.vpc ?? (sub as RefFields | undefined)?.vpc;
          if (vpc) {
            for (const u of this.users(owner, objectId('Vpc', vpc), 'OvnSnatRule')) push(u);
            for (const u of this.users(owner, objectId('Vpc', vpc), 'Subnet')) for (const v of this.users(owner, u, 'OvnSnatRule')) push(v);
          }
          if (o.vpcSubnet) for (const u of this.users(owner, objectId('Subnet', o.vpcSubnet), 'OvnSnatRule')) push(u);
        }
      }
    }
    return out;
  }

  /** The objects a workload port leads to: the Subnet named as its switch, or the Vpc whose router serves the switch. */
  private portRefs(owner: string, port: string): string[] {
    const lsp = this.nb.table('Logical_Switch_Port').lookup('name', port)[0];
    const ls = lsp ? this.nb.table('Logical_Switch').lookup('ports', lsp._uuid)[0] : undefined;
    if (!ls) return [];
    const sub = objectId('Subnet', ls.name);
    if (this.get(owner, sub)) return [sub];
    for (const pu of ls.ports) {
      const p = this.nb.table('Logical_Switch_Port').get(pu);
      const rp = p?.type === 'router' ? p.options.get('router-port') : undefined;
      const lrp = rp ? this.nb.table('Logical_Router_Port').lookup('name', rp)[0] : undefined;
      const lr = lrp ? this.nb.table('Logical_Router').lookup('ports', lrp._uuid)[0] : undefined;
      if (lr && this.get(owner, objectId('Vpc', lr.name))) return [objectId('Vpc', lr.name)];
    }
    return [];
  }
}

/** "<owner>/<kind>/<name>" -> [owner, "<kind>/<name>"] (an owner has no "/"). */
function split(holder: string): [string, string] {
  const i = holder.indexOf('/');
  return [shared(holder.slice(0, i)), shared(holder.slice(i + 1))];
}

