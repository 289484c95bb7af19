/**
 * Vpc static routes and policies through the declarative layer, against a
 * real OVN (ovsdb-server NB/SB, ovn-northd): ECMP next hops with a BFD
 * session each, src-ip policy, a route table, reroute/drop policies. Checked
 * with what ovn-nbctl lr-route-list / lr-policy-list print, the BFD rows
 * ovn-northd copies to SB, the routing flows it compiles, and the BFD status
 * read back (`ovn-natgwctl get vpc`).
 *
 * No ovn-controller runs here: the BFD session state it would report in SB
 * is written with ovn-sbctl, and ovn-northd carries it to NB and to the
 * routing flows as it does in production.
 *
 * The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { NatGateway } from '../src/nat/apply.js';
import { loadManifests, parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import type { ObjectStatus } from '../src/nat/status.js';
import { runCtl } from './helpers/ctl.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const NETWORK = ['00-centralized-external-gw-no-ip.yaml', '01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml', '02-subnet.yml'].map((n) => join(SEED, n));
for (const [i, c] of ['pc-node-1', 'pc-node-2', 'pc-node-3'].entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());

const BFD = '{minTx: 100, minRx: 200, detectMult: 3}';
function vpc(routes: string[], policies: string[]): string {
  return [
    'kind: Vpc',
    'apiVersion: kubeovn.io/v1',
    'metadata: {name: vpc1}',
    'spec:',
    '  enableExternal: true',
    `  staticRoutes:${routes.length ? '' : ' []'}`,
    ...routes.map((r) => `  - ${r}`),
    `  policyRoutes:${policies.length ? '' : ' []'}`,
    ...policies.map((p) => `  - ${p}`),
    '',
  ].join('\n');
}
const ROUTES = [
  `{cidr: 10.200.0.0/16, nextHopIP: 10.5.204.11, policy: policyDst, bfd: ${BFD}}`,
  `{cidr: 10.200.0.0/16, nextHopIP: 10.5.204.12, policy: policyDst, bfd: ${BFD}}`,
  '{cidr: 192.168.0.0/25, nextHopIP: 10.5.204.13, policy: policySrc}',
  '{cidr: 10.201.0.0/16, nextHopIP: 10.5.204.14, policy: policyDst, routeTable: rtb-a}',
];
const POLICIES = [
  '{priority: 31000, match: "ip4.dst == 10.202.0.0/16", action: reroute, nextHopIP: "10.5.204.12,10.5.204.11"}',
  '{priority: 30000, match: "ip4.dst == 10.203.0.0/16", action: drop}',
];

async function manifest(vpcYaml: string): Promise<Manifest> {
  const m = await loadManifests(NETWORK);
  m.objects.push(...parseManifest(vpcYaml, 'vpc.yaml').objects);
  return m;
}

/** Output lines with runs of blanks made one space. */
const lines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '))
    .filter(Boolean);

/** BFD rows of a database as "logical_port dst_ip min_tx min_rx detect_mult status", sorted. */
async function bfdRows(db: 'nb' | 'sb'): Promise<string[]> {
  const args = ['--format=csv', '--data=bare', '--no-headings', '--columns=logical_port,dst_ip,min_tx,min_rx,detect_mult,status', 'list', 'BFD'];
  const out = db === 'nb' ? await nbctl(sb, ...args) : await sbctl(sb, ...args);
  return lines(out.replace(/,/g, ' ')).sort();
}

