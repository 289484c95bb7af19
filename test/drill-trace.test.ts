/**
 * The drill's ovn-trace check (src/cli/drill-trace.ts), without a server:
 * the probes found in an in-memory NB (a router as the drill builds it), and
 * traces as ovn-trace 23.03 prints them with --minimal (recorded from the
 * drill's topology) read as leaving right or wrong.
 */
import t from 'tap';
import { askedArp, checkProbe, probesOf, type Probe } from '../src/cli/drill-trace.js';
import { memoryNbView } from '../src/nat/nb-view.js';

const m = (o: Record<string, string> = {}) => new Map(Object.entries(o));
const lrp = (u: string, name: string, mac: string, gw = false) => ({ _uuid: u, name, mac, networks: [], gateway_chassis: gw ? ['gc1'] : [], ha_chassis_group: null, options: m(), external_ids: m() });
const rport = (u: string, lrpName: string) => ({ _uuid: u, name: `rp-${lrpName}`, type: 'router', addresses: ['router'], options: m({ 'router-port': lrpName }) });
const lsp = (u: string, name: string, addr: string, type = '') => ({ _uuid: u, name, type, addresses: [addr], options: m() });

const nb = memoryNbView({
  Logical_Router: [{ _uuid: 'r', name: 'drill-0', ports: ['p-ext', 'p-net', 'p-join', 'p-egr'], nat: ['n-fip', 'n-snat'], policies: ['pol'], static_routes: [] }],
  Logical_Router_Port: [lrp('p-ext', 'drill-0-physnet1', '00:00:00:3e:3e:90', true), lrp('p-net', 'drill-0-drill-0-net', '00:00:00:20:26:04'), lrp('p-join', 'drill-0-drill-0-join', '00:00:00:4c:e0:55'), lrp('p-egr', 'drill-0-drill-0-egress', '00:00:00:21:0f:f2')],
  Logical_Switch: [
    { _uuid: 's-ext', name: 'physnet1', ports: ['l-ln', 'l-rext'] },
    { _uuid: 's-net', name: 'drill-0-net', ports: ['l-rnet', 'l-vm', 'l-pod'] },
    { _uuid: 's-join', name: 'drill-0-join', ports: ['l-rjoin', 'l-n1', 'l-n2'] },
    { _uuid: 's-egr', name: 'drill-0-egress', ports: ['l-regr', 'l-epod'] },
    // another router's join switch with the same node addresses: not drill-0's next hops
    { _uuid: 's-join1', name: 'drill-1-join', ports: ['l-x1'] },
  ],
  Logical_Switch_Port: [
    lsp('l-ln', 'localnet.physnet1', 'unknown', 'localnet'),
    rport('l-rext', 'drill-0-physnet1'),
    rport('l-rnet', 'drill-0-drill-0-net'),
    rport('l-rjoin', 'drill-0-drill-0-join'),
    rport('l-regr', 'drill-0-drill-0-egress'),
    lsp('l-vm', 'drill-0-vm', '0a:00:00:00:01:0a 10.100.0.10'),
    lsp('l-pod', 'drill-0-pod', '0a:00:00:00:01:14 10.100.0.20'),
    lsp('l-epod', 'drill-0-epod', '0a:00:00:00:02:0a 10.150.0.10'),
    lsp('l-n1', 'drill-0-node-gw1', '0a:00:00:00:03:01 100.64.0.2'),
    lsp('l-n2', 'drill-0-node-gw2', '0a:00:00:00:03:02 100.64.0.3'),
    lsp('l-x1', 'drill-1-node-gw1', '0a:00:01:00:03:01 100.64.0.2'),
  ],
  NAT: [
    { _uuid: 'n-fip', type: 'dnat_and_snat', external_ip: '10.5.0.12', logical_ip: '10.100.0.10' },
    { _uuid: 'n-snat', type: 'snat', external_ip: '10.5.0.13', logical_ip: '10.100.0.0/24' },
  ],
  Logical_Router_Policy: [{ _uuid: 'pol', priority: 29000, match: 'ip4.src == 10.150.0.0/24', action: 'reroute', nexthops: ['100.64.0.2', '100.64.0.3'] }],
} as never);

