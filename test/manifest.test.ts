/**
 * The manifest parser and validator (src/nat/manifest.ts), without a server:
 * the Kube-OVN guide's manifests (test/fixtures/seed002) parse into the
 * expected objects and notices, and every validation rule reports its exact
 * problem line.
 */
import t from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestError, formatNotice, loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest, ManifestObject, Vpc } from '../src/nat/objects.js';

const SEED = 'test/fixtures/seed002';

// ------------------------------------------------------------------ helpers

/** A Kube-OVN object as YAML; `spec` is YAML at column 0, indented here. */
function obj(kind: string, name: string, spec: string, apiVersion = 'kubeovn.io/v1'): string {
  const body = spec.trim() ? `spec:\n${spec.replace(/^(?=.)/gm, '  ')}` : '';
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${body}\n`;
}

/** The problems parseManifest reports for `text` (none is a test failure). */
function problems(text: string, file = 'm.yaml'): string[] {
  try {
    parseManifest(text, file);
  } catch (e) {
    if (e instanceof ManifestError) return e.problems;
    throw e;
  }
  return ['(no problem reported)'];
}

function withoutOrigin(objects: ManifestObject[]): object[] {
  return objects.map(({ origin: _, ...o }) => o);
}

/** The objects of a text that must parse, without origins. */
function objects(text: string): object[] {
  return withoutOrigin(parseManifest(text, 'm.yaml').objects);
}

/** The single object of a text that must parse, without origin. */
function one(text: string): object {
  const all = objects(text);
  if (all.length !== 1) throw new Error(`expected one object, got ${all.length}`);
  return all[0];
}

function notices(m: Manifest): string[] {
  return m.notices.map(formatNotice);
}

/** "Kind name (m.yaml, document 1): " */
const at = (what: string, doc = 1) => `${what} (m.yaml, document ${doc}): `;

// ------------------------------------------------------------------ the guide

const SEED_OBJECTS = [
  {
    kind: 'ConfigMap',
    name: 'ovn-external-gw-config',
    enableExternalGw: true,
    externalGwNodes: ['pc-node-1', 'pc-node-2', 'pc-node-3'],
    type: 'centralized',
    externalGwAddr: '10.5.204.254/24',
  },
  { kind: 'ProviderNetwork', name: 'external204', defaultInterface: 'vlan' },
  { kind: 'Vpc', name: 'vpc1', enableExternal: true, addExternalSubnets: [], staticRoutes: [], policyRoutes: [] },
  {
    kind: 'Subnet',
    name: 'vpc1-subnet1',
    protocol: 'IPv4',
    cidrBlock: ['192.168.0.0/24'],
    gateway: ['192.168.0.1'],
    vpc: 'vpc1',
    provider: 'ovn',
    excludeIps: [],
    gatewayType: 'distributed',
    enableEcmp: true,
  },
  { kind: 'Vlan', name: 'vlan204', id: 204, provider: 'external204' },
  {
    kind: 'Subnet',
    name: 'external204',
    protocol: 'IPv4',
    cidrBlock: ['10.5.204.0/24'],
    gateway: ['10.5.204.254'],
    vlan: 'vlan204',
    excludeIps: ['10.5.204.1..10.5.204.100'],
  },
  { kind: 'OvnEip', name: 'eip-static', externalSubnet: 'external204', type: 'nat' },
  { kind: 'OvnFip', name: 'eip-static', ovnEip: 'eip-static', ipName: 'vpc-1-busybox01.vpc1' },
  { kind: 'Vip', name: 'test-fip-vip', subnet: 'vpc1-subnet1' },
  { kind: 'OvnEip', name: 'eip-for-vip', externalSubnet: 'external204', type: 'nat' },
  { kind: 'OvnFip', name: 'eip-for-vip', ovnEip: 'eip-for-vip', ipType: 'vip', ipName: 'test-fip-vip' },
  { kind: 'OvnEip', name: 'snat-for-subnet-in-vpc', externalSubnet: 'external204', type: 'nat' },
  { kind: 'OvnSnatRule', name: 'snat-for-subnet-in-vpc', ovnEip: 'snat-for-subnet-in-vpc', vpcSubnet: 'vpc1-subnet1' },
  { kind: 'OvnEip', name: 'snat-for-pod-vpc-ip', externalSubnet: 'external204', type: 'nat' },
  { kind: 'OvnSnatRule', name: 'snat01', ovnEip: 'snat-for-pod-vpc-ip', ipName: 'vpc-1-busybox02.vpc1' },
  { kind: 'OvnEip', name: 'eip-dnat', externalSubnet: 'external204', type: 'nat' },
  {
    kind: 'OvnDnatRule',
    name: 'eip-dnat',
    ovnEip: 'eip-dnat',
    ipName: 'vpc-1-busybox01.vpc1',
    protocol: 'tcp',
    internalPort: 22,
    externalPort: 22,
  },
  { kind: 'ProviderNetwork', name: 'extra', defaultInterface: 'vlan' },
  { kind: 'Vlan', name: 'vlan0', id: 0, provider: 'extra' },
  {
    kind: 'Subnet',
    name: 'extra',
    protocol: 'IPv4',
    cidrBlock: ['10.10.204.0/24'],
    gateway: ['10.10.204.254'],
    vlan: 'vlan0',
    excludeIps: ['10.10.204.1..10.10.204.100'],
  },
];

t.test('seed002: the Kube-OVN guide manifests, as a directory', async (t) => {
  const m = await loadManifests([SEED]);
  t.strictSame(withoutOrigin(m.objects), SEED_OBJECTS);
  const subnet = `Subnet vpc1-subnet1 (${SEED}/02-subnet.yml, document 1)`;
  t.strictSame(notices(m), [
    `ConfigMap ovn-external-gw-config (${SEED}/00-centralized-external-gw-no-ip.yaml, document 1): data.external-gw-nic: ignored: Kubernetes only`,
    `Namespace vpc1 (${SEED}/00-ns.yml, document 1): ignored: Kubernetes only`,
    `Vpc vpc1 (${SEED}/01-vpc-ecmp-enable-external-bfd.yml, document 1): spec.namespaces: ignored: Kubernetes only`,
    ...['default', 'disableGatewayCheck', 'disableInterConnection', 'natOutgoing', 'private', 'namespaces'].map(
      (f) => `${subnet}: spec.${f}: ignored: Kubernetes only`,
    ),
  ]);
  t.strictSame(m.notices[1], {
    kind: 'Namespace',
    name: 'vpc1',
    field: '',
    message: 'ignored: Kubernetes only',
    origin: { file: `${SEED}/00-ns.yml`, document: 1 },
  });
  t.strictSame(m.notices[0].field, 'data.external-gw-nic');
  // origins: the file and the 1-based document (04-eip-fip.yaml starts with a comment and "---")
  const fip = m.objects.find((o) => o.kind === 'OvnFip' && o.name === 'eip-static');
  t.strictSame(fip?.origin, { file: `${SEED}/04-eip-fip.yaml`, document: 2 });
  const snat01 = m.objects.find((o) => o.name === 'snat01');
  t.strictSame(snat01?.origin, { file: `${SEED}/06-snat.yaml`, document: 4 });
});

t.test('seed002: files given one by one keep their order', async (t) => {
  const m = await loadManifests([`${SEED}/07-dnat.yaml`, `${SEED}/02-vlan.yaml`]);
  t.strictSame(
    m.objects.map((o) => `${o.kind}/${o.name}`),
    ['OvnEip/eip-dnat', 'OvnDnatRule/eip-dnat', 'Vlan/vlan204'],
  );
  t.strictSame(m.notices, []);
});

t.test('the guide as written: what the fixtures had to change', async (t) => {
  // 2.1: "--" instead of "---" between the two OvnFip alternatives
  const fip21 = `kind: OvnFip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-static
spec:
  ovnEip: eip-static
  ipName: vpc-1-busybox01.vpc1

--
# 或者通过传统指定 vpc 以及 内网 ip 的方式

kind: OvnFip
apiVersion: kubeovn.io/v1
metadata:
  name: eip-static
spec:
  ovnEip: eip-static
  vpc: vpc1
  v4Ip: 192.168.0.2
`;
  const p = problems(fip21);
  t.ok(p.length > 0);
  t.ok(p.every((l) => l.startsWith('m.yaml, document 1: YAML: ')), p.join('\n'));

  // 4.1: both alternatives in one file: the same OvnDnatRule twice
  const dnat41 = `${obj('OvnDnatRule', 'eip-dnat', 'ovnEip: eip-dnat\nipName: vpc-1-busybox01.vpc1\nprotocol: tcp\ninternalPort: "22"\nexternalPort: "22"')}
---
${obj('OvnDnatRule', 'eip-dnat', 'ovnEip: eip-dnat\nprotocol: tcp\ninternalPort: "22"\nexternalPort: "22"\nvpc: vpc1\nv4Ip: 192.168.0.3')}`;
  t.strictSame(problems(dnat41), [
    `${at('OvnDnatRule eip-dnat', 2)}metadata.name: duplicate: OvnDnatRule eip-dnat is also defined in m.yaml, document 1`,
  ]);

  // 4.2: the "vpc + v4Ip" alternative still has ipName
  const dnat42 = obj(
    'OvnDnatRule',
    'eip-dnat',
    'ipType: vip\novnEip: eip-dnat\nipName: test-dnat-vip\nprotocol: tcp\ninternalPort: "22"\nexternalPort: "22"\nvpc: vpc1\nv4Ip: 192.168.0.4',
  );
  t.strictSame(problems(dnat42), [
    `${at('OvnDnatRule eip-dnat')}spec.v4Ip: not allowed with spec.ipName: name the internal address one way only`,
  ]);

  // the "vpc + v4Ip" alternatives on their own are fine
  t.strictSame(one(obj('OvnFip', 'eip-for-vip', 'ovnEip: eip-for-vip\nipType: vip\nvpc: vpc1\nv4Ip: 192.168.0.3')), {
    kind: 'OvnFip',
    name: 'eip-for-vip',
    ovnEip: 'eip-for-vip',
    ipType: 'vip',
    vpc: 'vpc1',
    v4Ip: '192.168.0.3',
  });
  t.strictSame(one(obj('OvnSnatRule', 'snat01', 'ovnEip: snat-for-pod-vpc-ip\nvpc: vpc1\nv4IpCidr: 192.168.0.4')), {
    kind: 'OvnSnatRule',
    name: 'snat01',
    ovnEip: 'snat-for-pod-vpc-ip',
    vpc: 'vpc1',
    v4IpCidr: '192.168.0.4',
  });

  // 1.4.2: Vpc vpc1 again, with addExternalSubnets: a duplicate next to 01-vpc-ecmp-enable-external-bfd.yml
  const dir = await mkdtemp(join(tmpdir(), 'manifest-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const vpc142 = join(dir, 'vpc-extra.yaml');
  await writeFile(vpc142, obj('Vpc', 'vpc1', 'namespaces:\n- vpc1\nenableExternal: true\naddExternalSubnets:\n- extra'));
  t.strictSame(withoutOrigin((await loadManifests([vpc142])).objects), [
    { kind: 'Vpc', name: 'vpc1', enableExternal: true, addExternalSubnets: ['extra'], staticRoutes: [], policyRoutes: [] },
  ]);
  await t.rejects(loadManifests([SEED, vpc142]), {
    name: 'ManifestError',
    problems: [
      `Vpc vpc1 (${vpc142}, document 1): metadata.name: duplicate: Vpc vpc1 is also defined in ${SEED}/01-vpc-ecmp-enable-external-bfd.yml, document 1`,
    ],
  });
});

// ------------------------------------------------------------------ documents

t.test('documents: kinds, apiVersion, metadata, top-level keys', async (t) => {
  t.strictSame(problems(obj('Foo', 'x', 'a: 1')), [
    `${at('Foo x')}kind: unknown kind "Foo" (expected one of ProviderNetwork, Vlan, Subnet, Vpc, OvnEip, OvnFip, OvnSnatRule, OvnDnatRule, Vip, ConfigMap, Namespace, List)`,
  ]);
  t.strictSame(problems('apiVersion: v1\nmetadata:\n  name: x\n'), ['x (m.yaml, document 1): kind: required']);
  t.strictSame(problems('apiVersion: v1\nkind: 5\n'), ['m.yaml, document 1: kind: must be a string, got 5']);
  t.strictSame(problems(obj('Vpc', 'vpc1', '', 'v1')), [`${at('Vpc vpc1')}apiVersion: must be "kubeovn.io/v1" for Vpc, got "v1"`]);
  t.strictSame(problems(obj('Vlan', 'v', 'id: 1\nprovider: p', 'kubeovn.io/v2')), [
    `${at('Vlan v')}apiVersion: must be "kubeovn.io/v1" for Vlan, got "kubeovn.io/v2"`,
  ]);
  t.strictSame(problems('kind: Vpc\nmetadata:\n  name: vpc1\n'), [`${at('Vpc vpc1')}apiVersion: required`]);
  t.strictSame(problems(obj('ConfigMap', 'ovn-external-gw-config', '', 'kubeovn.io/v1')), [
    `${at('ConfigMap ovn-external-gw-config')}apiVersion: must be "v1" for ConfigMap, got "kubeovn.io/v1"`,
  ]);
  t.strictSame(problems('apiVersion: kubeovn.io/v1\nkind: Namespace\nmetadata:\n  name: ns\n'), [
    `${at('Namespace ns')}apiVersion: must be "v1" for Namespace, got "kubeovn.io/v1"`,
  ]);

  // metadata.name
  t.strictSame(problems('apiVersion: kubeovn.io/v1\nkind: Vpc\nspec: {}\n'), [`${at('Vpc')}metadata.name: required`]);
  t.strictSame(problems('apiVersion: kubeovn.io/v1\nkind: Vpc\nmetadata:\n  name: ""\n'), [`${at('Vpc')}metadata.name: required`]);
  t.strictSame(problems('apiVersion: kubeovn.io/v1\nkind: Vpc\nmetadata:\n  labels: {a: b}\n'), [`${at('Vpc')}metadata.name: required`]);
  const dns = "must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters)";
  t.strictSame(problems(obj('Vpc', 'Vpc_1', '')), [`${at('Vpc')}metadata.name: ${dns}, got "Vpc_1"`]);
  t.strictSame(problems(obj('Vpc', '-vpc', '')), [`${at('Vpc')}metadata.name: ${dns}, got "-vpc"`]);
  t.strictSame(problems(obj('Vpc', 'a..b', '')), [`${at('Vpc')}metadata.name: ${dns}, got "a..b"`]);
  t.strictSame(problems(obj('Vpc', '42', '')), [`${at('Vpc')}metadata.name: ${dns}, got 42`]);
  const long = `${'a'.repeat(63)}.`.repeat(4).slice(0, 254);
  t.strictSame(problems(obj('Vpc', long, '')), [`${at('Vpc')}metadata.name: ${dns}, got "${long}"`]);
  t.strictSame(objects(obj('Vpc', long.slice(0, 253), '')).length, 1);
  t.strictSame(problems('apiVersion: kubeovn.io/v1\nkind: Vpc\nmetadata: vpc1\n'), [`${at('Vpc')}metadata: must be a mapping, got "vpc1"`]);

  // standard metadata keys are ignored silently; others are problems
  const meta = `apiVersion: kubeovn.io/v1
kind: Vpc
metadata:
  name: vpc1
  namespace: default
  labels: {a: b}
  annotations: {c: d}
  uid: 8b0c3a3e-2b5a-4d2e-9d0a-2a7a1f6e0c11
  resourceVersion: "123"
  generation: 4
  creationTimestamp: "2023-01-01T00:00:00Z"
  managedFields: []
  ownerReferences: []
  finalizers: [kube-ovn-controller]
`;
  const m = parseManifest(meta, 'm.yaml');
  t.equal(m.objects.length, 1);
  t.strictSame(m.notices, []);
  t.strictSame(problems(`${meta}  generateName: vpc-\n  selfLink: /x\n`), [
    `${at('Vpc vpc1')}metadata.generateName: unknown field`,
    `${at('Vpc vpc1')}metadata.selfLink: unknown field`,
  ]);

  // status: a notice; other top-level keys: problems; spec must be a mapping
  t.strictSame(notices(parseManifest(`${obj('Vpc', 'vpc1', 'enableExternal: true')}status:\n  ready: true\n`, 'm.yaml')), [
    `${at('Vpc vpc1')}status: ignored: status is written by the controllers`,
  ]);
  t.strictSame(problems(`${obj('Vpc', 'vpc1', 'enableExternal: true')}extra: 1\ndata: {}\n`), [
    `${at('Vpc vpc1')}extra: unknown field`,
    `${at('Vpc vpc1')}data: unknown field`,
  ]);
  t.strictSame(problems(`${obj('Vpc', 'vpc1', '')}spec: [1]\n`), [`${at('Vpc vpc1')}spec: must be a mapping, got a list`]);
  // a kind without required fields needs no spec
  t.strictSame(one(obj('ProviderNetwork', 'pn', '')), { kind: 'ProviderNetwork', name: 'pn' });
  // a spec: with nothing in it is null, the same as none
  t.strictSame(problems(`${obj('OvnEip', 'e', '')}spec:\n---\n${obj('OvnFip', 'f', '')}spec: null\n`), [
    `${at('OvnFip f', 2)}spec: one of spec.ipName, or spec.vpc with spec.v4Ip and/or spec.v6Ip is required`,
    `${at('OvnFip f', 2)}spec.ovnEip: required`,
  ]);
});

t.test('documents: shapes, empty documents, YAML errors', async (t) => {
  t.strictSame(problems('just a string\n'), ['m.yaml, document 1: must be a mapping (a Kubernetes object), got "just a string"']);
  t.strictSame(problems('- a\n- b\n'), ['m.yaml, document 1: must be a mapping (a Kubernetes object), got a list']);
  // empty documents (and comment-only ones) are skipped but still counted
  const m = parseManifest(`---\n---\n# nothing here\n---\n${obj('Vpc', 'vpc1', '')}---\n`, 'x.yaml');
  t.strictSame(
    m.objects.map((o) => o.origin),
    [{ file: 'x.yaml', document: 3 }],
  );
  t.strictSame(parseManifest('', 'x.yaml'), { objects: [], notices: [] });
  t.strictSame(parseManifest('# only a comment\n'), { objects: [], notices: [] });
  // file defaults to <stdin>
  t.strictSame(parseManifest(obj('Vpc', 'vpc1', '')).objects[0].origin, { file: '<stdin>', document: 1 });
  t.throws(() => parseManifest(obj('Vpc', 'Bad', '')), /^Vpc \(<stdin>, document 1\): metadata\.name: must be a DNS-1123 subdomain/);

  // YAML errors name the document; the other documents are still checked
  t.strictSame(problems(`${obj('Vpc', 'vpc1', '')}---\nkind: Vpc\nkind: Vlan\n---\n${obj('Vlan', 'v', 'id: -1\nprovider: p')}`), [
    'm.yaml, document 2: YAML: Map keys must be unique at line 8, column 1',
    `${at('Vlan v', 3)}spec.id: must be an integer between 0 and 4095, got -1`,
  ]);
  t.strictSame(problems('a: [1\n'), [
    'm.yaml, document 1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1',
  ]);
  // JSON is YAML
  t.strictSame(
    objects(JSON.stringify({ apiVersion: 'kubeovn.io/v1', kind: 'Vlan', metadata: { name: 'v' }, spec: { id: 7, provider: 'p' } })),
    [{ kind: 'Vlan', name: 'v', id: 7, provider: 'p' }],
  );
});

