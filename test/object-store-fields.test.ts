/**
 * The object store reads what an object names back from its stored document
 * (refs, and the EIP, Vpc and SNAT subnet derived from them: fieldsOf) rather
 * than keeping a copy of those fields per object. The plan of a change renders
 * `closure(ids)`: for every object of a realistic manifest (Kube-OVN's EIP,
 * FIP, VIP FIP, SNAT by subnet and by router, DNAT, an lrp EIP, an external
 * subnet of its own), the closure found from the stored documents equals the
 * closure found from the objects themselves (given as overrides, which the
 * store reads field by field), and so do the dependents. Pure: an in-memory
 * NB holding the documents in NB_Global, no server.
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { loadManifests, sourceOf } from '../src/nat/manifest.js';
import { ObjectStore } from '../src/nat/object-store.js';
import { UsersIndex } from '../src/multimap.js';
import { NbFacts, memoryNbView } from '../src/nat/nb-view.js';
import { DEFAULT_OWNER, GLOBAL_SPEC_PREFIX, idOf } from '../src/nat/rows.js';
import type { ManifestObject } from '../src/nat/objects.js';
import { tempDir } from './helpers/util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = await tempDir(t, 'store-fields-');
const extra = path.join(tmp, 'extra.yaml');
await writeFile(
  extra,
  `apiVersion: kubeovn.io/v1
kind: OvnEip
metadata: {name: vpc1-extra}
spec: {externalSubnet: extra, type: lrp}
---
apiVersion: kubeovn.io/v1
kind: OvnEip
metadata: {name: snat-vpc}
spec: {externalSubnet: external204}
---
apiVersion: kubeovn.io/v1
kind: OvnSnatRule
metadata: {name: snat-by-vpc}
spec: {ovnEip: snat-vpc, vpc: vpc1, v4IpCidr: 192.168.0.0/24}
`,
);
const manifest = await loadManifests([path.join(here, 'fixtures', 'seed002'), extra]);
const objects = manifest.objects as ManifestObject[];
const globals = new Map<string, string>();
for (const o of objects) globals.set(`${GLOBAL_SPEC_PREFIX}${DEFAULT_OWNER}/${idOf(o)}`, JSON.stringify(sourceOf(o)));
// a stored FIP the quick reader takes and the full reader refuses (its address is not one)
globals.set(`${GLOBAL_SPEC_PREFIX}${DEFAULT_OWNER}/OvnFip/bad-ip`, JSON.stringify({ apiVersion: 'kubeovn.io/v1', kind: 'OvnFip', metadata: { name: 'bad-ip' }, spec: { ovnEip: 'eip-static', vpc: 'vpc1', v4Ip: 'not-an-address' } }));
const nb = memoryNbView({ NB_Global: [{ _uuid: '00000000-0000-0000-0000-000000000001', external_ids: globals } as never] });
const store = new ObjectStore(nb, new NbFacts(nb));
const all = new Map(objects.map((o) => [idOf(o), o] as const));

/** A store over `view` whose users indexes keep no Set for a ref past `wide` users of a kind. */
function storeWithWide(view: ReturnType<typeof memoryNbView>, wide: number): ObjectStore {
  const was = UsersIndex.defaultWide;
  UsersIndex.defaultWide = wide;
  try {
    return new ObjectStore(view, new NbFacts(view));
  } finally {
    UsersIndex.defaultWide = was;
  }
}
const kinds = new Set<string>(objects.map((o) => o.kind));

t.ok(objects.length >= 15 && ['OvnEip', 'OvnFip', 'OvnSnatRule', 'OvnDnatRule', 'Vpc', 'Subnet', 'Vip'].every((k) => kinds.has(k)), `the manifest holds every kind the closure reads (${[...kinds].sort().join(', ')})`);
t.equal([...store.ids(DEFAULT_OWNER)].length, objects.length + 1, 'the store holds every document');

t.test('a document the full reader refuses later: the same closure before and after it is read', async (t) => {
  const before = [...store.closure(DEFAULT_OWNER, ['OvnFip/bad-ip'])].sort();
  t.ok(before.includes('OvnEip/eip-static'), `it renders its EIP: ${before.join(', ')}`);
  t.equal(store.get(DEFAULT_OWNER, 'OvnFip/bad-ip'), undefined, 'the full reader refuses it');
  t.match(store.problem(DEFAULT_OWNER, 'OvnFip/bad-ip') ?? '', /bad-ip/, 'with a problem naming it');
  t.same([...store.closure(DEFAULT_OWNER, ['OvnFip/bad-ip'])].sort(), before, 'the closure is what it was');
});

