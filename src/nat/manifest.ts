/**
 * The declarative manifest: multi-document YAML (or JSON) in Kubernetes /
 * Kube-OVN shapes, parsed and validated into the objects of ./objects.ts.
 *
 * Every problem is one line, "Kind name (file, document N): field.path: reason",
 * and all problems of all files are reported together in one ManifestError.
 * Fields that only mean something to Kubernetes or Kube-OVN's own controllers
 * are dropped with a Notice; unknown fields are problems.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import jsyaml from 'js-yaml';
import {
  cidrContains,
  cidrFirstHost,
  parseCidr,
  parseIp,
  parseIpOrCidr,
  parseIpRange,
  type Cidr,
  type Family,
  type Ip,
  type IpRange,
} from './ip.js';
import type {
  ExternalGwConfig,
  Kind,
  Manifest,
  ManifestObject,
  Notice,
  OvnDnatRule,
  OvnEip,
  OvnFip,
  OvnSnatRule,
  Origin,
  PolicyRoute,
  ProviderNetwork,
  StaticRoute,
  Subnet,
  Vip,
  Vlan,
  Vpc,
} from './objects.js';

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** "file, document N" (or just the file for a stored object, document 0) */
export function locationOf(origin: Origin): string {
  return origin.document ? `${origin.file}, document ${origin.document}` : origin.file;
}

/** "Kind name (file, document N)", or without the parts that are unknown. */
function headerOf(kind: string | undefined, name: string | undefined, origin: Origin): string {
  const what = [kind, name].filter(Boolean).join(' ');
  return what ? `${what} (${locationOf(origin)})` : locationOf(origin);
}

/** One line for a notice: "Subnet vpc1-subnet1 (02-subnet.yml, document 1): spec.enableEcmp: ignored: Kubernetes only". */
export function formatNotice(n: Notice): string {
  const head = n.origin ? headerOf(n.kind, n.name, n.origin) : `${n.kind} ${n.name}`;
  return `${head}: ${n.field ? `${n.field}: ` : ''}${n.message}`;
}

// ------------------------------------------------------------------ values

type Json = Record<string, unknown>;

