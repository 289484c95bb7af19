/**
 * ovn-natgwd's configuration: a YAML file (default
 * /etc/ovn-natgw/ovn-natgwd.yaml), each key also a flag, and the OVN
 * environment (OVN_NB_DB, OVN_SB_DB) as the OVN tools read it. Precedence:
 * flag, then file, then environment, then default. An unknown or ill-typed
 * key is refused with the key and the reason, before anything connects.
 */
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { DEFAULT_OWNER } from '../nat/rows.js';
import { HEALTH_CHECKS, type HealthConfig } from '../ha/node-health.js';

export interface DaemonConfig {
  /** NB remote(s), as OVN_NB_DB */
  nb: string;
  /** SB remote(s), as OVN_SB_DB (without it gateway chassis are not placed) */
  sb?: string;
  /** TLS files for ssl: remotes, as ovn-nbctl's --private-key, --certificate, --ca-cert */
  tls?: { privateKey: string; certificate: string; caCert: string };
  /** the owner of the rows this daemon writes (external_ids ovn-natgw:owner) */
  owner: string;
  /** the manifest directory: the owner's whole desired state */
  manifests: string;
  /** the admin socket (a unix socket, mode 0660) */
  socket: string;
  /** the group of the admin socket (name or number; default the daemon's own) */
  socketGroup?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** gateway chassis per external router port (1..5) */
  gatewayChassis?: number;
  /** Kube-OVN's default VPC router (default ovn-cluster) */
  clusterRouter?: string;
  /** an HTTP listener for GET /metrics: PORT (on 127.0.0.1) or HOST:PORT; none by default */
  metrics?: string;
  /**
   * The NB lock that makes one daemon of several (one per gateway node) the
   * one that writes; the others stand by with warm replicas and take over
   * when it goes (default ovn_natgw_leader: OVSDB lock names are <id>s, no "-"; "" writes without a lock).
   */
  leaderLock: string;
  /**
   * This node's SB chassis name: the daemon then holds that chassis's node
   * lock while the node is healthy (src/ha/liveness.ts), so that the leader
   * learns at once when this node dies; none: the node is not watched this way.
   */
  chassis?: string;
  /**
   * This node's own health checks (src/ha/node-health.ts), with `chassis`:
   * the node lock is held only while they pass. None: the lock is held while
   * the daemon runs.
   */
  health?: HealthConfig;
  /** ms between the leader's pings of each node lock (silent nodes: src/ha/liveness.ts); 0: none. Default 250 */
  pingMs?: number;
  /** ms a chassis back after a failure waits before it counts as live (hold-down against flapping). Default 10000 */
  holdDownMs?: number;
  /** what a chassis back after a failure gets: preempt (the ports it led move back to it, as OVN does) or no-preempt (free slots at the lowest priority, the default) */
  failback?: 'preempt' | 'no-preempt';
  /**
   * Every gateway chassis runs ovn-natgwd (true): a chassis whose node lock
   * nobody takes within 3 s is dead (so a leader that died with its node is
   * failed over by the next one). Default false: such a chassis is unknown.
   */
  requireNodeDaemons?: boolean;
  /** With requireNodeDaemons: ms a node lock may stay untaken before its chassis is dead (a daemon starting on a loaded node may need more). Default 3000 */
  nodeAbsentMs?: number;
  /**
   * ms after the leader's own NB session came back that a node lock its node
   * held before, and nobody holds now, is waited for before the chassis is
   * dead (the node died while the leader was away; cause vanished). Long
   * enough for node daemons to come back after an NB restart. Default 10000; 0: never
   */
  nodeReconnectGraceMs?: number;
  /**
   * A BFD session whose status says up while its port is bound to no chassis,
   * or to a dead one (ovn-org/ovn#320: src/ha/bfd-check.ts): withdraw (its SB
   * status set down, so that ovn-northd drops its routes; the default) or
   * report (an event and a log line only).
   */
  staleBfd?: 'withdraw' | 'report';
}

export const DEFAULT_CONFIG_FILE = '/etc/ovn-natgw/ovn-natgwd.yaml';
export const DEFAULT_MANIFESTS = '/etc/ovn-natgw/manifests.d';
export const DEFAULT_SOCKET = '/run/ovn-natgw/ovn-natgwd.ctl';
export const DEFAULT_LEADER_LOCK = 'ovn_natgw_leader';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Check = (v: unknown, key: string) => unknown;
const str: Check = (v, key) => {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${key}: must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
};
const int =
  (min: number, max: number): Check =>
  (v, key) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${key}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  };
/** Every key of a map checked by its own check (`name(k)` names it in errors); an unknown key refused, listing the known. */
function checkKeys(m: Record<string, unknown>, keys: Record<string, Check>, name: (k: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    const check = keys[k];
    if (!check) throw new ConfigError(`${name(k)}: unknown key (known: ${Object.keys(keys).join(', ')})`);
    out[k] = check(v, name(k));
  }
  return out;
}
const strList: Check = (v, key) => {
  if (typeof v === 'string') v = v.split(',').filter(Boolean);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) throw new ConfigError(`${key}: must be a list of names, got ${JSON.stringify(v)}`);
  return v;
};
const HEALTH_KEYS: Record<string, Check> = {
  checks: (v, key) => {
    const l = strList(v, key) as string[];
    for (const c of l) if (!(HEALTH_CHECKS as readonly string[]).includes(c)) throw new ConfigError(`${key}: ${JSON.stringify(c)}: unknown check (known: ${HEALTH_CHECKS.join(', ')})`);
    return l;
  },
  ovnRundir: str,
  ovsRundir: str,
  ovsDb: (v, key) => {
    const s = str(v, key) as string;
    if (!s.startsWith('unix:')) throw new ConfigError(`${key}: must be unix:PATH (the node's local Open_vSwitch), got ${JSON.stringify(s)}`);
    return s;
  },
  providerNetworks: strList,
  uplinks: strList,
  intervalMs: int(50, 60_000),
  controllerGraceMs: int(0, 3_600_000),
};