t.test('closure and dependents of each object: from the stored documents as from the objects', async (t) => {
  const differ: string[] = [];
  for (const id of all.keys()) {
    const stored = [...store.closure(DEFAULT_OWNER, [id])].sort();
    const given = [...store.closure(DEFAULT_OWNER, [id], all)].sort();
    if (stored.join() !== given.join()) differ.push(`${id}: stored [${stored.join(', ')}], given [${given.join(', ')}]`);
  }
  t.same(differ, [], `${all.size} closures agree`);
  // (not vacuous: an SNAT rule by subnet renders its EIP's other users and its router's other SNAT rules)
  const snat = objects.find((o) => o.kind === 'OvnSnatRule' && 'vpcSubnet' in o && o.vpcSubnet);
  t.ok(snat, 'an SNAT rule by subnet');
  const c = store.closure(DEFAULT_OWNER, [idOf(snat!)]);
  t.ok(c.has('OvnSnatRule/snat-by-vpc'), `its closure holds the router's other SNAT rule: ${[...c].join(', ')}`);
  t.ok(store.closure(DEFAULT_OWNER, ['OvnEip/vpc1-extra']).has('Vpc/vpc1'), 'an lrp EIP (vpc1-extra, on external subnet extra) renders its Vpc');
  const deps = [...store.dependents(DEFAULT_OWNER, ['Subnet/external204'])].sort();
  t.ok(deps.length > 1, `an external subnet's dependents: ${deps.join(', ')}`);
});

t.test('every ref wide (its users found by a scan, as for the ConfigMap at 100k objects): the same closures and dependents', async (t) => {
  const wide = storeWithWide(nb, 0);
  const differ: string[] = [];
  for (const id of all.keys()) {
    for (const [what, a, b] of [
      ['closure', store.closure(DEFAULT_OWNER, [id]), wide.closure(DEFAULT_OWNER, [id])],
      ['dependents', store.dependents(DEFAULT_OWNER, [id]), wide.dependents(DEFAULT_OWNER, [id])],
    ] as const) {
      if ([...a].sort().join() !== [...b].sort().join()) differ.push(`${id} ${what}: [${[...a].sort().join(', ')}] vs wide [${[...b].sort().join(', ')}]`);
    }
  }
  t.same(differ, [], `${all.size} objects: closures and dependents agree`);
  t.ok([...wide.dependents(DEFAULT_OWNER, ['Subnet/external204'])].length > 1, 'the dependents of an external subnet are found by the scan');
});

t.test("a Vpc named by more FIPs than `wide`: a FIP's closure is still lookups (no scan); the Vpc's dependents are found by one", async (t) => {
  const doc = (kind: string, name: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'kubeovn.io/v1', kind, metadata: { name }, spec });
  const g = new Map<string, string>();
  const put = (kind: string, name: string, spec: Record<string, unknown>) => g.set(`${GLOBAL_SPEC_PREFIX}${DEFAULT_OWNER}/${kind}/${name}`, doc(kind, name, spec));
  put('Vpc', 'big', { enableExternal: true });
  put('Subnet', 'big-net', { vpc: 'big', cidrBlock: '10.9.0.0/24', protocol: 'IPv4' });
  put('OvnSnatRule', 'big-snat', { ovnEip: 'big-snat-eip', vpcSubnet: 'big-net' });
  put('OvnEip', 'big-snat-eip', { externalSubnet: 'external204' });
  for (let i = 0; i < 5; i++) {
    put('OvnEip', `big-e${i}`, { externalSubnet: 'external204' });
    put('OvnFip', `big-f${i}`, { ovnEip: `big-e${i}`, vpc: 'big', v4Ip: `10.9.0.${10 + i}` });
  }
  const view = memoryNbView({ NB_Global: [{ _uuid: '00000000-0000-0000-0000-000000000002', external_ids: g } as never] });
  const s = storeWithWide(view, 2);
  const before = s.scansOf(DEFAULT_OWNER);
  const c = s.closure(DEFAULT_OWNER, ['OvnFip/big-f0']);
  t.ok(c.has('Vpc/big') && c.has('Subnet/big-net') && c.has('OvnEip/big-e0'), `its closure: its EIP, its Vpc and the Vpc's subnet (${[...c].sort().join(', ')})`);
  t.equal(s.scansOf(DEFAULT_OWNER), before, 'found without a scan (the Vpc is wide for FIPs, not for subnets)');
  const deps = s.dependents(DEFAULT_OWNER, ['Vpc/big']);
  t.ok([0, 1, 2, 3, 4].every((i) => deps.has(`OvnFip/big-f${i}`)), `the Vpc's dependents hold its 5 FIPs: ${[...deps].sort().join(', ')}`);
  t.ok(s.scansOf(DEFAULT_OWNER) > before, 'found by a scan (the Vpc changed: its FIPs are planned again)');
});