t.test('documents: kind List', async (t) => {
  const list = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: kubeovn.io/v1
  kind: OvnEip
  metadata:
    name: e1
  spec:
    externalSubnet: external204
- apiVersion: kubeovn.io/v1
  kind: OvnFip
  metadata:
    name: f1
  spec:
    ovnEip: e1
    ipName: pod1.ns
`;
  const m = parseManifest(list, 'm.yaml');
  t.strictSame(withoutOrigin(m.objects), [
    { kind: 'OvnEip', name: 'e1', externalSubnet: 'external204', type: 'nat' },
    { kind: 'OvnFip', name: 'f1', ovnEip: 'e1', ipName: 'pod1.ns' },
  ]);
  t.strictSame(m.objects[1].origin, { file: 'm.yaml', document: 1 });

  // problems of an item carry its path inside the document
  const bad = `${list}- apiVersion: kubeovn.io/v1
  kind: OvnFip
  metadata:
    name: f2
  spec:
    ipName: pod2.ns
- apiVersion: kubeovn.io/v1
  kind: OvnEip
  metadata:
    name: e1
- 7
`;
  t.strictSame(problems(bad), [
    `${at('OvnFip f2')}items[2].spec.ovnEip: required`,
    `${at('OvnEip e1')}items[3].metadata.name: duplicate: OvnEip e1 is also defined in m.yaml, document 1, items[0]`,
    'm.yaml, document 1: items[4]: must be a mapping (a Kubernetes object), got 7',
  ]);
  t.strictSame(problems('apiVersion: v2\nkind: List\nfoo: 1\n'), [
    `${at('List')}foo: unknown field`,
    `${at('List')}apiVersion: must be "v1" for List, got "v2"`,
    `${at('List')}items: required`,
  ]);
  t.strictSame(problems('kind: List\nitems: {}\n'), [`${at('List')}items: must be a list, got a mapping`]);
  t.strictSame(parseManifest('kind: List\nitems: []\n').objects, []);
});

t.test('documents: duplicates, Namespace and other ConfigMaps', async (t) => {
  // the same name in two kinds is fine; twice in one kind is not
  t.equal(objects(`${obj('OvnEip', 'x', '')}---\n${obj('OvnFip', 'x', 'ovnEip: x\nipName: p')}`).length, 2);
  t.strictSame(problems(`${obj('Vpc', 'vpc1', '')}---\n${obj('Vpc', 'vpc1', 'enableExternal: true')}---\n${obj('Vpc', 'vpc1', '')}`), [
    `${at('Vpc vpc1', 2)}metadata.name: duplicate: Vpc vpc1 is also defined in m.yaml, document 1`,
    `${at('Vpc vpc1', 3)}metadata.name: duplicate: Vpc vpc1 is also defined in m.yaml, document 1`,
  ]);
  // Namespaces and other ConfigMaps: notices, no objects, not checked further
  const m = parseManifest(
    `${obj('Namespace', 'ns1', '', 'v1')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  x: "1"\nbinaryData: {}\n`,
    'm.yaml',
  );
  t.strictSame(m.objects, []);
  t.strictSame(notices(m), [
    `${at('Namespace ns1')}ignored: Kubernetes only`,
    `${at('ConfigMap other', 2)}ignored: only the ConfigMap ovn-external-gw-config is read`,
  ]);
});

t.test('all problems of a bad file are reported together', async (t) => {
  const text = `# several objects, each with problems
apiVersion: kubeovn.io/v1
kind: OvnFip
metadata:
  name: eip-static
spec:
  ovnEip: ""
  v4Ip: 10.0.0.300
  type: both
---
apiVersion: kubeovn.io/v1
kind: Subnet
metadata:
  name: s1
spec:
  cidrBlock: 10.0.0.5/24
  natOutgoing: true
  color: blue
---
apiVersion: kubeovn.io/v1
kind: OvnFip
metadata: {}
spec:
  ovnEip: e
  ipName: p
---
kind: Gateway
metadata:
  name: g
`;
  t.strictSame(problems(text, 'fips.yaml'), [
    'OvnFip eip-static (fips.yaml, document 1): spec.v4Ip: is not an IPv4 address: "10.0.0.300"',
    'OvnFip eip-static (fips.yaml, document 1): spec.vpc: required with spec.v4Ip',
    'OvnFip eip-static (fips.yaml, document 1): spec.ovnEip: must not be empty',
    'OvnFip eip-static (fips.yaml, document 1): spec.type: must be one of distributed, centralized, got "both"',
    'Subnet s1 (fips.yaml, document 2): spec.color: unknown field',
    'Subnet s1 (fips.yaml, document 2): spec.cidrBlock: host bits set, did you mean 10.0.0.0/24',
    'OvnFip (fips.yaml, document 3): metadata.name: required',
    'Gateway g (fips.yaml, document 4): kind: unknown kind "Gateway" (expected one of ProviderNetwork, Vlan, Subnet, Vpc, OvnEip, OvnFip, OvnSnatRule, OvnDnatRule, Vip, ConfigMap, Namespace, List)',
  ]);
  try {
    parseManifest(text, 'fips.yaml');
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof ManifestError);
    t.ok(e instanceof Error);
    const err = e as ManifestError;
    t.equal(err.name, 'ManifestError');
    t.equal(err.message, err.problems.join('\n'));
    t.equal(err.problems.length, 8);
  }
});

// ------------------------------------------------------------------ kinds

t.test('ProviderNetwork', async (t) => {
  const m = parseManifest(
    obj('ProviderNetwork', 'pn', 'defaultInterface: eth1\ncustomInterfaces: []\nexcludeNodes: [n1]\nexchangeLinkName: true\nautoCreateVlanSubinterfaces: true\npreserveVlanInterfaces: true'),
    'm.yaml',
  );
  t.strictSame(withoutOrigin(m.objects), [{ kind: 'ProviderNetwork', name: 'pn', defaultInterface: 'eth1' }]);
  t.strictSame(
    notices(m),
    ['customInterfaces', 'excludeNodes', 'exchangeLinkName', 'autoCreateVlanSubinterfaces', 'preserveVlanInterfaces'].map(
      (f) => `${at('ProviderNetwork pn')}spec.${f}: ignored: Kubernetes only`,
    ),
  );
  t.strictSame(problems(obj('ProviderNetwork', 'pn', 'defaultInterface: 5\nmtu: 1500')), [
    `${at('ProviderNetwork pn')}spec.mtu: unknown field`,
    `${at('ProviderNetwork pn')}spec.defaultInterface: must be a string, got 5`,
  ]);
});

t.test('Vlan', async (t) => {
  t.strictSame(one(obj('Vlan', 'v', 'id: "204"\nprovider: external204')), { kind: 'Vlan', name: 'v', id: 204, provider: 'external204' });
  t.strictSame(one(obj('Vlan', 'v', 'id: 4095\nprovider: p')), { kind: 'Vlan', name: 'v', id: 4095, provider: 'p' });
  const range = 'must be an integer between 0 and 4095';
  t.strictSame(problems(obj('Vlan', 'v', 'id: 4096\nprovider: p')), [`${at('Vlan v')}spec.id: ${range}, got 4096`]);
  t.strictSame(problems(obj('Vlan', 'v', 'id: "4096"\nprovider: p')), [`${at('Vlan v')}spec.id: ${range}, got "4096"`]);
  t.strictSame(problems(obj('Vlan', 'v', 'id: "x"\nprovider: p')), [`${at('Vlan v')}spec.id: ${range}, got "x"`]);
  t.strictSame(problems(obj('Vlan', 'v', 'id: 1.5\nprovider: p')), [`${at('Vlan v')}spec.id: ${range}, got 1.5`]);
  t.strictSame(problems(obj('Vlan', 'v', 'id: " 7"\nprovider: p')), [`${at('Vlan v')}spec.id: ${range}, got " 7"`]);
  t.strictSame(problems(obj('Vlan', 'v', 'mtu: 1')), [
    `${at('Vlan v')}spec.mtu: unknown field`,
    `${at('Vlan v')}spec.id: required`,
    `${at('Vlan v')}spec.provider: required`,
  ]);
  t.strictSame(problems(obj('Vlan', 'v', 'id: 1\nprovider: [p]')), [`${at('Vlan v')}spec.provider: must be a string, got a list`]);
});

t.test('Subnet', async (t) => {
  const s = (spec: string) => obj('Subnet', 's', spec);
  const p = (spec: string) => problems(s(spec));
  const S = at('Subnet s');

  t.strictSame(one(s('cidrBlock: 10.0.0.0/24')), { kind: 'Subnet', name: 's', cidrBlock: ['10.0.0.0/24'], gateway: ['10.0.0.1'], excludeIps: [] });
  t.strictSame(
    one(s('cidrBlock: "10.0.0.0/24, FD00:0::/64"\ngateway: 10.0.0.254,FD00::FE\nprotocol: Dual\nvpc: vpc1\nexcludeIps:\n- 10.0.0.2..10.0.0.9\n- FD00::5\n- 10.0.0.20')),
    {
      kind: 'Subnet',
      name: 's',
      protocol: 'Dual',
      cidrBlock: ['10.0.0.0/24', 'fd00::/64'],
      gateway: ['10.0.0.254', 'fd00::fe'],
      vpc: 'vpc1',
      excludeIps: ['10.0.0.2..10.0.0.9', 'fd00::5', '10.0.0.20'],
    },
  );
  // the gateway defaults to the first host of each CIDR
  t.strictSame(one(s('cidrBlock: fd00:10::/64,172.16.0.0/31\nprovider: ovn')), {
    kind: 'Subnet',
    name: 's',
    cidrBlock: ['fd00:10::/64', '172.16.0.0/31'],
    gateway: ['fd00:10::1', '172.16.0.0'],
    provider: 'ovn',
    excludeIps: [],
  });

  // cidrBlock
  t.strictSame(p('vlan: v'), [`${S}spec.cidrBlock: required`]);
  t.strictSame(p('cidrBlock: 10.0.0.5/24'), [`${S}spec.cidrBlock: host bits set, did you mean 10.0.0.0/24`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24,fd00::1/64'), [`${S}spec.cidrBlock: host bits set, did you mean fd00::/64`]);
  t.strictSame(p('cidrBlock: 10.0.0.0'), [`${S}spec.cidrBlock: is not a CIDR (address/prefix): "10.0.0.0"`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/33'), [`${S}spec.cidrBlock: is not a CIDR: the prefix length must be an integer between 0 and 32: "10.0.0.0/33"`]);
  t.strictSame(p('cidrBlock: 10.0.0.300/24'), [`${S}spec.cidrBlock: is not a CIDR: the address is not an IP address: "10.0.0.300"`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24,10.1.0.0/24'), [
    `${S}spec.cidrBlock: two IPv4 CIDRs, at most one per family: "10.0.0.0/24,10.1.0.0/24"`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24,fd00::/64,10.1.0.0/24'), [
    `${S}spec.cidrBlock: must be 1 or 2 CIDRs (one per family), got 3: "10.0.0.0/24,fd00::/64,10.1.0.0/24"`,
    `${S}spec.cidrBlock: two IPv4 CIDRs, at most one per family: "10.0.0.0/24,fd00::/64,10.1.0.0/24"`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24,'), [`${S}spec.cidrBlock: is not a CIDR (address/prefix): ""`]);
  t.strictSame(p('cidrBlock: [10.0.0.0/24]'), [`${S}spec.cidrBlock: must be a string, got a list`]);

  // protocol
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nprotocol: IPv6'), [`${S}spec.protocol: "IPv6" does not match cidrBlock "10.0.0.0/24" (IPv4)`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nprotocol: Dual'), [`${S}spec.protocol: "Dual" does not match cidrBlock "10.0.0.0/24" (IPv4)`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24,fd00::/64\nprotocol: IPv4'), [
    `${S}spec.protocol: "IPv4" does not match cidrBlock "10.0.0.0/24,fd00::/64" (Dual)`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nprotocol: ipv4'), [`${S}spec.protocol: must be one of IPv4, IPv6, Dual, got "ipv4"`]);

  // gateway
  t.strictSame(p('cidrBlock: 10.0.0.0/24\ngateway: 10.0.0.300'), [`${S}spec.gateway: is not an IPv4 address: "10.0.0.300"`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\ngateway: 10.0.1.1'), [`${S}spec.gateway: 10.0.1.1 is not inside 10.0.0.0/24`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\ngateway: 10.0.0.1,10.0.0.2'), [
    `${S}spec.gateway: must have one address per CIDR of cidrBlock (1), got 2: "10.0.0.1,10.0.0.2"`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24,fd00::/64\ngateway: fd00::1,10.0.0.1'), [
    `${S}spec.gateway: is an IPv6 address, expected IPv4: "fd00::1"`,
    `${S}spec.gateway: is an IPv4 address, expected IPv6: "10.0.0.1"`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\ngateway: 10.0.0.1/24'), [`${S}spec.gateway: is not an IPv4 address: "10.0.0.1/24"`]);

  // excludeIps
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nexcludeIps:\n- 10.0.0.1..fd00::1\n- 10.0.0.9..10.0.0.2\n- 10.0.0.256\n- 10.0.0.1..10.0.0.x\n- 10.0.0.250..10.0.1.5\n- 10.1.0.1\n- 10.0.0.1-10.0.0.5\n- ""\n- 7'), [
    `${S}spec.excludeIps[7]: must be a non-empty string, got ""`,
    `${S}spec.excludeIps[8]: must be a non-empty string, got 7`,
    `${S}spec.excludeIps[0]: IPv4 and IPv6 mixed: "10.0.0.1..fd00::1"`,
    `${S}spec.excludeIps[1]: range starts after it ends: "10.0.0.9..10.0.0.2"`,
    `${S}spec.excludeIps[2]: is not an IP address: "10.0.0.256"`,
    `${S}spec.excludeIps[3]: is not an IP address: "10.0.0.x" (in "10.0.0.1..10.0.0.x")`,
    `${S}spec.excludeIps[4]: "10.0.0.250..10.0.1.5" is not inside cidrBlock "10.0.0.0/24"`,
    `${S}spec.excludeIps[5]: "10.1.0.1" is not inside cidrBlock "10.0.0.0/24"`,
    `${S}spec.excludeIps[6]: is not an IP address: "10.0.0.1-10.0.0.5"`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nexcludeIps: 10.0.0.1'), [`${S}spec.excludeIps: must be a list, got "10.0.0.1"`]);

  // centralized egress
  t.strictSame(one(s('cidrBlock: 10.0.0.0/24,fd00::/64\nvpc: v\ngatewayType: centralized\ngatewayNode: "n1, n2:10.0.0.200,n3:FD00::9"\nenableEcmp: true')), {
    kind: 'Subnet',
    name: 's',
    cidrBlock: ['10.0.0.0/24', 'fd00::/64'],
    gateway: ['10.0.0.1', 'fd00::1'],
    vpc: 'v',
    excludeIps: [],
    gatewayType: 'centralized',
    gatewayNode: [{ node: 'n1' }, { node: 'n2', ip: '10.0.0.200' }, { node: 'n3', ip: 'fd00::9' }],
    enableEcmp: true,
  });
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nvpc: v\ngatewayType: centralized'), [
    `${S}spec.gatewayNode: required with gatewayType centralized: the gateway nodes, like "node1,node2" or "node1:100.64.0.2"`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\ngatewayType: centralized\ngatewayNode: n1'), [
    `${S}spec.gatewayType: centralized egress is for an internal subnet (one with vpc); an external network has no egress of its own`,
  ]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nvpc: v\ngatewayType: central'), [`${S}spec.gatewayType: must be one of distributed, centralized, got "central"`]);
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nvpc: v\ngatewayNode: "n1,n1,:10.0.0.9,n2:10.0.0.999,n3:fd00::1"\nenableEcmp: yes'), [
    `${S}spec.gatewayNode: node "n1" is listed twice in "n1,n1,:10.0.0.9,n2:10.0.0.999,n3:fd00::1"`,
    `${S}spec.gatewayNode: an empty node name in "n1,n1,:10.0.0.9,n2:10.0.0.999,n3:fd00::1"`,
    `${S}spec.gatewayNode: node "n2": is not an IP address: "10.0.0.999"`,
    `${S}spec.gatewayNode: node "n3": fd00::1 is IPv6, the subnet has no IPv6 CIDR`,
    `${S}spec.enableEcmp: must be true or false, got "yes"`,
  ]);

  // Kubernetes-only fields: notices; unknown fields: problems
  const k8s = [
    'namespaces', 'default', 'disableGatewayCheck', 'disableInterConnection',
    'natOutgoing', 'private', 'allowSubnets', 'logicalGateway', 'u2oInterconnection', 'enableLb', 'enableDHCP',
    'dhcpV4Options', 'dhcpV6Options', 'enableIPv6RA', 'ipv6RAConfigs', 'mtu', 'acls', 'nodeSelectors', 'routeTable',
  ];
  const m = parseManifest(s(`cidrBlock: 10.0.0.0/24\n${k8s.map((f) => `${f}: x`).join('\n')}`), 'm.yaml');
  t.strictSame(notices(m), k8s.map((f) => `${S}spec.${f}: ignored: Kubernetes only`));
  t.strictSame(p('cidrBlock: 10.0.0.0/24\nexternalEgressGateway: x'), [`${S}spec.externalEgressGateway: unknown field`]);
});

t.test('Vpc', async (t) => {
  const v = (spec: string) => obj('Vpc', 'vpc1', spec);
  const p = (spec: string) => problems(v(spec));
  const V = at('Vpc vpc1');
  // enableExternalGiven: false records that the manifest left enableExternal out (the default VPC's ConfigMap then decides)
  const empty = { kind: 'Vpc', name: 'vpc1', enableExternal: false, enableExternalGiven: false, addExternalSubnets: [], staticRoutes: [], policyRoutes: [] };
  const { enableExternalGiven: _unset, ...given } = empty;

  t.strictSame(one(v('')), empty);
  t.strictSame(one(v('enableExternal: "true"')), { ...given, enableExternal: true });
  t.strictSame(one(v('enableExternal: "false"')), given);
  t.strictSame(p('enableExternal: "yes"'), [`${V}spec.enableExternal: must be true or false, got "yes"`]);
  t.strictSame(p('enableExternal: 1'), [`${V}spec.enableExternal: must be true or false, got 1`]);
  t.strictSame(one(v('addExternalSubnets: [extra, e2]\nextraExternalSubnets: [e2, e3]')), { ...empty, addExternalSubnets: ['extra', 'e2', 'e3'] });
  t.strictSame(p('addExternalSubnets: extra'), [`${V}spec.addExternalSubnets: must be a list, got "extra"`]);

  // static routes
  t.strictSame(
    one(v(`staticRoutes:
- cidr: 0.0.0.0/0
  nextHopIP: 10.5.204.254
- cidr: 10.1.0.7
  nextHopIP: 10.5.204.253
  policy: policySrc
  routeTable: rtb1
- cidr: FD00:0::/64
  nextHopIP: FD00::0001
  bfd: {}
- cidr: ::/0
  nextHopIP: fd01::1
  bfd: {minTx: 100, minRx: "200", detectMult: 3}`)),
    {
      ...empty,
      staticRoutes: [
        { cidr: '0.0.0.0/0', nextHopIP: '10.5.204.254', policy: 'policyDst' },
        { cidr: '10.1.0.7/32', nextHopIP: '10.5.204.253', policy: 'policySrc', routeTable: 'rtb1' },
        { cidr: 'fd00::/64', nextHopIP: 'fd00::1', policy: 'policyDst', bfd: {} },
        { cidr: '::/0', nextHopIP: 'fd01::1', policy: 'policyDst', bfd: { minTx: 100, minRx: 200, detectMult: 3 } },
      ],
    },
  );
  t.strictSame(
    p(`staticRoutes:
- cidr: 10.0.0.1/8
  nextHopIP: 10.5.204.254
- cidr: 10.0.0.0/8
  nextHopIP: fd00::1
- nextHopIP: 1.2.3.4
  policy: dst
  ecmpMode: ecmp
- cidr: x
  nextHopIP: 1.2.3.400
  bfd: {minTx: 0, interval: 5}
- 10.0.0.0/8`),
    [
      `${V}spec.staticRoutes[4]: must be a mapping, got "10.0.0.0/8"`,
      `${V}spec.staticRoutes[0].cidr: host bits set, did you mean 10.0.0.0/8`,
      `${V}spec.staticRoutes[1].nextHopIP: IPv4 and IPv6 mixed: cidr 10.0.0.0/8 is IPv4, nextHopIP fd00::1 is IPv6`,
      `${V}spec.staticRoutes[2].cidr: required`,
      `${V}spec.staticRoutes[2].policy: must be one of policyDst, policySrc, got "dst"`,
      `${V}spec.staticRoutes[2].ecmpMode: must be "ecmp_symmetric_reply" (OVN's only ECMP mode option) or empty, got "ecmp"`,
      `${V}spec.staticRoutes[3].cidr: is not a CIDR or an IP address: "x"`,
      `${V}spec.staticRoutes[3].nextHopIP: is not an IP address: "1.2.3.400"`,
      `${V}spec.staticRoutes[3].bfd.interval: unknown field`,
      `${V}spec.staticRoutes[3].bfd.minTx: must be an integer between 1 and 2147483647, got 0`,
    ],
  );
  t.strictSame(p('staticRoutes:\n- cidr: 0.0.0.0/0\n  nextHopIP: 1.1.1.1\n  bfd: true'), [
    `${V}spec.staticRoutes[0].bfd: must be a mapping, got true`,
  ]);

  // policy routes
  t.strictSame(
    one(v(`policyRoutes:
- priority: 31000
  match: ip4.dst == 10.0.0.0/16
  action: allow
- priority: "29000"
  match: ip4.src == 192.168.0.0/24
  action: reroute
  nextHopIP: 10.5.204.1, 10.5.204.2
- priority: 0
  match: "1"
  action: drop`)),
    {
      ...empty,
      policyRoutes: [
        { priority: 31000, match: 'ip4.dst == 10.0.0.0/16', action: 'allow', nextHopIP: [] },
        { priority: 29000, match: 'ip4.src == 192.168.0.0/24', action: 'reroute', nextHopIP: ['10.5.204.1', '10.5.204.2'] },
        { priority: 0, match: '1', action: 'drop', nextHopIP: [] },
      ],
    },
  );
  t.strictSame(
    p(`policyRoutes:
- priority: 40000
  match: ""
  action: reroute
- action: allow
  nextHopIP: 10.0.0.1
- priority: 1
  match: ip4
  action: forward
- priority: 1
  match: ip6
  action: reroute
  nextHopIP: 10.0.0.1,fd00::1
- priority: 1
  match: ip4
  action: reroute
  nextHopIP: 10.0.0.1,10.0.0.
- priority: 1
  match: ip4
  reroute: 1.1.1.1`),
    [
      `${V}spec.policyRoutes[0].priority: must be an integer between 0 and 32767, got 40000`,
      `${V}spec.policyRoutes[0].match: must not be empty`,
      `${V}spec.policyRoutes[0].nextHopIP: required with action reroute`,
      `${V}spec.policyRoutes[1].priority: required`,
      `${V}spec.policyRoutes[1].match: required`,
      `${V}spec.policyRoutes[1].nextHopIP: only allowed with action reroute, not allow`,
      `${V}spec.policyRoutes[2].action: must be one of allow, drop, reroute, got "forward"`,
      `${V}spec.policyRoutes[3].nextHopIP: IPv4 and IPv6 mixed: "10.0.0.1,fd00::1"`,
      `${V}spec.policyRoutes[4].nextHopIP: is not an IP address: "10.0.0."`,
      `${V}spec.policyRoutes[5].reroute: unknown field`,
      `${V}spec.policyRoutes[5].action: required`,
    ],
  );

  // notices
  const m = parseManifest(v('namespaces: [ns1]\nvpcPeerings: []\nenableBfd: true\nbfdPort: {enabled: true, ip: " 10.255.255.255 ", nodeSelector: {matchLabels: {a: b}}}'), 'm.yaml');
  t.strictSame(notices(m), [
    `${V}spec.namespaces: ignored: Kubernetes only`,
    `${V}spec.vpcPeerings: not supported, ignored`,
    `${V}spec.bfdPort.nodeSelector: a Kubernetes node selector, ignored: the HA chassis group takes its chassis among the gateway nodes (ConfigMap external-gw-nodes)`,
  ]);
  t.equal((m.objects[0] as Vpc).enableBfd, true, 'enableBfd is read');
  t.strictSame((m.objects[0] as Vpc).bfdPort, { enabled: true, ip: ['10.255.255.255'] }, 'bfdPort is read');
  t.strictSame((parseManifest(v('bfdPort: {enabled: false, ip: 10.0.0.1}'), 'm.yaml').objects[0] as Vpc).bfdPort, { enabled: false, ip: [] }, 'a disabled bfdPort has no addresses');
  t.strictSame(p('bfdPort: {enabled: true, ip: "10.0.0.1/33"}'), [`${V}spec.bfdPort.ip: "10.0.0.1/33" is not an IP address or address/prefix`]);
  t.strictSame(p('bfdPort: {enabled: yes-please, ip: 10.0.0.1}'), [`${V}spec.bfdPort.enabled: must be true or false, got "yes-please"`]);
  t.strictSame(p('defaultSubnet: s1'), [`${V}spec.defaultSubnet: unknown field`]);
});

