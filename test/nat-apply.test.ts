/**
 * The declarative layer (src/nat, src/natgwctl.ts) against a real OVN
 * (ovsdb-server NB/SB, ovn-northd): the Kube-OVN "OVN EIP FIP SNAT DNAT"
 * guide manifests (test/fixtures/seed002) applied, re-applied, shrunk and
 * rebound; every refusal; gateway chassis placement when the gateway node
 * list changes; and the CLI. Results are read back with ovn-nbctl/ovn-sbctl
 * and with whole-NB snapshots (every row of every table, with _version, so
 * a rewrite with the same values shows too).
 *
 * The subtests share one sandbox and run in order, each starting from the
 * state the previous one left.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import { runCtl } from './helpers/ctl.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { diff, nbSnapshots } from './helpers/nb-snapshot.js';
import { until } from './helpers/util.js';

const sb = await withSandbox(t);

const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const EXTRA_FIP = fileURLToPath(new URL('./fixtures/nat/extra-fip.yaml', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/ovn-natgwctl.js', import.meta.url));
const seed = (...names: string[]) => names.map((n) => join(SEED, n));
/** The seed files but `without` some. */
const seedWithout = (...without: string[]) => seed(...readdirSync(SEED).filter((n) => /\.ya?ml$/.test(n) && !without.includes(n)).sort());
/** The guide's first step: external network, Vpc and its subnet. */
const NETWORK_FILES = seed(
  '00-centralized-external-gw-no-ip.yaml',
  '00-ns.yml',
  '01-provider-network.yaml',
  '02-vlan.yaml',
  '03-vlan-subnet.yaml',
  '01-vpc-ecmp-enable-external-bfd.yml',
  '02-subnet.yml',
);
/** Workload ports, as the CNI would make them (name, MAC, IP). */
const WORKLOADS = [
  ['vpc-1-busybox01.vpc1', '00:00:00:0a:dd:27', '192.168.0.2'],
  ['vpc-1-busybox02.vpc1', '00:00:00:0b:e9:d0', '192.168.0.4'],
] as const;
const CHASSIS = ['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'];

for (const [i, c] of CHASSIS.entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

// ---------------------------------------------------------------- helpers

/**
 * Manifests from files, with objects replaced or added by YAML texts (an
 * object of the same kind and name replaces the file's).
 */
async function manifest(paths: string[], ...texts: string[]): Promise<Manifest> {
  const m = await loadManifests(paths);
  for (const [i, text] of texts.entries()) {
    const extra = parseManifest(text, `extra-${i + 1}.yaml`);
    const names = new Set(extra.objects.map((o) => `${o.kind}/${o.name}`));
    m.objects = [...m.objects.filter((o) => !names.has(`${o.kind}/${o.name}`)), ...extra.objects];
  }
  return m;
}

const { settle, snapshot, changedBy, refused } = nbSnapshots(sb);

/** What the last ctl() wrote to stderr (notices, warnings). */
let ctlStderr = '';

/** ovn-natgwctl main() with --db/--sb: its stdout as a string, its stderr in ctlStderr. */
async function ctl(...args: string[]): Promise<string> {
  const r = await runCtl(sb, args);
  ctlStderr = r.stderr;
  if (r.code !== 0) throw new Error(`exit status ${r.code}: ${r.stdout}`);
  return r.stdout;
}

/** bin/ovn-natgwctl.js in a child process. */
function bin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
    delete e.OVN_NB_DB;
    delete e.OVN_SB_DB;
    Object.assign(e, env);
    execFile(process.execPath, [BIN, ...args], { env: e, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The address reservations on a switch, as ovn-nbctl shows its external_ids: "Kind/name" -> IP. */
async function ledger(sw: string): Promise<Map<string, string>> {
  const ids = await nbctl(sb, 'get', 'Logical_Switch', sw, 'external_ids');
  const out = new Map<string, string>();
  for (const m of ids.matchAll(/"ovn-natgw:ip:([0-9a-f.:]+)"="ovn-natgw\/(\w+)\/([^"]+)"/g)) out.set(`${m[2]}/${m[3]}`, m[1]);
  return out;
}

/** `ovn-nbctl lr-nat-list R` as "type external_ip logical_ip" lines (the other columns are empty for these rows). */
async function natList(router: string): Promise<string[]> {
  const lines = (await nbctl(sb, 'lr-nat-list', router)).split('\n').slice(1);
  return lines.map((l) => l.trim().split(/\s+/).join(' ')).filter(Boolean).sort();
}

/** `ovn-nbctl lrp-get-gateway-chassis P` as chassis names, highest priority first, with their priorities. */
async function gatewayChassis(lrp: string): Promise<{ chassis: string; priority: number }[]> {
  const out = await nbctl(sb, 'lrp-get-gateway-chassis', lrp);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, prio] = l.trim().split(/\s+/);
      return { chassis: name.slice(lrp.length + 1), priority: Number(prio) };
    });
}

const tops = async (routers: readonly string[]) => Promise.all(routers.map(async (r) => (await gatewayChassis(`${r}-external204`))[0]?.chassis));

/** An external204 address ovn-natgw may hand out: inside 10.5.204.0/24, outside excludeIps 10.5.204.1..100, not the gateway .254. */
const ALLOCATABLE = /^10\.5\.204\.(10[1-9]|1[1-9]\d|2[0-4]\d|25[0-3])$/;

