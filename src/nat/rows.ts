/**
 * The vocabulary shared by the planner's two halves (desired.ts builds
 * RowSpecs from a manifest; plan.ts diffs them against NB): ownership tags,
 * row specs, the NB view, and the problem list.
 */
import type { NbTables } from '../models/ovn-nb.js';
import type { Origin } from './objects.js';

/** external_ids keys on every row ovn-natgw owns. */
export const OWNER_KEY = 'ovn-natgw:owner';
export const KIND_KEY = 'ovn-natgw:kind';
export const NAME_KEY = 'ovn-natgw:name';
export const PART_KEY = 'ovn-natgw:part';
/** Address reservations: Logical_Switch external_ids "ovn-natgw:ip:<ip>" = "<owner>/<kind>/<name>". */
export const IP_LEDGER_PREFIX = 'ovn-natgw:ip:';
export const DEFAULT_OWNER = 'ovn-natgw';
/** external_ids key of an object's anchor row: the object's last-applied document, as JSON (see store.ts). */
export const SPEC_KEY = 'ovn-natgw:spec';
/** NB_Global external_ids key prefix of the document of an object without rows: "ovn-natgw:spec:<owner>/<kind>/<name>". */
export const GLOBAL_SPEC_PREFIX = 'ovn-natgw:spec:';

/** An object's id, "Kind/name". */
export const objectId = (kind: string, name: string): string => `${kind}/${name}`;
export const idOf = (o: { readonly kind: string; readonly name: string }): string => objectId(o.kind, o.name);

export type NbTableName = keyof NbTables & string;

/** The key of an owned row: "<kind>/<name>/<part>" (its ovn-natgw external_ids). */
export function rowKey(kind: string, name: string, part: string): string {
  return `${kind}/${name}/${part}`;
}

/** The key of a row `owner` owns, or undefined when the row is not its. */
export function ownedKey(r: { external_ids: ReadonlyMap<string, string> }, owner: string): string | undefined {
  if (r.external_ids.get(OWNER_KEY) !== owner) return undefined;
  return rowKey(r.external_ids.get(KIND_KEY) ?? '', r.external_ids.get(NAME_KEY) ?? '', r.external_ids.get(PART_KEY) ?? '');
}

/** A reference to another row in a column value: a RowSpec key, or an existing row's UUID. */
export interface Ref {
  readonly ref: string;
}
export function ref(key: string): Ref {
  return { ref: key };
}
export function isRef(v: unknown): v is Ref {
  return typeof v === 'object' && v !== null && 'ref' in v && typeof (v as Ref).ref === 'string';
}

/**
 * One row ovn-natgw wants in NB. `key` is "<kind>/<name>/<part>", stored in
 * the row's external_ids, so a row is found again after a restart and a
 * rebinding (new logical_ip, say) updates the same row in place.
 */
export interface RowSpec {
  table: NbTableName;
  key: string;
  kind: string;
  name: string;
  part: string;
  /** what a person reads in a plan: 'NAT dnat_and_snat 10.5.204.101 -> 192.168.0.2 (router vpc1)' */
  label: string;
  /** a non-root row: the parent (a RowSpec key or "uuid:<uuid>") and the column that holds it */
  parent?: { table: NbTableName; ref: string; column: string };
  /**
   * Columns as wanted (native values; Ref where a UUID goes). Map columns list
   * only the keys ovn-natgw sets; other keys of an existing row are left alone.
   */
  columns: Record<string, unknown>;
  /**
   * "ensure": a named row (switch, router, port) that may already exist
   * without being ours; then it is used as it is and never changed or removed.
   */
  ensureName?: string;
}

/** A reservation of an address in a switch's external_ids ledger. */
export interface Reservation {
  /** the switch: a RowSpec key or "uuid:<uuid>" */
  switchRef: string;
  switchName: string;
  ip: string;
  kind: string;
  name: string;
}

export interface Problem {
  kind: string;
  name: string;
  field: string;
  reason: string;
  origin?: Origin;
}

export function formatProblem(p: Problem): string {
  const where = p.origin ? ` (${p.origin.document ? `${p.origin.file}, document ${p.origin.document}` : p.origin.file})` : '';
  return `${p.kind} ${p.name}${where}: ${p.field}: ${p.reason}`;
}

/** Invalid input or a conflict with NB: nothing was written. */
export class PlanError extends Error {
  override name = 'PlanError';
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}