t.test('OvnEip', async (t) => {
  const e = (spec: string) => obj('OvnEip', 'e', spec);
  const p = (spec: string) => problems(e(spec));
  const E = at('OvnEip e');

  t.strictSame(one(e('')), { kind: 'OvnEip', name: 'e', type: 'nat' });
  t.strictSame(one(e('externalSubnet: extra\ntype: lrp\nv4Ip: 10.10.204.105\nv6Ip: FD00::0105\nmacAddress: 00:00:00:EF:05:C7')), {
    kind: 'OvnEip',
    name: 'e',
    externalSubnet: 'extra',
    type: 'lrp',
    v4Ip: '10.10.204.105',
    v6Ip: 'fd00::105',
    macAddress: '00:00:00:ef:05:c7',
  });
  // older spellings
  t.strictSame(one(e('usageType: lsp\nv4ip: 10.0.0.1\nv6ip: "::1"')), { kind: 'OvnEip', name: 'e', type: 'lsp', v4Ip: '10.0.0.1', v6Ip: '::1' });
  t.strictSame(p('type: nat\nusageType: lrp\nv4Ip: 10.0.0.1\nv4ip: 10.0.0.1'), [
    `${E}spec.usageType: give only one of spec.type and spec.usageType`,
    `${E}spec.v4ip: give only one of spec.v4Ip and spec.v4ip`,
  ]);
  t.strictSame(p('type: fip'), [`${E}spec.type: must be one of nat, lrp, lsp, got "fip"`]);
  t.strictSame(p('usageType: dnat'), [`${E}spec.usageType: must be one of nat, lrp, lsp, got "dnat"`]);
  t.strictSame(p('v4Ip: fd00::1\nv6Ip: 10.0.0.1'), [
    `${E}spec.v4Ip: is an IPv6 address, expected IPv4: "fd00::1"`,
    `${E}spec.v6Ip: is an IPv4 address, expected IPv6: "10.0.0.1"`,
  ]);
  t.strictSame(p('v4Ip: 10.0.0.300\nv6Ip: "fd00::1::2"'), [
    `${E}spec.v4Ip: is not an IPv4 address: "10.0.0.300"`,
    `${E}spec.v6Ip: is not an IPv6 address: "fd00::1::2"`,
  ]);
  t.strictSame(p('macAddress: 00:00:00:ef:05'), [`${E}spec.macAddress: is not a MAC address (like 00:00:00:ef:05:c7): "00:00:00:ef:05"`]);
  t.strictSame(p('macAddress: 00-00-00-ef-05-c7'), [`${E}spec.macAddress: is not a MAC address (like 00:00:00:ef:05:c7): "00-00-00-ef-05-c7"`]);
  t.strictSame(p('natType: snat'), [`${E}spec.natType: unknown field`]);
});