/** external_ids of every row of a table, as ovn-nbctl prints them ("k=v k=v"), by row name (or UUID). */
async function externalIds(table: string): Promise<Map<string, string>> {
  const named = ['NAT', 'Logical_Router_Static_Route'].includes(table) ? '_uuid' : 'name';
  const out = await nbctl(sb, '--format=csv', '--data=bare', '--no-headings', `--columns=${named},external_ids`, 'list', table);
  return new Map(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(',')), l.slice(l.indexOf(',') + 1)]));
}

/** Until gw's replica has seen a change made by another client. */
async function seen(what: string, pred: () => boolean): Promise<void> {
  await until(`the replica to see ${what}`, pred, 10_000);
}

const natRows = () => [...gw.nb.table('NAT').values()];

// ---------------------------------------------------------------- tests

t.test('seed 002 applies as written, in the guide order', async (t) => {
  const first = await gw.apply(await manifest(NETWORK_FILES));
  t.ok(first.transacted, 'networks, Vpc and subnet: one transaction');
  t.match(await nbctl(sb, 'lsp-get-options', 'localnet.external204'), /network_name=external204/, 'localnet port on the provider network');
  t.equal(await nbctl(sb, 'lsp-get-tag', 'localnet.external204'), '204', 'with the Vlan id as tag');

  for (const [name, mac, ip] of WORKLOADS) await nbctl(sb, 'lsp-add', 'vpc1-subnet1', name, '--', 'lsp-set-addresses', name, `${mac} ${ip}`);
  await seen('the workload ports', () => [...gw.nb.table('Logical_Switch_Port').values()].filter((p) => p.name.startsWith('vpc-1-busybox')).length === 2);

  const all = await gw.apply(await manifest([SEED]));
  t.ok(all.transacted, 'the whole directory: one transaction');
  t.same(all.plan.changes.filter((c) => c.action !== 'add'), [], 'only additions');

  const eips = await ledger('external204');
  const show = await nbctl(sb, 'show', 'vpc1');
  t.match(show, /port vpc1-vpc1-subnet1\n\s+mac: "[0-9a-f:]+"\n\s+networks: \["192\.168\.0\.1\/24"\]/, 'internal router port at the subnet gateway');
  const ext = /port vpc1-external204\n\s+mac: "[0-9a-f:]+"\n\s+networks: \["([0-9.]+)\/24"\]\n\s+gateway chassis: \[([^\]]*)\]/.exec(show);
  t.ok(ext, 'external router port with gateway chassis');
  const lrpIp = ext?.[1] ?? '';
  t.match(lrpIp, ALLOCATABLE, `router port address ${lrpIp} in 10.5.204.0/24, outside excludeIps`);
  t.equal(eips.get('Vpc/vpc1'), lrpIp, 'reserved in the switch ledger for Vpc vpc1');
  t.same((ext?.[2] ?? '').split(' ').sort(), ['pc-node-1', 'pc-node-2', 'pc-node-3'], 'on the 3 external-gw-nodes');
  t.same(
    (await gatewayChassis('vpc1-external204')).map((g) => g.priority),
    [3, 2, 1],
    'priorities 3, 2, 1',
  );

  for (const name of ['eip-static', 'eip-for-vip', 'snat-for-subnet-in-vpc', 'snat-for-pod-vpc-ip', 'eip-dnat']) {
    t.match(eips.get(`OvnEip/${name}`) ?? '', ALLOCATABLE, `OvnEip ${name}: ${eips.get(`OvnEip/${name}`)}`);
  }
  t.equal(new Set(eips.values()).size, eips.size, 'every reserved address is distinct');
  t.equal((await ledger('vpc1-subnet1')).get('Vip/test-fip-vip'), '192.168.0.3', 'the Vip gets 192.168.0.3, as in the guide');
  const eip = (n: string) => eips.get(`OvnEip/${n}`)!;

  t.same(
    await natList('vpc1'),
    [
      `dnat_and_snat ${eip('eip-for-vip')} 192.168.0.3`,
      `dnat_and_snat ${eip('eip-static')} 192.168.0.2`,
      `snat ${eip('snat-for-pod-vpc-ip')} 192.168.0.4`,
      `snat ${eip('snat-for-subnet-in-vpc')} 192.168.0.0/24`,
    ].sort(),
    'lr-nat-list vpc1: the two FIPs and the two SNATs',
  );
  t.match(await nbctl(sb, 'lr-route-list', 'vpc1'), /^\s*0\.0\.0\.0\/0\s+10\.5\.204\.254 dst-ip$/m, 'lr-route-list vpc1: default route via the external gateway');
  t.match(
    await nbctl(sb, 'lr-lb-list', 'vpc1'),
    new RegExp(`\\seip-dnat\\s+tcp\\s+${eip('eip-dnat').replace(/\./g, '\\.')}:22\\s+192\\.168\\.0\\.2:22$`, 'm'),
    'lr-lb-list vpc1: the tcp 22 DNAT',
  );

  // ownership tags on every row written
  const tagged = (ids: string) => /ovn-natgw:owner=ovn-natgw/.test(ids) && /ovn-natgw:kind=\w+/.test(ids) && /ovn-natgw:name=\S+/.test(ids);
  const nat = await externalIds('NAT');
  t.same(
    [...nat.values()].map((ids) => /ovn-natgw:kind=(\w+) ovn-natgw:name=(\S+)/.exec(ids)?.slice(1).join('/')).sort(),
    ['OvnFip/eip-for-vip', 'OvnFip/eip-static', 'OvnSnatRule/snat-for-subnet-in-vpc', 'OvnSnatRule/snat01'],
    'NAT rows carry the kind and name of their object',
  );
  for (const table of ['NAT', 'Load_Balancer', 'Gateway_Chassis', 'Logical_Router_Static_Route', 'Logical_Router', 'Logical_Router_Port', 'Logical_Switch', 'Logical_Switch_Port']) {
    const rows = await externalIds(table);
    const untagged = [...rows].filter(([name, ids]) => !tagged(ids) && !name.startsWith('vpc-1-busybox')).map(([name]) => name);
    t.same(untagged, [], `${table}: every row written carries ovn-natgw:owner/kind/name (${rows.size} rows)`);
  }
  t.equal((await externalIds('Logical_Switch_Port')).get('vpc-1-busybox01.vpc1'), '', 'the workload ports are left as the CNI made them');

  // ovn-northd compiles them
  await settle();
  const flows = await sbctl(sb, 'lflow-list', 'vpc1');
  const re = (s: string) => new RegExp(s.replace(/\./g, '\\.').replace(/\(/g, '\\(').replace(/\)/g, '\\)').replace(/%/g, '.*'));
  t.match(flows, re(`ip4.dst == ${eip('eip-static')} %ct_dnat%(192.168.0.2)`), 'SB: ct_dnat to the FIP internal IP');
  t.match(flows, re(`ip4.src == 192.168.0.0/24 %ct_snat%(${eip('snat-for-subnet-in-vpc')})`), 'SB: ct_snat of the subnet to its EIP');
  t.match(flows, re(`ip4.dst == ${eip('eip-dnat')} && tcp && tcp.dst == 22%ct_lb%(backends=192.168.0.2:22)`), 'SB: the DNAT load balancer');
});