function isMap(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value for a reason: strings quoted, collections by their shape. */
function show(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (isMap(v)) return 'a mapping';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

const FAMILY_NAME: Record<Family, string> = { 4: 'IPv4', 6: 'IPv6' };

/** An address of `family` (any family when undefined), or the reason it is not. */
function checkIp(s: string, family?: Family): Ip | string {
  const ip = parseIp(s);
  const want = family ? `an ${FAMILY_NAME[family]}` : 'an IP';
  if (ip === undefined) return `is not ${want} address: ${show(s)}`;
  if (family && ip.family !== family) return `is an ${FAMILY_NAME[ip.family]} address, expected ${FAMILY_NAME[family]}: ${show(s)}`;
  return ip;
}

/** A CIDR of `family` (any when undefined) with no host bits set, or the reason it is not. */
function checkCidr(s: string, family?: Family): Cidr | string {
  const cidr = parseCidr(s);
  if (cidr === undefined) {
    const loose = parseCidr(s, { strict: false });
    if (loose !== undefined) return `host bits set, did you mean ${loose.text}`;
    const slash = s.indexOf('/');
    if (slash < 0) return `is not a CIDR (address/prefix): ${show(s)}`;
    const ip = checkIp(s.slice(0, slash), family);
    if (typeof ip === 'string') return `is not a CIDR: the address ${ip}`;
    return `is not a CIDR: the prefix length must be an integer between 0 and ${ip.family === 4 ? 32 : 128}: ${show(s)}`;
  }
  if (family && cidr.family !== family) return `is an ${FAMILY_NAME[cidr.family]} CIDR, expected ${FAMILY_NAME[family]}: ${show(s)}`;
  return cidr;
}

/** An IP (as "a/32" or "a/128") or a CIDR, canonical. */
function checkRouteCidr(s: string): Cidr | string {
  if (s.includes('/')) return checkCidr(s);
  const ip = checkIp(s);
  if (typeof ip === 'string') return `is not a CIDR or an IP address: ${show(s)}`;
  return parseCidr(`${ip.text}/${ip.family === 4 ? 32 : 128}`)!;
}

/** A single address or "first..last", or the reason it is not. */
function checkRange(s: string): IpRange | string {
  const range = parseIpRange(s);
  if (range !== undefined) return range;
  const parts = s.split('..');
  if (parts.length > 2) return `is not an IP address or a range first..last: ${show(s)}`;
  const ips = parts.map((p) => parseIp(p));
  const bad = parts.find((_, i) => ips[i] === undefined);
  if (bad !== undefined) return `is not an IP address: ${show(bad)}${parts.length > 1 ? ` (in ${show(s)})` : ''}`;
  if (ips[0]!.family !== ips[1]!.family) return `IPv4 and IPv6 mixed: ${show(s)}`;
  return `range starts after it ends: ${show(s)}`;
}

/** Comma-separated addresses, all of one family; at least one. */
function checkIpList(s: string): Ip[] | string {
  const ips: Ip[] = [];
  for (const part of s.split(',').map((p) => p.trim())) {
    const ip = checkIp(part);
    if (typeof ip === 'string') return ip;
    ips.push(ip);
  }
  if (ips.some((ip) => ip.family !== ips[0].family)) return `IPv4 and IPv6 mixed: ${show(s)}`;
  return ips;
}

const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 253 && DNS1123_SUBDOMAIN.test(v);
}

// ------------------------------------------------------------------ readers

interface Collector {
  objects: ManifestObject[];
  notices: Notice[];
  problems: string[];
  /** "Kind/name" -> where it was first defined */
  /** where each object was first read (its reader: the text is made only for a duplicate) */
  seen: Map<string, ObjectReader>;
}

/**
 * The document each parsed object was read from (apiVersion, kind,
 * metadata.name and its spec or data section): what ovn-natgw stores in NB as
 * the object's last-applied spec, as kubectl keeps its last-applied
 * configuration with the object.
 */
const SOURCES = new WeakMap<ManifestObject, Json>();

/** The source document of a parsed object (undefined for one not made by the parser). */
export function sourceOf(o: ManifestObject): Readonly<Json> | undefined {
  return SOURCES.get(o);
}

/** The document to store for an object: its identity and its section, nothing Kubernetes keeps elsewhere. */
function storedDocument(doc: Json, kind: string, name: string, section: string): Json {
  const out: Json = { apiVersion: doc.apiVersion, kind, metadata: { name } };
  if (doc[section] !== undefined) out[section] = doc[section];
  return out;
}

/** One object (a document, or an item of a List document): names it in its problems and notices. */
class ObjectReader {
  kind?: string;
  name?: string;

  constructor(
    private readonly c: Collector,
    readonly origin: Origin,
    /** the path of the object inside its document: "" or "items[2]" */
    readonly at: string,
  ) {}

  /** The path of a field of this object inside its document. */
  path(field: string): string {
    return [this.at, field].filter(Boolean).join('.');
  }

  where(): string {
    return [locationOf(this.origin), this.at].filter(Boolean).join(', ');
  }

  problem(field: string, reason: string): void {
    const path = this.path(field);
    this.c.problems.push(`${headerOf(this.kind, this.name, this.origin)}: ${path ? `${path}: ` : ''}${reason}`);
  }

  notice(field: string, message: string): void {
    this.c.notices.push({ kind: this.kind ?? '', name: this.name ?? '', field, message, origin: this.origin });
  }
}

/** The fields of one mapping at `path` of an object. Optional scalars: absent, null and "" are undefined. */
class Fields {
  constructor(
    readonly r: ObjectReader,
    readonly path: string,
    readonly obj: Json,
  ) {}

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  problem(key: string, reason: string): void {
    this.r.problem(this.at(key), reason);
  }

  /** The value, undefined when absent or null. */
  raw(key: string): unknown {
    const v = Object.hasOwn(this.obj, key) ? this.obj[key] : undefined;
    return v === null ? undefined : v;
  }

  given(key: string): boolean {
    const v = this.raw(key);
    return v !== undefined && v !== '';
  }

  /** Unknown keys are problems; `ignored` keys get a notice with their message. */
  keys(known: readonly string[], ignored: Readonly<Record<string, string>> = {}): void {
    for (const key of Object.keys(this.obj)) {
      if (known.includes(key)) continue;
      if (Object.hasOwn(ignored, key)) this.r.notice(this.at(key), ignored[key]);
      else this.problem(key, 'unknown field');
    }
  }

  str(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === '') return undefined;
    if (typeof v === 'string') return v;
    this.problem(key, `must be a string, got ${show(v)}`);
    return undefined;
  }

  /** A required string; '' (with a problem) when missing. */
  reqStr(key: string): string {
    const v = this.raw(key);
    if (v === undefined) this.problem(key, 'required');
    else if (v === '') this.problem(key, 'must not be empty');
    else return this.str(key) ?? '';
    return '';
  }

  /** An integer, or a string of decimal digits. */
  int(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    this.problem(key, `must be an integer between ${min} and ${max}, got ${show(v)}`);
    return undefined;
  }

  reqInt(key: string, min: number, max: number): number {
    if (this.raw(key) === undefined) this.problem(key, 'required');
    return this.int(key, min, max) ?? 0;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    this.problem(key, `must be true or false, got ${show(v)}`);
    return dflt;
  }

  choice<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.str(key);
    if (v === undefined || (values as readonly string[]).includes(v)) return v as T | undefined;
    this.problem(key, `must be one of ${values.join(', ')}, got ${show(v)}`);
    return undefined;
  }

  /** A required choice. */
  reqChoice<T extends string>(key: string, values: readonly T[]): T | undefined {
    if (!this.given(key)) this.reqStr(key);
    return this.choice(key, values);
  }

  /** An address of `family`, canonical. */
  ip(key: string, family?: Family): string | undefined {
    const s = this.str(key);
    if (s === undefined) return undefined;
    const ip = checkIp(s, family);
    if (typeof ip !== 'string') return ip.text;
    this.problem(key, ip);
    return undefined;
  }

  /** An address of `family` or a CIDR of it, canonical (an address stays an address). */
  ipOrCidr(key: string, family: Family): string | undefined {
    const s = this.str(key);
    if (s === undefined) return undefined;
    const v = s.includes('/') ? checkCidr(s, family) : checkIp(s, family);
    if (typeof v !== 'string') return v.text;
    this.problem(key, v);
    return undefined;
  }

  /** `key`, or its other spelling `alias` (a problem when both are given). */
  aliased(key: string, alias: string): string {
    if (!this.given(alias)) return key;
    if (!this.given(key)) return alias;
    this.problem(alias, `give only one of ${this.at(key)} and ${this.at(alias)}`);
    return key;
  }

  list(key: string): unknown[] {
    const v = this.raw(key);
    if (v === undefined) return [];
    if (Array.isArray(v)) return v;
    this.problem(key, `must be a list, got ${show(v)}`);
    return [];
  }

  strList(key: string): string[] {
    const out: string[] = [];
    this.list(key).forEach((v, i) => {
      if (typeof v === 'string' && v !== '') out.push(v);
      else this.problem(`${key}[${i}]`, `must be a non-empty string, got ${show(v)}`);
    });
    return out;
  }

  map(key: string): Fields | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (isMap(v)) return new Fields(this.r, this.at(key), v);
    this.problem(key, `must be a mapping, got ${show(v)}`);
    return undefined;
  }

  /** A list of mappings. */
  items(key: string): Fields[] {
    const out: Fields[] = [];
    this.list(key).forEach((v, i) => {
      if (isMap(v)) out.push(new Fields(this.r, this.at(`${key}[${i}]`), v));
      else this.problem(`${key}[${i}]`, `must be a mapping, got ${show(v)}`);
    });
    return out;
  }
}