t.test('OvnFip', async (t) => {
  const f = (spec: string) => obj('OvnFip', 'f', spec);
  const p = (spec: string) => problems(f(spec));
  const F = at('OvnFip f');

  t.strictSame(one(f('ovnEip: e\nipName: pod.ns\nipType: ""\ntype: distributed')), {
    kind: 'OvnFip',
    name: 'f',
    ovnEip: 'e',
    ipName: 'pod.ns',
    type: 'distributed',
  });
  t.strictSame(one(f('ovnEip: e\nvpc: vpc1\nv4Ip: 192.168.0.2\nv6Ip: FD00::2\ntype: centralized')), {
    kind: 'OvnFip',
    name: 'f',
    ovnEip: 'e',
    vpc: 'vpc1',
    v4Ip: '192.168.0.2',
    v6Ip: 'fd00::2',
    type: 'centralized',
  });
  t.strictSame(one(f('ovnEip: e\nvpc: vpc1\nv6Ip: fd00::2')), { kind: 'OvnFip', name: 'f', ovnEip: 'e', vpc: 'vpc1', v6Ip: 'fd00::2' });
  // a vpc along with ipName is allowed (it names the same thing)
  t.strictSame(one(f('ovnEip: e\nvpc: vpc1\nipName: p')), { kind: 'OvnFip', name: 'f', ovnEip: 'e', ipName: 'p', vpc: 'vpc1' });

  t.strictSame(p('ipName: p'), [`${F}spec.ovnEip: required`]);
  t.strictSame(p('ovnEip: e'), [`${F}spec: one of spec.ipName, or spec.vpc with spec.v4Ip and/or spec.v6Ip is required`]);
  t.strictSame(p('ovnEip: e\nvpc: vpc1'), [`${F}spec.v4Ip: required with spec.vpc (or spec.v6Ip)`]);
  t.strictSame(p('ovnEip: e\nipName: p\nvpc: vpc1\nv4Ip: 192.168.0.2'), [
    `${F}spec.v4Ip: not allowed with spec.ipName: name the internal address one way only`,
  ]);
  t.strictSame(p('ovnEip: e\nipName: p\nv6Ip: fd00::2'), [
    `${F}spec.v6Ip: not allowed with spec.ipName: name the internal address one way only`,
    `${F}spec.vpc: required with spec.v6Ip`,
  ]);
  t.strictSame(p('ovnEip: e\nv4Ip: 192.168.0.2'), [`${F}spec.vpc: required with spec.v4Ip`]);
  t.strictSame(p('ovnEip: e\nipName: p\nipType: VIP'), [`${F}spec.ipType: must be "vip" or empty, got "VIP"`]);
  t.strictSame(p('ovnEip: e\nipName: p\ntype: ecmp'), [`${F}spec.type: must be one of distributed, centralized, got "ecmp"`]);
  t.strictSame(p('ovnEip: e\nvpc: vpc1\nv4Ip: fd00::1'), [`${F}spec.v4Ip: is an IPv6 address, expected IPv4: "fd00::1"`]);
  t.strictSame(p('ovnEip: e\nipName: p\nv4ip: 10.0.0.1'), [`${F}spec.v4ip: unknown field`]);
});