t.test('a second apply sends no transaction and changes nothing', async (t) => {
  await settle();
  const before = await snapshot();
  const r = await gw.apply(await manifest([SEED]));
  t.equal(r.transacted, false, 'transacted false');
  t.same(r.plan.changes, [], 'no changes planned');
  t.same(r.plan.ops, [], 'no operations');
  t.match(await ctl('apply', '-f', SEED), /^no changes\n$/, 'ovn-natgwctl apply prints "no changes"');
  t.match(ctlStderr, /^notice: Namespace vpc1: ignored: Kubernetes only$/m, 'Kubernetes-only kinds and fields: notices on stderr');
  t.match(ctlStderr, /^notice: Subnet vpc1-subnet1: spec\.natOutgoing: ignored: Kubernetes only$/m);
  // the seed's ConfigMap attaches Kube-OVN's default VPC, which a plain OVN does not have
  t.same(ctlStderr.split('\n').filter((l) => l.startsWith('warning:')), [
    'warning: ConfigMap ovn-external-gw-config: data.enable-external-gw: the default VPC, router ovn-cluster, is not in NB, so it is not attached (Kube-OVN creates it; without Kube-OVN, add a Vpc ovn-cluster to the manifest)',
  ], 'no other warning');
  t.match(await ctl('plan', '-f', SEED), /^no changes\n$/, 'ovn-natgwctl plan prints "no changes"');
  t.same(diff(before, await snapshot()), [], 'NB identical, row versions included');
});

