/**
 * The one-object API (NatObjects: put, delete, get, list), against a real
 * OVN: each change is one transaction, a refusal leaves the set and NB as
 * they were, and a set that was not loaded with the whole manifest never
 * removes rows of objects it was not told about. Checked with ovn-nbctl.
 * The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { ManifestObject } from '../src/nat/objects.js';
import { NatObjects } from '../src/nat/objects-api.js';
import { PlanError } from '../src/nat/rows.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { catchAsync } from './helpers/util.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const NETWORK = ['00-centralized-external-gw-no-ip.yaml', '01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml', '01-vpc-ecmp-enable-external-bfd.yml', '02-subnet.yml'].map((n) => join(SEED, n));
for (const [i, c] of ['pc-node-1', 'pc-node-2', 'pc-node-3'].entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

const objs = (yaml: string): ManifestObject[] => parseManifest(yaml, 'api.yaml').objects;
const eip = (name: string, ip?: string) => objs(`kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {externalSubnet: external204, type: nat${ip ? `, v4Ip: ${ip}` : ''}}\n`)[0];
const fip = (name: string, eipName: string, ip: string) => objs(`kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {ovnEip: ${eipName}, vpc: vpc1, v4Ip: ${ip}}\n`)[0];
const natList = async () => (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' ')).filter(Boolean).sort();

const api = new NatObjects(gw);

t.test('an empty manifest is refused, not taken as "remove everything": NB unchanged', async (t) => {
  await nbctl(sb, 'lr-add', 'bystander');
  const before = await nbctl(sb, 'show');
  const e = await catchAsync(api.load({ objects: [], notices: [] }));
  t.match((e as Error)?.message, /no objects given: a manifest without objects would remove every object of the owner/, 'load([]) is refused');
  const g = await catchAsync(gw.apply({ objects: [], notices: [] }));
  t.match((g as Error)?.name, 'EmptyManifestError', 'NatGateway.apply([]) too (the daemon reconciling an empty directory gets this)');
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged');
  await nbctl(sb, 'lr-del', 'bystander');
});

t.test('load: the network and vpc1 from the seed, in one transaction', async (t) => {
  const r = await api.load(await loadManifests(NETWORK));
  t.ok(r.transacted);
  t.match(await nbctl(sb, 'show', 'vpc1'), /port vpc1-external204/);
  t.equal(api.manifest().objects.length, (await loadManifests(NETWORK)).objects.length, 'the set holds the manifest');
});

t.test('put: an EIP and a FIP; get and list read them back', async (t) => {
  const r = await api.put(eip('eip-a', '10.5.204.150'), fip('fip-a', 'eip-a', '192.168.0.2'));
  t.ok(r.transacted);
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.object}`).sort(),
    ['add OvnEip/eip-a', 'add OvnFip/fip-a'],
    'only the two new objects change',
  );
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.2'], 'lr-nat-list vpc1: the FIP');
  const st = api.get('OvnFip', 'fip-a');
  t.match(st, { kind: 'OvnFip', name: 'fip-a', vpc: 'vpc1', v4Eip: '10.5.204.150', v4Ip: '192.168.0.2', ready: true }, 'get OvnFip fip-a');
  t.same(api.list('OvnEip').map((s) => `${s.name} ${s.v4Ip}`), ['eip-a 10.5.204.150'], 'list OvnEip');
  t.equal((await api.put(fip('fip-a', 'eip-a', '192.168.0.2'))).transacted, false, 'putting the same object again sends no transaction');
});

t.test('put a changed object: the FIP rebinds in place, in one transaction', async (t) => {
  const uuid = (await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'NAT', 'external_ip=10.5.204.150')).trim();
  const r = await api.put(fip('fip-a', 'eip-a', '192.168.0.3'));
  t.same(r.plan.changes.map((c) => `${c.action} ${c.table} ${Object.keys(c.columns ?? {}).join(',')}`), ['change NAT logical_ip'], 'one change');
  t.equal((await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'NAT', 'external_ip=10.5.204.150')).trim(), uuid, 'same NAT row');
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.3']);
});

t.test('refusals leave the set and NB unchanged', async (t) => {
  const before = await nbctl(sb, 'show');
  const held = api.manifest().objects.length;
  const inUse = await catchAsync(api.delete('OvnEip', 'eip-a'));
  t.type(inUse, PlanError, 'deleting an EIP a FIP uses');
  t.match((inUse as Error).message, /OvnFip fip-a.*: spec\.ovnEip: OvnEip "eip-a" not found/, 'the FIP that needs it says so');
  const bad = await catchAsync(api.put(fip('fip-b', 'eip-a', '192.168.0.4')));
  t.match((bad as Error).message, /OvnFip fip-b.*: spec\.ovnEip: OvnEip "eip-a" is already used by OvnFip\/fip-a/, 'a second FIP on the same EIP');
  const missing = await catchAsync(api.delete('OvnFip', 'nope'));
  t.match((missing as Error).message, /OvnFip "nope" not found \(owner ovn-natgw\)/);
  t.equal(api.manifest().objects.length, held, 'the set is unchanged');
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged');
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.3']);
});

t.test('delete: the FIP, then its EIP; each takes exactly its rows', async (t) => {
  const r = await api.delete('OvnFip', 'fip-a');
  t.same(r.plan.changes.map((c) => `${c.action} ${c.object} ${c.table}`), ['remove OvnFip/fip-a NAT'], 'its NAT row');
  t.same(await natList(), []);
  const e = await api.delete('OvnEip', 'eip-a');
  t.same(e.plan.changes.map((c) => `${c.action} ${c.label}`), ['remove reservation 10.5.204.150 on external204 (ovn-natgw/OvnEip/eip-a)'], 'its reservation');
  t.equal(api.get('OvnEip', 'eip-a'), undefined, 'get: gone');
});

t.test('concurrent puts are serialized and both land; a fresh set does not remove what it was not told about', async (t) => {
  const [a, b] = await Promise.all([api.put(eip('eip-c', '10.5.204.160')), api.put(eip('eip-d', '10.5.204.161'))]);
  t.ok(a.transacted && b.transacted, 'two transactions');
  t.same(api.list('OvnEip').map((s) => s.name).sort(), ['eip-c', 'eip-d'], 'both EIPs reserved');

  // another process's API, not loaded with the manifest: it knows only what it is given
  const other = new NatObjects(gw);
  const r = await other.put(...(await loadManifests(NETWORK)).objects, eip('eip-e', '10.5.204.170'));
  t.same(r.plan.changes.map((c) => `${c.action} ${c.object}`), ['add OvnEip/eip-e'], 'it adds its EIP and removes nothing');
  t.same(api.list('OvnEip').map((s) => s.name).sort(), ['eip-c', 'eip-d', 'eip-e'], 'the first set\'s EIPs are still there');
  // while a full apply of a manifest is the owner's whole state: what is not in it goes
  const full = await gw.apply(await loadManifests(NETWORK));
  t.same(full.plan.changes.map((c) => `${c.action} ${c.object}`).sort(), ['remove OvnEip/eip-c', 'remove OvnEip/eip-d', 'remove OvnEip/eip-e']);
});