t.test('stateless: only a FIP', async (t) => {
  t.strictSame(one(obj('OvnFip', 'f', 'ovnEip: e\nipName: pod.ns\nstateless: true')), { kind: 'OvnFip', name: 'f', ovnEip: 'e', ipName: 'pod.ns', stateless: true });
  t.strictSame(one(obj('OvnFip', 'f', 'ovnEip: e\nipName: pod.ns\nstateless: "false"')), { kind: 'OvnFip', name: 'f', ovnEip: 'e', ipName: 'pod.ns', stateless: false });
  t.strictSame(problems(obj('OvnFip', 'f', 'ovnEip: e\nipName: pod.ns\nstateless: 1')), [`${at('OvnFip f')}spec.stateless: must be true or false, got 1`]);
  const only = 'only a floating IP (OvnFip, dnat_and_snat) can be stateless: SNAT and DNAT need conntrack to map replies back';
  t.strictSame(problems(obj('OvnSnatRule', 's', 'ovnEip: e\nvpcSubnet: sn\nstateless: true')), [`${at('OvnSnatRule s')}spec.stateless: ${only}`]);
  t.strictSame(problems(obj('OvnDnatRule', 'd', 'ovnEip: e\nipName: p\ninternalPort: 22\nexternalPort: 22\nstateless: true')), [`${at('OvnDnatRule d')}spec.stateless: ${only}`]);
  t.strictSame(objects(obj('OvnSnatRule', 's', 'ovnEip: e\nvpcSubnet: sn\nstateless: false')), [{ kind: 'OvnSnatRule', name: 's', ovnEip: 'e', vpcSubnet: 'sn' }], 'stateless: false is allowed anywhere');
});

