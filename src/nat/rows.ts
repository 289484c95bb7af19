/**
 * The vocabulary shared by the planner's two halves (desired.ts builds
 * RowSpecs from a manifest; plan.ts diffs them against NB): ownership tags,
 * row specs, the NB view, and the problem list.
 */
import { shared } from '../intern.js';
import type { NbTables } from '../models/ovn-nb.js';
import type { Origin } from './objects.js';
import { rowRef, type GatewayRow, type RowRef } from '../gateway/rows.js';

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
/** NB_Global external_ids key (+ owner) of the chassis being drained, comma-separated: kept in NB, so that a new leader keeps a drain */
export const DRAINING_PREFIX = 'ovn-natgw:draining:';

/** An object's id, "Kind/name" (one copy for every holder: src/intern.ts). */
export const objectId = (kind: string, name: string): string => shared(`${kind}/${name}`);
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

/** A reference to another row in a column value: a RowSpec key, or an existing row's UUID (the gateway layer's RowRef). */
export type Ref = RowRef;
export const ref = rowRef;
export function isRef(v: unknown): v is Ref {
  return typeof v === 'object' && v !== null && 'ref' in v && typeof (v as Ref).ref === 'string';
}

/**
 * One row ovn-natgw wants in NB: a row as the gateway layer renders it
 * (GatewayRow: part, label, parent, columns, ensureName), of any owned table,
 * with its object. `key` is "<kind>/<name>/<part>", stored in the row's
 * external_ids, so a row is found again after a restart and a rebinding (new
 * logical_ip, say) updates the same row in place. Map columns list only the
 * keys ovn-natgw sets (null: the key is removed); other keys are left alone.
 */
export interface RowSpec extends Omit<GatewayRow, 'table' | 'parent'> {
  table: NbTableName;
  key: string;
  kind: string;
  name: string;
  parent?: { table: NbTableName; ref: string; column: string };
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
  /**
   * The object waits for something other writers make in NB (a workload port
   * the CNI adds, its address): with ApplyOptions.wait (the daemon) it is
   * left as NB has it and planned again when that appears, instead of
   * refusing the whole manifest.
   */
  waiting?: true;
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
