// READY in `ovn-natgwctl get` (and the library API's status) on a real OVN:
// true while a NAT rule's router and a Vpc's gateway port have a gateway
// chassis; false, with the reason, when the Gateway_Chassis rows are gone
// from NB, or (with --sb) when none of them is an SB chassis any more; true
// again once an apply has put the port on live chassis.
import t, { type Test } from 'tap';
import { withSandbox, nbctl, sbctl } from './helpers/sandbox.js';
import { runCtl } from './helpers/ctl.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { until } from './helpers/util.js';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { NatObjects } from '../src/nat/objects-api.js';

const sb = await withSandbox(t);

const VM = { port: 'vm1.vpc1', mac: '00:00:00:0a:dd:27', v4: '192.168.0.2', v6: 'fd00:10::2' };
const MANIFEST = `${dualStackNetwork([])}---
kind: OvnEip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-fip
spec:
  externalSubnet: external204
---
kind: OvnFip
apiVersion: kubeovn.io/v1
metadata:
  name: fip-vm1
spec:
  ovnEip: eip-fip
  ipName: ${VM.port}
---
kind: OvnEip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-snat
spec:
  externalSubnet: external204
---
kind: OvnSnatRule
apiVersion: kubeovn.io/v1
metadata:
  name: snat-subnet1
spec:
  ovnEip: eip-snat
  vpcSubnet: vpc1-subnet1
`;
// no external-gw-nodes: the chassis with ovn-cms-options=enable-chassis-as-gw are the candidates
const NETWORK_ONLY = MANIFEST.slice(0, MANIFEST.indexOf('---\nkind: OvnEip'));

for (const [i, name] of ['gw-1', 'gw-2'].entries()) {
  await sbctl(sb, 'chassis-add', name, 'geneve', `127.0.0.${i + 1}`);
  await sbctl(sb, 'set', 'Chassis', name, 'other_config:ovn-cms-options=enable-chassis-as-gw');
}
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());
await gw.apply(parseManifest(NETWORK_ONLY, 'network.yaml'));
await nbctl(sb, 'lsp-add', 'vpc1-subnet1', VM.port, '--', 'lsp-set-addresses', VM.port, `${VM.mac} ${VM.v4} ${VM.v6}`);
await gw.apply(parseManifest(MANIFEST, 'nat.yaml'));

/** `ovn-natgwctl [--sb SB|without it] get KIND` as rows of cells. */
async function get(kind: string, withSb = true): Promise<string[][]> {
  const r = await runCtl(withSb ? sb : { nbRemote: sb.nbRemote, sbRemote: '' }, ['get', kind]);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/ {3,}/));
}

/** READY (and REASON, when printed) per NAME from a get table. */
function readiness(rows: string[][]): Record<string, string> {
  const [head, ...body] = rows;
  const ready = head.indexOf('READY');
  const reason = head.indexOf('REASON');
  return Object.fromEntries(body.map((r) => [r[0], reason < 0 || r[ready] === 'true' ? r[ready] : `${r[ready]}: ${r[reason] ?? ''}`]));
}

async function allReady(t: Test, what: string): Promise<void> {
  t.same(readiness(await get('ofip')), { 'fip-vm1': 'true' }, `${what}: get ofip`);
  t.same(readiness(await get('osnat')), { 'snat-subnet1': 'true' }, `${what}: get osnat`);
  t.same(readiness(await get('vpc')), { vpc1: 'true' }, `${what}: get vpc`);
  t.equal((await get('ofip'))[0].includes('REASON'), false, `${what}: no REASON column while all are ready`);
}

t.test('applied on live gateway chassis: READY true', async (t) => {
  const gc = await nbctl(sb, '--bare', '--columns=chassis_name', 'list', 'Gateway_Chassis');
  t.same(gc.split('\n').filter(Boolean).sort(), ['gw-1', 'gw-2'], 'vpc1-external204 is on both enable-chassis-as-gw chassis');
  await allReady(t, 'after apply');
});

t.test('Gateway_Chassis removed from NB: READY false with the reason, until the next apply', async (t) => {
  for (const c of ['gw-1', 'gw-2']) await nbctl(sb, 'lrp-del-gateway-chassis', 'vpc1-external204', c);
  const why = 'false: gateway port vpc1-external204 has no gateway chassis';
  t.same(readiness(await get('ofip')), { 'fip-vm1': why }, 'get ofip');
  t.same(readiness(await get('osnat')), { 'snat-subnet1': why }, 'get osnat');
  t.same(readiness(await get('vpc')), { vpc1: why }, 'get vpc');
  t.same(readiness(await get('oeip')), { 'eip-fip': 'true', 'eip-snat': 'true' }, 'get oeip: a reservation does not need a gateway');
  const json = (JSON.parse((await runCtl(sb, ['get', 'ofip', 'fip-vm1', '-o', 'json'])).stdout) as { status: { ready: boolean; reason: string } }).status;
  t.match(json, { ready: false, reason: 'gateway port vpc1-external204 has no gateway chassis' }, 'get ofip fip-vm1 -o json: ready and reason');

  const r = await gw.apply(parseManifest(MANIFEST, 'nat.yaml'));
  t.ok(r.transacted, 'the next apply puts the Gateway_Chassis back');
  await allReady(t, 'after the apply');
});

t.test('chassis gone from SB: READY false with --sb, true from NB alone', async (t) => {
  for (const c of ['gw-1', 'gw-2']) await sbctl(sb, 'chassis-del', c);
  const rows = readiness(await get('ofip'));
  t.match(rows['fip-vm1'], /^false: none of the gateway chassis of vpc1-external204 \((gw-1, gw-2|gw-2, gw-1)\) is an SB chassis$/, 'get ofip with --sb');
  t.match(readiness(await get('vpc'))['vpc1'], /^false: none of the gateway chassis/, 'get vpc with --sb');
  t.same(readiness(await get('ofip', false)), { 'fip-vm1': 'true' }, 'get ofip without --sb: NB alone has the Gateway_Chassis rows');

  // the library API reads SB through its NatGateway
  const api = new NatObjects(gw);
  await until('the SB replica without chassis', () => gw.chassisNames()?.size === 0);
  t.match(api.get('OvnFip', 'fip-vm1'), { ready: false, reason: /none of the gateway chassis of vpc1-external204/ }, 'NatObjects.get: not ready, with the reason');

  await sbctl(sb, 'chassis-add', 'gw-3', 'geneve', '127.0.0.3');
  await sbctl(sb, 'set', 'Chassis', 'gw-3', 'other_config:ovn-cms-options=enable-chassis-as-gw');
  await until('gw-3 as a gateway candidate in the SB replica', () => gw.chassis().some((c) => c.name === 'gw-3' && c.other_config.get('ovn-cms-options') === 'enable-chassis-as-gw'));
  const r = await gw.apply(parseManifest(MANIFEST, 'nat.yaml'));
  t.ok(r.transacted, 'an apply moves the port to the new gateway chassis');
  t.same((await nbctl(sb, '--bare', '--columns=chassis_name', 'list', 'Gateway_Chassis')).split('\n').filter(Boolean), ['gw-3'], 'vpc1-external204 is on gw-3 alone');
  t.same(readiness(await get('ofip')), { 'fip-vm1': 'true' }, 'get ofip: ready again');
  t.equal(api.get('OvnFip', 'fip-vm1')?.ready, true, 'NatObjects.get: ready again');
});

