/**
 * Gateway chassis: which SB chassis may host gateway router ports, and which
 * K of them (with which priorities) each port gets. Pure functions.
 *
 * Placement rules:
 *  - candidates: the configured gateway nodes (matched by SB Chassis name or
 *    hostname, in the given order), or, without a list, every chassis whose
 *    `ovn-cms-options` (other_config or external_ids) has enable-chassis-as-gw;
 *  - a port keeps the chassis it already has, in their current priority order,
 *    as long as they are still candidates (a change of the list never moves an
 *    active gateway that can stay);
 *  - free slots are filled at the bottom: for a new port the top slot goes to
 *    the candidate with the fewest active ports so far (spreads the active
 *    gateways), the rest in rendezvous-hash order of (port, chassis), which is
 *    stable when unrelated chassis come and go;
 *  - priorities are K..1, highest first (ovn-nbctl lrp-set-gateway-chassis),
 *    for a new port; a chassis that keeps its slot keeps its priority while
 *    the order allows, so a change of the list rewrites only the rows of the
 *    chassis that come or go (gatewayPriorities).
 */
import { chassisZones, schedule, type Candidate } from './scheduler.js';

export const MAX_GATEWAY_CHASSIS = 5;
export const DEFAULT_GATEWAY_CHASSIS = 3;

export interface SbChassis {
  name: string;
  hostname: string;
  other_config: ReadonlyMap<string, string>;
  external_ids: ReadonlyMap<string, string>;
}

export function isGatewayCapable(c: SbChassis): boolean {
  const opts = `${c.other_config.get('ovn-cms-options') ?? ''},${c.external_ids.get('ovn-cms-options') ?? ''}`;
  return opts.split(',').some((o) => o.trim() === 'enable-chassis-as-gw');
}

/**
 * The candidate chassis names, in preference order. `nodes` (names or
 * hostnames) that match no chassis are returned in `missing`.
 */
export function gatewayCandidates(chassis: readonly SbChassis[], nodes: readonly string[]): { names: string[]; missing: string[] } {
  if (nodes.length === 0) {
    return { names: chassis.filter(isGatewayCapable).map((c) => c.name).sort(), missing: [] };
  }
  const names: string[] = [];
  const missing: string[] = [];
  for (const n of nodes) {
    const c = chassis.find((x) => x.name === n) ?? chassis.find((x) => x.hostname === n);
    if (!c) missing.push(n);
    else if (!names.includes(c.name)) names.push(c.name);
  }
  return { names, missing };
}

/** FNV-1a (32 bit) of port and chassis, finished with a murmur3 mix: cheap and well spread. */
function weight(port: string, chassis: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < port.length; i++) h = Math.imul(h ^ port.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0, 0x01000193);
  for (let i = 0; i < chassis.length; i++) h = Math.imul(h ^ chassis.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Candidates ordered by rendezvous weight for one port (highest first; ties by name). */
export function rendezvousOrder(port: string, candidates: readonly string[]): string[] {
  return candidates
    .map((c) => ({ c, w: weight(port, c) }))
    .sort((a, b) => b.w - a.w || (a.c < b.c ? -1 : 1))
    .map((x) => x.c);
}

/**
 * Chooses the gateway chassis of several ports at once (so that new ports
 * spread their active chassis). `current` gives each port's chassis in
 * priority order (highest first) as found in NB. Returns chassis in priority
 * order (highest first) per port; fewer than k when there are fewer candidates.
 */
export function placeGateways(
  ports: readonly string[],
  candidates: readonly string[],
  k: number,
  current: ReadonlyMap<string, readonly string[]>,
  /** the active ports per chassis among ports not given here (a plan of some routers only): new ports avoid them too */
  load: ReadonlyMap<string, number> = new Map(),
  /** chassis being drained: they keep a port only as its lowest standby */
  draining: ReadonlySet<string> = new Set(),
  /** each chassis's availability zones (chassisZones): a free slot goes to a zone the port lacks first */
  zones: ReadonlyMap<string, readonly string[]> = new Map(),
  /** chassis whose node missed a ping (not yet dead): they keep their slots and get no new ones */
  suspect: ReadonlySet<string> = new Set(),
): Map<string, string[]> {
  // (the one scheduler: what a failover computes for the same live set)
  return schedule(
    ports.map((port) => ({ port, current: current.get(port) ?? [] })),
    asCandidates(candidates, draining, zones, suspect),
    { k, load },
  );
}

/** Candidate names as the scheduler takes them: draining, suspect or alive, with their zones. */
export function asCandidates(names: readonly string[], draining: ReadonlySet<string>, zones: ReadonlyMap<string, readonly string[]> = new Map(), suspect: ReadonlySet<string> = new Set()): Candidate[] {
  return names.map((name) => {
    const z = zones.get(name);
    const state = draining.has(name) ? ('draining' as const) : suspect.has(name) ? ('suspect' as const) : ('alive' as const);
    return { name, state, ...(z && z.length ? { zones: z } : {}) };
  });
}

/** The availability zones of each SB chassis that has some. */
export function zonesOf(chassis: readonly SbChassis[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of chassis) {
    const z = chassisZones(c);
    if (z.length) out.set(c.name, z);
  }
  return out;
}

/**
 * The scheduler's candidates, as an apply places gateways and a failover
 * replaces them: the gateway nodes (gatewayCandidates) that are up, those
 * being drained as such, with their availability zones.
 */
export function placementCandidates(chassis: readonly SbChassis[], nodes: readonly string[], up: ReadonlySet<string>, draining: ReadonlySet<string> = new Set(), suspect: ReadonlySet<string> = new Set()): Candidate[] {
  return asCandidates(gatewayCandidates(chassis, nodes).names.filter((n) => up.has(n)), draining, zonesOf(chassis), suspect);
}

/**
 * The priorities of one port's chassis, given in priority order (highest
 * first): a chassis with a row keeps its current priority while that still
 * orders the list, new ones get the next lower ones (at least 0, the schema's
 * minimum); a new port gets n..1. Dropping a chassis, or replacing it at the
 * bottom, so leaves the other rows as they are.
 */
export function gatewayPriorities(chassis: readonly string[], current: ReadonlyMap<string, number> = new Map()): number[] {
  const out: number[] = [];
  let prev = Infinity;
  chassis.forEach((c, i) => {
    const below = chassis.length - 1 - i; // priorities still needed below this one
    const have = current.get(c);
    const p = have !== undefined && have < prev && have >= below ? have : Math.min(prev - 1, below + 1);
    out.push(p);
    prev = p;
  });
  return out;
}