// ------------------------------------------------------------------ kinds

const K8S_ONLY = 'ignored: Kubernetes only';

function k8sOnly(...fields: string[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f, K8S_ONLY]));
}

type Body<T> = Omit<T, 'kind' | 'name' | 'origin'>;

interface KindDef<T> {
  apiVersion: string;
  /** the section holding the fields: spec, or data for a ConfigMap */
  section: 'spec' | 'data';
  known: readonly string[];
  ignored?: Readonly<Record<string, string>>;
  read(f: Fields): Body<T>;
}

type KindDefs = { [K in Kind]: KindDef<Extract<ManifestObject, { kind: K }>> };

const KUBE_OVN = 'kubeovn.io/v1';

/** The ways an OvnFip / OvnDnatRule / OvnSnatRule names its internal address. */
interface Internal {
  named: Record<string, string | undefined>;
  vpc?: string;
  addr: Record<string, string | undefined>;
}

/**
 * Exactly one way to name the internal address: one of the `named` fields
 * (ipName, vpcSubnet), or spec.vpc with one or both of the `addr` fields.
 */
function readInternal(f: Fields, named: readonly string[], addr: readonly [string, string], read: 'ip' | 'ipOrCidr'): Internal {
  const out: Internal = { named: {}, vpc: f.str('vpc'), addr: {} };
  for (const key of named) out.named[key] = f.str(key);
  const [v4, v6] = addr;
  out.addr[v4] = f[read](v4, 4);
  out.addr[v6] = f[read](v6, 6);
  const ways = [...named.filter((k) => f.given(k)), ...addr.filter((k) => f.given(k)).slice(0, 1)];
  const alternatives = [...named.map((k) => f.at(k)), `${f.at('vpc')} with ${f.at(v4)} and/or ${f.at(v6)}`];
  if (ways.length === 0) {
    if (out.vpc !== undefined) f.problem(v4, `required with ${f.at('vpc')} (or ${f.at(v6)})`);
    else f.r.problem(f.path, `one of ${alternatives.join(', or ')} is required`);
  } else if (ways.length > 1) {
    f.problem(ways[1], `not allowed with ${f.at(ways[0])}: name the internal address one way only`);
  }
  const addrGiven = addr.find((k) => f.given(k));
  if (addrGiven !== undefined && out.vpc === undefined) f.problem('vpc', `required with ${f.at(addrGiven)}`);
  return out;
}

function readIpType(f: Fields): 'vip' | undefined {
  const v = f.raw('ipType');
  if (v === 'vip') return v;
  if (v !== undefined && v !== '') f.problem('ipType', `must be "vip" or empty, got ${show(v)}`);
  return undefined;
}

/** The fields OvnFip and OvnDnatRule share: the eip, and the internal address by ipName or by vpc + v4Ip/v6Ip. */
const NAT_TARGET = ['ovnEip', 'ipType', 'ipName', 'vpc', 'v4Ip', 'v6Ip'] as const;

function readNatTarget(f: Fields): Pick<OvnFip, (typeof NAT_TARGET)[number]> {
  const x = readInternal(f, ['ipName'], ['v4Ip', 'v6Ip'], 'ip');
  return { ovnEip: f.reqStr('ovnEip'), ipType: readIpType(f), ipName: x.named.ipName, vpc: x.vpc, v4Ip: x.addr.v4Ip, v6Ip: x.addr.v6Ip };
}

/** ovn-nbctl's rule: only dnat_and_snat (a FIP) may be stateless, as only a 1:1 mapping can be undone without conntrack. */
function notStateless(f: Fields): object {
  if (f.bool('stateless', false)) f.problem('stateless', 'only a floating IP (OvnFip, dnat_and_snat) can be stateless: SNAT and DNAT need conntrack to map replies back');
  return {};
}

function readPortRange(f: Fields, key: string): string | undefined {
  const v = f.raw(key);
  if (v === undefined || v === '') return undefined;
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(String(v));
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if ((typeof v === 'string' || typeof v === 'number') && lo >= 1 && lo <= hi && hi <= 65535) {
    return m?.[2] !== undefined ? `${lo}-${hi}` : `${lo}`;
  }
  f.problem(key, `must be a port or a range lo-hi with 1 <= lo <= hi <= 65535, got ${show(v)}`);
  return undefined;
}

/**
 * External addresses a NAT rule is limited to or exempted from (NAT
 * allowed_ext_ips / exempted_ext_ips): a non-empty list of addresses and
 * CIDRs, canonical, without repeats; undefined when not given.
 */
