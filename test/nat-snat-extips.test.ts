// SNAT limited to some destinations (allowedExtIps -> NAT allowed_ext_ips) or
// exempted for some (exemptedExtIps -> NAT exempted_ext_ips), on a real OVN:
// the Address_Set rows per address family, the NAT row's reference to them,
// what ovn-northd compiles from it (the SNAT flow matches the set's
// $name), and ovn-trace: a packet to an allowed (not exempted) destination
// leaves with the EIP, one to any other destination leaves untranslated.
// Then switching from allow to exempt, dropping the limit and removing the
// rule, each in one transaction; and the refusals, with NB unchanged.
import t, { type Test } from 'tap';
import { withSandbox, nbctl, ovnTrace, sbctl } from './helpers/sandbox.js';
import { nbSnapshots } from './helpers/nb-snapshot.js';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { dualStackNetwork, esc, unquote, upstreamMacBindings } from './helpers/nat-fixture.js';

const sb = await withSandbox(t);

const GW_MAC = '00:00:00:cc:cc:fe';
const VM = { port: 'vm2.vpc1', mac: '00:00:00:0b:e9:d0', v4: '192.168.0.3', v6: 'fd00:10::3' };
const ALLOWED = { v4: '8.8.8.8', v6: '2001:db8::8' }; // in the limit's CIDRs
const OTHER = { v4: '1.1.1.1', v6: '2001:db9::1' }; // outside them

const NETWORK = `${dualStackNetwork(['gw-1'])}---
kind: OvnEip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-snat
spec:
  externalSubnet: external204
`;

/** The manifest with one OvnSnatRule "snat-subnet1" whose spec ends with `extra` (YAML lines). */
function manifest(extra = ''): string {
  return `${NETWORK}---
kind: OvnSnatRule
apiVersion: kubeovn.io/v1
metadata:
  name: snat-subnet1
spec:
  ovnEip: eip-snat
  vpcSubnet: vpc1-subnet1
${extra}`;
}
const ALLOW = `  allowedExtIps: ["8.8.8.0/24", "2001:db8::/64"]\n`;
const EXEMPT = `  exemptedExtIps: ["8.8.8.0/24", "2001:db8::/64"]\n`;
const SET = (which: string, fam: 4 | 6) => `natgw.snat.snat_subnet1.${which}.ip${fam}`;

await sbctl(sb, 'chassis-add', 'gw-1', 'geneve', '127.0.0.1');
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

await gw.apply(parseManifest(NETWORK, 'network.yaml'));
await nbctl(sb, 'lsp-add', 'vpc1-subnet1', VM.port, '--', 'lsp-set-addresses', VM.port, `${VM.mac} ${VM.v4} ${VM.v6}`);
const first = await gw.apply(parseManifest(manifest(ALLOW), 'snat.yaml'));
await nbctl(sb, '--wait=sb', 'sync');

const INT_MAC = unquote(await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-vpc1-subnet1', 'mac'));
const ids = await nbctl(sb, 'get', 'Logical_Switch', 'external204', 'external_ids');
const EIP = {
  v4: /"ovn-natgw:ip:(10\.5\.204\.\d+)"="?ovn-natgw\/OvnEip\/eip-snat/.exec(ids)?.[1] ?? '?',
  v6: /"ovn-natgw:ip:(fd00:5::[0-9a-f]+)"="?ovn-natgw\/OvnEip\/eip-snat/.exec(ids)?.[1] ?? '?',
};

// the upstream gateway's MAC for get_arp/get_nd (see nat-trace.test.ts)
await upstreamMacBindings(sb, GW_MAC);
await nbctl(sb, '--wait=sb', 'sync');

/** The Address_Set rows, name -> { uuid, addresses, owner tags }, as ovn-nbctl lists them. */
async function addressSets(): Promise<Map<string, { uuid: string; addresses: string[]; ids: string }>> {
  const out = new Map<string, { uuid: string; addresses: string[]; ids: string }>();
  const text = await nbctl(sb, '--format=csv', '--data=bare', '--no-headings', '--columns=_uuid,name,addresses,external_ids', 'list', 'Address_Set');
  for (const line of text.split('\n').filter(Boolean)) {
    const [uuid, name, addresses, extIds] = line.split(',');
    out.set(name, { uuid, addresses: addresses.split(' ').filter(Boolean).sort(), ids: extIds });
  }
  return out;
}

/** The snat rows of vpc1, by family: { allowed, exempted } UUIDs ("" when empty). */
async function snatRows(): Promise<{ fam: 4 | 6; allowed: string; exempted: string }[]> {
  const text = await nbctl(sb, '--format=csv', '--data=bare', '--no-headings', '--columns=external_ip,allowed_ext_ips,exempted_ext_ips', 'find', 'NAT', 'type=snat');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(','))
    .map(([ip, allowed, exempted]) => ({ fam: ip.includes(':') ? (6 as const) : (4 as const), allowed, exempted }))
    .sort((a, b) => a.fam - b.fam);
}