// recorded: ovn-trace --ct=new (x8) --minimal, OVN 23.03, on the drill's router drill-0
const FIP_TRACE = `# tcp,reg14=0x2,vlan_tci=0x0000,dl_src=0a:00:00:00:01:0a,dl_dst=00:00:00:20:26:04,nw_src=10.100.0.10,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=0,tp_dst=80,tcp_flags=0
ip.ttl--;
eth.src = 00:00:00:3e:3e:90;
eth.dst = 0a:00:00:00:00:fe;
ct_dnatin_czone /* assuming no un-dnat entry, so no change */ {
    ct_snatin_czone(ip4.src=10.5.0.12) {
        output("localnet.physnet1");
    };
};
`;
const SNAT_TRACE = `# tcp,reg14=0x3,vlan_tci=0x0000,dl_src=0a:00:00:00:01:14,dl_dst=00:00:00:20:26:04,nw_src=10.100.0.20,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=0,tp_dst=80,tcp_flags=0
ip.ttl--;
eth.src = 00:00:00:3e:3e:90;
eth.dst = 0a:00:00:00:00:fe;
ct_snatin_czone(ip4.src=10.5.0.13) {
    output("localnet.physnet1");
};
`;
const EGRESS_TRACE = `# tcp,reg14=0x2,vlan_tci=0x0000,dl_src=0a:00:00:00:02:0a,dl_dst=00:00:00:21:0f:f2,nw_src=10.150.0.10,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=0,tp_dst=80,tcp_flags=0
ip.ttl--;
eth.src = 00:00:00:3e:3e:90;
eth.src = 00:00:00:4c:e0:55;
eth.dst = 0a:00:00:00:03:01;
output("drill-0-node-gw1");
`;
// the reroute's next hop with no port on the join switch: the router can only ask for its MAC
const ARP_TRACE = `# tcp,reg14=0x2,vlan_tci=0x0000,dl_src=0a:00:00:00:02:0a,dl_dst=00:00:00:21:0f:f2,nw_src=10.150.0.10,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=0,tp_dst=80,tcp_flags=0
ip.ttl--;
eth.src = 00:00:00:3e:3e:90;
eth.src = 00:00:00:4c:e0:55;
eth.dst = 00:00:00:00:00:00;
arp {
    eth.dst = ff:ff:ff:ff:ff:ff;
    arp.spa = 0x64400001;
    arp.tpa = 0x64400002;
    arp.op = 1;
};
`;

const probes = probesOf(nb, 'drill-0');
const by = (k: Probe['kind']) => probes.find((p) => p.kind === k)!;

t.test('probesOf: the FIP workload, a SNAT-only workload and the egress subnet, each from its own port', async (t) => {
  t.same(probes.map((p) => `${p.kind} ${p.from}`), ['fip drill-0-vm', 'snat drill-0-pod', 'egress drill-0-epod']);
  t.equal(by('fip').microflow, 'inport == "drill-0-vm" && eth.src == 0a:00:00:00:01:0a && eth.dst == 00:00:00:20:26:04 && ip4.src == 10.100.0.10 && ip4.dst == 8.8.8.8 && ip.ttl == 64 && tcp && tcp.dst == 80');
  t.match(by('fip'), { port: 'localnet.physnet1', source: '10.5.0.12' });
  t.match(by('snat'), { port: 'localnet.physnet1', source: '10.5.0.13' }, 'the SNAT workload is not the FIP one');
  t.same([...by('egress').nexthops!], [['drill-0-node-gw1', '100.64.0.2'], ['drill-0-node-gw2', '100.64.0.3']], "the next hops' ports on this router's join switch, not another router's");
  t.match(by('egress').microflow, /eth\.dst == 00:00:00:21:0f:f2 && ip4\.src == 10\.150\.0\.10/, 'sent to the egress subnet router port');
  t.same(probesOf(nb, 'ghost'), [], 'no router, no probes');
});

t.test('checkProbe: the recorded traces leave as they should', async (t) => {
  t.equal(checkProbe(by('fip'), FIP_TRACE), undefined, 'the FIP workload leaves with the FIP EIP');
  t.equal(checkProbe(by('snat'), SNAT_TRACE), undefined, 'the SNAT workload with the SNAT EIP');
  t.equal(checkProbe(by('egress'), EGRESS_TRACE, new Set(['100.64.0.3'])), undefined, 'egress to gw1, alive');
});

t.test('checkProbe: what goes wrong is named', async (t) => {
  t.equal(checkProbe(by('snat'), FIP_TRACE), 'snat drill-0-pod -> 8.8.8.8: left with source 10.5.0.12, not its EIP 10.5.0.13');
  t.equal(checkProbe(by('fip'), EGRESS_TRACE), 'fip drill-0-vm -> 8.8.8.8: delivered to [drill-0-node-gw1], not to localnet.physnet1');
  t.equal(checkProbe(by('fip'), SNAT_TRACE.replace(/ct_snatin_czone\(ip4.src=10.5.0.13\) \{\n {4}(output.*)\n\};/, '$1')), 'fip drill-0-vm -> 8.8.8.8: left with source unchanged, not its EIP 10.5.0.12');
  t.equal(checkProbe(by('egress'), EGRESS_TRACE, new Set(['100.64.0.2'])), 'egress from drill-0-epod: delivered to drill-0-node-gw1 (100.64.0.2), a dead node');
  t.equal(checkProbe(by('egress'), ARP_TRACE), 'egress from drill-0-epod: delivered to [], not to one gateway node');
  t.equal(checkProbe(by('egress'), FIP_TRACE), 'egress from drill-0-epod: delivered to localnet.physnet1, not to a next hop of its reroute');
});

t.test('askedArp: an ARP for the next hop instead of the packet', async (t) => {
  t.ok(askedArp(ARP_TRACE));
  t.notOk(askedArp(EGRESS_TRACE));
});