function readExtIps(f: Fields, key: string): string[] | undefined {
  if (!f.given(key)) return undefined;
  const items = f.list(key); // not a list: a problem, and []
  if (items.length === 0 && Array.isArray(f.raw(key))) f.problem(key, 'must not be empty (leave it out to apply the rule to every destination)');
  const out: string[] = [];
  items.forEach((v, i) => {
    const s = typeof v === 'string' ? v.trim() : '';
    const c = s === '' ? `must be an IP address or CIDR, got ${show(v)}` : s.includes('/') ? checkCidr(s) : checkIp(s);
    if (typeof c === 'string') f.problem(`${key}[${i}]`, c);
    else if (!out.includes(c.text)) out.push(c.text);
  });
  return out.length ? out : undefined;
}

/** A MAC address, lowercased (undefined when absent or invalid, with the problem noted). */
function readMac(f: Fields, key: string): string | undefined {
  const mac = f.str(key);
  if (mac === undefined) return undefined;
  if (MAC.test(mac)) return mac.toLowerCase();
  f.problem(key, `is not a MAC address (like 00:00:00:ef:05:c7): ${show(mac)}`);
  return undefined;
}

function readGwAddr(f: Fields, key: string): string | undefined {
  const addr = f.str(key);
  if (addr === undefined) return undefined;
  const p = addr.includes('/') ? parseIpOrCidr(addr) : undefined;
  if (p !== undefined) return `${p.ip.text}/${p.prefix}`;
  f.problem(key, `must be an IP address with a prefix length (like 10.5.204.254/24), got ${show(addr)}`);
  return undefined;
}

function readSubnet(f: Fields): Body<Subnet> {
  const cidrs: Cidr[] = [];
  let cidrsOk = false;
  const block = f.reqStr('cidrBlock');
  if (block) {
    const parts = block.split(',').map((p) => p.trim());
    cidrsOk = true;
    const fail = (reason: string) => {
      f.problem('cidrBlock', reason);
      cidrsOk = false;
    };
    if (parts.length > 2) fail(`must be 1 or 2 CIDRs (one per family), got ${parts.length}: ${show(block)}`);
    for (const part of parts) {
      const c = checkCidr(part);
      if (typeof c === 'string') fail(c);
      else if (cidrs.some((o) => o.family === c.family)) fail(`two ${FAMILY_NAME[c.family]} CIDRs, at most one per family: ${show(block)}`);
      else cidrs.push(c);
    }
  }

  const protocol = f.choice('protocol', ['IPv4', 'IPv6', 'Dual'] as const);
  if (protocol !== undefined && cidrsOk) {
    const actual = cidrs.length === 2 ? 'Dual' : FAMILY_NAME[cidrs[0].family];
    if (protocol !== actual) f.problem('protocol', `${show(protocol)} does not match cidrBlock ${show(block)} (${actual})`);
  }

  let gateway = cidrs.map((c) => cidrFirstHost(c).text);
  const gw = f.str('gateway');
  if (gw !== undefined && cidrsOk) {
    const parts = gw.split(',').map((p) => p.trim());
    if (parts.length !== cidrs.length) {
      f.problem('gateway', `must have one address per CIDR of cidrBlock (${cidrs.length}), got ${parts.length}: ${show(gw)}`);
    } else {
      gateway = parts.map((part, i) => {
        const ip = checkIp(part, cidrs[i].family);
        if (typeof ip === 'string') f.problem('gateway', ip);
        else if (!cidrContains(cidrs[i], ip)) f.problem('gateway', `${ip.text} is not inside ${cidrs[i].text}`);
        return typeof ip === 'string' ? part : ip.text;
      });
    }
  }

  const excludeIps = f.strList('excludeIps').map((s, i) => {
    const range = checkRange(s);
    const key = `excludeIps[${i}]`;
    if (typeof range === 'string') f.problem(key, range);
    else if (cidrsOk && !cidrs.some((c) => inCidr(c, range))) f.problem(key, `${show(s)} is not inside cidrBlock ${show(block)}`);
    return typeof range === 'string' ? s : range.text;
  });

  const vpc = f.str('vpc');
  const gatewayType = f.choice('gatewayType', ['distributed', 'centralized'] as const);
  const gatewayNode = readGatewayNodes(f, cidrsOk ? cidrs : []);
  const enableEcmp = f.given('enableEcmp') ? f.bool('enableEcmp', false) : undefined;
  if (gatewayType === 'centralized') {
    if (vpc === undefined) f.problem('gatewayType', 'centralized egress is for an internal subnet (one with vpc); an external network has no egress of its own');
    else if (gatewayNode.length === 0) f.problem('gatewayNode', 'required with gatewayType centralized: the gateway nodes, like "node1,node2" or "node1:100.64.0.2"');
  }
  return {
    protocol,
    cidrBlock: cidrs.map((c) => c.text),
    gateway,
    vlan: f.str('vlan'),
    vpc,
    provider: f.str('provider'),
    excludeIps,
    gatewayType,
    gatewayNode: gatewayNode.length ? gatewayNode : undefined,
    enableEcmp,
  };
}