t.test('OvnSnatRule', async (t) => {
  const r = (spec: string) => obj('OvnSnatRule', 'r', spec);
  const p = (spec: string) => problems(r(spec));
  const R = at('OvnSnatRule r');

  t.strictSame(one(r('ovnEip: e\nvpcSubnet: s1\nexternalPortRange: 1024-65535')), {
    kind: 'OvnSnatRule',
    name: 'r',
    ovnEip: 'e',
    vpcSubnet: 's1',
    externalPortRange: '1024-65535',
  });
  t.strictSame(one(r('ovnEip: e\nvpc: vpc1\nv4IpCidr: 192.168.0.0/24\nv6IpCidr: FD00::0004\nexternalPortRange: "8080"')), {
    kind: 'OvnSnatRule',
    name: 'r',
    ovnEip: 'e',
    vpc: 'vpc1',
    v4IpCidr: '192.168.0.0/24',
    v6IpCidr: 'fd00::4',
    externalPortRange: '8080',
  });
  t.strictSame(one(r('ovnEip: e\nipName: pod.ns\nexternalPortRange: 0100-0200')), {
    kind: 'OvnSnatRule',
    name: 'r',
    ovnEip: 'e',
    ipName: 'pod.ns',
    externalPortRange: '100-200',
  });
  t.strictSame(one(r('ovnEip: e\nvpc: v\nv6IpCidr: fd00:0:0:1::/64\nexternalPortRange: 53')), {
    kind: 'OvnSnatRule',
    name: 'r',
    ovnEip: 'e',
    vpc: 'v',
    v6IpCidr: 'fd00:0:0:1::/64',
    externalPortRange: '53',
  });

  t.strictSame(p('vpcSubnet: s1'), [`${R}spec.ovnEip: required`]);
  t.strictSame(p('ovnEip: e'), [
    `${R}spec: one of spec.vpcSubnet, or spec.ipName, or spec.vpc with spec.v4IpCidr and/or spec.v6IpCidr is required`,
  ]);
  t.strictSame(p('ovnEip: e\nvpcSubnet: s1\nipName: p'), [`${R}spec.ipName: not allowed with spec.vpcSubnet: name the internal address one way only`]);
  t.strictSame(p('ovnEip: e\nvpcSubnet: s1\nvpc: v\nv4IpCidr: 10.0.0.0/8'), [
    `${R}spec.v4IpCidr: not allowed with spec.vpcSubnet: name the internal address one way only`,
  ]);
  t.strictSame(p('ovnEip: e\nv4IpCidr: 10.0.0.0/8'), [`${R}spec.vpc: required with spec.v4IpCidr`]);
  t.strictSame(p('ovnEip: e\nvpc: v'), [`${R}spec.v4IpCidr: required with spec.vpc (or spec.v6IpCidr)`]);
  t.strictSame(p('ovnEip: e\nvpc: v\nv4IpCidr: 192.168.0.4/24\nv6IpCidr: 10.0.0.0/8'), [
    `${R}spec.v4IpCidr: host bits set, did you mean 192.168.0.0/24`,
    `${R}spec.v6IpCidr: is an IPv4 CIDR, expected IPv6: "10.0.0.0/8"`,
  ]);
  t.strictSame(p('ovnEip: e\nvpc: v\nv4IpCidr: fd00::4'), [`${R}spec.v4IpCidr: is an IPv6 address, expected IPv4: "fd00::4"`]);
  const range = 'must be a port or a range lo-hi with 1 <= lo <= hi <= 65535';
  for (const bad of ['0-10', '70000', '2000-1000', '1-65536', '10-', 'a-b', '"1 - 2"', '0']) {
    t.strictSame(p(`ovnEip: e\nvpcSubnet: s\nexternalPortRange: ${bad}`), [
      `${R}spec.externalPortRange: ${range}, got ${bad.startsWith('"') ? bad : /^[0-9]+$/.test(bad) ? bad : JSON.stringify(bad)}`,
    ]);
  }
  t.strictSame(p('ovnEip: e\nvpcSubnet: s\nexternalPortRange: [1, 2]'), [`${R}spec.externalPortRange: ${range}, got a list`]);
});