const KEYS: Record<string, Check> = {
  nb: str,
  sb: str,
  owner: (v, key) => {
    const s = str(v, key) as string;
    if (s.includes('/')) throw new ConfigError(`${key}: must not contain "/", got ${JSON.stringify(s)}`);
    return s;
  },
  manifests: str,
  socket: str,
  socketGroup: (v, key) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v) : str(v, key)),
  logLevel: (v, key) => {
    if (typeof v !== 'string' || !(LOG_LEVELS as readonly string[]).includes(v)) throw new ConfigError(`${key}: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  },
  gatewayChassis: int(1, 5),
  clusterRouter: str,
  chassis: str,
  leaderLock: (v, key) => {
    // (RFC 7047: a lock name is an <id>; ovsdb-server refuses "ovn-natgw-leader" with a syntax error)
    if (typeof v !== 'string' || !/^(?:[A-Za-z_][A-Za-z0-9_]*)?$/.test(v)) throw new ConfigError(`${key}: must be a lock name (an OVSDB <id>: letters, digits and "_", not starting with a digit), or "" for none, got ${JSON.stringify(v)}`);
    return v;
  },
  health: (v, key) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${key}: must be a map (${Object.keys(HEALTH_KEYS).join(', ')})`);
    const out = checkKeys(v as Record<string, unknown>, HEALTH_KEYS, (k) => `${key}.${k}`);
    const checks = (out.checks as string[] | undefined) ?? [];
    if (checks.includes('uplink') && !(out.uplinks as string[] | undefined)?.length) throw new ConfigError(`${key}.uplinks: the uplink check needs the uplink interfaces`);
    return out;
  },
  pingMs: int(0, 60_000),
  requireNodeDaemons: (v, key) => {
    if (typeof v !== 'boolean') throw new ConfigError(`${key}: must be true or false, got ${JSON.stringify(v)}`);
    return v;
  },
  holdDownMs: int(0, 3_600_000),
  nodeAbsentMs: int(100, 3_600_000),
  nodeReconnectGraceMs: int(0, 3_600_000),
  failback: (v, key) => {
    if (v !== 'preempt' && v !== 'no-preempt') throw new ConfigError(`${key}: must be preempt or no-preempt, got ${JSON.stringify(v)}`);
    return v;
  },
  staleBfd: (v, key) => {
    if (v !== 'withdraw' && v !== 'report') throw new ConfigError(`${key}: must be withdraw or report, got ${JSON.stringify(v)}`);
    return v;
  },
  metrics: (v, key) => {
    const s = typeof v === 'number' ? String(v) : v;
    if (typeof s !== 'string' || !/^(?:[^:]*:|\[[0-9a-fA-F:]+\]:)?\d{1,5}$/.test(s) || Number(s.split(':').pop()) > 65535) throw new ConfigError(`${key}: must be PORT or HOST:PORT, got ${JSON.stringify(v)}`);
    return s;
  },
  tls: (v, key) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${key}: must be a map with privateKey, certificate and caCert`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['privateKey', 'certificate', 'caCert'].includes(k)) throw new ConfigError(`${key}.${k}: unknown key (known: privateKey, certificate, caCert)`);
    for (const k of ['privateKey', 'certificate', 'caCert']) str(o[k], `${key}.${k}`);
    return { privateKey: o.privateKey, certificate: o.certificate, caCert: o.caCert };
  },
};

/** The keys of a config file, checked (unknown or ill-typed: ConfigError naming the key). */
export function parseConfigText(text: string, file: string): Partial<DaemonConfig> {
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    throw new ConfigError(`${file}: not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: must be a map of keys (${Object.keys(KEYS).join(', ')})`);
  return checkKeys(doc as Record<string, unknown>, KEYS, (k) => `${file}: ${k}`) as Partial<DaemonConfig>;
}

/** The whole configuration: flags over the file over the environment over the defaults. */
export async function loadConfig(flags: Partial<DaemonConfig> & { config?: string }, env: NodeJS.ProcessEnv = process.env): Promise<DaemonConfig> {
  const file = flags.config ?? DEFAULT_CONFIG_FILE;
  let fromFile: Partial<DaemonConfig> = {};
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    // the default file may be absent (everything given as flags); a file asked for must be there
    if (flags.config !== undefined || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${file}: cannot read: ${(e as Error).message}`);
  }
  if (text !== undefined) fromFile = parseConfigText(text, file);
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) if (k !== 'config' && v !== undefined) given[k] = KEYS[k] ? KEYS[k](v, `--${flagName(k)}`) : v;
  const c = { ...fromFile, ...given } as Partial<DaemonConfig>;
  const nb = c.nb ?? env.OVN_NB_DB;
  if (!nb) throw new ConfigError('nb: no NB database given (nb in the config file, --db, or OVN_NB_DB)');
  const sb = c.sb ?? env.OVN_SB_DB;
  return {
    ...c,
    nb,
    ...(sb ? { sb } : {}),
    owner: c.owner ?? DEFAULT_OWNER,
    manifests: c.manifests ?? DEFAULT_MANIFESTS,
    socket: c.socket ?? DEFAULT_SOCKET,
    logLevel: c.logLevel ?? 'info',
    leaderLock: c.leaderLock ?? DEFAULT_LEADER_LOCK,
  };
}

/** The flag of a config key (nb: --db, as ovn-northd; logLevel: --log-level). */
export function flagName(key: string): string {
  if (key === 'nb') return 'db';
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