/** "node1, node2:100.64.0.2, node3:fd00::2": names in order, each with an optional next hop of a family of the subnet. */
function readGatewayNodes(f: Fields, cidrs: readonly Cidr[]): NonNullable<Subnet['gatewayNode']> {
  const text = f.str('gatewayNode');
  if (text === undefined) return [];
  const out: NonNullable<Subnet['gatewayNode']> = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const colon = part.indexOf(':');
    const node = colon < 0 ? part : part.slice(0, colon);
    if (node === '') {
      f.problem('gatewayNode', `an empty node name in ${show(text)}`);
      continue;
    }
    if (out.some((o) => o.node === node)) {
      f.problem('gatewayNode', `node "${node}" is listed twice in ${show(text)}`);
      continue;
    }
    if (colon < 0) {
      out.push({ node });
      continue;
    }
    const ip = checkIp(part.slice(colon + 1));
    if (typeof ip === 'string') f.problem('gatewayNode', `node "${node}": ${ip}`);
    else if (cidrs.length > 0 && !cidrs.some((c) => c.family === ip.family)) f.problem('gatewayNode', `node "${node}": ${ip.text} is ${FAMILY_NAME[ip.family]}, the subnet has no ${FAMILY_NAME[ip.family]} CIDR`);
    else out.push({ node, ip: ip.text });
  }
  return out;
}

function inCidr(c: Cidr, r: IpRange): boolean {
  const at = (value: bigint) => cidrContains(c, { family: r.family, value, text: '' });
  return at(r.first) && at(r.last);
}

function readStaticRoute(f: Fields): StaticRoute {
  f.keys(['cidr', 'nextHopIP', 'policy', 'routeTable', 'bfd', 'bfdId', 'ecmpMode']);
  const cidrText = f.reqStr('cidr');
  const cidr = cidrText ? checkRouteCidr(cidrText) : undefined;
  if (typeof cidr === 'string') f.problem('cidr', cidr);
  const hopText = f.reqStr('nextHopIP');
  const hop = hopText ? checkIp(hopText) : undefined;
  if (typeof hop === 'string') f.problem('nextHopIP', hop);
  if (typeof cidr === 'object' && typeof hop === 'object' && cidr.family !== hop.family) {
    f.problem('nextHopIP', `IPv4 and IPv6 mixed: cidr ${cidr.text} is ${FAMILY_NAME[cidr.family]}, nextHopIP ${hop.text} is ${FAMILY_NAME[hop.family]}`);
  }
  const route: StaticRoute = {
    cidr: typeof cidr === 'object' ? cidr.text : cidrText,
    nextHopIP: typeof hop === 'object' ? hop.text : hopText,
    policy: f.choice('policy', ['policyDst', 'policySrc'] as const) ?? 'policyDst',
    routeTable: f.str('routeTable'),
  };
  const bfdId = f.str('bfdId');
  if (bfdId) {
    if (!UUID.test(bfdId)) f.problem('bfdId', `must be the UUID of a BFD row in NB, got ${show(bfdId)}`);
    else route.bfdId = bfdId.toLowerCase();
  }
  const ecmpMode = f.str('ecmpMode');
  if (ecmpMode) {
    if (ecmpMode === 'ecmp_symmetric_reply') route.ecmpMode = ecmpMode;
    else f.problem('ecmpMode', `must be "ecmp_symmetric_reply" (OVN's only ECMP mode option) or empty, got ${show(ecmpMode)}`);
  }
  const bfd = f.map('bfd');
  if (bfd && bfdId) f.problem('bfd', 'give either bfd (ovn-natgw makes the BFD row) or bfdId (a BFD row already in NB), not both');
  else if (bfd) {
    bfd.keys(['minTx', 'minRx', 'detectMult']);
    const max = 2 ** 31 - 1;
    route.bfd = compact({ minTx: bfd.int('minTx', 1, max), minRx: bfd.int('minRx', 1, max), detectMult: bfd.int('detectMult', 1, max) });
  }
  return compact(route);
}

/** Vpc bfdPort {enabled, ip}: ip is one address per family, comma-separated, with or without a prefix (Kube-OVN writes it as given). */
function readBfdPort(vpc: Fields): Vpc['bfdPort'] {
  const f = vpc.map('bfdPort');
  if (!f) return undefined;
  f.keys(['enabled', 'ip'], { nodeSelector: 'a Kubernetes node selector, ignored: the HA chassis group takes its chassis among the gateway nodes (ConfigMap external-gw-nodes)' });
  const enabled = f.bool('enabled', false);
  const text = f.str('ip');
  if (!enabled) return { enabled, ip: [] };
  if (text === undefined) {
    f.problem('ip', 'required when enabled is true');
    return { enabled, ip: [] };
  }
  const ip: string[] = [];
  const families = new Set<number>();
  for (const part of text.split(',').map((x) => x.trim())) {
    const v = parseIpOrCidr(part);
    if (!v) {
      f.problem('ip', `${show(part)} is not an IP address or address/prefix`);
      continue;
    }
    if (families.has(v.family)) f.problem('ip', `more than one ${FAMILY_NAME[v.family]} address in ${show(text)}`);
    families.add(v.family);
    ip.push(part.includes('/') ? `${v.ip.text}/${v.prefix}` : v.ip.text);
  }
  return { enabled, ip };
}

function readPolicyRoute(f: Fields): PolicyRoute {
  f.keys(['priority', 'match', 'action', 'nextHopIP']);
  const priority = f.reqInt('priority', 0, 32767);
  const match = f.reqStr('match');
  const action = f.reqChoice('action', ['allow', 'drop', 'reroute'] as const);
  const hops = f.str('nextHopIP');
  let nextHopIP: string[] = [];
  if (action === 'reroute' && hops === undefined) f.problem('nextHopIP', 'required with action reroute');
  if (action !== undefined && action !== 'reroute' && hops !== undefined) f.problem('nextHopIP', `only allowed with action reroute, not ${action}`);
  if (hops !== undefined) {
    const ips = checkIpList(hops);
    if (typeof ips === 'string') f.problem('nextHopIP', ips);
    else nextHopIP = ips.map((ip) => ip.text);
  }
  return { priority, match, action: action ?? 'allow', nextHopIP };
}