async function ctl(...args: string[]): Promise<string> {
  const r = await runCtl(sb, args);
  if (r.code !== 0) throw new Error(`exit status ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** ovn-sbctl sets the session state, as ovn-controller would, and we wait for ovn-northd to carry it to NB. */
async function bfdState(dst: string, status: 'up' | 'down'): Promise<void> {
  const uuid = (await sbctl(sb, '--bare', '--columns=_uuid', 'find', 'BFD', `dst_ip=${dst}`)).trim();
  await sbctl(sb, 'set', 'BFD', uuid, `status=${status}`);
  await until(`NB BFD ${dst} to become ${status}`, () => [...gw.nb.table('BFD').values()].some((b) => b.dst_ip === dst && b.status === status), 10_000);
}

/** The routing flows ovn-northd compiled for 10.200.0.0/16 on vpc1. */
async function ecmpFlows(): Promise<string[]> {
  await nbctl(sb, '--wait=sb', 'sync');
  return (await sbctl(sb, 'lflow-list', 'vpc1')).split('\n').filter((l) => l.includes('lr_in_ip_routing') && l.includes('10.200.0.0/16'));
}

/** `get vpc vpc1 -o json`: the object in kubectl's shape; what NB holds of it is its status */
const vpcStatus = async () => (JSON.parse(await ctl('get', 'vpc', 'vpc1', '-o', 'json')) as { status: ObjectStatus }).status;

t.test('ECMP routes with BFD, a src-ip route, a route table and policies: the shapes ovn-nbctl prints', async (t) => {
  const r = await gw.apply(await manifest(vpc(ROUTES, POLICIES)));
  t.ok(r.transacted, 'one transaction');
  t.same(
    lines(await nbctl(sb, 'lr-route-list', 'vpc1')),
    [
      'IPv4 Routes',
      'Route Table <main>:',
      '192.168.0.0/25 10.5.204.13 src-ip',
      '10.200.0.0/16 10.5.204.11 dst-ip ecmp bfd',
      '10.200.0.0/16 10.5.204.12 dst-ip ecmp bfd',
      '0.0.0.0/0 10.5.204.254 dst-ip',
      'Route Table rtb-a:',
      '10.201.0.0/16 10.5.204.14 dst-ip',
    ],
    'lr-route-list vpc1: two ECMP next hops with BFD, the src-ip route, the default route, the rtb-a table',
  );
  t.same(
    lines(await nbctl(sb, 'lr-policy-list', 'vpc1')),
    ['Routing Policies', '31000 ip4.dst == 10.202.0.0/16 reroute 10.5.204.11, 10.5.204.12', '30000 ip4.dst == 10.203.0.0/16 drop'],
    'lr-policy-list vpc1',
  );
  const nbBfd = await bfdRows('nb');
  t.same(
    nbBfd.map((l) => l.split(' ').slice(0, 5).join(' ')),
    ['vpc1-external204 10.5.204.11 100 200 3', 'vpc1-external204 10.5.204.12 100 200 3'],
    'one NB BFD row per ECMP next hop, on the external router port, with min_tx, min_rx, detect_mult',
  );
  await nbctl(sb, '--wait=sb', 'sync');
  t.same(
    (await bfdRows('sb')).map((l) => l.split(' ').slice(0, 5).join(' ')),
    ['vpc1-external204 10.5.204.11 100 200 3', 'vpc1-external204 10.5.204.12 100 200 3'],
    'ovn-northd made the SB BFD sessions with the same parameters',
  );
  const again = await gw.apply(await manifest(vpc(ROUTES, POLICIES)));
  t.equal(again.transacted, false, 'a second apply sends no transaction (northd writing BFD status is not a change of ours)');
});

t.test('BFD status read back; a next hop whose session is down leaves the ECMP group', async (t) => {
  await bfdState('10.5.204.11', 'up');
  await bfdState('10.5.204.12', 'up');
  let flows = await ecmpFlows();
  t.ok(
    flows.some((f) => /select\(/.test(f)),
    'both sessions up: ovn-northd compiles an ECMP select for 10.200.0.0/16',
  );
  let st = await vpcStatus();
  t.same(
    st.staticRoutes!.filter((x) => x.cidr === '10.200.0.0/16').map((x) => [x.nextHopIP, x.ecmp, x.bfd?.status]),
    [
      ['10.5.204.11', true, 'up'],
      ['10.5.204.12', true, 'up'],
    ],
    'get vpc -o json: both ECMP routes with BFD up',
  );
  t.match(await ctl('get', 'vpc', 'vpc1'), /^NAME\s+V4IP\s+V6IP\s+ROUTES\s+POLICIES\s+BFD\s+READY\nvpc1\s+10\.5\.204\.\d+\s+5\s+2\s+up=2\s+true\n$/, 'get vpc: routes, policies and BFD summary');

  await bfdState('10.5.204.12', 'down');
  flows = await ecmpFlows();
  t.notOk(flows.some((f) => /select\(/.test(f)), 'one session down: no ECMP select any more');
  t.ok(
    flows.some((f) => f.includes('10.5.204.11')) && !flows.some((f) => f.includes('10.5.204.12')),
    'traffic for 10.200.0.0/16 goes only to the next hop whose session is up',
  );
  st = await vpcStatus();
  t.same(
    st.staticRoutes!.filter((x) => x.cidr === '10.200.0.0/16').map((x) => x.bfd?.status),
    ['up', 'down'],
    'get vpc -o json: 10.5.204.12 down',
  );
  t.match(await ctl('get', 'vpc', 'vpc1'), /\sdown=1 up=1\s/, 'get vpc: down=1 up=1');
});

t.test('changed BFD parameters update the session in place; a next hop that left takes its route and BFD row along', async (t) => {
  const uuids = () => new Map([...gw.nb.table('BFD').values()].map((b) => [b.dst_ip, b._uuid]));
  const before = uuids();
  const slower = ROUTES.map((r) => r.replace(BFD, '{minTx: 300, minRx: 300, detectMult: 5}'));
  const r = await gw.apply(await manifest(vpc(slower, POLICIES)));
  t.ok(r.transacted);
  t.same(
    r.plan.changes.map((c) => `${c.action} ${c.table}`),
    ['change BFD', 'change BFD'],
    'two BFD rows changed, nothing else',
  );
  t.same(uuids(), before, 'same BFD rows (UUIDs)');
  t.same(
    (await bfdRows('nb')).map((l) => l.split(' ').slice(0, 5).join(' ')),
    ['vpc1-external204 10.5.204.11 300 300 5', 'vpc1-external204 10.5.204.12 300 300 5'],
    'ovn-nbctl list BFD shows the new parameters',
  );

  const one = await gw.apply(await manifest(vpc([slower[0], ...slower.slice(2)], POLICIES)));
  t.same(
    one.plan.changes.map((c) => `${c.action} ${c.table}`).sort(),
    ['remove BFD', 'remove Logical_Router_Static_Route'],
    'the route via 10.5.204.12 and its BFD session are removed',
  );
  t.same(
    lines(await nbctl(sb, 'lr-route-list', 'vpc1')).filter((l) => l.startsWith('10.200.')),
    ['10.200.0.0/16 10.5.204.11 dst-ip bfd'],
    'lr-route-list: one next hop left, no longer ecmp',
  );
  t.same((await bfdRows('nb')).map((l) => l.split(' ')[1]), ['10.5.204.11'], 'one NB BFD row left');

  const none = await gw.apply(await manifest(vpc([], [])));
  t.ok(none.transacted);
  t.same(lines(await nbctl(sb, 'lr-route-list', 'vpc1')), ['IPv4 Routes', 'Route Table <main>:', '0.0.0.0/0 10.5.204.254 dst-ip'], 'only the default route left');
  t.same(lines(await nbctl(sb, 'lr-policy-list', 'vpc1')), [], 'no policies left');
  t.same(await bfdRows('nb'), [], 'no BFD rows left');
});

t.test('a BFD next hop on no network of the router is refused', async (t) => {
  const bad = vpc([`{cidr: 10.200.0.0/16, nextHopIP: 172.31.0.1, policy: policyDst, bfd: ${BFD}}`], []);
  await t.rejects(gw.apply(await manifest(bad)), /Vpc vpc1 \(vpc\.yaml, document 1\): spec\.staticRoutes\[0\]\.nextHopIP: 172\.31\.0\.1 is on no network of a router port of vpc1, so BFD has no port to run on/);
});

/** vpc() with more spec lines. */
const withSpec = (yaml: string, extra: string) => yaml.replace('  enableExternal: true\n', `  enableExternal: true\n${extra}`);

t.test("Kube-OVN's Vpc enableBfd: a BFD session from the external port to the external gateway, with kube-ovn-controller's timers", async (t) => {
  const r = await gw.apply(await manifest(withSpec(vpc([], []), '  enableBfd: true\n')));
  t.same(r.plan.changes.map((c) => `${c.action} ${c.label}`), ['add BFD vpc1-external204 -> 10.5.204.254'], 'one BFD row');
  t.same((await bfdRows('nb')).map((l) => l.split(' ').slice(0, 5).join(' ')), ['vpc1-external204 10.5.204.254 100 100 3'], 'ovn-nbctl list BFD');
  await nbctl(sb, '--wait=sb', 'sync');
  t.same((await bfdRows('sb')).length, 1, 'ovn-northd made its SB BFD session');
  const out = await runCtl(sb, ['get', 'vpc', 'vpc1', '-o', 'json']);
  t.equal(out.code, 0, out.stderr);
  const st = (JSON.parse(out.stdout) as { status: ObjectStatus }).status;
  t.ok(st.rows.some((x) => x.table === 'BFD' && x.part === 'bfd:vpc1-external204:10.5.204.254'), 'get vpc -o json lists the BFD row among the Vpc\'s rows', { rows: st.rows });
  t.same(st.bfdSessions?.map((b) => `${b.logicalPort} ${b.dstIp}`), ['vpc1-external204 10.5.204.254'], 'and its session');
  // no route uses this session, so ovn-northd keeps it admin_down (it is enabled by the routes that use it)
  await until('NB BFD 10.5.204.254 to be admin_down', () => [...gw.nb.table('BFD').values()].some((b) => b.dst_ip === '10.5.204.254' && b.status === 'admin_down'), 10_000);
  t.match(await ctl('get', 'vpc', 'vpc1'), /^vpc1 .* admin_down=1 +true$/m, 'get vpc: the BFD column counts it, with the status ovn-northd reports');
  t.same((await vpcStatus()).bfdSessions?.map((b) => b.status), ['admin_down']);
  const off = await gw.apply(await manifest(vpc([], [])));
  t.same(off.plan.changes.map((c) => `${c.action} ${c.table}`), ['remove BFD'], 'enableBfd dropped: its BFD row goes');
  const bad = await gw.apply(await manifest(withSpec(vpc([], []), '  enableBfd: true\n').replace('enableExternal: true', 'enableExternal: false'))).catch((e: Error) => e);
  t.match((bad as Error).message, /Vpc vpc1 .*: spec\.enableBfd: needs spec\.enableExternal: true/, 'without enableExternal: refused');
});

t.test("Kube-OVN's bfdId and ecmpMode on static routes", async (t) => {
  // a BFD row made outside ovn-natgw (as Kube-OVN's controller or an operator does), referenced by UUID
  const id = (await nbctl(sb, 'create', 'BFD', 'logical_port=vpc1-external204', 'dst_ip=10.5.204.21', 'min_tx=500')).trim();
  const routes = [
    `{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.21, policy: policyDst, bfdId: ${id}, ecmpMode: ecmp_symmetric_reply}`,
    '{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.22, policy: policyDst, ecmpMode: ecmp_symmetric_reply}',
  ];
  const r = await gw.apply(await manifest(vpc(routes, [])));
  t.ok(r.transacted);
  t.same(
    lines(await nbctl(sb, 'lr-route-list', 'vpc1')).filter((l) => l.startsWith('10.210.')),
    ['10.210.0.0/16 10.5.204.21 dst-ip ecmp ecmp-symmetric-reply bfd', '10.210.0.0/16 10.5.204.22 dst-ip ecmp ecmp-symmetric-reply'],
    'lr-route-list: symmetric-reply ECMP, the first with its BFD session',
  );
  t.equal((await nbctl(sb, '--bare', '--columns=bfd', 'find', 'Logical_Router_Static_Route', 'nexthop=10.5.204.21')).trim(), id, 'the route points at that BFD row');
  t.equal((await gw.apply(await manifest(vpc(routes, [])))).transacted, false, 'a second apply sends no transaction');

  const plain = routes.map((x) => x.replace(', ecmpMode: ecmp_symmetric_reply', ''));
  const back = await gw.apply(await manifest(vpc(plain, [])));
  t.same(back.plan.changes.map((c) => `${c.action} ${c.table} ${JSON.stringify(c.columns)}`), [
    'change Logical_Router_Static_Route {"options":["{ecmp_symmetric_reply=true}","{ecmp_symmetric_reply=(none)}"]}',
    'change Logical_Router_Static_Route {"options":["{ecmp_symmetric_reply=true}","{ecmp_symmetric_reply=(none)}"]}',
  ], 'ecmpMode dropped: the option key is removed from both rows, in place (not written back as false)');
  t.equal((await nbctl(sb, '--bare', '--columns=options', 'find', 'Logical_Router_Static_Route', 'nexthop=10.5.204.22')).trim(), '', 'ovn-nbctl: no options left on the route');
  t.same(lines(await nbctl(sb, 'lr-route-list', 'vpc1')).filter((l) => l.startsWith('10.210.')), ['10.210.0.0/16 10.5.204.21 dst-ip ecmp bfd', '10.210.0.0/16 10.5.204.22 dst-ip ecmp']);
  await gw.apply(await manifest(vpc([], [])));
  t.equal((await nbctl(sb, '--bare', '--columns=_uuid', 'list', 'BFD')).trim(), id, 'the BFD row is not ours: it stays when its route goes');

  const before = await nbctl(sb, 'show');
  // refused by the manifest reader or by the planner: either way an error naming the field
  const refuse = async (route: string) => ((await (async () => gw.apply(await manifest(vpc([route], []))))().catch((e: Error) => e)) as Error).message;
  t.match(await refuse('{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.21, bfdId: 6f3f0c4e-0000-4000-8000-000000000001}'), /spec\.staticRoutes\[0\]\.bfdId: no BFD row 6f3f0c4e-0000-4000-8000-000000000001 in NB/);
  t.match(await refuse(`{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.22, bfdId: ${id}}`), new RegExp(`spec\\.staticRoutes\\[0\\]\\.bfdId: BFD ${id} watches 10\\.5\\.204\\.21, not the next hop 10\\.5\\.204\\.22`));
  t.match(await refuse('{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.22, bfdId: bfd-1}'), /spec\.staticRoutes\[0\]\.bfdId: must be the UUID of a BFD row in NB, got "bfd-1"/);
  t.match(await refuse(`{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.21, bfdId: ${id}, bfd: ${BFD}}`), /spec\.staticRoutes\[0\]\.bfd: give either bfd .* or bfdId .*, not both/);
  t.match(await refuse('{cidr: 10.210.0.0/16, nextHopIP: 10.5.204.22, ecmpMode: hash}'), /spec\.staticRoutes\[0\]\.ecmpMode: must be "ecmp_symmetric_reply" .*, got "hash"/);
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged by the refusals');
});