const trace = (fam: 4 | 6, dst: string) =>
  ovnTrace(
    sb,
    `inport == "${VM.port}" && eth.src == ${VM.mac} && eth.dst == ${INT_MAC} && ip${fam}.src == ${fam === 4 ? VM.v4 : VM.v6} && ip${fam}.dst == ${dst} && ip.ttl == 64 && tcp && tcp.dst == 80`,
  );

/** A trace that leaves through the external network: with the EIP as source (true), or untranslated (false). */
async function leavesWithEip(t: Test, fam: 4 | 6, dst: string): Promise<boolean> {
  const out = await trace(fam, dst);
  t.match(out, /output\("localnet\.external204"\)/, `to ${dst}: routed out to the external network`, { trace: out });
  const eip = fam === 4 ? EIP.v4 : EIP.v6;
  return new RegExp(`ct_snat\\w*\\(ip${fam}\\.src=${esc(eip)}\\)`).test(out);
}

const snapshots = nbSnapshots(sb);
/** A manifest refused, naming object, field and reason; NB unchanged, row versions included. */
const refused = (t: Test, yaml: string, message: RegExp) => snapshots.refused(t, async () => gw.apply(parseManifest(yaml, 'bad.yaml')), message);

t.test('allowedExtIps: one Address_Set per family, referenced by the SNAT rows', async (t) => {
  t.ok(first.transacted, 'applied in one transaction');
  t.match(EIP, { v4: /^10\.5\.204\./, v6: /^fd00:5::/ }, `the SNAT EIP, both families (${EIP.v4}, ${EIP.v6})`);
  const sets = await addressSets();
  t.same([...sets.keys()].sort(), [SET('allowed', 4), SET('allowed', 6)], 'ovn-nbctl list Address_Set: one per family');
  t.same(sets.get(SET('allowed', 4))?.addresses, ['8.8.8.0/24'], 'the IPv4 set holds the IPv4 CIDR');
  t.same(sets.get(SET('allowed', 6))?.addresses, ['2001:db8::/64'], 'the IPv6 set holds the IPv6 CIDR');
  t.match(sets.get(SET('allowed', 4))?.ids ?? '', /ovn-natgw:kind=OvnSnatRule.*ovn-natgw:name=snat-subnet1/, 'owned, with the rule as its object');
  t.same(
    await snatRows(),
    [
      { fam: 4, allowed: sets.get(SET('allowed', 4))?.uuid, exempted: '' },
      { fam: 6, allowed: sets.get(SET('allowed', 6))?.uuid, exempted: '' },
    ],
    'NAT allowed_ext_ips of each snat row is the set of its family',
  );
  const again = await gw.apply(parseManifest(manifest(ALLOW), 'snat.yaml'));
  t.equal(again.transacted, false, 'a second apply sends nothing');
});

t.test('ovn-northd matches the allowed set in the SNAT flows', async (t) => {
  const flows = (await sbctl(sb, 'lflow-list', 'vpc1')).split('\n').filter((l) => l.includes('lr_out_snat') && /ct_snat/.test(l));
  for (const fam of [4, 6] as const) {
    const eip = fam === 4 ? EIP.v4 : EIP.v6;
    const f = flows.find((l) => l.includes(`ct_snat`) && l.includes(eip) && !l.includes('flags.force_snat'));
    t.ok(f, `lr_out_snat has the IPv${fam} SNAT to ${eip}`);
    t.match(f ?? '', `ip${fam}.dst == $${SET('allowed', fam)}`, `... and it matches ip${fam}.dst == $${SET('allowed', fam)}`);
  }
});

for (const fam of [4, 6] as const) {
  t.test(`ovn-trace IPv${fam}: only traffic to the allowed CIDR is SNATed`, async (t) => {
    t.equal(await leavesWithEip(t, fam, fam === 4 ? ALLOWED.v4 : ALLOWED.v6), true, 'to an allowed destination: with the EIP as source');
    t.equal(await leavesWithEip(t, fam, fam === 4 ? OTHER.v4 : OTHER.v6), false, 'to another destination: untranslated');
  });
}