t.test('OvnDnatRule', async (t) => {
  const d = (spec: string) => obj('OvnDnatRule', 'd', spec);
  const p = (spec: string) => problems(d(spec));
  const D = at('OvnDnatRule d');

  t.strictSame(one(d('ovnEip: e\nipName: pod.ns\ninternalPort: "22"\nexternalPort: 2222')), {
    kind: 'OvnDnatRule',
    name: 'd',
    ovnEip: 'e',
    ipName: 'pod.ns',
    protocol: 'tcp',
    internalPort: 22,
    externalPort: 2222,
  });
  t.strictSame(one(d('ovnEip: e\nipType: vip\nvpc: vpc1\nv4Ip: 192.168.0.4\nprotocol: udp\ninternalPort: 53\nexternalPort: "53"')), {
    kind: 'OvnDnatRule',
    name: 'd',
    ovnEip: 'e',
    ipType: 'vip',
    vpc: 'vpc1',
    v4Ip: '192.168.0.4',
    protocol: 'udp',
    internalPort: 53,
    externalPort: 53,
  });
  t.equal((one(d('ovnEip: e\nipName: p\nprotocol: sctp\ninternalPort: 1\nexternalPort: 65535')) as { protocol: string }).protocol, 'sctp');

  const port = 'must be an integer between 1 and 65535';
  t.strictSame(p('ovnEip: e\nipName: p\ninternalPort: "22"\nexternalPort: "70000"'), [`${D}spec.externalPort: ${port}, got "70000"`]);
  t.strictSame(p('ovnEip: e\nipName: p\ninternalPort: 0\nexternalPort: 65536'), [
    `${D}spec.internalPort: ${port}, got 0`,
    `${D}spec.externalPort: ${port}, got 65536`,
  ]);
  t.strictSame(p('ovnEip: e\nipName: p\ninternalPort: ssh\nexternalPort: "-1"'), [
    `${D}spec.internalPort: ${port}, got "ssh"`,
    `${D}spec.externalPort: ${port}, got "-1"`,
  ]);
  t.strictSame(p('ipName: p'), [`${D}spec.ovnEip: required`, `${D}spec.internalPort: required`, `${D}spec.externalPort: required`]);
  t.strictSame(p('ovnEip: e\nipName: p\nprotocol: icmp\ninternalPort: 1\nexternalPort: 1'), [
    `${D}spec.protocol: must be one of tcp, udp, sctp, got "icmp"`,
  ]);
  t.strictSame(p('ovnEip: e\ninternalPort: 1\nexternalPort: 1'), [
    `${D}spec: one of spec.ipName, or spec.vpc with spec.v4Ip and/or spec.v6Ip is required`,
  ]);
  t.strictSame(p('ovnEip: e\nipName: p\nv4Ip: 10.0.0.1\ninternalPort: 1\nexternalPort: 1'), [
    `${D}spec.v4Ip: not allowed with spec.ipName: name the internal address one way only`,
    `${D}spec.vpc: required with spec.v4Ip`,
  ]);
  t.strictSame(p('ovnEip: e\nipName: p\nipType: pod\ninternalPort: 1\nexternalPort: 1\nexternalPortRange: 1-2'), [
    `${D}spec.externalPortRange: unknown field`,
    `${D}spec.ipType: must be "vip" or empty, got "pod"`,
  ]);
});

t.test('Vip', async (t) => {
  const v = (spec: string) => obj('Vip', 'vip1', spec);
  const V = at('Vip vip1');
  t.strictSame(one(v('subnet: s1\nv4ip: 192.168.0.3\nv6ip: FD00::3')), { kind: 'Vip', name: 'vip1', subnet: 's1', v4ip: '192.168.0.3', v6ip: 'fd00::3' });
  t.strictSame(one(v('subnet: s1\nv4Ip: 192.168.0.3\nv6Ip: fd00::3')), { kind: 'Vip', name: 'vip1', subnet: 's1', v4ip: '192.168.0.3', v6ip: 'fd00::3' });
  t.strictSame(problems(v('v4ip: 192.168.0.3\nv4Ip: 192.168.0.3\nv6ip: 192.168.0.3')), [
    `${V}spec.subnet: required`,
    `${V}spec.v4Ip: give only one of spec.v4ip and spec.v4Ip`,
    `${V}spec.v6ip: is an IPv4 address, expected IPv6: "192.168.0.3"`,
  ]);
  const k8s = ['namespace', 'selector', 'attachSubnets', 'parentMac', 'parentV4ip', 'parentV6ip', 'macAddress', 'type'];
  const m = parseManifest(v(`subnet: s1\n${k8s.map((f) => `${f}: x`).join('\n')}`), 'm.yaml');
  t.strictSame(notices(m), k8s.map((f) => `${V}spec.${f}: ignored: Kubernetes only`));
  t.strictSame(problems(v('subnet: s1\nvpc: v')), [`${V}spec.vpc: unknown field`]);
});

