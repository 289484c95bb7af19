// NAT on a real OVN, checked with OVN's own tools: a dual-stack VPC with an
// external network, a floating IP, a subnet SNAT and a port DNAT is applied
// through the declarative layer; then
//  1. ovn-northd compiled it: the SB logical flows of router vpc1 carry
//     ct_snat/ct_dnat for the FIP's EIP, ct_snat for the SNAT EIP and a ct_lb
//     (or ct_lb_mark) to the internal IP:port for the DNAT VIP;
//  2. ovn-trace follows packets through the logical network: out to the
//     internet with the right EIP as source, in to the FIP's EIP and to the
//     DNAT's EIP:port, delivered to the workload; IPv4 and IPv6.
//
// What ovn-trace needs here (OVN 23.03), learned the hard way:
//  - the gateway port vpc1-external204 has Gateway_Chassis, so northd makes it
//    a distributed gateway port with a chassisredirect port
//    "cr-vpc1-external204" and guards the NAT flows with
//    is_chassis_resident("cr-vpc1-external204"). No chassis binding is needed:
//    ovn-trace is not chassis specific and takes every existing port as
//    resident, and it replaces an output to the cr- port by the distributed
//    port ("Replacing type "chassisredirect" outport ...").
//  - the router resolves the next hop (the external gateway of the default
//    route) with get_arp/get_nd, which ovn-trace answers from SB MAC_Binding
//    only (not from NB Static_MAC_Binding); without a binding the router sends
//    an ARP request instead of the packet. So the test writes one MAC_Binding
//    per family for the upstream gateway.
//  - ct_snat/ct_dnat with an address rewrite the header in ovn-trace and show
//    it ("ct_snat(ip4.src=...)"; 23.03 prints the in_czone variants as
//    "ct_snatin_czone(...)"), but ct_lb(backends=...) rewrites silently
//    (a bare "ct_lb {"). The DNAT's new destination address shows in routing
//    and delivery to the workload port; its new destination port is made
//    visible with an ACL on the workload's switch that admits only tcp.dst ==
//    22 to the workload (checked both ways with a direct packet).
//  - --ct=new: every ct action that reads the state (ct_next, ct_lb, a bare
//    ct_dnat) takes the next --ct; the default is est, which skips the
//    ct.new-only load-balancer flow. The flag is given more times than any
//    path uses.
//  - --minimal prints only header changes and deliveries: the lines to assert.
import t, { type Test } from 'tap';
import { withSandbox, nbctl, ovnTrace, sbctl } from './helpers/sandbox.js';
import { deliveries } from '../src/sandbox/ovn-trace.js';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { dualStackNetwork, esc, unquote, upstreamMacBindings } from './helpers/nat-fixture.js';

const sb = await withSandbox(t);

const GW_MAC = '00:00:00:cc:cc:fe'; // the upstream router of the external network
const VM1 = { port: 'vm1.vpc1', mac: '00:00:00:0a:dd:27', v4: '192.168.0.2', v6: 'fd00:10::2' }; // FIP, DNAT
const VM2 = { port: 'vm2.vpc1', mac: '00:00:00:0b:e9:d0', v4: '192.168.0.3', v6: 'fd00:10::3' }; // SNAT only
const INTERNET = { v4: '8.8.8.8', v6: '2001:db8::8' };

const NETWORK = dualStackNetwork(['gw-1', 'gw-2']);

const NAT = `kind: OvnEip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-fip
spec:
  externalSubnet: external204
  type: nat
---
kind: OvnFip
apiVersion: kubeovn.io/v1
metadata:
  name: fip-vm1
spec:
  ovnEip: eip-fip
  ipName: ${VM1.port}
---
kind: OvnEip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-snat
spec:
  externalSubnet: external204
  type: nat
---
kind: OvnSnatRule
apiVersion: kubeovn.io/v1
metadata:
  name: snat-subnet1
spec:
  ovnEip: eip-snat
  vpcSubnet: vpc1-subnet1
---
kind: OvnEip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-dnat
spec:
  externalSubnet: external204
  type: nat
---
kind: OvnDnatRule
apiVersion: kubeovn.io/v1
metadata:
  name: ssh-vm1
spec:
  ovnEip: eip-dnat
  ipName: ${VM1.port}
  protocol: tcp
  internalPort: "22"
  externalPort: "2222"
`;

for (const [i, name] of ['gw-1', 'gw-2'].entries()) await sbctl(sb, 'chassis-add', name, 'geneve', `127.0.0.${i + 1}`);
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