t.test('switching to exemptedExtIps: the allow sets go, the exempt sets come, in one transaction', async (t) => {
  const r = await gw.apply(parseManifest(manifest(EXEMPT), 'snat.yaml'));
  t.ok(r.transacted && r.converged, 'one transaction, converged');
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.table}`).sort(),
    ['add Address_Set', 'add Address_Set', 'change NAT', 'change NAT', 'remove Address_Set', 'remove Address_Set'],
    'the plan: two sets added, two removed, the two NAT rows changed (not replaced)',
  );
  const sets = await addressSets();
  t.same([...sets.keys()].sort(), [SET('exempted', 4), SET('exempted', 6)], 'only the exempt sets remain');
  t.same(
    await snatRows(),
    [
      { fam: 4, allowed: '', exempted: sets.get(SET('exempted', 4))?.uuid },
      { fam: 6, allowed: '', exempted: sets.get(SET('exempted', 6))?.uuid },
    ],
    'NAT exempted_ext_ips set, allowed_ext_ips cleared',
  );
  await nbctl(sb, '--wait=sb', 'sync');
  for (const fam of [4, 6] as const) {
    t.equal(await leavesWithEip(t, fam, fam === 4 ? ALLOWED.v4 : ALLOWED.v6), false, `IPv${fam}: to the exempted CIDR: untranslated`);
    t.equal(await leavesWithEip(t, fam, fam === 4 ? OTHER.v4 : OTHER.v6), true, `IPv${fam}: to another destination: with the EIP`);
  }
});

t.test('refusals, with NB unchanged', async (t) => {
  await refused(t, manifest(ALLOW + EXEMPT), /OvnSnatRule snat-subnet1.*exemptedExtIps.*give only one of.*allowedExtIps/s);
  await refused(t, manifest(`  allowedExtIps: ["8.8.8.300"]\n`), /OvnSnatRule snat-subnet1.*allowedExtIps\[0\].*is not an IP address/s);
  await refused(t, manifest(`  allowedExtIps: ["8.8.8.1/24"]\n`), /allowedExtIps\[0\].*host bits set, did you mean 8\.8\.8\.0\/24/s);
  await refused(t, manifest(`  allowedExtIps: []\n`), /OvnSnatRule snat-subnet1.*allowedExtIps.*must not be empty/s);
  await refused(t, manifest(`  allowedExtIps: ["8.8.8.0/24"]\n`), /OvnSnatRule snat-subnet1.*spec\.allowedExtIps.*has no IPv6 address, but the rule SNATs IPv6/s);
  // a set of that name that is not ours: the server's unique index would fail the transaction
  await nbctl(sb, 'create', 'Address_Set', `name=${SET('allowed', 4)}`, 'addresses="10.9.9.9"');
  await refused(t, manifest(ALLOW), new RegExp(`OvnSnatRule snat-subnet1.*Address_Set ${esc(SET('allowed', 4))} already exists in NB`, 's'));
  await nbctl(sb, 'destroy', 'Address_Set', SET('allowed', 4));
});

t.test('without a limit the sets go; removing the rule removes its rows', async (t) => {
  const r = await gw.apply(parseManifest(manifest(), 'snat.yaml'));
  t.ok(r.transacted, 'one transaction');
  t.same([...(await addressSets()).keys()], [], 'no Address_Set left');
  t.same(
    await snatRows(),
    [
      { fam: 4, allowed: '', exempted: '' },
      { fam: 6, allowed: '', exempted: '' },
    ],
    'the SNAT rows stay, without limits',
  );
  await nbctl(sb, '--wait=sb', 'sync');
  for (const fam of [4, 6] as const) t.equal(await leavesWithEip(t, fam, fam === 4 ? OTHER.v4 : OTHER.v6), true, `IPv${fam}: any destination is SNATed again`);

  await gw.apply(parseManifest(manifest(ALLOW), 'snat.yaml'));
  t.equal((await addressSets()).size, 2, 'limited again: two sets');
  const gone = await gw.apply(parseManifest(NETWORK, 'network.yaml'));
  t.ok(gone.transacted, 'the rule removed in one transaction');
  t.same(await snatRows(), [], 'no snat row left');
  t.same([...(await addressSets()).keys()], [], 'and no Address_Set');
});
