/**
 * IPv4/IPv6 addresses, CIDRs and Kube-OVN address ranges, as bigints, with
 * strict parsing and canonical text: IPv4 dotted quad without leading zeros,
 * IPv6 as RFC 5952 (lower case, leading zeros dropped, the longest run of two
 * or more zero groups, the first of equal runs, compressed to "::", IPv4-mapped
 * addresses as "::ffff:a.b.c.d").
 */

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
  /** canonical text */
  text: string;
}

export interface Cidr {
  family: Family;
  /** the network address (host bits clear) */
  network: bigint;
  prefix: number;
  /** canonical "network/prefix" */
  text: string;
}

export interface IpRange {
  family: Family;
  first: bigint;
  last: bigint;
  /** canonical "first..last", or the single address when written as one */
  text: string;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  // (in a number, then one BigInt: four BigInt shifts per address cost more than the split)
  let v = 0;
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return BigInt(v);
}

/** Hex groups of one side of "::" (an empty side has none); an embedded IPv4 tail counts as two groups. */
function parseGroups(side: string, allowV4Tail: boolean): bigint[] | undefined {
  if (side === '') return [];
  const parts = side.split(':');
  const groups: bigint[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (allowV4Tail && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIpv4(p);
      if (v4 === undefined) return undefined;
      groups.push(v4 >> 16n, v4 & 0xffffn);
    } else if (HEX_GROUP.test(p)) {
      groups.push(BigInt(parseInt(p, 16)));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6(s: string): bigint | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  let groups: bigint[];
  if (halves.length === 1) {
    const all = parseGroups(s, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    const head = parseGroups(halves[0], false);
    const tail = parseGroups(halves[1], true);
    if (head === undefined || tail === undefined) return undefined;
    // "::" stands for at least one zero group
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...Array<bigint>(missing).fill(0n), ...tail];
  }
  return groups.reduce((v, g) => (v << 16n) | g, 0n);
}

function formatIpv4(value: bigint): string {
  const octets: string[] = [];
  for (let shift = 24n; shift >= 0n; shift -= 8n) octets.push(String((value >> shift) & 0xffn));
  return octets.join('.');
}

function formatIpv6(value: bigint): string {
  // RFC 5952 section 5: IPv4-mapped addresses in mixed notation
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // the longest run of two or more zero groups; the first one on a tie
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function formatIp(family: Family, value: bigint): string {
  return family === 4 ? formatIpv4(value) : formatIpv6(value);
}

function makeIp(family: Family, value: bigint): Ip {
  return { family, value, text: formatIp(family, value) };
}

/**
 * A single address, strictly: IPv4 as four decimal octets without leading
 * zeros; IPv6 with at most one "::" and optionally an IPv4 tail
 * ("::ffff:10.0.0.1"). No prefix, no zone id, no surrounding spaces.
 */
export function parseIp(s: string): Ip | undefined {
  if (s.includes(':')) {
    const v = parseIpv6(s);
    return v === undefined ? undefined : makeIp(6, v);
  }
  const v = parseIpv4(s);
  // (four decimal octets without leading zeros are already the canonical text)
  return v === undefined ? undefined : { family: 4, value: v, text: s };
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(BITS[family] - prefix)) - 1n;
}

/** "address/prefix" split and checked; the address is returned as written (host bits possibly set). */
function parsePrefixed(s: string): { ip: Ip; prefix: number } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (ip === undefined || !PREFIX.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > BITS[ip.family]) return undefined;
  return { ip, prefix };
}

function makeCidr(family: Family, network: bigint, prefix: number): Cidr {
  return { family, network, prefix, text: `${formatIp(family, network)}/${prefix}` };
}

/**
 * "address/prefix". With `strict` (the default) an address with host bits set
 * is refused; with `strict: false` the host bits are cleared.
 */
export function parseCidr(s: string, opts: { strict?: boolean } = {}): Cidr | undefined {
  const p = parsePrefixed(s);
  if (p === undefined) return undefined;
  const { family, value } = p.ip;
  const host = value & hostMask(family, p.prefix);
  if (host !== 0n && opts.strict !== false) return undefined;
  return makeCidr(family, value - host, p.prefix);
}

/** "10.0.0.5" (prefix 32 or 128) or "10.0.0.0/24"; `ip` is the address as written, host bits are not checked. */
export function parseIpOrCidr(s: string): { ip: Ip; prefix: number; family: Family } | undefined {
  if (s.includes('/')) {
    const p = parsePrefixed(s);
    return p && { ...p, family: p.ip.family };
  }
  const ip = parseIp(s);
  return ip && { ip, prefix: BITS[ip.family], family: ip.family };
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && (ip.value & ~hostMask(c.family, c.prefix)) === c.network;
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = a.prefix <= b.prefix ? a : b;
  const longer = shorter === a ? b : a;
  return cidrContains(shorter, makeIp(longer.family, longer.network));
}

/** The network address + 1; for /31, /32, /127 and /128 the network address itself. */
export function cidrFirstHost(c: Cidr): Ip {
  const tiny = BITS[c.family] - c.prefix <= 1;
  return makeIp(c.family, tiny ? c.network : c.network + 1n);
}

/** IPv4: the broadcast address - 1 (for /31 and /32 the last address); IPv6: the last address. */
export function cidrLastHost(c: Cidr): Ip {
  const last = c.network | hostMask(c.family, c.prefix);
  const broadcast = c.family === 4 && c.prefix < 31;
  return makeIp(c.family, broadcast ? last - 1n : last);
}

/** Kube-OVN's "first..last" (both of one family, first <= last) or a single address. */
export function parseIpRange(s: string): IpRange | undefined {
  const parts = s.split('..');
  if (parts.length > 2) return undefined;
  const first = parseIp(parts[0]);
  const last = parts.length === 2 ? parseIp(parts[1]) : first;
  if (first === undefined || last === undefined) return undefined;
  if (first.family !== last.family || first.value > last.value) return undefined;
  const text = parts.length === 2 ? `${first.text}..${last.text}` : first.text;
  return { family: first.family, first: first.value, last: last.value, text };
}

/** The family of an address or CIDR text (host bits allowed); undefined when it is neither. */
export function familyOf(s: string): Family | undefined {
  return parseIpOrCidr(s)?.family;
}
