/**
 * The objects an owner has applied, as NB holds them: each object's
 * last-applied document (what kubectl keeps in its last-applied annotation)
 * lives with the object's rows, so that every ovn-natgw instance, and an
 * `apply -f` of one file that names objects applied earlier from another,
 * sees the same objects.
 *
 * Where an object's document is kept:
 *  - on one of its own rows (its "anchor", the owned row with the lowest
 *    part), in external_ids "ovn-natgw:spec";
 *  - an EIP of type nat and a Vip have no row, only address reservations in
 *    their switch's ledger; their document is made from those (network and
 *    addresses are all they hold), so nothing is added to a ledger that may
 *    hold tens of thousands of entries;
 *  - any other object without a row of its own (ProviderNetwork, Vlan, the
 *    ConfigMap, an lrp EIP, a Vpc whose rows are all someone else's) in
 *    NB_Global external_ids "ovn-natgw:spec:<owner>/<kind>/<name>" (a few
 *    keys; ovn-northd does not copy NB_Global's external_ids to SB).
 *
 * Pure: reads an NB view.
 */
import type { Manifest, ManifestObject } from './objects.js';
import { parseStored } from './manifest.js';
import { OWNED_TABLES } from './topology.js';
import { GLOBAL_SPEC_PREFIX, IP_LEDGER_PREFIX, KIND_KEY, NAME_KEY, OWNER_KEY, SPEC_KEY, idOf, objectId } from './rows.js';
import type { NbView } from './nb-view.js';

/** Kinds whose document a reservation alone can stand for (see derivedDocument). */
export const RESERVATION_KINDS: ReadonlySet<string> = new Set(['OvnEip', 'Vip']);

const KUBE_OVN = 'kubeovn.io/v1';

export interface StoredObjects {
  /** the objects NB holds a document for (or one derived from reservations), parsed and checked */
  manifest: Manifest;
  /** documents that could not be read: those objects are left out */
  problems: string[];
  /** objects with rows or reservations of the owner in NB but no document (applied by an older ovn-natgw) */
  withoutSpec: string[];
  /** every object of the owner NB holds anything of */
  present: { has(id: string): boolean };
}

type AnyRow = { _uuid: string; external_ids: ReadonlyMap<string, string> };

/** The owner's objects as NB holds them. */
export function readStored(nb: NbView, owner: string): StoredObjects {
  const docs = new Map<string, string>();
  const present = new Set<string>();
  for (const t of OWNED_TABLES) {
    for (const r of nb.table(t).values() as Iterable<AnyRow>) {
      const ids = r.external_ids;
      if (ids.get(OWNER_KEY) !== owner) continue;
      const id = objectId(ids.get(KIND_KEY) ?? '', ids.get(NAME_KEY) ?? '');
      present.add(id);
      const spec = ids.get(SPEC_KEY);
      if (spec !== undefined && !docs.has(id)) docs.set(id, spec);
    }
  }
  const prefix = `${GLOBAL_SPEC_PREFIX}${owner}/`;
  for (const g of nb.table('NB_Global').values()) {
    for (const [k, v] of g.external_ids) {
      if (!k.startsWith(prefix)) continue;
      const id = k.slice(prefix.length);
      present.add(id);
      if (!docs.has(id)) docs.set(id, v);
    }
  }
  // reservations: the objects they stand for, and the documents of EIPs and Vips without one
  const reserved = new Map<string, { sw: string; ips: string[] }>();
  const mine = `${owner}/`;
  for (const ls of nb.table('Logical_Switch').values()) {
    for (const [k, v] of ls.external_ids) {
      if (!k.startsWith(IP_LEDGER_PREFIX) || !v.startsWith(mine)) continue;
      const id = v.slice(mine.length);
      present.add(id);
      let r = reserved.get(id);
      if (!r) reserved.set(id, (r = { sw: ls.name, ips: [] }));
      if (r.sw === ls.name) r.ips.push(k.slice(IP_LEDGER_PREFIX.length));
    }
  }
  for (const [id, r] of reserved) {
    const kind = id.slice(0, id.indexOf('/'));
    if (!docs.has(id) && RESERVATION_KINDS.has(kind)) docs.set(id, JSON.stringify(derivedDocument(kind, id.slice(kind.length + 1), r.sw, r.ips)));
  }
  const { manifest, problems } = parseStored([...docs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, json]) => ({ id, json })));
  const withoutSpec = [...present].filter((id) => !docs.has(id)).sort();
  return { manifest, problems, withoutSpec, present };
}

/**
 * The document of an EIP (type nat) or a Vip from its reservations: its
 * network or subnet and its addresses, which is all such an object holds
 * (an address it was given and one it was handed out read the same: it
 * keeps it either way).
 */
export function derivedDocument(kind: string, name: string, sw: string, ips: readonly string[]): Record<string, unknown> {
  const v4 = ips.find((ip) => !ip.includes(':'));
  const v6 = ips.find((ip) => ip.includes(':'));
  const spec: Record<string, unknown> =
    kind === 'Vip' ? { subnet: sw, ...(v4 ? { v4ip: v4 } : {}), ...(v6 ? { v6ip: v6 } : {}) } : { externalSubnet: sw, type: 'nat', ...(v4 ? { v4Ip: v4 } : {}), ...(v6 ? { v6Ip: v6 } : {}) };
  return { apiVersion: KUBE_OVN, kind, metadata: { name }, spec };
}

/** `base` with `over`'s objects added or replacing those of the same kind and name, in one list. */
export function overlay(base: readonly ManifestObject[], over: readonly ManifestObject[]): ManifestObject[] {
  const ids = new Set(over.map(idOf));
  return [...base.filter((o) => !ids.has(idOf(o))), ...over];
}
