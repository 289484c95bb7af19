/**
 * The parts of the Kube-OVN "OVN EIP FIP SNAT DNAT" guide (seed 002) that go
 * beyond one external network and one kind of FIP, against a real OVN
 * (ovsdb-server NB/SB, ovn-northd), read back with ovn-nbctl and ovn-sbctl:
 *
 *  - gateway nodes: ConfigMap external-gw-nodes naming SB chassis by their
 *    hostname; without it, the chassis with ovn-cms-options
 *    enable-chassis-as-gw (other_config or external_ids);
 *  - a Vpc with addExternalSubnets: the second gateway router port, its peer,
 *    gateway chassis, NAT rows with gateway_port; detaching it again;
 *  - a distributed FIP (logical_port + external_mac) next to a centralized one;
 *  - OvnEip types lrp (the router port's own address) and lsp (a port on the
 *    external switch);
 *  - OvnSnatRule externalPortRange; a second EIP for one subnet refused on one gateway port,
 *    allowed through a second external network;
 *  - an ICMP OvnDnatRule, refused with nothing written.
 *
 * The subtests share one sandbox and run in order, each starting from the
 * state the previous one left (the manifest documents kept in `kept`).
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import type { Manifest } from '../src/nat/objects.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { diff, nbSnapshots } from './helpers/nb-snapshot.js';
import { catchAsync, until } from './helpers/util.js';

const sb = await withSandbox(t);

/**
 * SB chassis as ovn-controller would register them: the name is the system-id,
 * the hostname is the node's name. ch-1 and ch-2 are gateway capable (the
 * option in other_config, and in external_ids among other options), ch-3 has no
 * ovn-cms-options, ch-4 has another option only.
 */
const CHASSIS = [
  { name: 'ch-1', hostname: 'gw-node-1', set: ['other_config:ovn-cms-options=enable-chassis-as-gw'] },
  { name: 'ch-2', hostname: 'gw-node-2', set: ['external_ids:ovn-cms-options="enable-chassis-as-extport-host,enable-chassis-as-gw"'] },
  { name: 'ch-3', hostname: 'gw-node-3', set: [] },
  { name: 'ch-4', hostname: 'gw-node-4', set: ['other_config:ovn-cms-options=enable-chassis-as-extport-host'] },
];
for (const [i, c] of CHASSIS.entries()) {
  await sbctl(sb, 'chassis-add', c.name, 'geneve', `127.0.0.${i + 1}`);
  await sbctl(sb, 'set', 'Chassis', c.name, `hostname=${c.hostname}`, ...c.set);
}

const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());
await until('the SB replica to show the chassis hostnames and options', () => {
  const ch = gw.chassis();
  return ch.length === 4 && ch.every((c) => c.hostname !== '') && ch.filter((c) => c.other_config.size + c.external_ids.size > 0).length === 3;
});

// ---------------------------------------------------------------- manifests