t.test('refused input: an error naming object, field and reason; nothing written', async (t) => {
  const eip = (name: string, extra = '') => `kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {externalSubnet: external204${extra}}\n---\n`;
  const fip = (name: string, spec: string) => `kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {${spec}}\n`;
  const snatEip = (await ledger('external204')).get('OvnEip/snat-for-subnet-in-vpc')!;
  const fipEip = (await ledger('external204')).get('OvnEip/eip-static')!;
  const cases: { name: string; yaml?: string; args?: string[]; before?: () => Promise<unknown>; after?: () => Promise<unknown>; error: RegExp }[] = [
    {
      name: 'a bad IP address',
      yaml: eip('eip-bad', ', v4Ip: 10.5.204.300'),
      error: /OvnEip eip-bad \(extra-1\.yaml, document 1\): spec\.v4Ip: is not an IPv4 address: "10\.5\.204\.300"/,
    },
    {
      name: 'a bad CIDR',
      yaml: 'kind: OvnSnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: snat-bad}\nspec: {ovnEip: eip-static, vpc: vpc1, v4IpCidr: 192.168.0.0/33}\n',
      error: /OvnSnatRule snat-bad \(extra-1\.yaml, document 1\): spec\.v4IpCidr: is not a CIDR: the prefix length must be an integer between 0 and 32/,
    },
    {
      name: 'an EIP address outside its external network',
      yaml: eip('eip-outside', ', v4Ip: 10.9.9.9'),
      error: /OvnEip eip-outside \(extra-1\.yaml, document 1\): spec\.v4Ip: 10\.9\.9\.9 is outside network external204/,
    },
    {
      name: 'a missing external network',
      yaml: eip('eip-nonet').replace('external204', 'nosuch'),
      error: /OvnEip eip-nonet \(extra-1\.yaml, document 1\): spec\.externalSubnet: external network "nosuch" not found/,
    },
    {
      name: 'a FIP on an EIP of type lsp',
      yaml: eip('eip-lsp', ', type: lsp') + fip('fip-lsp', 'ovnEip: eip-lsp, vpc: vpc1, v4Ip: 192.168.0.20'),
      error: /OvnFip fip-lsp \(extra-1\.yaml, document 2\): spec\.ovnEip: OvnEip "eip-lsp" is of type lsp/,
    },
    {
      name: 'a SNAT on an EIP of an external network the Vpc is not attached to',
      yaml: eip('eip-extra').replace('external204', 'extra') + 'kind: OvnSnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: snat-extra}\nspec: {ovnEip: eip-extra, vpcSubnet: vpc1-subnet1}\n',
      error: /OvnSnatRule snat-extra \(extra-1\.yaml, document 2\): spec\.ovnEip: 10\.10\.204\.\d+ \(OvnEip eip-extra\) is on external network extra, which Vpc vpc1 is not attached to/,
    },
    {
      name: 'a missing workload port',
      yaml: eip('eip-nopod') + fip('fip-nopod', 'ovnEip: eip-nopod, ipName: vpc-1-busybox09.vpc1'),
      error: /OvnFip fip-nopod \(extra-1\.yaml, document 2\): spec\.ipName: no Logical_Switch_Port "vpc-1-busybox09\.vpc1" in NB/,
    },
    {
      name: 'a missing Vpc',
      yaml: eip('eip-novpc') + fip('fip-novpc', 'ovnEip: eip-novpc, vpc: vpc9, v4Ip: 192.168.9.2'),
      error: /OvnFip fip-novpc \(extra-1\.yaml, document 2\): spec\.vpc: no Vpc "vpc9"/,
    },
    {
      name: 'two FIPs on one EIP',
      yaml: fip('fip-second', 'ovnEip: eip-static, vpc: vpc1, v4Ip: 192.168.0.30'),
      error: /OvnFip fip-second \(extra-1\.yaml, document 1\): spec\.ovnEip: OvnEip "eip-static" is already used by OvnFip\/eip-static/,
    },
    {
      name: 'a DNAT port out of range',
      yaml: 'kind: OvnDnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: dnat-bad}\nspec: {ovnEip: eip-dnat, ipName: vpc-1-busybox02.vpc1, protocol: tcp, internalPort: "22", externalPort: "70000"}\n',
      error: /OvnDnatRule dnat-bad \(extra-1\.yaml, document 1\): spec\.externalPort: must be an integer between 1 and 65535, got "70000"/,
    },
    {
      name: 'an IPv4 EIP for an IPv6-only internal address',
      yaml: eip('eip-v4') + fip('fip-mixed', 'ovnEip: eip-v4, vpc: vpc1, v6Ip: "fd00:10::5"'),
      error: /OvnFip fip-mixed \(extra-1\.yaml, document 2\): spec\.ovnEip: IPv4 and IPv6 mixed/,
    },
    {
      name: 'an unowned NAT row with the same identity already in NB',
      before: async () => {
        await nbctl(sb, 'lr-nat-add', 'vpc1', 'snat', snatEip, '192.168.0.128/25');
        await seen('the lr-nat-add row', () => natRows().some((n) => n.logical_ip === '192.168.0.128/25'));
      },
      after: () => nbctl(sb, 'lr-nat-del', 'vpc1', 'snat', '192.168.0.128/25'),
      yaml: 'kind: OvnSnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: snat-half}\nspec: {ovnEip: snat-for-subnet-in-vpc, vpc: vpc1, v4IpCidr: 192.168.0.128/25}\n',
      error: new RegExp(
        `OvnSnatRule snat-half \\(extra-1\\.yaml, document 1\\): spec: NB already has NAT [0-9a-f-]{36} \\(router vpc1, snat ${snatEip.replace(/\./g, '\\.')} -> 192\\.168\\.0\\.128/25\\) that ovn-natgw does not own`,
      ),
    },
    {
      name: 'another writer made the same external IP a floating IP for a different internal IP',
      before: async () => {
        await nbctl(sb, 'lr-add', 'lr-foreign', '--', 'lr-nat-add', 'lr-foreign', 'dnat_and_snat', fipEip, '10.99.0.5');
        await seen('the foreign FIP', () => natRows().some((n) => n.logical_ip === '10.99.0.5'));
      },
      after: async () => {
        await nbctl(sb, 'lr-del', 'lr-foreign');
        await seen('lr-del', () => !natRows().some((n) => n.logical_ip === '10.99.0.5'));
      },
      yaml: '',
      error: new RegExp(`OvnFip eip-static \\([^)]*04-eip-fip\\.yaml, document \\d+\\): spec\\.ovnEip: ${fipEip.replace(/\./g, '\\.')} is already a floating IP for 10\\.99\\.0\\.5 \\(NAT [0-9a-f-]{36}, not owned by ovn-natgw\\)`),
    },
    {
      name: 'more than 5 gateway chassis',
      args: ['apply', '-f', SEED, '--gateway-chassis', '6'],
      error: /--gateway-chassis must be an integer from 1 to 5, got "6"/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      await c.before?.();
      try {
        await refused(t, () => (c.args ? ctl(...c.args) : manifest([SEED], ...(c.yaml ? [c.yaml] : [])).then((m) => gw.apply(m))), c.error);
      } finally {
        await c.after?.();
      }
    });
  }
  await seen('lr-nat-del', () => !natRows().some((n) => n.logical_ip === '192.168.0.128/25'));
});

