/**
 * The drill's data-plane check: after a failover, a packet from a moved
 * router's subnets, traced with ovn-trace, still leaves as it should: a
 * FIP's workload and a SNAT'd one out of the gateway port's provider
 * network with their EIP as the source, a centralized-egress subnet to one
 * of its gateway nodes (never the dead one).
 *
 * probesOf is pure (NB rows in, microflows and what each must show out);
 * checkProbe reads one trace. ovn-trace is not chassis specific (it takes
 * every port as resident), so it proves the logical pipeline the failover
 * left: NAT rows, gateway port and reroutes; which chassis carries the
 * gateway port is SB's chassisredirect binding, checked beside it.
 */
import type { NbTables } from '../models/ovn-nb.js';
import type { NbView } from '../nat/nb-view.js';
import { cidrContains, parseCidr, parseIp } from '../nat/ip.js';
import { deliveries, snatSource } from '../sandbox/ovn-trace.js';


export interface Probe {
  kind: 'fip' | 'snat' | 'egress';
  /** the workload port the packet comes from */
  from: string;
  microflow: string;
  /** fip and snat: delivered to this (localnet) port with this source */
  port?: string;
  source?: string;
  /** egress: delivered to the port of one of these next hops (port name to its IP) */
  nexthops?: Map<string, string>;
}

/** The NB tables probesOf reads beside the index's (Logical_Router_Port, Logical_Router_Policy). */
export const TRACE_NB_TABLES = ['Logical_Router', 'NAT', 'Logical_Switch', 'Logical_Switch_Port'] as const;

/** The destination every probe sends to: an address on no network of the drill. */
export const INTERNET = '8.8.8.8';

interface Workload {
  name: string;
  mac: string;
  ips: string[];
}

/** A port's "MAC IP..." addresses (the first entry with a MAC), else undefined. */
function workloadOf(p: NbTables['Logical_Switch_Port']): Workload | undefined {
  if (p.type !== '') return undefined;
  for (const a of p.addresses) {
    const [mac, ...ips] = a.split(/\s+/);
    if (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) && ips.length) return { name: p.name, mac, ips };
  }
  return undefined;
}

/**
 * The probes of one router: its first FIP whose logical IP is a workload's,
 * a workload SNAT'd by a subnet SNAT (and no FIP), and per reroute policy
 * (ip4.src == CIDR) a workload in it. IPv4.
 */