t.test('ConfigMap ovn-external-gw-config', async (t) => {
  const cm = (data: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ovn-external-gw-config\n  namespace: kube-system\n${data ? `data:\n${data.replace(/^(?=.)/gm, '  ')}` : ''}\n`;
  const C = at('ConfigMap ovn-external-gw-config');
  const base = { kind: 'ConfigMap', name: 'ovn-external-gw-config', enableExternalGw: false, externalGwNodes: [], type: 'centralized' };

  t.strictSame(one(cm('')), base);
  t.strictSame(
    one(cm('enable-external-gw: true\nexternal-gw-nodes: " gw1, ,gw2 ,,"\ntype: distributed\nexternal-gw-addr: FD00::FFFE/64\nexternal-gw-switch: external204')),
    { ...base, enableExternalGw: true, externalGwNodes: ['gw1', 'gw2'], type: 'distributed', externalGwAddr: 'fd00::fffe/64', externalGwSwitch: 'external204' },
  );
  t.strictSame(one(cm('enable-external-gw: "false"\nexternal-gw-nodes: ""')), base);

  const m = parseManifest(cm('external-gw-nic: eth1\nnic-ip: 10.0.0.2/24\nnic-mac: 00:00:00:00:00:01'), 'm.yaml');
  t.strictSame(notices(m), [`${C}data.external-gw-nic: ignored: Kubernetes only`]);
  t.strictSame(one(cm('nic-ip: 10.5.204.150/24\nnic-mac: 00:00:00:EF:05:C7')), { ...base, nicIp: '10.5.204.150/24', nicMac: '00:00:00:ef:05:c7' }, 'nic-ip and nic-mac: the default VPC port');
  t.strictSame(problems(cm('nic-ip: 10.5.204.150\nnic-mac: 00:00:00:ef:05')), [
    `${C}data.nic-mac: is not a MAC address (like 00:00:00:ef:05:c7): "00:00:00:ef:05"`,
    `${C}data.nic-ip: must be an IP address with a prefix length (like 10.5.204.254/24), got "10.5.204.150"`,
  ]);

  t.strictSame(problems(cm('enable-external-gw: "yes"\ntype: local\nexternal-gw-addr: 10.5.204.254\nexternal-gw-nodes: [a]\ncolor: red')), [
    `${C}data.color: unknown field`,
    `${C}data.enable-external-gw: must be true or false, got "yes"`,
    `${C}data.external-gw-nodes: must be a string, got a list`,
    `${C}data.type: must be one of centralized, distributed, got "local"`,
    `${C}data.external-gw-addr: must be an IP address with a prefix length (like 10.5.204.254/24), got "10.5.204.254"`,
  ]);
  t.strictSame(problems(cm('external-gw-addr: 10.5.204.254/33')), [
    `${C}data.external-gw-addr: must be an IP address with a prefix length (like 10.5.204.254/24), got "10.5.204.254/33"`,
  ]);
  t.strictSame(problems(`${cm('')}spec: {}\n`), [`${C}spec: unknown field`]);
});

// ------------------------------------------------------------------ loadManifests

t.test('loadManifests: directories, files, problems of all files together', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'manifest-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'b.yml'), obj('Vpc', 'vpc-b', ''));
  await writeFile(join(dir, 'a.yaml'), obj('Vpc', 'vpc-a', ''));
  await writeFile(join(dir, 'c.json'), JSON.stringify({ apiVersion: 'kubeovn.io/v1', kind: 'Vpc', metadata: { name: 'vpc-c' } }));
  await writeFile(join(dir, 'notes.txt'), 'not a manifest');
  await mkdir(join(dir, 'sub.yaml'));
  await writeFile(join(dir, 'sub.yaml', 'd.yaml'), obj('Vpc', 'vpc-d', ''));

  // sorted, not recursive, only *.yaml, *.yml and *.json
  const m = await loadManifests([dir]);
  t.strictSame(
    m.objects.map((o) => [o.name, o.origin]),
    [
      ['vpc-a', { file: join(dir, 'a.yaml'), document: 1 }],
      ['vpc-b', { file: join(dir, 'b.yml'), document: 1 }],
      ['vpc-c', { file: join(dir, 'c.json'), document: 1 }],
    ],
  );
  // a file is read whatever its name
  t.strictSame((await loadManifests([join(dir, 'notes.txt')]).catch((e: ManifestError) => e.problems)), [
    `${join(dir, 'notes.txt')}, document 1: must be a mapping (a Kubernetes object), got "not a manifest"`,
  ]);
  t.strictSame(await loadManifests([]), { objects: [], notices: [] });

  // problems of all files in one error, duplicates across files
  const bad = await mkdtemp(join(tmpdir(), 'manifest-test-'));
  t.teardown(() => rm(bad, { recursive: true, force: true }));
  await writeFile(join(bad, '1.yaml'), obj('Vlan', 'v1', 'id: 5000\nprovider: p'));
  await writeFile(join(bad, '2.yaml'), `${obj('Vpc', 'vpc-a', '')}---\n${obj('Vlan', 'v2', 'provider: p')}`);
  const empty = join(dir, 'sub.yaml', 'empty');
  await mkdir(empty);
  const err = await loadManifests([dir, bad, join(dir, 'missing.yaml'), empty]).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ManifestError);
  t.strictSame((err as ManifestError).problems, [
    `Vlan v1 (${join(bad, '1.yaml')}, document 1): spec.id: must be an integer between 0 and 4095, got 5000`,
    `Vpc vpc-a (${join(bad, '2.yaml')}, document 1): metadata.name: duplicate: Vpc vpc-a is also defined in ${join(dir, 'a.yaml')}, document 1`,
    `Vlan v2 (${join(bad, '2.yaml')}, document 2): spec.id: required`,
    `${join(dir, 'missing.yaml')}: cannot read: ENOENT: no such file or directory, stat '${join(dir, 'missing.yaml')}'`,
    `${empty}: no *.yaml, *.yml or *.json files in this directory`,
  ]);
});

t.test('formatNotice', async (t) => {
  t.equal(
    formatNotice({ kind: 'Subnet', name: 's', field: 'spec.mtu', message: 'ignored: Kubernetes only', origin: { file: 'f.yaml', document: 2 } }),
    'Subnet s (f.yaml, document 2): spec.mtu: ignored: Kubernetes only',
  );
  t.equal(formatNotice({ kind: 'Namespace', name: 'ns', field: '', message: 'ignored: Kubernetes only' }), 'Namespace ns: ignored: Kubernetes only');
});

t.test('the fast YAML path (js-yaml) reads every text as the yaml package does: the same documents, numbered the same', async (t) => {
  const { yamlDocuments, yamlDocumentsSlow } = await import('../src/nat/manifest.js');
  const { readdirSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const texts: [string, string][] = [];
  const dir = (await import('node:url')).fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
  for (const f of readdirSync(dir)) texts.push([f, readFileSync(join(dir, f), 'utf8')]);
  for (const [i, s] of [
    '',
    '# only a comment\n',
    '# a comment\n---\nkind: Vpc\n',
    '---\n---\nkind: Vpc\n---\n',
    'kind: Vpc\n...\n---\nkind: Subnet\n',
    'a: 2026-01-01\nb: yes\nc: no\nd: on\ne: 0x10\nf: 0o17\ng: 010\nh: ~\ni: null\nj: 1e3\nk: .inf\nl: "1"\n',
    'a: &x {b: 1}\nc: *x\nd: |\n  two\n  lines\ne: >\n  folded\n  text\n',
    'list:\n- 1\n- two\n- {three: 3}\n---\n# trailing comment only\n',
    'cidrBlock: 10.0.0.0/24,fd00::/64\nexcludeIps:\n- 10.0.0.1..10.0.0.9\nport: "22"\n',
  ].entries()) texts.push([`case ${i}`, s]);
  for (const [name, text] of texts) {
    const fast = yamlDocuments(text);
    t.ok(fast, `${name}: the fast path reads it`);
    const slow = yamlDocumentsSlow(text).map((d) => ('value' in d ? d.value : d));
    while (slow.length && slow[slow.length - 1] === null) slow.pop(); // trailing empty documents: skipped either way
    t.same(fast, slow, `${name}: the same documents and values`);
  }
  t.equal(yamlDocuments('a: 1\na: 2\n'), undefined, 'a duplicate key: the fast path gives up, and the slow one names it');
  t.equal(yamlDocuments('a: [1\n'), undefined, 'unclosed: likewise');
});