t.test('duplicate NAT rows already in NB are reported, not tolerated silently', async (t) => {
  const nat = (id: string) => ['--', `--id=@${id}`, 'create', 'NAT', 'type=snat', 'external_ip=10.5.204.99', 'logical_ip=10.98.0.0/24', '--', 'add', 'Logical_Router', 'lr-dup', 'nat', `@${id}`];
  await nbctl(sb, 'lr-add', 'lr-dup', ...nat('a'), ...nat('b'));
  try {
    await seen('the duplicates', () => natRows().filter((n) => n.logical_ip === '10.98.0.0/24').length === 2);
    const dupes = natRows().filter((n) => n.logical_ip === '10.98.0.0/24').map((n) => n._uuid);
    const out = await ctl('plan', '-f', SEED);
    t.match(out, /^no changes\n$/, 'nothing of ours to change');
    t.match(ctlStderr, new RegExp(`^warning: duplicate NAT rows in NB for router lr-dup, snat 10\\.5\\.204\\.99 -> 10\\.98\\.0\\.0/24: (${dupes[0]}, ${dupes[1]}|${dupes[1]}, ${dupes[0]})$`, 'm'), 'ovn-natgwctl plan warns, naming router, identity and both rows');
  } finally {
    await nbctl(sb, 'lr-del', 'lr-dup');
  }
  await seen('lr-del', () => !natRows().some((n) => n.logical_ip === '10.98.0.0/24'));
});