const KINDS: KindDefs = {
  ProviderNetwork: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['defaultInterface'],
    ignored: k8sOnly('customInterfaces', 'excludeNodes', 'exchangeLinkName', 'autoCreateVlanSubinterfaces', 'preserveVlanInterfaces'),
    read: (f): Body<ProviderNetwork> => ({ defaultInterface: f.str('defaultInterface') }),
  },
  Vlan: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['id', 'provider'],
    read: (f): Body<Vlan> => ({ id: f.reqInt('id', 0, 4095), provider: f.reqStr('provider') }),
  },
  Subnet: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['cidrBlock', 'gateway', 'protocol', 'vlan', 'vpc', 'provider', 'excludeIps', 'gatewayType', 'gatewayNode', 'enableEcmp'],
    ignored: k8sOnly(
      'namespaces', 'default', 'disableGatewayCheck', 'disableInterConnection', 'natOutgoing', 'private', 'allowSubnets', 'logicalGateway', 'u2oInterconnection', 'enableLb',
      'enableDHCP', 'dhcpV4Options', 'dhcpV6Options', 'enableIPv6RA', 'ipv6RAConfigs', 'mtu', 'acls',
      'nodeSelectors', 'routeTable',
    ),
    read: readSubnet,
  },
  Vpc: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['enableExternal', 'addExternalSubnets', 'extraExternalSubnets', 'staticRoutes', 'policyRoutes', 'enableBfd', 'bfdPort'],
    ignored: {
      namespaces: K8S_ONLY,
      vpcPeerings: 'not supported, ignored',
    },
    read: (f): Body<Vpc> => ({
      enableExternal: f.bool('enableExternal', false),
      ...(f.given('enableExternal') ? {} : { enableExternalGiven: false }),
      addExternalSubnets: [...new Set([...f.strList('addExternalSubnets'), ...f.strList('extraExternalSubnets')])],
      staticRoutes: f.items('staticRoutes').map(readStaticRoute),
      policyRoutes: f.items('policyRoutes').map(readPolicyRoute),
      enableBfd: f.given('enableBfd') ? f.bool('enableBfd', false) : undefined,
      bfdPort: readBfdPort(f),
    }),
  },
  OvnEip: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['externalSubnet', 'type', 'usageType', 'v4Ip', 'v4ip', 'v6Ip', 'v6ip', 'macAddress'],
    read: (f): Body<OvnEip> => {
      const macAddress = readMac(f, 'macAddress');
      return {
        externalSubnet: f.str('externalSubnet'),
        type: f.choice(f.aliased('type', 'usageType'), ['nat', 'lrp', 'lsp'] as const) ?? 'nat',
        v4Ip: f.ip(f.aliased('v4Ip', 'v4ip'), 4),
        v6Ip: f.ip(f.aliased('v6Ip', 'v6ip'), 6),
        macAddress,
      };
    },
  },
  OvnFip: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: [...NAT_TARGET, 'type', 'stateless'],
    read: (f): Body<OvnFip> => ({
      ...readNatTarget(f),
      type: f.choice('type', ['distributed', 'centralized'] as const),
      stateless: f.given('stateless') ? f.bool('stateless', false) : undefined,
    }),
  },
  OvnSnatRule: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['ovnEip', 'vpcSubnet', 'ipName', 'vpc', 'v4IpCidr', 'v6IpCidr', 'externalPortRange', 'allowedExtIps', 'exemptedExtIps', 'stateless'],
    read: (f): Body<OvnSnatRule> => {
      notStateless(f);
      const x = readInternal(f, ['vpcSubnet', 'ipName'], ['v4IpCidr', 'v6IpCidr'], 'ipOrCidr');
      const allowedExtIps = readExtIps(f, 'allowedExtIps');
      const exemptedExtIps = readExtIps(f, 'exemptedExtIps');
      if (allowedExtIps && exemptedExtIps) {
        f.problem('exemptedExtIps', `give only one of ${f.at('allowedExtIps')} and ${f.at('exemptedExtIps')}: OVN does not apply a NAT rule that has both`);
      }
      return {
        ovnEip: f.reqStr('ovnEip'),
        vpcSubnet: x.named.vpcSubnet,
        ipName: x.named.ipName,
        vpc: x.vpc,
        v4IpCidr: x.addr.v4IpCidr,
        v6IpCidr: x.addr.v6IpCidr,
        externalPortRange: readPortRange(f, 'externalPortRange'),
        ...(allowedExtIps ? { allowedExtIps } : {}),
        ...(exemptedExtIps ? { exemptedExtIps } : {}),
      };
    },
  },
  OvnDnatRule: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: [...NAT_TARGET, 'protocol', 'internalPort', 'externalPort', 'stateless'],
    read: (f): Body<OvnDnatRule> => ({
      ...notStateless(f),
      ...readNatTarget(f),
      protocol: f.choice('protocol', ['tcp', 'udp', 'sctp'] as const) ?? 'tcp',
      internalPort: f.reqInt('internalPort', 1, 65535),
      externalPort: f.reqInt('externalPort', 1, 65535),
    }),
  },
  Vip: {
    apiVersion: KUBE_OVN,
    section: 'spec',
    known: ['subnet', 'v4ip', 'v4Ip', 'v6ip', 'v6Ip'],
    ignored: k8sOnly('namespace', 'selector', 'attachSubnets', 'parentMac', 'parentV4ip', 'parentV6ip', 'macAddress', 'type'),
    read: (f): Body<Vip> => ({
      subnet: f.reqStr('subnet'),
      v4ip: f.ip(f.aliased('v4ip', 'v4Ip'), 4),
      v6ip: f.ip(f.aliased('v6ip', 'v6Ip'), 6),
    }),
  },
  ConfigMap: {
    apiVersion: 'v1',
    section: 'data',
    known: ['enable-external-gw', 'external-gw-nodes', 'type', 'external-gw-addr', 'external-gw-switch', 'nic-ip', 'nic-mac'],
    ignored: k8sOnly('external-gw-nic'),
    read: (f): Body<ExternalGwConfig> => {
      const nicMac = readMac(f, 'nic-mac');
      return {
        enableExternalGw: f.bool('enable-external-gw', false),
        externalGwNodes: (f.str('external-gw-nodes') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
        type: f.choice('type', ['centralized', 'distributed'] as const) ?? 'centralized',
        externalGwAddr: readGwAddr(f, 'external-gw-addr'),
        externalGwSwitch: f.str('external-gw-switch'),
        nicIp: readGwAddr(f, 'nic-ip'),
        nicMac,
      };
    },
  },
};

