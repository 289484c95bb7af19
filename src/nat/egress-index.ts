/**
 * Which owned Subnets send centralized egress to a gateway node (their
 * spec.gatewayNode names it), kept from NB commits in O(change): a failover
 * finds the reroute policies to rewrite for a dead node by lookup, not by a
 * scan of NB's router policies.
 */
import type { ManifestObject } from './objects.js';
import { KIND_KEY, NAME_KEY, OWNER_KEY, objectId } from './rows.js';

interface PolicyRow {
  _uuid: string;
  external_ids: ReadonlyMap<string, string>;
}

export class EgressIndex {
  /** node name -> owner\0subnet id */
  private readonly byNode = new Map<string, Set<string>>();
  /** owner\0subnet id -> the nodes it was indexed under */
  private readonly nodesOf = new Map<string, readonly string[]>();

  constructor(private readonly docOf: (owner: string, id: string) => ManifestObject | undefined) {}

  /** A row of an owned Subnet (a reroute policy, its anchor) inserted, updated or deleted: the Subnet's nodes read again from its stored document. */
  note(row: PolicyRow): void {
    const owner = row.external_ids.get(OWNER_KEY);
    if (!owner || row.external_ids.get(KIND_KEY) !== 'Subnet') return;
    const id = objectId('Subnet', row.external_ids.get(NAME_KEY) ?? '');
    const key = `${owner}\0${id}`;
    const s = this.docOf(owner, id);
    const nodes = s?.kind === 'Subnet' ? (s.gatewayNode ?? []).map((g) => g.node) : [];
    for (const n of this.nodesOf.get(key) ?? []) this.byNode.get(n)?.delete(key);
    if (nodes.length) this.nodesOf.set(key, nodes);
    else this.nodesOf.delete(key);
    for (const n of nodes) {
      let set = this.byNode.get(n);
      if (!set) this.byNode.set(n, (set = new Set()));
      set.add(key);
    }
  }

  /** The owner's Subnets whose gatewayNode names one of these nodes (chassis names or hostnames). */
  subnetsOf(owner: string, nodes: Iterable<string>): Set<string> {
    const out = new Set<string>();
    const prefix = `${owner}\0`;
    for (const n of nodes) for (const k of this.byNode.get(n) ?? []) if (k.startsWith(prefix)) out.add(k.slice(prefix.length));
    return out;
  }
}