t.test('removal: the rows of objects that left the manifest go, and only those', async (t) => {
  const eipsBefore = await ledger('external204');
  const snatUuids = natRows().filter((n) => n.type === 'snat').map((n) => n._uuid);
  t.equal(snatUuids.length, 2, 'two snat rows before');
  let r!: Awaited<ReturnType<typeof gw.apply>>;
  const changed = await changedBy(async () => (r = await gw.apply(await manifest(seedWithout('06-snat.yaml')))));
  t.ok(r.transacted);
  t.same(
    changed,
    [...snatUuids.map((u) => `- NAT ${u}`), '~ Logical_Router vpc1: nat', '~ Logical_Switch external204: external_ids'].sort(),
    'the two snat rows removed; vpc1 and the external switch ledger updated; every other row untouched',
  );
  const eipsAfter = await ledger('external204');
  const gone = [...eipsBefore.keys()].filter((k) => !eipsAfter.has(k));
  t.same(gone.sort(), ['OvnEip/snat-for-pod-vpc-ip', 'OvnEip/snat-for-subnet-in-vpc'], 'their two EIP reservations released');
  t.same([...eipsAfter].filter(([k, ip]) => eipsBefore.get(k) !== ip), [], 'the other reservations keep their addresses');
  t.same((await natList('vpc1')).map((l) => l.split(' ')[0]), ['dnat_and_snat', 'dnat_and_snat'], 'lr-nat-list vpc1: only the FIPs left');
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.object}`).sort(),
    ['remove OvnEip/snat-for-pod-vpc-ip', 'remove OvnEip/snat-for-subnet-in-vpc', 'remove OvnSnatRule/snat-for-subnet-in-vpc', 'remove OvnSnatRule/snat01'],
    'the plan names the objects that left',
  );
});

t.test('rebinding a FIP updates its NAT row in place, in one transaction', async (t) => {
  const fipUuid = natRows().find((n) => n.logical_ip === '192.168.0.2' && n.type === 'dnat_and_snat')!._uuid;
  const eip = (await ledger('external204')).get('OvnEip/eip-static')!;
  const base = seedWithout('06-snat.yaml');
  const fipTo = (spec: string) => `kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: eip-static}\nspec: {ovnEip: eip-static, ${spec}}\n`;
  const transact = gw.nbClient.transact.bind(gw.nbClient);
  let transactions = 0;
  gw.nbClient.transact = ((...a: Parameters<typeof transact>) => (transactions++, transact(...a))) as typeof gw.nbClient.transact;
  t.teardown(() => void (gw.nbClient.transact = transact));

  let prev = '192.168.0.2';
  for (const [how, spec, ip] of [
    ['ipName', 'ipName: vpc-1-busybox02.vpc1', '192.168.0.4'],
    ['vpc + v4Ip', 'vpc: vpc1, v4Ip: 192.168.0.10', '192.168.0.10'],
    ['back to ipName', 'ipName: vpc-1-busybox01.vpc1', '192.168.0.2'],
  ] as const) {
    transactions = 0;
    let r!: Awaited<ReturnType<typeof gw.apply>>;
    const changed = await changedBy(async () => (r = await gw.apply(await manifest(base, fipTo(spec)))));
    t.equal(transactions, 1, `${how}: one transaction`);
    // external_ids: the FIP's last-applied spec, kept on its NAT row, changes with it
    t.same(changed, [`~ NAT ${fipUuid}: external_ids,logical_ip`], `${how}: the same NAT row (same UUID), only logical_ip (and the stored spec) changed`);
    t.match(JSON.parse(JSON.parse(await nbctl(sb, 'get', 'NAT', fipUuid, 'external_ids:"ovn-natgw:spec"'))), { kind: 'OvnFip', metadata: { name: 'eip-static' }, spec: { ovnEip: 'eip-static' } }, `${how}: the stored spec`);
    t.same(
      r.plan.changes.map((c) => [c.action, c.table, c.columns]),
      [['change', 'NAT', { logical_ip: [JSON.stringify(prev), JSON.stringify(ip)] }]],
      `${how}: planned as one change of logical_ip`,
    );
    t.ok((await natList('vpc1')).includes(`dnat_and_snat ${eip} ${ip}`), `${how}: lr-nat-list shows ${eip} -> ${ip}`);
    prev = ip;
  }
});

t.test('gateway chassis: spread over routers; a change of external-gw-nodes moves only what must move', async (t) => {
  const vpcs = (...names: string[]) => names.map((n) => `kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: ${n}}\nspec: {enableExternal: true}\n`).join('---\n');
  const config = (nodes: readonly string[]) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ovn-external-gw-config}\ndata: {enable-external-gw: "true", external-gw-nodes: "${nodes.join(',')}", type: centralized, external-gw-addr: 10.5.204.254/24}\n`;
  const routers = ['vpc1', 'vpc2', 'vpc3'];
  const listed = CHASSIS.slice(0, 3);
  await gw.apply(await manifest([SEED]));

  // 4 chassis in SB, 3 listed (the seed's ConfigMap), 3 routers
  const added = await changedBy(async () => gw.apply(await manifest([SEED], vpcs('vpc2', 'vpc3'))));
  t.same(added.filter((l) => !l.startsWith('+ ')), ['~ Logical_Switch external204: external_ids,ports'], 'adding routers touches no row of vpc1');
  const active = await tops(routers);
  t.equal(new Set(active).size, 3, `each router has its own active chassis (${active.join(', ')})`);
  for (const r of routers) {
    const gcs = await gatewayChassis(`${r}-external204`);
    t.same(gcs.map((g) => g.chassis).sort(), listed, `${r}: the 3 listed chassis`);
    t.same(gcs.map((g) => g.priority), [3, 2, 1], `${r}: priorities 3, 2, 1`);
  }

  // adding a chassis to the list: every port already has 3, nothing moves
  t.same(await changedBy(async () => gw.apply(await manifest([SEED], vpcs('vpc2', 'vpc3'), config(CHASSIS)))), [], 'pc-node-4 listed: nothing changes');
  t.same(await tops(routers), active, 'no active chassis moved');

  // detaching vpc3 removes what attaching wrote; its active chassis is then active nowhere
  const vpc3Rows = added.filter((l) => /vpc3/.test(l)).map((l) => l.replace(/^\+/, '-'));
  const vpc3Route = (await nbctl(sb, 'get', 'Logical_Router', 'vpc3', 'static_routes')).replace(/[[\]]/g, '');
  t.same(
    await changedBy(async () => gw.apply(await manifest([SEED], vpcs('vpc2'), config(CHASSIS)))),
    [...vpc3Rows, `- Logical_Router_Static_Route ${vpc3Route}`, '~ Logical_Switch external204: external_ids,ports'].sort(),
    'vpc3 detached: exactly its router, ports, gateway chassis and route go',
  );
  const idle = active[2];
  const stays = ['vpc1', 'vpc2'];
  const holding = [];
  for (const r of stays) if ((await gatewayChassis(`${r}-external204`)).some((g) => g.chassis === idle)) holding.push(r);
  t.same(holding, stays, `${idle} is a standby of vpc1 and vpc2, active nowhere`);

  // dropping the idle chassis: only its rows change (replaced by pc-node-4 at the bottom)
  const before = new Map<string, { chassis: string; priority: number }[]>();
  for (const r of stays) before.set(r, await gatewayChassis(`${r}-external204`));
  const without = CHASSIS.filter((c) => c !== idle);
  const dropped = await changedBy(async () => gw.apply(await manifest([SEED], vpcs('vpc2'), config(without))));
  // (the row of the chassis that goes, rewritten in place; its priority too where the new slot's differs)
  const movedTo = async (r: string) => {
    const was = before.get(r)!.find((g) => g.chassis === idle)!.priority;
    const now = (await gatewayChassis(`${r}-external204`)).find((g) => g.chassis === 'pc-node-4')?.priority;
    return `~ Gateway_Chassis ${r}-external204-pc-node-4: chassis_name,external_ids,name${now === was ? '' : ',priority'}`;
  };
  t.same(dropped, (await Promise.all(stays.map(movedTo))).sort(), `${idle} dropped from external-gw-nodes: only the Gateway_Chassis rows naming it change`);
  t.same(await tops(stays), active.slice(0, 2), 'no active chassis moved');
  for (const r of stays) {
    const gcs = await gatewayChassis(`${r}-external204`);
    t.same(
      gcs.filter((g) => g.chassis !== 'pc-node-4'),
      before.get(r)!.filter((g) => g.chassis !== idle),
      `${r}: the other chassis keep their priorities`,
    );
    t.equal(gcs.at(-1)?.chassis, 'pc-node-4', `${r}: pc-node-4 comes in at the lowest priority`);
  }

  // and listing it again moves nothing
  t.same(await changedBy(async () => gw.apply(await manifest([SEED], vpcs('vpc2'), config(CHASSIS)))), [], `${idle} listed again: nothing changes`);
  t.same(await tops(stays), active.slice(0, 2), 'no active chassis moved');
});