/** Which of its ConfigMaps ovn-natgw reads. */
export const EXTERNAL_GW_CONFIG = 'ovn-external-gw-config';

/** Kinds that are read and dropped with a notice. */
const SKIPPED_KINDS: Readonly<Record<string, string>> = { Namespace: 'v1' };

const METADATA_IGNORED = [
  'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'managedFields', 'ownerReferences', 'finalizers',
];

/** Drop undefined members, so that absent optional fields are absent. */
function compact<T extends object>(o: T): T {
  // (a copy of the defined keys, not `delete`: an object with a key deleted turns into a slow dictionary
  // for V8, and every later read of 24k such objects pays for it)
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

// ------------------------------------------------------------------ documents

function readMetadata(r: ObjectReader, top: Fields): void {
  const meta = top.raw('metadata');
  if (meta === undefined) {
    r.problem('metadata.name', 'required');
    return;
  }
  const m = top.map('metadata');
  if (!m) return;
  m.keys(['name', ...METADATA_IGNORED]);
  const name = m.raw('name');
  if (name === undefined || name === '') r.problem('metadata.name', 'required');
  else if (!isName(name)) {
    r.problem('metadata.name', `must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters), got ${show(name)}`);
  }
}

function readList(c: Collector, r: ObjectReader, top: Fields): void {
  r.kind = 'List';
  top.keys(['apiVersion', 'kind', 'metadata', 'items']);
  const api = top.raw('apiVersion');
  if (api !== undefined && api !== 'v1') top.problem('apiVersion', `must be "v1" for List, got ${show(api)}`);
  if (top.raw('items') === undefined) top.problem('items', 'required');
  top.list('items').forEach((item, i) => readObject(c, item, r.origin, r.path(`items[${i}]`)));
}

function readObject(c: Collector, doc: unknown, origin: Origin, at: string): void {
  const r = new ObjectReader(c, origin, at);
  if (!isMap(doc)) {
    r.problem('', `must be a mapping (a Kubernetes object), got ${show(doc)}`);
    return;
  }
  const top = new Fields(r, '', doc);
  const meta = top.raw('metadata');
  if (isMap(meta) && isName(meta.name)) r.name = meta.name;

  const kind = top.raw('kind');
  if (kind === 'List') return readList(c, r, top);
  if (kind === undefined) return top.problem('kind', 'required');
  if (typeof kind !== 'string') return top.problem('kind', `must be a string, got ${show(kind)}`);
  r.kind = kind;
  const def = Object.hasOwn(KINDS, kind) ? KINDS[kind as Kind] : undefined;
  const expectApi = def?.apiVersion ?? SKIPPED_KINDS[kind];
  if (expectApi === undefined) {
    const known = [...Object.keys(KINDS), ...Object.keys(SKIPPED_KINDS), 'List'];
    return top.problem('kind', `unknown kind ${show(kind)} (expected one of ${known.join(', ')})`);
  }

  const api = top.raw('apiVersion');
  if (api === undefined) top.problem('apiVersion', 'required');
  else if (api !== expectApi) top.problem('apiVersion', `must be ${show(expectApi)} for ${kind}, got ${show(api)}`);
  readMetadata(r, top);

  if (def === undefined) return r.notice('', K8S_ONLY);
  if (kind === 'ConfigMap' && r.name !== undefined && r.name !== EXTERNAL_GW_CONFIG) {
    return r.notice('', `ignored: only the ConfigMap ${EXTERNAL_GW_CONFIG} is read`);
  }

  top.keys(['apiVersion', 'kind', 'metadata', def.section], { status: 'ignored: status is written by the controllers' });
  const section = top.map(def.section) ?? new Fields(r, def.section, {});
  section.keys(def.known, def.ignored);
  const body = def.read(section);
  if (r.name === undefined) return;

  const key = `${kind}/${r.name}`;
  const first = c.seen.get(key);
  if (first !== undefined) r.problem('metadata.name', `duplicate: ${kind} ${r.name} is also defined in ${first.where()}`);
  else c.seen.set(key, r);
  const obj = compact({ kind, name: r.name, ...body, origin } as ManifestObject);
  SOURCES.set(obj, storedDocument(doc, kind, r.name, def.section));
  c.objects.push(obj);
}

/** The first line of a yaml error message, without the colon that introduces its source excerpt. */
function firstLine(message: string): string {
  return message.split('\n')[0].replace(/:$/, '');
}

/**
 * The documents of a YAML text as JS values, in order (null for an empty
 * one). js-yaml (core schema: no timestamps, so a date stays a string, as the
 * yaml package reads it) parses 24k objects in about 0.13 s against 1.3 s;
 * a text it refuses is read again with the yaml package, whose errors name
 * the document, line and column of every mistake (see readText).
 */
export function yamlDocuments(text: string): unknown[] | undefined {
  const out: unknown[] = [];
  try {
    jsyaml.loadAll(text, (d) => out.push(d === undefined || d === null ? null : ownStrings(d)), { schema: jsyaml.CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
  // (a comment-only text is one empty document to js-yaml, none to yaml: the same, as empty documents are skipped)
  while (out.length && out[out.length - 1] === null) out.pop();
  return out;
}

/**
 * The value with each long string copied out of the text it was read from:
 * js-yaml's strings are slices of the whole text, and V8 keeps a text alive
 * while one slice of it lives, so a name kept from a 33 MB manifest directory
 * would keep all of it (strings under 13 characters are copies already).
 */
function ownStrings(v: unknown): unknown {
  if (typeof v === 'string') return v.length < 13 ? v : (JSON.parse(JSON.stringify(v)) as string);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = ownStrings(v[i]);
    return v;
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = ownStrings(o[k]);
  }
  return v;
}

/** The same through the yaml package: per document, its value or its errors (the slow path, with the better messages). */
export function yamlDocumentsSlow(text: string): ({ value: unknown } | { errors: string[] })[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) return { errors: doc.errors.map((e) => firstLine(e.message)) };
    try {
      return { value: doc.toJS() as unknown };
    } catch (e) {
      return { errors: [firstLine((e as Error).message)] };
    }
  });
}