export function probesOf(nb: NbView, routerName: string): Probe[] {
  const router = [...nb.table('Logical_Router').values()].find((r) => r.name === routerName);
  if (!router) return [];
  const lrps = router.ports.map((u) => nb.table('Logical_Router_Port').get(u)).filter((p) => p !== undefined);
  const gwPort = lrps.find((p) => p.gateway_chassis.length > 0 || p.ha_chassis_group !== null);
  // each router port's switch, through the switch port that names it
  const lsps = nb.table('Logical_Switch_Port');
  const peerOf = new Map<string, string>(); // router port name -> switch port uuid
  for (const p of lsps.values()) if (p.type === 'router' && p.options.get('router-port')) peerOf.set(p.options.get('router-port')!, p._uuid);
  const switchOf = new Map<string, NbTables['Logical_Switch']>(); // switch port uuid -> switch
  for (const s of nb.table('Logical_Switch').values()) for (const u of s.ports) switchOf.set(u, s);
  const portsOn = (lrp: NbTables['Logical_Router_Port']) => {
    const peer = peerOf.get(lrp.name);
    const sw = peer ? switchOf.get(peer) : undefined;
    return sw ? sw.ports.map((u) => lsps.get(u)).filter((p) => p !== undefined) : [];
  };
  const localnet = gwPort ? portsOn(gwPort).find((p) => p.type === 'localnet')?.name : undefined;
  // the workloads behind the router, with the router port (its MAC) they send to; every address on its switches
  const workloads: (Workload & { lrpMac: string })[] = [];
  const byIp = new Map<string, string>();
  for (const lrp of lrps) {
    for (const p of portsOn(lrp)) {
      const w = workloadOf(p);
      if (!w) continue;
      for (const ip of w.ips) byIp.set(ip, w.name);
      if (lrp !== gwPort) workloads.push({ ...w, lrpMac: lrp.mac });
    }
  }
  const v4 = (w: Workload) => w.ips.find((ip) => parseIp(ip)?.family === 4);
  const flow = (w: Workload & { lrpMac: string }) =>
    `inport == "${w.name}" && eth.src == ${w.mac} && eth.dst == ${w.lrpMac} && ip4.src == ${v4(w)} && ip4.dst == ${INTERNET} && ip.ttl == 64 && tcp && tcp.dst == 80`;
  const nats = router.nat.map((u) => nb.table('NAT').get(u)).filter((n) => n !== undefined);
  const fipIps = new Set(nats.filter((n) => n.type === 'dnat_and_snat').map((n) => n.logical_ip));
  const out: Probe[] = [];
  if (gwPort && localnet) {
    const fip = nats.find((n) => n.type === 'dnat_and_snat' && workloads.some((w) => v4(w) === n.logical_ip));
    if (fip) {
      const w = workloads.find((x) => v4(x) === fip.logical_ip)!;
      out.push({ kind: 'fip', from: w.name, microflow: flow(w), port: localnet, source: fip.external_ip });
    }
    for (const n of nats.filter((x) => x.type === 'snat')) {
      const c = parseCidr(n.logical_ip);
      const w = c && workloads.find((x) => v4(x) && !fipIps.has(v4(x)!) && cidrContains(c, parseIp(v4(x)!)!));
      if (w) {
        out.push({ kind: 'snat', from: w.name, microflow: flow(w), port: localnet, source: n.external_ip });
        break;
      }
    }
  }
  // centralized egress: the next hops' ports on the router's switches (Kube-OVN's node ports on its join switch)
  for (const pol of router.policies.map((u) => nb.table('Logical_Router_Policy').get(u))) {
    if (!pol || pol.action !== 'reroute') continue;
    const c = parseCidr(/^ip4\.src == (\S+)$/.exec(pol.match)?.[1] ?? '');
    const w = c && workloads.find((x) => v4(x) && cidrContains(c, parseIp(v4(x)!)!));
    if (!w) continue;
    const hops = new Map(pol.nexthops.filter((h) => byIp.has(h)).map((h) => [byIp.get(h)!, h]));
    out.push({ kind: 'egress', from: w.name, microflow: flow(w), nexthops: hops });
  }
  return out;
}

/** What a probe's trace showed wrong, or undefined when it left as it should. `dead`: next hops it must not reach. */
export function checkProbe(p: Probe, trace: string, dead: ReadonlySet<string> = new Set()): string | undefined {
  const d = deliveries(trace);
  const to = d.map((x) => x.port);
  if (p.kind === 'egress') {
    if (d.length !== 1) return `egress from ${p.from}: delivered to [${to.join(', ')}], not to one gateway node`;
    const hop = p.nexthops?.get(d[0].port);
    if (hop === undefined) return `egress from ${p.from}: delivered to ${d[0].port}, not to a next hop of its reroute`;
    if (dead.has(hop)) return `egress from ${p.from}: delivered to ${d[0].port} (${hop}), a dead node`;
    return undefined;
  }
  if (d.length !== 1 || d[0].port !== p.port) return `${p.kind} ${p.from} -> ${INTERNET}: delivered to [${to.join(', ')}], not to ${p.port}`;
  const src = d[0].steps.map(snatSource).filter((s) => s !== undefined);
  if (!src.includes(p.source!)) return `${p.kind} ${p.from} -> ${INTERNET}: left with source ${src.join(', ') || 'unchanged'}, not its EIP ${p.source}`;
  return undefined;
}

/** Whether the router asked for a next hop's MAC (an ARP request) instead of sending the packet: SB has no MAC_Binding for it. */
export function askedArp(trace: string): boolean {
  return /^\s*arp \{$/m.test(trace);
}