t.test('ovn-natgwctl: plan, apply, get, delete; the bin', async (t) => {
  await settle();
  const before = await snapshot();
  // as kubectl apply: the objects given are added or updated, nothing else goes
  const merge = await ctl('plan', '-f', SEED, '-f', EXTRA_FIP);
  t.match(merge, /^\+ NAT dnat_and_snat 10\.5\.204\.200 <-> 192\.168\.0\.50 \(router vpc1\)$/m, 'plan: + the new FIP');
  t.notMatch(merge, /^- Logical_Router vpc2/m, 'plan without --prune: vpc2, which is not in the seed, stays');
  t.match(merge, /^~ Gateway_Chassis vpc2-external204-pc-node-2 \(priority \d+\), in place of pc-node-4$/m, 'while the seed\'s ConfigMap, which the input changes, moves its gateway chassis');
  // --prune: the input is the owner's whole state
  const plan = await ctl('plan', '--prune', '-f', SEED, '-f', EXTRA_FIP);
  t.match(plan, /^\+ NAT dnat_and_snat 10\.5\.204\.200 <-> 192\.168\.0\.50 \(router vpc1\)$/m, 'plan: + the new FIP');
  t.match(plan, /^\+ reservation 10\.5\.204\.200 on external204 for ovn-natgw\/OvnEip\/eip-extra-fip$/m, 'plan: + its EIP');
  t.match(plan, /^- Logical_Router vpc2 \(left the manifest\)$/m, 'plan --prune: - vpc2, which is not in the seed');
  t.match(plan, /^plan: [1-9]\d* to add, \d+ to change, [1-9]\d* to remove\n$/m, 'plan: a summary');
  t.same(diff(before, await snapshot()), [], 'plan writes nothing');

  t.match(await ctl('apply', '--prune', '-f', SEED, '-f', EXTRA_FIP), /^applied in one transaction: [1-9]\d* to add/m, 'apply');
  t.match(await ctl('apply', '--prune', '-f', SEED, '-f', EXTRA_FIP), /^no changes\n$/, 'apply again: no changes');
  t.match(await ctl('apply', '-f', SEED, '-f', EXTRA_FIP), /^no changes\n$/, 'and without --prune: no changes');

  const eips = await ledger('external204');
  const eip = (n: string) => eips.get(`OvnEip/${n}`)!;
  const table = (out: string) => out.trimEnd().split('\n').map((l) => l.split(/\s+/));
  t.same(
    table(await ctl('get', 'ofip')),
    [
      ['NAME', 'VPC', 'V4EIP', 'V4IP', 'V6EIP', 'V6IP', 'READY'],
      ['eip-for-vip', 'vpc1', eip('eip-for-vip'), '192.168.0.3', 'true'],
      ['eip-static', 'vpc1', eip('eip-static'), '192.168.0.2', 'true'],
      ['extra-fip', 'vpc1', '10.5.204.200', '192.168.0.50', 'true'],
    ],
    'get ofip',
  );
  t.match(
    JSON.parse(await ctl('get', 'ofip', 'eip-static', '-o', 'json')),
    { apiVersion: 'kubeovn.io/v1', kind: 'OvnFip', metadata: { name: 'eip-static' }, spec: { ovnEip: 'eip-static' }, status: { vpc: 'vpc1', v4Eip: eip('eip-static'), v4Ip: '192.168.0.2', v6Eip: '', v6Ip: '', ready: true } },
    'get ofip eip-static -o json: in kubectl\'s shape',
  );
  t.same(
    table(await ctl('get', 'oeip')),
    [
      ['NAME', 'V4IP', 'V6IP', 'TYPE', 'READY'],
      ...['eip-dnat', 'eip-extra-fip', 'eip-for-vip', 'eip-static', 'snat-for-pod-vpc-ip', 'snat-for-subnet-in-vpc'].map((n) => [n, eip(n), 'nat', 'true']),
    ],
    'get oeip',
  );

  await refused(t, () => ctl('delete', 'oeip', 'eip-static'), /OvnEip eip-static: metadata\.name: in use by OvnFip eip-static; delete those first/);
  const fipUuid = natRows().find((n) => n.logical_ip === '192.168.0.2')!._uuid;
  let out = '';
  t.same(await changedBy(async () => (out = await ctl('delete', 'ofip', 'eip-static'))), [`- NAT ${fipUuid}`, '~ Logical_Router vpc1: nat'], 'delete ofip: its NAT row goes');
  t.equal(out, `- NAT dnat_and_snat ${eip('eip-static')} <-> 192.168.0.2 (deleted)\ndeleted in one transaction: 0 to add, 0 to change, 1 to remove\n`, 'delete prints what it removed, as plan labels it');
  t.notOk((await natList('vpc1')).some((l) => l.endsWith(' 192.168.0.2')), 'lr-nat-list vpc1: no FIP for 192.168.0.2');
  t.equal(
    await ctl('delete', 'oeip', 'eip-static'),
    `- reservation ${eip('eip-static')} on external204 (ovn-natgw/OvnEip/eip-static)\ndeleted in one transaction: 0 to add, 0 to change, 1 to remove\n`,
    'then the EIP can be deleted',
  );
  t.notOk((await ledger('external204')).has('OvnEip/eip-static'), 'its reservation is gone');
  await refused(t, () => ctl('get', 'oeip', 'eip-static'), /OvnEip "eip-static" not found/);

  const ok = await bin(['--db', sb.nbRemote, 'get', 'oeip']);
  t.equal(ok.code, 0, 'bin: get oeip exits 0');
  t.match(ok.stdout, /^NAME\s+V4IP\s+V6IP\s+TYPE\s+READY\n/, 'bin: the table on stdout');
  t.match(ok.stdout, new RegExp(`^eip-dnat\\s+${eip('eip-dnat').replace(/\./g, '\\.')}\\s+nat\\s+true$`, 'm'));
  await settle();
  const beforeBin = await snapshot();
  const bad = await bin(['delete', 'oeip', 'eip-dnat'], { OVN_NB_DB: sb.nbRemote });
  t.equal(bad.code, 1, 'bin (OVN_NB_DB from the environment): a refused delete exits 1');
  t.match(bad.stderr, /^ovn-natgwctl: nothing was written:\nOvnEip eip-dnat: metadata\.name: in use by OvnDnatRule eip-dnat/, 'the error on stderr');
  t.equal(bad.stdout, '', 'nothing on stdout');
  t.same(diff(beforeBin, await snapshot()), [], 'NB unchanged');
  // a Subnet that other objects use is not deleted (its switch would take their rows along)
  await refused(t, () => ctl('delete', 'subnet', 'external204'), /Subnet external204: metadata\.name: in use by OvnEip .*; delete those first/);
  await refused(t, () => ctl('delete', 'subnet', 'vpc1-subnet1'), /Subnet vpc1-subnet1: metadata\.name: in use by .*OvnSnatRule snat-for-subnet-in-vpc.*; delete those first/);
  const usage = await bin(['--db', sb.nbRemote, 'frobnicate']);
  t.equal(usage.code, 2, 'bin: a usage error exits 2');
  t.match(usage.stderr, /unknown command "frobnicate"/);
});