const obj = (kind: string, name: string, spec: string) => `kind: ${kind}\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {${spec}}\n`;
const eip = (name: string, spec: string) => obj('OvnEip', name, spec);
const config = (nodes?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ovn-external-gw-config, namespace: kube-system}\n` +
  `data: {enable-external-gw: "true", type: centralized, external-gw-addr: 10.5.204.254/24${nodes === undefined ? '' : `, external-gw-nodes: "${nodes}"`}}\n`;
const vpc1 = (...extra: string[]) => obj('Vpc', 'vpc1', `enableExternal: true${extra.length ? `, addExternalSubnets: [${extra.join(', ')}]` : ''}`);
/** Two external networks (seed 002's external204, default by external-gw-addr, and 1.4.1's extra) and vpc1's subnet. */
const NETWORKS = [
  obj('ProviderNetwork', 'external204', 'defaultInterface: vlan'),
  obj('Vlan', 'vlan204', 'id: 204, provider: external204'),
  obj('Subnet', 'external204', 'protocol: IPv4, cidrBlock: 10.5.204.0/24, gateway: 10.5.204.254, vlan: vlan204, excludeIps: [10.5.204.1..10.5.204.100]'),
  obj('ProviderNetwork', 'extra', 'defaultInterface: vlan'),
  obj('Vlan', 'vlan0', 'id: 0, provider: extra'),
  obj('Subnet', 'extra', 'protocol: IPv4, cidrBlock: 10.10.204.0/24, gateway: 10.10.204.254, vlan: vlan0, excludeIps: [10.10.204.1..10.10.204.100]'),
  obj('Subnet', 'vpc1-subnet1', 'cidrBlock: 192.168.0.0/24, vpc: vpc1'),
];
/** The gateway nodes of every subtest after the first, by hostname. */
const NODES = 'gw-node-1,gw-node-2,gw-node-3';
/** Workload ports, as the CNI would make them. */
const POD1 = { port: 'pod1.vpc1', mac: '00:00:00:0a:dd:27', ip: '192.168.0.2' };
const POD2 = { port: 'pod2.vpc1', mac: '00:00:00:0b:e9:d0', ip: '192.168.0.4' };

/** A FIP on the default network (external204) that stays from the second subtest on. */
const DEFAULT_FIP = [eip('e-def', 'type: nat'), obj('OvnFip', 'f-def', `ovnEip: e-def, ipName: ${POD2.port}`)];
/** What the subtests leave applied, for the next ones (besides NETWORKS, the ConfigMap and vpc1). */
const kept: string[] = [];

const FILE = 'multi.yaml';
const manifest = (...docs: string[]): Manifest => parseManifest(docs.join('---\n'), FILE);
/** NETWORKS, ConfigMap with NODES, vpc1 (with addExternalSubnets `extra`), what earlier subtests kept, and `docs`. */
const current = (docs: string[] = [], extra: string[] = []) => manifest(...NETWORKS, config(NODES), vpc1(...extra), ...kept, ...docs);

// ---------------------------------------------------------------- NB and SB, as the tools show them

const { settle, snapshot, changedBy, refused } = nbSnapshots(sb);

const apply = (m: Manifest) => gw.apply(m);

/** The address reservations on a switch, from its external_ids as ovn-nbctl prints them: "Kind/name" -> IP. */
async function ledger(sw: string): Promise<Map<string, string>> {
  const ids = await nbctl(sb, 'get', 'Logical_Switch', sw, 'external_ids');
  const out = new Map<string, string>();
  for (const m of ids.matchAll(/"ovn-natgw:ip:([0-9a-f.:]+)"="ovn-natgw\/(\w+)\/([^"]+)"/g)) out.set(`${m[2]}/${m[3]}`, m[1]);
  return out;
}

/** `ovn-nbctl lr-nat-list R`, one object per row, by the heading's column positions (empty cells stay empty). */
async function natList(router: string): Promise<Record<string, string>[]> {
  const [head, ...lines] = (await nbctl(sb, 'lr-nat-list', router)).split('\n');
  const cols = [...head.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return lines
    .filter((l) => l.trim() !== '')
    .map((l) => Object.fromEntries(cols.map((c, i) => [c.name, l.slice(c.at, cols[i + 1]?.at).trim()])))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** `ovn-nbctl --columns=... list NAT` as CSV rows keyed by external_ip (bare data: empty sets are ""). */
async function natColumns(...columns: string[]): Promise<Map<string, Record<string, string>>> {
  const out = await nbctl(sb, '--format=csv', '--data=bare', '--no-headings', `--columns=external_ip,${columns.join(',')}`, 'list', 'NAT');
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const cells = l.split(',');
        return [cells[0], Object.fromEntries(columns.map((c, i) => [c, cells[i + 1]]))];
      }),
  );
}

/** `ovn-nbctl lrp-get-gateway-chassis P`: chassis names (the row name minus "P-") with priorities, highest first. */
async function gatewayChassis(lrp: string): Promise<{ chassis: string; priority: number }[]> {
  return (await nbctl(sb, 'lrp-get-gateway-chassis', lrp))
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, prio] = l.trim().split(/\s+/);
      return { chassis: name.slice(lrp.length + 1), priority: Number(prio) };
    });
}

/** The chassis_name column of a port's Gateway_Chassis rows (what ovn-northd binds to SB Chassis.name). */
async function gatewayChassisNames(lrp: string): Promise<string[]> {
  const uuids = (await nbctl(sb, '--bare', '--columns=gateway_chassis', 'list', 'Logical_Router_Port', lrp)).split(/\s+/).filter(Boolean);
  const names: string[] = [];
  for (const u of uuids) names.push(await nbctl(sb, '--bare', '--columns=chassis_name', 'list', 'Gateway_Chassis', u));
  return names.sort();
}

/**
 * The SB chassis (by name) ovn-northd put in the HA chassis group of a gateway
 * port: HA_Chassis.chassis is a reference to an SB Chassis row, empty when
 * NB's chassis_name matches no Chassis name.
 */
async function sbHaChassis(lrp: string): Promise<string[]> {
  await settle();
  const names = new Map(
    (await sbctl(sb, '--format=csv', '--data=bare', '--no-headings', '--columns=_uuid,name', 'list', 'Chassis'))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(',') as [string, string]),
  );
  const members = (await sbctl(sb, '--bare', '--columns=ha_chassis', 'find', 'HA_Chassis_Group', `name=${lrp}`)).split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (const u of members) {
    const ch = await sbctl(sb, '--bare', '--columns=chassis', 'list', 'HA_Chassis', u);
    out.push(names.get(ch) ?? `(no SB chassis: "${ch}")`);
  }
  return out.sort();
}

interface Lflow {
  stage: string;
  priority: number;
  match: string;
  action: string;
}

/** `ovn-sbctl lflow-list R`, after ovn-northd caught up; optionally only the flows mentioning `text`. */
async function routerFlows(router: string, text?: string): Promise<Lflow[]> {
  await settle();
  const out: Lflow[] = [];
  for (const line of (await sbctl(sb, 'lflow-list', router)).split('\n')) {
    const m = /table=\s*\d+\s*\((\S+)\s*\), priority=(\d+)\s*, match=\((.*)\), action=\((.*)\)$/.exec(line);
    if (m && (text === undefined || line.includes(text))) out.push({ stage: m[1], priority: Number(m[2]), match: m[3], action: m[4] });
  }
  return out;
}

const BIN = fileURLToPath(new URL('../bin/ovn-natgwctl.js', import.meta.url));

/** bin/ovn-natgwctl.js in a child process, as an operator runs it: exit status, stdout, stderr. */
function bin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
    delete env.OVN_NB_DB;
    delete env.OVN_SB_DB;
    execFile(process.execPath, [BIN, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const unquote = (s: string) => s.replace(/^"|"$/g, '');
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

// ---------------------------------------------------------------- tests

t.test('gateway nodes: external-gw-nodes names SB chassis by hostname; without it, the enable-chassis-as-gw chassis', async (t) => {
  const r = await apply(manifest(...NETWORKS, config('gw-node-3,gw-node-4'), vpc1()));
  t.ok(r.transacted, 'applied');
  t.same(
    (await gatewayChassis('vpc1-external204')).map((g) => g.chassis).sort(),
    ['ch-3', 'ch-4'],
    'lrp-get-gateway-chassis vpc1-external204: the chassis of hostnames gw-node-3 and gw-node-4 (neither gateway capable: the list decides)',
  );
  t.same((await gatewayChassis('vpc1-external204')).map((g) => g.priority), [2, 1], 'priorities 2, 1 (two candidates for three slots)');
  t.same(await gatewayChassisNames('vpc1-external204'), ['ch-3', 'ch-4'], 'Gateway_Chassis chassis_name: the SB Chassis names, not the hostnames');
  t.same(await sbHaChassis('vpc1-external204'), ['ch-3', 'ch-4'], 'ovn-sbctl: ovn-northd bound the HA chassis group of the port to SB chassis ch-3 and ch-4');

  // no external-gw-nodes: the chassis that say enable-chassis-as-gw in ovn-cms-options
  const changed = await changedBy(() => apply(manifest(...NETWORKS, config(), vpc1())));
  t.same(
    changed,
    ['~ Gateway_Chassis vpc1-external204-ch-1: chassis_name,external_ids,name', '~ Gateway_Chassis vpc1-external204-ch-2: chassis_name,external_ids,name'],
    'external-gw-nodes left out: only the Gateway_Chassis rows change (those of ch-3 and ch-4 rewritten in place, at their priorities)',
  );
  t.same(
    (await gatewayChassis('vpc1-external204')).map((g) => g.chassis).sort(),
    ['ch-1', 'ch-2'],
    'lrp-get-gateway-chassis: ch-1 (other_config) and ch-2 (external_ids, among other options); not ch-3 (no option) nor ch-4 (another option)',
  );
  t.same(await sbHaChassis('vpc1-external204'), ['ch-1', 'ch-2'], 'ovn-sbctl: the HA chassis group follows');

  // the list again, by hostname: from here on the gateway nodes of the other subtests
  t.same(
    await changedBy(() => apply(manifest(...NETWORKS, config(NODES), vpc1()))),
    ['+ Gateway_Chassis vpc1-external204-ch-3', '~ Logical_Router_Port vpc1-external204: gateway_chassis'],
    `external-gw-nodes "${NODES}": ch-1 and ch-2 stay, ch-3 comes in`,
  );
  const gcs = await gatewayChassis('vpc1-external204');
  t.same(gcs.map((g) => g.priority), [2, 1, 0], 'ch-1 and ch-2 keep their priorities 2 and 1');
  t.equal(gcs.at(-1)?.chassis, 'ch-3', 'ch-3 comes in below them, at 0');
});

t.test('a second external network: addExternalSubnets; NAT rows with gateway_port; detached again', async (t) => {
  for (const p of [POD1, POD2]) await nbctl(sb, 'lsp-add', 'vpc1-subnet1', p.port, '--', 'lsp-set-addresses', p.port, `${p.mac} ${p.ip}`);
  await until('the replica to see the workload ports', () => [...gw.nb.table('Logical_Switch_Port').values()].filter((p) => p.name.endsWith('.vpc1')).length === 2);
  kept.push(...DEFAULT_FIP);
  t.ok((await apply(current())).transacted, 'a FIP on the default network first');
  t.equal((await natColumns('gateway_port')).get((await ledger('external204')).get('OvnEip/e-def')!)?.gateway_port, '', 'one external network: its NAT row has no gateway_port');

  const onExtra = [
    eip('e-x-snat', 'externalSubnet: extra, type: nat'),
    eip('e-x-fip', 'externalSubnet: extra, type: nat'),
    obj('OvnSnatRule', 's-extra', 'ovnEip: e-x-snat, vpcSubnet: vpc1-subnet1'),
    obj('OvnFip', 'f-extra', `ovnEip: e-x-fip, ipName: ${POD1.port}`),
  ];
  const fDefUuid = [...gw.nb.table('NAT').values()].find((n) => n.logical_ip === POD2.ip)!._uuid;
  const added = await changedBy(() => apply(current(onExtra, ['extra'])));
  const newNat = added.filter((l) => l.startsWith('+ NAT '));
  t.equal(newNat.length, 2, 'two NAT rows added');
  t.same(
    added.filter((l) => !l.startsWith('+ NAT ')),
    [
      '+ Gateway_Chassis vpc1-extra-ch-1',
      '+ Gateway_Chassis vpc1-extra-ch-2',
      '+ Gateway_Chassis vpc1-extra-ch-3',
      '+ Logical_Router_Port vpc1-extra',
      '+ Logical_Switch_Port extra-vpc1',
      // external_ids of the router: Vpc vpc1's last-applied spec (now with addExternalSubnets), kept on it
      '~ Logical_Router vpc1: external_ids,nat,ports',
      '~ Logical_Switch extra: external_ids,ports',
      `~ NAT ${fDefUuid}: gateway_port`,
    ],
    'attaching extra: its router port, peer, 3 gateway chassis, the two NAT rows, the ledger of extra, and gateway_port on the default FIP',
  );

  const extra = await ledger('extra');
  const def = await ledger('external204');
  const port = await nbctl(sb, 'show', 'vpc1');
  const m = /port vpc1-extra\n\s+mac: "([0-9a-f:]+)"\n\s+networks: \["([0-9.]+)\/24"\]\n\s+gateway chassis: \[([^\]]*)\]/.exec(port);
  t.ok(m, 'ovn-nbctl show vpc1: port vpc1-extra with mac, networks and gateway chassis', { port });
  const [, mac, ip, chassis] = m ?? ['', '', '', ''];
  t.match(mac, MAC, `its MAC ${mac}`);
  t.not(mac, unquote(await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-external204', 'mac')), 'not the MAC of vpc1-external204');
  t.match(ip, /^10\.10\.204\.(10[1-9]|1[1-9]\d|2[0-4]\d|25[0-3])$/, `its address ${ip}: in extra 10.10.204.0/24, outside its excludeIps and gateway`);
  t.equal(extra.get('Vpc/vpc1'), ip, 'reserved in the ledger of extra for Vpc vpc1');
  t.same(chassis.split(' ').sort(), ['ch-1', 'ch-2', 'ch-3'], 'gateway chassis: the 3 external-gw-nodes');
  t.same((await gatewayChassis('vpc1-extra')).map((g) => g.priority), [3, 2, 1], 'lrp-get-gateway-chassis vpc1-extra: priorities 3, 2, 1');
  t.same(await sbHaChassis('vpc1-extra'), ['ch-1', 'ch-2', 'ch-3'], 'ovn-sbctl: its HA chassis group on SB chassis ch-1..3');
  t.match(await nbctl(sb, 'lsp-list', 'extra'), /\(extra-vpc1\)/, 'ovn-nbctl lsp-list extra: the peer port');
  t.match(await nbctl(sb, 'lsp-get-options', 'localnet.extra'), /network_name=extra/, 'extra (Vlan id 0): its localnet port on provider network extra');
  t.equal(await nbctl(sb, 'lsp-get-tag', 'localnet.extra'), '', 'untagged (Vlan id 0 = no tag)');
  t.equal(await nbctl(sb, 'lsp-get-type', 'extra-vpc1'), 'router', 'the peer is a router port');
  t.match(await nbctl(sb, 'lsp-get-options', 'extra-vpc1'), /^router-port=vpc1-extra$/m, 'with router-port=vpc1-extra');
  t.equal(await nbctl(sb, 'get', 'Logical_Switch_Port', 'extra-vpc1', 'addresses'), '[router]', 'addresses [router]');

  const eX = extra.get('OvnEip/e-x-snat')!;
  const eF = extra.get('OvnEip/e-x-fip')!;
  const eD = def.get('OvnEip/e-def')!;
  t.match(`${eX} ${eF}`, /^10\.10\.204\.\d+ 10\.10\.204\.\d+$/, 'the EIPs with externalSubnet extra are addresses of extra');
  const row = (type: string, gwPort: string, ext: string, logical: string, more: Record<string, string> = {}) => ({
    TYPE: type,
    GATEWAY_PORT: gwPort,
    EXTERNAL_IP: ext,
    EXTERNAL_PORT: '',
    LOGICAL_IP: logical,
    EXTERNAL_MAC: '',
    LOGICAL_PORT: '',
    ...more,
  });
  t.same(
    await natList('vpc1'),
    [row('dnat_and_snat', 'vpc1-external204', eD, POD2.ip), row('dnat_and_snat', 'vpc1-extra', eF, POD1.ip), row('snat', 'vpc1-extra', eX, '192.168.0.0/24')].sort((a, b) =>
      JSON.stringify(a).localeCompare(JSON.stringify(b)),
    ),
    'lr-nat-list vpc1: each NAT row on the gateway port of its EIP network',
  );
  const uuidOf = async (lrp: string) => nbctl(sb, 'get', 'Logical_Router_Port', lrp, '_uuid');
  const cols = await natColumns('gateway_port', 'type');
  t.same(
    [eD, eF, eX].map((e) => cols.get(e)?.gateway_port),
    [await uuidOf('vpc1-external204'), await uuidOf('vpc1-extra'), await uuidOf('vpc1-extra')],
    'ovn-nbctl --columns=external_ip,gateway_port list NAT: gateway_port is the UUID of the right router port',
  );

  // ovn-northd compiles each row on its own port
  const snatFlows = await routerFlows('vpc1', `ct_snat_in_czone(${eX})`);
  t.ok(
    snatFlows.some((f) => f.stage === 'lr_out_snat' && f.match.includes('ip4.src == 192.168.0.0/24') && f.match.includes('outport == "vpc1-extra"') && f.match.includes('is_chassis_resident("cr-vpc1-extra")')),
    'SB: the subnet SNAT goes out of vpc1-extra, on its gateway chassis',
    { snatFlows },
  );
  const dnatDef = await routerFlows('vpc1', `ip4.dst == ${eD} `);
  t.ok(
    dnatDef.some((f) => f.stage === 'lr_in_dnat' && f.match.includes('inport == "vpc1-external204"') && f.action.includes(`(${POD2.ip})`)),
    'SB: the default FIP comes in on vpc1-external204',
    { dnatDef },
  );
  t.notOk(dnatDef.some((f) => f.match.includes('vpc1-extra')), 'and not on vpc1-extra');

  // removing extra while NAT rules still use it: refused
  await refused(
    t,
    async () => apply(current(onExtra)),
    /OvnSnatRule s-extra \(multi\.yaml, document \d+\): spec\.ovnEip: 10\.10\.204\.\d+ \(OvnEip e-x-snat\) is on external network extra, which Vpc vpc1 is not attached to/,
  );

  // detaching extra with what used it: exactly the rows attaching wrote go, and the default FIP loses its gateway_port
  const removed = await changedBy(() => apply(current()));
  t.same(removed, added.map((l) => l.replace(/^\+/, '-')).sort(), 'detached: the inverse of attaching, row for row');
  t.notMatch(await nbctl(sb, 'show', 'vpc1'), /vpc1-extra/, 'ovn-nbctl show vpc1: no port vpc1-extra');
  t.same((await nbctl(sb, 'lsp-list', 'extra')).split('\n').map((l) => l.replace(/^\S+ /, '')), ['(localnet.extra)'], 'lsp-list extra: only its localnet port');
  t.same([...(await ledger('extra')).keys()], [], 'the ledger of extra is empty');
  t.same(
    (await nbctl(sb, '--bare', '--columns=name', 'list', 'Gateway_Chassis')).split(/\s+/).filter((n) => n.startsWith('vpc1-extra-')),
    [],
    'ovn-nbctl list Gateway_Chassis: none of vpc1-extra left',
  );
  t.same(
    await natList('vpc1'),
    [row('dnat_and_snat', '', eD, POD2.ip)],
    'lr-nat-list vpc1: only the default FIP, without gateway port again',
  );
  t.equal((await ledger('external204')).get('OvnEip/e-def'), eD, 'which keeps its EIP');
});

t.test('a distributed FIP: logical_port and external_mac, compiled to run on the pod chassis; a centralized one has neither', async (t) => {
  const dist = (type: string) => [eip('e-dist', 'type: nat'), obj('OvnFip', 'f-dist', `ovnEip: e-dist, ipName: ${POD1.port}, type: ${type}`)];
  t.ok((await apply(current(dist('distributed')))).transacted, 'applied');
  const eDist = (await ledger('external204')).get('OvnEip/e-dist')!;
  const eDef = (await ledger('external204')).get('OvnEip/e-def')!;
  const cols = await natColumns('type', 'logical_ip', 'logical_port', 'external_mac');
  const d = cols.get(eDist);
  t.equal(d?.type, 'dnat_and_snat', `NAT ${eDist}: dnat_and_snat`);
  t.equal(d?.logical_port, POD1.port, `logical_port ${POD1.port}`);
  t.match(d?.external_mac ?? '', MAC, `external_mac ${d?.external_mac}`);
  t.same(cols.get(eDef), { type: 'dnat_and_snat', logical_ip: POD2.ip, logical_port: '', external_mac: '' }, `the centralized FIP ${eDef}: no logical_port, no external_mac`);
  const listed = (await natList('vpc1')).find((r) => r.EXTERNAL_IP === eDist);
  t.same([listed?.EXTERNAL_MAC, listed?.LOGICAL_PORT], [d?.external_mac, POD1.port], 'lr-nat-list shows them');

  // ovn-northd: the distributed FIP is handled where the pod is, with its own MAC; the centralized one on the gateway chassis
  const df = await routerFlows('vpc1', eDist);
  t.ok(df.some((f) => f.stage === 'lr_in_dnat' && f.match.includes(`ip4.dst == ${eDist}`) && f.action.includes(`(${POD1.ip})`)), 'SB: lr_in_dnat to the pod', { df });
  t.ok(
    df.some((f) => f.stage === 'lr_out_snat' && f.match.includes(`is_chassis_resident("${POD1.port}")`) && f.action.includes(`eth.src = ${d?.external_mac}`)),
    `SB: lr_out_snat on the chassis of ${POD1.port}, from external_mac`,
    { df },
  );
  t.notOk(df.some((f) => f.match.includes('cr-vpc1-external204')), 'no flow of it is tied to the gateway chassis (cr-vpc1-external204)');
  const cf = await routerFlows('vpc1', eDef);
  t.ok(cf.some((f) => f.match.includes('is_chassis_resident("cr-vpc1-external204")')), 'SB: the centralized FIP is tied to the gateway chassis', { cf });
  t.notOk(
    cf.some((f) => f.match.includes(`is_chassis_resident("${POD2.port}")`) || (f.stage === 'lr_out_snat' && /eth\.src = /.test(f.action))),
    'and not to its pod chassis, nor to a MAC of its own',
    { cf },
  );

  // the same FIP made centralized: the row in place, both columns cleared
  const uuid = [...gw.nb.table('NAT').values()].find((n) => n.external_ip === eDist)!._uuid;
  // (external_ids: the FIP's last-applied spec, kept on its NAT row)
  t.same(await changedBy(() => apply(current(dist('centralized')))), [`~ NAT ${uuid}: external_ids,external_mac,logical_port`], 'type centralized: the same NAT row, external_mac and logical_port cleared');
  t.same((await natColumns('logical_port', 'external_mac')).get(eDist), { logical_port: '', external_mac: '' }, 'ovn-nbctl: both empty');
  t.ok((await routerFlows('vpc1', eDist)).some((f) => f.match.includes('is_chassis_resident("cr-vpc1-external204")')), 'SB: now on the gateway chassis');
  t.ok((await apply(current(dist('distributed')))).transacted, 'and distributed again');
  t.equal((await natColumns('external_mac')).get(eDist)?.external_mac, d?.external_mac, 'with the same external_mac as before (upstream ARP caches stay right)');
  kept.push(...dist('distributed'));

  await refused(
    t,
    async () => apply(current([eip('e-bare', 'type: nat'), obj('OvnFip', 'f-bare', 'ovnEip: e-bare, vpc: vpc1, v4Ip: 192.168.0.9, type: distributed')])),
    /OvnFip f-bare \(multi\.yaml, document \d+\): spec\.type: distributed needs ipName naming a workload port/,
  );
});

t.test('OvnEip type lrp: the address and MAC of the gateway router port, usable for SNAT; type lsp: a port on the external switch', async (t) => {
  const lrpIp = '10.5.204.150';
  const lrpEip = (spec: string) => eip('vpc1-external204', `externalSubnet: external204, type: lrp, ${spec}`);
  const lrpUuid = await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-external204', '_uuid');
  const before = (await ledger('external204')).get('Vpc/vpc1');
  t.not(before, lrpIp, `the port is at ${before} before`);
  const lrp = [lrpEip(`v4Ip: ${lrpIp}, macAddress: "00:00:00:EF:05:C7"`)];
  t.same(
    await changedBy(() => apply(current(lrp))),
    ['~ Logical_Router_Port vpc1-external204: mac,networks', '~ Logical_Switch external204: external_ids'],
    'an lrp OvnEip named like the port: only the port (in place) and the ledger change',
  );
  t.match(await nbctl(sb, 'show', 'vpc1'), new RegExp(`port vpc1-external204\\n\\s+mac: "00:00:00:ef:05:c7"\\n\\s+networks: \\["${lrpIp.replace(/\./g, '\\.')}/24"\\]`), `ovn-nbctl show vpc1: the port at ${lrpIp}, with the given MAC`);
  t.equal(await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-external204', '_uuid'), lrpUuid, 'the same port row');
  const led = await ledger('external204');
  t.equal(led.get('Vpc/vpc1'), lrpIp, `ledger: ${lrpIp} reserved for Vpc vpc1`);
  t.notOk([...led.values()].includes(before!), `the old address ${before} is released`);
  t.match(await nbctl(sb, 'lr-route-list', 'vpc1'), /^\s*0\.0\.0\.0\/0\s+10\.5\.204\.254 dst-ip$/m, 'the default route stays');

  // the guide: the lrp port's address can be reused by SNAT
  lrp.push(obj('OvnSnatRule', 's-lrp', 'ovnEip: vpc1-external204, vpc: vpc1, v4IpCidr: 192.168.0.8'));
  t.ok((await apply(current(lrp))).transacted, 'an OvnSnatRule on the lrp OvnEip');
  t.ok(
    (await natList('vpc1')).some((r) => r.TYPE === 'snat' && r.EXTERNAL_IP === lrpIp && r.LOGICAL_IP === '192.168.0.8'),
    `lr-nat-list vpc1: snat ${lrpIp} 192.168.0.8, the router port's address`,
  );
  t.ok((await routerFlows('vpc1', `ct_snat_in_czone(${lrpIp})`)).some((f) => f.match.includes('ip4.src == 192.168.0.8')), 'SB: compiled');
  kept.push(...lrp);

  await refused(
    t,
    async () => apply(current([eip('my-lrp', 'externalSubnet: external204, type: lrp')])),
    /OvnEip my-lrp \(multi\.yaml, document \d+\): spec\.type: type lrp names a router port "<vpc>-<external network>"/,
  );

  // type lsp: a plain port on the external switch with the EIP's MAC and address (the guide: an ECMP next hop on a gateway node)
  const lsp = [eip('eip-lsp', 'externalSubnet: external204, type: lsp, macAddress: "00:00:00:AA:BB:CC"'), eip('eip-lsp2', 'externalSubnet: external204, type: lsp, v4Ip: 10.5.204.222')];
  t.same(
    await changedBy(() => apply(current(lsp))),
    ['+ Logical_Switch_Port eip-lsp', '+ Logical_Switch_Port eip-lsp2', '~ Logical_Switch external204: external_ids,ports'],
    'two lsp OvnEips: two ports on external204 and their reservations',
  );
  const lspIp = (await ledger('external204')).get('OvnEip/eip-lsp')!;
  t.match(lspIp, /^10\.5\.204\.(10[1-9]|1[1-9]\d|2[0-4]\d|25[0-3])$/, `eip-lsp got ${lspIp}`);
  t.equal(await nbctl(sb, 'lsp-get-addresses', 'eip-lsp'), `00:00:00:aa:bb:cc ${lspIp}`, 'lsp-get-addresses eip-lsp: the given MAC and the allocated address');
  const lsp2 = await nbctl(sb, 'lsp-get-addresses', 'eip-lsp2');
  t.match(lsp2, /^[0-9a-f]{2}(:[0-9a-f]{2}){5} 10\.5\.204\.222$/, `lsp-get-addresses eip-lsp2: a MAC and the given address (${lsp2})`);
  t.equal((await ledger('external204')).get('OvnEip/eip-lsp2'), '10.5.204.222', 'reserved in the ledger');
  t.equal(await nbctl(sb, 'lsp-get-type', 'eip-lsp'), '', 'a plain port (type ""), for an OVS internal port on a gateway node to bind');
  t.match(await nbctl(sb, 'lsp-list', 'external204'), /\(eip-lsp\)\n.*\(eip-lsp2\)/, 'lsp-list external204 shows them');
  await settle();
  t.equal(await sbctl(sb, '--bare', '--columns=type', 'find', 'Port_Binding', 'logical_port=eip-lsp'), '', 'SB: ovn-northd made a port binding for eip-lsp (a VIF, type "")');
  t.match(await sbctl(sb, '--bare', '--columns=mac', 'find', 'Port_Binding', 'logical_port=eip-lsp'), `00:00:00:aa:bb:cc ${lspIp}`, 'with its MAC and address');
  t.same(
    await changedBy(() => apply(current(lsp.slice(0, 1)))),
    ['- Logical_Switch_Port eip-lsp2', '~ Logical_Switch external204: external_ids,ports'],
    'eip-lsp2 left the manifest: its port and reservation go, nothing else',
  );
  t.notOk((await ledger('external204')).has('OvnEip/eip-lsp2'), 'its reservation is released');
  kept.push(...lsp.slice(0, 1));
});

