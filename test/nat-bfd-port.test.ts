/**
 * Kube-OVN's Vpc `bfdPort` through ovn-natgwctl, against a real OVN
 * (ovsdb-server NB/SB, ovn-northd): router port bfd@<vpc> with
 * options:bfd-only=true on an HA_Chassis_Group of the same name whose
 * chassis are the gateway nodes. Checked with ovn-nbctl (show,
 * ha-chassis-group-list), and with ovn-sbctl for what ovn-northd makes of it
 * (the chassisredirect port cr-bfd@vpc1 and its HA_Chassis_Group in SB).
 * The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCtl } from './helpers/ctl.js';
import { nbctl, sbctl, withSandbox } from './helpers/sandbox.js';
import { catchAsync, until } from './helpers/util.js';

const sb = await withSandbox(t);
const SEED = fileURLToPath(new URL('./fixtures/seed002', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'natgw-bfdport-'));
for (const n of ['00-centralized-external-gw-no-ip.yaml', '01-provider-network.yaml', '02-vlan.yaml', '03-vlan-subnet.yaml', '02-subnet.yml']) copyFileSync(join(SEED, n), join(dir, n));
for (const [i, c] of ['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'].entries()) await sbctl(sb, 'chassis-add', c, 'geneve', `127.0.0.${i + 1}`);

/** vpc1 as in seed 002, with a bfdPort block (Kube-OVN's docs use 10.255.255.255) */
const vpc = (bfdPort: string) => writeFileSync(join(dir, 'vpc.yaml'), ['kind: Vpc', 'apiVersion: kubeovn.io/v1', 'metadata: {name: vpc1}', 'spec:', '  enableExternal: true', ...(bfdPort ? [`  bfdPort: ${bfdPort}`] : [])].join('\n') + '\n');
const apply = () => runCtl(sb, ['apply', '-f', dir]);
/** one group of ha-chassis-group-list: [chassis, priority], highest first */
async function groupChassis(name: string): Promise<[string, number][]> {
  const out: [string, number][] = [];
  let inGroup = false;
  let ch = '';
  for (const line of (await nbctl(sb, 'ha-chassis-group-list')).split('\n')) {
    const group = /^\S+ \((.*)\)$/.exec(line);
    if (group) inGroup = group[1] === name;
    else if (inGroup && /^\s+\S+ \((.*)\)$/.test(line)) ch = /\((.*)\)/.exec(line)![1];
    else if (inGroup && /^\s+priority (\d+)/.test(line)) out.push([ch, Number(/priority (\d+)/.exec(line)![1])]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

t.test('bfdPort enabled: the bfd@vpc1 port on an HA chassis group of the gateway nodes', async (t) => {
  vpc('{enabled: true, ip: 10.255.255.255, nodeSelector: {matchLabels: {egress: "true"}}}');
  const r = await apply();
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /notice: Vpc vpc1: spec\.bfdPort\.nodeSelector: a Kubernetes node selector, ignored/, 'the node selector is a notice');
  t.match(r.stdout, /\+ Logical_Router_Port bfd@vpc1 \(10\.255\.255\.255, bfd-only\)/);
  const show = await nbctl(sb, 'show', 'vpc1');
  t.match(show, /port bfd@vpc1\n\s+mac: "[0-9a-f:]{17}"\n\s+networks: \["10\.255\.255\.255"\]/, 'ovn-nbctl show vpc1: the port as Kube-OVN docs show it');
  t.equal((await nbctl(sb, 'get', 'logical_router_port', 'bfd@vpc1', 'options:bfd-only')).trim(), '"true"');
  const group = await groupChassis('bfd@vpc1');
  t.equal(group.length, 3, 'three of the four gateway nodes (ConfigMap lists pc-node-1..3)');
  t.same(group.map(([c]) => c).sort(), ['pc-node-1', 'pc-node-2', 'pc-node-3']);
  t.same(group.map(([, p]) => p), [3, 2, 1], 'priorities highest first');
  const uuid = (await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'ha_chassis_group', 'name=bfd@vpc1')).trim();
  t.equal((await nbctl(sb, 'get', 'logical_router_port', 'bfd@vpc1', 'ha_chassis_group')).trim(), uuid, 'the port is bound to the group');
  t.match(await nbctl(sb, 'get', 'ha_chassis_group', 'bfd@vpc1', 'external_ids'), /"ovn-natgw:kind"=Vpc.*"ovn-natgw:name"=vpc1/, 'owned by Vpc vpc1');
  // ovn-northd: a chassisredirect port for it, on the group's chassis
  await until('northd to bind cr-bfd@vpc1', async () => (await sbctl(sb, '--bare', '--columns=type', 'find', 'port_binding', 'logical_port=cr-bfd@vpc1')).trim() === 'chassisredirect');
  const sbGroup = await sbctl(sb, '--bare', '--columns=ha_chassis', 'find', 'ha_chassis_group', 'name=bfd@vpc1');
  t.equal(sbGroup.trim().split(/\s+/).length, 3, 'SB HA_Chassis_Group bfd@vpc1 has the three chassis');
  const again = await apply();
  t.equal(again.stdout, 'no changes\n', 'a second apply changes nothing');
});

t.test('a gateway node leaves: only its HA_Chassis moves, the others keep their priorities', async (t) => {
  const before = await groupChassis('bfd@vpc1');
  const leaving = before[2][0];
  writeFileSync(
    join(dir, '00-centralized-external-gw-no-ip.yaml'),
    readFileSync(join(SEED, '00-centralized-external-gw-no-ip.yaml'), 'utf8').replace(/external-gw-nodes: "[^"]*"/, `external-gw-nodes: "${['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'].filter((c) => c !== leaving).join(',')}"`),
  );
  const r = await apply();
  t.equal(r.code, 0, r.stderr);
  const after = await groupChassis('bfd@vpc1');
  t.same(after.slice(0, 2), before.slice(0, 2), 'the two highest stay as they were');
  t.notOk(after.some(([c]) => c === leaving), `${leaving} left the group`);
  t.equal(after.length, 3);
});

t.test('bad bfdPort input is refused naming the field, NB unchanged', async (t) => {
  const before = await nbctl(sb, 'show');
  for (const [spec, msg] of [
    ['{enabled: true}', /spec\.bfdPort\.ip: required when enabled is true/],
    ['{enabled: true, ip: 10.255.255.300}', /spec\.bfdPort\.ip: "10\.255\.255\.300" is not an IP address/],
    ['{enabled: true, ip: "10.0.0.1,10.0.0.2"}', /spec\.bfdPort\.ip: more than one IPv4 address/],
    ['{enabled: true, ip: 10.0.0.1, port: 3784}', /spec\.bfdPort\.port: unknown field/],
  ] as const) {
    vpc(spec);
    const e = (await catchAsync(apply())) as Error | undefined;
    t.match(e?.message ?? 'applied', msg, spec);
  }
  t.equal(await nbctl(sb, 'show'), before, 'NB unchanged');
});

t.test('delete vpc: a Vpc with a bfdPort goes with its port and group', async (t) => {
  vpc('{enabled: true, ip: 10.255.255.255}');
  writeFileSync(join(dir, 'vpc2.yaml'), 'kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: vpc2}\nspec: {bfdPort: {enabled: true, ip: "10.255.255.254/32,fd00::1/128"}}\n');
  t.equal((await apply()).code, 0);
  t.match(await nbctl(sb, 'show', 'vpc2'), /port bfd@vpc2\n\s+mac: "[0-9a-f:]{17}"\n\s+networks: \["10\.255\.255\.254\/32", "fd00::1\/128"\]/, 'dual-stack addresses as given');
  t.equal((await groupChassis('bfd@vpc2')).length, 3);
  rmSync(join(dir, 'vpc2.yaml'));
  const r = await runCtl(sb, ['delete', 'vpc', 'vpc2']);
  t.equal(r.code, 0, r.stderr);
  t.equal((await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'logical_router', 'name=vpc2')).trim(), '', 'router vpc2 gone');
  t.equal((await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'ha_chassis_group', 'name=bfd@vpc2')).trim(), '', 'its HA_Chassis_Group gone');
  t.equal((await groupChassis('bfd@vpc1')).length, 3, "vpc1's group stays");
});

t.test('bfdPort disabled: the port and its group go, nothing else', async (t) => {
  vpc('{enabled: false}');
  const r = await apply();
  t.equal(r.code, 0, r.stderr);
  t.notMatch(await nbctl(sb, 'show', 'vpc1'), /bfd@vpc1/);
  t.equal((await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'ha_chassis_group', 'name=bfd@vpc1')).trim(), '', 'no HA_Chassis_Group bfd@vpc1');
  t.equal((await nbctl(sb, '--bare', '--columns=_uuid', 'list', 'ha_chassis')).trim(), '', 'no HA_Chassis left');
  t.match(await nbctl(sb, 'show', 'vpc1'), /port vpc1-external204/, 'the external port stays');
});