function readText(c: Collector, text: string, file: string): void {
  const fast = yamlDocuments(text);
  const docs = fast ? fast.map((value) => ({ value })) : yamlDocumentsSlow(text);
  docs.forEach((doc, i) => {
    const origin: Origin = { file, document: i + 1 };
    if ('errors' in doc) {
      for (const e of doc.errors) c.problems.push(`${locationOf(origin)}: YAML: ${e}`);
      return;
    }
    if (doc.value !== null && doc.value !== undefined) readObject(c, doc.value, origin, '');
  });
}

function newCollector(): Collector {
  return { objects: [], notices: [], problems: [], seen: new Map() };
}

function finish(c: Collector): Manifest {
  if (c.problems.length > 0) throw new ManifestError(c.problems);
  return { objects: c.objects, notices: c.notices };
}

/** Parse one multi-document YAML text; throws a ManifestError listing all problems. */
export function parseManifest(text: string, file = '<stdin>'): Manifest {
  const c = newCollector();
  readText(c, text, file);
  return finish(c);
}

const MANIFEST_FILE = /\.(?:ya?ml|json)$/;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The files a path stands for: itself, or a directory's *.yaml, *.yml and *.json, sorted, not recursive. */
async function filesOf(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => MANIFEST_FILE.test(n)).sort();
  const files: string[] = [];
  for (const n of names) if ((await stat(join(path, n))).isFile()) files.push(join(path, n));
  return files;
}

/**
 * Read manifests from files, directories (their *.yaml, *.yml and *.json, sorted,
 * not recursive) and "-" (stdin), as one set: names must be unique across all of
 * them. Throws a ManifestError with all problems of all files.
 */
export async function loadManifests(paths: string[]): Promise<Manifest> {
  const c = newCollector();
  for (const path of paths) {
    if (path === '-') {
      readText(c, await readStdin(), '<stdin>');
      continue;
    }
    let files: string[];
    try {
      files = await filesOf(path);
    } catch (e) {
      c.problems.push(`${path}: cannot read: ${(e as Error).message}`);
      continue;
    }
    if (files.length === 0) c.problems.push(`${path}: no *.yaml, *.yml or *.json files in this directory`);
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        c.problems.push(`${file}: cannot read: ${(e as Error).message}`);
        continue;
      }
      readText(c, text, file);
    }
  }
  return finish(c);
}

/** Where a stored object's problems say it came from. */
export const STORED_ORIGIN: Origin = { file: 'stored in NB', document: 0 };

/**
 * Read objects stored in NB (their last-applied documents, as JSON) through
 * the same reader as files, so a stored spec is checked like a new one. An
 * unreadable one is left out and named in `problems`; notices are dropped
 * (they were shown when the object was applied).
 */
export function parseStored(docs: readonly { id: string; json: string }[]): { manifest: Manifest; problems: string[] } {
  const c = newCollector();
  const problems: string[] = [];
  for (const { id, json } of docs) {
    let doc: unknown;
    try {
      doc = JSON.parse(json);
    } catch (e) {
      problems.push(`${id} (${STORED_ORIGIN.file}): its stored spec is not JSON: ${(e as Error).message}`);
      continue;
    }
    const before = c.problems.length;
    const had = c.objects.length;
    readObject(c, doc, STORED_ORIGIN, '');
    if (c.problems.length > before) {
      problems.push(...c.problems.splice(before));
      c.objects.length = had;
    }
  }
  return { manifest: { objects: c.objects, notices: [] }, problems };
}