t.test('OvnEip type lrp with an address it may not take: refused', async (t) => {
  // an lrp OvnEip's v4Ip/v6Ip gets the checks of every other given address (inside the network, not
  // reserved, not in use); the good manifest is applied again after each case
  const taken = (await ledger('external204')).get('OvnEip/e-def')!;
  const cases = [
    { name: 'outside the network', ip: '10.9.9.9', error: /OvnEip vpc1-external204 \(multi\.yaml, document \d+\): spec\.v4Ip: 10\.9\.9\.9 is outside network external204/ },
    { name: `the address of OvnEip e-def (${taken}, a FIP's EIP)`, ip: taken, error: new RegExp(`OvnEip vpc1-external204 \\(multi\\.yaml, document \\d+\\): spec\\.v4Ip: ${taken.replace(/\./g, '\\.')} is already reserved by ovn-natgw/OvnEip/e-def`) },
  ];
  const good = () => current();
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      await settle();
      const a = await snapshot();
      const docs = kept.map((d) => (d.includes('name: vpc1-external204}') ? eip('vpc1-external204', `externalSubnet: external204, type: lrp, v4Ip: ${c.ip}`) : d));
      const err = (await catchAsync(apply(manifest(...NETWORKS, config(NODES), vpc1(), ...docs)))) as Error | undefined;
      await settle();
      const changed = diff(a, await snapshot(), ['NB_Global']);
      t.ok(err, 'refused', { changed, port: await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-external204', 'networks') });
      t.match(err?.message ?? '', c.error, 'the error names object, field and reason');
      t.same(changed, [], 'NB unchanged');
      // put back what the other subtests expect
      await apply(good());
      t.match(await nbctl(sb, 'get', 'Logical_Router_Port', 'vpc1-external204', 'networks'), /^\["10\.5\.204\.150\/24"\]$/, 'the port is back at 10.5.204.150');
      t.equal((await ledger('external204')).get('Vpc/vpc1'), '10.5.204.150', 'and so is its reservation');
      t.equal((await ledger('external204')).get('OvnEip/e-def'), taken, 'e-def keeps its address');
    });
  }
});