// the network first: the workload ports need the internal switch, and they are made by the CNI (here ovn-nbctl)
await gw.apply(parseManifest(NETWORK, 'network.yaml'));
for (const vm of [VM1, VM2]) {
  await nbctl(sb, 'lsp-add', 'vpc1-subnet1', vm.port, '--', 'lsp-set-addresses', vm.port, `${vm.mac} ${vm.v4} ${vm.v6}`);
}
const applied = await gw.apply(parseManifest(`${NETWORK}---\n${NAT}`, 'vpc1.yaml'));
await nbctl(sb, '--wait=sb', 'sync'); // northd has compiled all of it into SB

const INT_MAC = unquote(await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-vpc1-subnet1', 'mac'));
const EXT_MAC = unquote(await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-external204', 'mac'));

/** The EIPs as reserved in the external switch's ledger, read with ovn-nbctl. */
async function eipAddresses(): Promise<Map<string, { v4: string; v6: string }>> {
  const ids = await nbctl(sb, 'get', 'Logical_Switch', 'external204', 'external_ids');
  const out = new Map<string, { v4: string; v6: string }>();
  for (const [, ip, holder] of ids.matchAll(/"ovn-natgw:ip:([^"]+)"="?ovn-natgw\/OvnEip\/([^",}]+)"?/g)) {
    const e = out.get(holder) ?? { v4: '', v6: '' };
    if (ip.includes(':')) e.v6 = ip;
    else e.v4 = ip;
    out.set(holder, e);
  }
  return out;
}
const eips = await eipAddresses();
const FIP = eips.get('eip-fip') ?? { v4: '?', v6: '?' };
const SNAT = eips.get('eip-snat') ?? { v4: '?', v6: '?' };
const DNAT = eips.get('eip-dnat') ?? { v4: '?', v6: '?' };

// the upstream gateway's MAC for get_arp/get_nd (see the top of the file)
await upstreamMacBindings(sb, GW_MAC);
// admit only tcp port 22 into vm1, so a delivered DNAT packet proves its new destination port
await nbctl(sb, 'acl-add', 'vpc1-subnet1', 'to-lport', '1000', `outport == "${VM1.port}" && tcp.dst == 22`, 'allow-related');
await nbctl(sb, 'acl-add', 'vpc1-subnet1', 'to-lport', '900', `outport == "${VM1.port}" && tcp`, 'drop');
await nbctl(sb, '--wait=sb', 'sync');


t.test('the manifest applied: dual-stack EIPs, NAT rows and the DNAT balancer in NB', async (t) => {
  t.ok(applied.transacted, 'applied in one transaction');
  for (const [name, e] of [['eip-fip', FIP], ['eip-snat', SNAT], ['eip-dnat', DNAT]] as const) {
    t.match(e.v4, /^10\.5\.204\.\d+$/, `${name} has an IPv4 address of external204 (${e.v4})`);
    t.match(e.v6, /^fd00:5::[0-9a-f]+$/, `${name} has an IPv6 address of external204 (${e.v6})`);
  }
  t.equal(new Set([FIP, SNAT, DNAT].flatMap((e) => [e.v4, e.v6])).size, 6, 'six different addresses');
  const nat = (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  for (const row of [
    `dnat_and_snat ${FIP.v4} ${VM1.v4}`,
    `dnat_and_snat ${FIP.v6} ${VM1.v6}`,
    `snat ${SNAT.v4} 192.168.0.0/24`,
    `snat ${SNAT.v6} fd00:10::/64`,
  ]) {
    t.ok(nat.includes(row), `ovn-nbctl lr-nat-list vpc1: ${row}`);
  }
  const routes = (await nbctl(sb, 'lr-route-list', 'vpc1')).split('\n').map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '));
  t.ok(routes.includes('0.0.0.0/0 10.5.204.254 dst-ip'), 'ovn-nbctl lr-route-list vpc1: the IPv4 default route via the external gateway', { routes });
  t.ok(routes.includes('::/0 fd00:5::fe dst-ip'), 'ovn-nbctl lr-route-list vpc1: the IPv6 default route via the external gateway', { routes });
  const lb = await nbctl(sb, 'lr-lb-list', 'vpc1');
  t.match(lb, new RegExp(`ssh-vm1\\s+tcp\\s+${esc(DNAT.v4)}:2222\\s+${esc(VM1.v4)}:22`), 'ovn-nbctl lr-lb-list vpc1: the IPv4 VIP');
  t.match(lb, new RegExp(`tcp\\s+\\[${esc(DNAT.v6)}\\]:2222\\s+\\[${esc(VM1.v6)}\\]:22`), 'ovn-nbctl lr-lb-list vpc1: the IPv6 VIP');
});

interface Lflow {
  stage: string;
  priority: number;
  match: string;
  action: string;
}

/** `ovn-sbctl lflow-list vpc1`, one entry per flow. */
async function routerFlows(): Promise<Lflow[]> {
  const out: Lflow[] = [];
  for (const line of (await sbctl(sb, 'lflow-list', 'vpc1')).split('\n')) {
    const m = /table=\s*\d+\s*\((\S+)\s*\), priority=(\d+)\s*, match=\((.*)\), action=\((.*)\)$/.exec(line);
    if (m) out.push({ stage: m[1], priority: Number(m[2]), match: m[3], action: m[4] });
  }
  return out;
}

t.test('ovn-northd compiled NAT and DNAT into the logical flows of vpc1', async (t) => {
  const flows = await routerFlows();
  t.ok(flows.length > 50, `ovn-sbctl lflow-list vpc1 lists the router's flows (${flows.length})`);
  const has = (stage: string, matchParts: string[], action: RegExp) =>
    flows.some((f) => f.stage === stage && matchParts.every((p) => f.match.includes(p)) && action.test(f.action));
  // 23.03 writes the in_czone variants (ct_snat_in_czone(...)) for a distributed gateway port,
  // and plain ct_snat(...) for the hairpin case: accept both spellings
  for (const fam of ['4', '6'] as const) {
    const fip = fam === '4' ? FIP.v4 : FIP.v6;
    const vm = fam === '4' ? VM1.v4 : VM1.v6;
    const snat = fam === '4' ? SNAT.v4 : SNAT.v6;
    const subnet = fam === '4' ? '192.168.0.0/24' : 'fd00:10::/64';
    t.ok(has('lr_out_snat', [`ip${fam}.src == ${vm}`], new RegExp(`ct_snat(_in_czone)?\\(${esc(fip)}\\)`)), `FIP: lr_out_snat ip${fam}.src == ${vm} -> ct_snat(${fip})`);
    t.ok(has('lr_in_dnat', [`ip${fam}.dst == ${fip}`], new RegExp(`ct_dnat(_in_czone)?\\(${esc(vm)}\\)`)), `FIP: lr_in_dnat ip${fam}.dst == ${fip} -> ct_dnat(${vm})`);
    t.ok(has('lr_in_unsnat', [`ip${fam}.dst == ${fip}`], /ct_snat/), `FIP: lr_in_unsnat for ${fip}`);
    t.ok(has('lr_out_snat', [`ip${fam}.src == ${subnet}`], new RegExp(`ct_snat(_in_czone)?\\(${esc(snat)}\\)`)), `SNAT: lr_out_snat ip${fam}.src == ${subnet} -> ct_snat(${snat})`);
    t.ok(has('lr_in_unsnat', [`ip${fam}.dst == ${snat}`], /ct_snat/), `SNAT: lr_in_unsnat for ${snat}`);
    const vip = fam === '4' ? DNAT.v4 : DNAT.v6;
    const backend = fam === '4' ? `${VM1.v4}:22` : `[${VM1.v6}]:22`;
    t.ok(
      has('lr_in_dnat', [`ip${fam}.dst == ${vip}`, 'tcp.dst == 2222', 'ct.new'], new RegExp(`ct_lb(_mark)?\\(backends=${esc(backend)}\\)`)),
      `DNAT: lr_in_dnat ct.new && ip${fam}.dst == ${vip} && tcp.dst == 2222 -> ct_lb(backends=${backend})`,
    );
  }
  // every NAT flow is tied to the gateway port's chassis
  const natFlows = flows.filter((f) => /ct_(s|d)nat(_in_czone)?\(/.test(f.action) && f.stage !== 'lr_in_defrag');
  t.ok(natFlows.length >= 8, `${natFlows.length} NAT flows with an address`);
  t.same(natFlows.filter((f) => !f.match.includes('is_chassis_resident("cr-vpc1-external204")')).map((f) => f.match), [], 'all of them only on the gateway chassis (is_chassis_resident)');
});

// ------------------------------------------------------------------ ovn-trace

const trace = (microflow: string) => ovnTrace(sb, microflow);

/** A tcp packet: from a workload to the router, or from the upstream gateway to the external router port. */
function fromVm(vm: typeof VM1, fam: 4 | 6, dst: string, port = 80): string {
  return `inport == "${vm.port}" && eth.src == ${vm.mac} && eth.dst == ${INT_MAC} && ip${fam}.src == ${fam === 4 ? vm.v4 : vm.v6} && ip${fam}.dst == ${dst} && ip.ttl == 64 && tcp && tcp.dst == ${port}`;
}
function fromInternet(fam: 4 | 6, dst: string, port = 80): string {
  return `inport == "localnet.external204" && eth.src == ${GW_MAC} && eth.dst == ${EXT_MAC} && ip${fam}.src == ${fam === 4 ? INTERNET.v4 : INTERNET.v6} && ip${fam}.dst == ${dst} && ip.ttl == 64 && tcp && tcp.dst == ${port}`;
}

/** Assert that a trace delivers to exactly one port, `port`, with steps matching each pattern on the way. */
function delivered(t: Test, out: string, port: string, steps: (string | RegExp)[], what: string): void {
  const d = deliveries(out);
  t.same(d.map((x) => x.port), [port], `${what}: delivered once, to ${port}`, { trace: out });
  for (const want of steps) {
    const ok = d[0]?.steps.some((s) => (typeof want === 'string' ? s === want : want.test(s))) ?? false;
    t.ok(ok, `${what}: on the way, ${String(want)}`, { trace: out });
  }
}

for (const fam of [4, 6] as const) {
  const v = (e: { v4: string; v6: string }) => (fam === 4 ? e.v4 : e.v6);
  const internet = fam === 4 ? INTERNET.v4 : INTERNET.v6;
  // ct_snat/ct_dnat with an address show the rewrite; 23.03 prints "ct_snatin_czone(ip4.src=...)" for the in_czone variants
  const snatTo = (ip: string) => new RegExp(`^ct_snat\\w*\\(ip${fam}\\.src=${esc(ip)}\\)$`);
  const dnatTo = (ip: string) => new RegExp(`^ct_dnat\\w*\\(ip${fam}\\.dst=${esc(ip)}\\)$`);

  t.test(`ovn-trace IPv${fam}: vm2 (SNAT only) to the internet leaves with the SNAT EIP`, async (t) => {
    const out = await trace(fromVm(VM2, fam, internet));
    delivered(t, out, 'localnet.external204', [`eth.dst = ${GW_MAC};`, snatTo(v(SNAT))], 'vm2 -> internet');
    t.notMatch(out, v(FIP), 'the FIP EIP appears nowhere');
  });

  t.test(`ovn-trace IPv${fam}: vm1 (FIP) to the internet leaves with the FIP EIP`, async (t) => {
    const out = await trace(fromVm(VM1, fam, internet));
    delivered(t, out, 'localnet.external204', [`eth.dst = ${GW_MAC};`, snatTo(v(FIP))], 'vm1 -> internet');
    t.notMatch(out, v(SNAT), 'the subnet SNAT EIP appears nowhere (the FIP flow has the higher priority)');
  });

  t.test(`ovn-trace IPv${fam}: from the internet to the FIP EIP arrives at vm1`, async (t) => {
    // tcp/22: the ACL admits it to vm1, and a FIP keeps ports as they are
    const out = await trace(fromInternet(fam, v(FIP), 22));
    delivered(t, out, VM1.port, [dnatTo(v(VM1)), `eth.dst = ${VM1.mac};`], `internet -> ${v(FIP)}`);
  });

  t.test(`ovn-trace IPv${fam}: tcp to the DNAT EIP:2222 is balanced to vm1:22`, async (t) => {
    // the ACL first: tcp/22 reaches vm1, tcp/2222 does not (a direct packet from vm2, no NAT)
    const direct = (port: number) =>
      `inport == "${VM2.port}" && eth.src == ${VM2.mac} && eth.dst == ${VM1.mac} && ip${fam}.src == ${v(VM2)} && ip${fam}.dst == ${v(VM1)} && ip.ttl == 64 && tcp && tcp.dst == ${port}`;
    t.same(deliveries(await trace(direct(22))).map((d) => d.port), [VM1.port], 'control: vm2 -> vm1 tcp/22 is delivered');
    t.same(deliveries(await trace(direct(2222))).map((d) => d.port), [], 'control: vm2 -> vm1 tcp/2222 is dropped by the ACL');

    // ct_lb rewrites silently in ovn-trace: routing to vm1 shows the new address, passing the ACL the new port
    const out = await trace(fromInternet(fam, v(DNAT), 2222));
    delivered(t, out, VM1.port, [/^ct_lb\w*$/, `eth.dst = ${VM1.mac};`], `internet -> ${v(DNAT)}:2222 (so ip${fam}.dst = ${v(VM1)}, tcp.dst = 22)`);
    const other = deliveries(await trace(fromInternet(fam, v(DNAT), 2223)));
    t.notOk(other.some((d) => d.port === VM1.port), 'tcp to another port of the DNAT EIP does not reach vm1');
  });
}