t.test('stateless FIP: options:stateless, compiled without conntrack; refused on SNAT/DNAT', async (t) => {
  const statelessFip = (on: boolean) => `kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: extra-fip}\nspec: {ovnEip: eip-extra-fip, vpc: vpc1, v4Ip: 192.168.0.50, stateless: ${on}}\n`;
  const fipRow = () => natRows().find((n) => n.external_ip === '10.5.204.200')!;
  /** ovn-northd's lr_in_dnat flows for the FIP's external IP */
  const dnatFlows = async () => {
    await settle();
    return (await sbctl(sb, 'lflow-list', 'vpc1')).split('\n').filter((l) => l.includes('lr_in_dnat') && l.includes('ip4.dst == 10.5.204.200'));
  };
  t.ok((await dnatFlows()).some((f) => f.includes('ct_dnat')), 'stateful first: ct_dnat');
  const uuid = fipRow()._uuid;
  const on = await gw.apply(await manifest([SEED, EXTRA_FIP], statelessFip(true)));
  // (the seed brings back eip-static, which the CLI test deleted)
  t.same(
    on.plan.changes.filter((c) => c.object === 'OvnFip/extra-fip').map((c) => `${c.action} ${c.table} ${JSON.stringify(c.columns)}`),
    ['change NAT {"options":["{stateless=(none)}","{stateless=true}"]}'],
    'the FIP: one change, in place',
  );
  t.equal(fipRow()._uuid, uuid, 'same NAT row');
  t.match(await nbctl(sb, 'get', 'NAT', uuid, 'options'), /stateless="true"/, 'ovn-nbctl: options stateless=true');
  let flows = await dnatFlows();
  t.ok(flows.some((f) => /ip4\.dst\s*=\s*192\.168\.0\.50/.test(f)) && !flows.some((f) => f.includes('ct_dnat')), 'ovn-northd: a plain rewrite of ip4.dst, no ct_dnat', { flows });
  const off = await gw.apply(await manifest([SEED, EXTRA_FIP], statelessFip(false)));
  t.ok(off.transacted, 'stateless: false');
  t.notMatch(await nbctl(sb, 'get', 'NAT', uuid, 'options'), /stateless/, 'the stateless key is removed (not written back as false)');
  flows = await dnatFlows();
  t.ok(flows.some((f) => f.includes('ct_dnat')), 'ct_dnat again', { flows });
  await refused(
    t,
    async () => gw.apply(await manifest([SEED], 'kind: OvnSnatRule\napiVersion: kubeovn.io/v1\nmetadata: {name: snat-sl}\nspec: {ovnEip: eip-dnat, vpc: vpc1, v4IpCidr: 192.168.0.0/26, stateless: true}\n')),
    /OvnSnatRule snat-sl \(extra-1\.yaml, document 1\): spec\.stateless: only a floating IP \(OvnFip, dnat_and_snat\) can be stateless/,
  );
});