t.test('SNAT: externalPortRange in NAT external_port_range; several EIPs for one subnet only through several external networks', async (t) => {
  const snat = (name: string, e: string, range?: string) => obj('OvnSnatRule', name, `ovnEip: ${e}, vpcSubnet: vpc1-subnet1${range === undefined ? '' : `, externalPortRange: "${range}"`}`);
  const eips = [eip('e-snat-a', 'type: nat'), eip('e-snat-b', 'type: nat')];
  const r = await apply(current([...eips, snat('s-a', 'e-snat-a', '1024-32767')]));
  t.ok(r.transacted, 'an OvnSnatRule for vpc1-subnet1 with a port range');
  const led = await ledger('external204');
  const a = led.get('OvnEip/e-snat-a')!;
  const subnetSnat = async () =>
    (await natList('vpc1'))
      .filter((x) => x.TYPE === 'snat' && x.LOGICAL_IP === '192.168.0.0/24')
      .map((x) => `${x.GATEWAY_PORT} ${x.EXTERNAL_IP} ${x.EXTERNAL_PORT}`.trim())
      .sort();
  t.same(await subnetSnat(), [`${a} 1024-32767`], 'lr-nat-list vpc1: the snat row for 192.168.0.0/24 with its EIP and port range');
  const uuidA = [...gw.nb.table('NAT').values()].find((n) => n.external_ip === a)!._uuid;
  t.equal(await nbctl(sb, 'get', 'NAT', uuidA, 'external_port_range'), '"1024-32767"', 'ovn-nbctl get NAT external_port_range: "1024-32767"');
  t.ok((await routerFlows('vpc1', `ct_snat_in_czone(${a},1024-32767)`)).some((f) => f.stage === 'lr_out_snat'), 'SB: ct_snat with the port range');

  // a second EIP for the same subnet out of the same port: two flows of equal match and priority, refused
  await refused(
    t,
    async () => apply(current([...eips, snat('s-a', 'e-snat-a', '1024-32767'), snat('s-b', 'e-snat-b', '32768-65535')])),
    /OvnSnatRule s-b \(multi\.yaml, document \d+\): spec\.vpcSubnet: 192\.168\.0\.0\/24 is already SNATed by OvnSnatRule s-a through vpc1-external204; OVN would use either rule's EIP/,
  );

  // through a second external network it is two rows, one per gateway port
  const viaExtra = [eip('e-x-snat2', 'externalSubnet: extra, type: nat'), snat('s-x', 'e-x-snat2')];
  t.ok((await apply(current([...eips, snat('s-a', 'e-snat-a', '1024-32767'), ...viaExtra], ['extra']))).transacted, 'extra attached, s-x SNATs vpc1-subnet1 through it');
  const x = (await ledger('extra')).get('OvnEip/e-x-snat2')!;
  t.same(await subnetSnat(), [`vpc1-external204 ${a} 1024-32767`, `vpc1-extra ${x}`], 'lr-nat-list vpc1: one snat row per external network, each on its gateway port');
  t.ok((await apply(current([...eips, snat('s-a', 'e-snat-a', '1024-32767')]))).transacted, 'extra detached again with s-x');

  // a change of the range: the same row, only external_port_range; then no range
  t.same(
    await changedBy(() => apply(current([...eips, snat('s-a', 'e-snat-a', '2000-3000')]))),
    [`~ NAT ${uuidA}: external_ids,external_port_range`],
    'externalPortRange 2000-3000: only that column of that row (and the rule\'s last-applied spec on it)',
  );
  t.equal(await nbctl(sb, 'get', 'NAT', uuidA, 'external_port_range'), '"2000-3000"', 'read back: "2000-3000"');
  t.same(
    await changedBy(() => apply(current([...eips, snat('s-a', 'e-snat-a')]))),
    [`~ NAT ${uuidA}: external_ids,external_port_range`],
    'externalPortRange left out: that column again',
  );
  t.equal(await nbctl(sb, 'get', 'NAT', uuidA, 'external_port_range'), '""', 'read back: empty');
  t.same(await subnetSnat(), [a], 'lr-nat-list vpc1: the row still listed');
  kept.push(...eips, snat('s-a', 'e-snat-a'));
});

t.test('an ICMP OvnDnatRule is refused, naming object and field; NB unchanged', async (t) => {
  const dnat = (spec: string) => obj('OvnDnatRule', 'ping-pod1', `ovnEip: e-ping, ipName: ${POD1.port}, ${spec}`);
  const ping = eip('e-ping', 'type: nat');
  const PROTOCOL = /OvnDnatRule ping-pod1 \(multi\.yaml, document \d+\): spec\.protocol: must be one of tcp, udp, sctp, got "icmp"/;
  await refused(t, async () => apply(current([ping, dnat('protocol: icmp, internalPort: "8", externalPort: "8"')])), PROTOCOL);
  await refused(t, async () => apply(current([ping, dnat('protocol: icmp')])), PROTOCOL);

  // the same through ovn-natgwctl apply -f, as an operator runs it
  const dir = await mkdtemp(join(tmpdir(), 'nat-multi-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, FILE);
  const docs = [...NETWORKS, config(NODES), vpc1(), ...kept, ping, dnat('protocol: icmp, internalPort: "8", externalPort: "8"')];
  await writeFile(file, docs.join('---\n'));
  let res!: Awaited<ReturnType<typeof bin>>;
  await refused(
    t,
    async () => {
      res = await bin(['--db', sb.nbRemote, '--sb', sb.sbRemote, 'apply', '-f', file]);
      if (res.code !== 0) throw new Error(res.stderr);
    },
    new RegExp(`^ovn-natgwctl: nothing was written:\\n${PROTOCOL.source.replace('multi\\.yaml', '[^)]*multi\\.yaml')}\\n$`),
  );
  t.equal(res.code, 1, 'bin/ovn-natgwctl apply -f: exit status 1');
  t.equal(res.stdout, '', 'nothing on stdout');

  // the control: the same rule with tcp is accepted (so it is the protocol that is refused)
  await writeFile(file, docs.slice(0, -1).concat(dnat('protocol: tcp, internalPort: "8", externalPort: "8"')).join('---\n'));
  const ok = await bin(['--db', sb.nbRemote, '--sb', sb.sbRemote, 'apply', '-f', file]);
  t.equal(ok.code, 0, 'with protocol tcp it applies', { stderr: ok.stderr });
  const eping = (await ledger('external204')).get('OvnEip/e-ping')!;
  t.match(await nbctl(sb, 'lr-lb-list', 'vpc1'), new RegExp(`ping-pod1\\s+tcp\\s+${eping.replace(/\./g, '\\.')}:8\\s+${POD1.ip.replace(/\./g, '\\.')}:8`), 'lr-lb-list vpc1: the tcp DNAT');
});
