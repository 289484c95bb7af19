/**
 * The HA index (src/ha/index.ts) fed by a real replica's commits while
 * ovn-nbctl and ovn-sbctl change gateway ports: per chassis its ports with
 * priority and active or standby, per port its chassis and where SB bound
 * it, per next hop its reroute policies, each change followed as it comes.
 */
import t, { type Test } from 'tap';
import { OvsdbClient } from '../src/ovsdb/client.js';
import type { NbTables } from '../src/models/ovn-nb.js';
import type { SbTables } from '../src/models/ovn-sb.js';
import { GatewayIndex, INDEX_BFD_COLUMNS, INDEX_NB_TABLES } from '../src/ha/index.js';
import { PORT_CHASSIS_TABLES, PortChassisIndex } from '../src/gateway/port-chassis.js';
import { asInserts } from '../src/ovsdb/replica.js';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { until } from './helpers/util.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const sb = await withSandbox(t);
await addChassisRows(sb, 3);
const sbctl = async (...args: string[]) => (await exec('ovn-sbctl', [`--db=${sb.sbRemote}`, ...args])).stdout.trim();

const nbc = new OvsdbClient({ remote: sb.nbRemote, database: 'OVN_Northbound' });
const sbc = new OvsdbClient({ remote: sb.sbRemote, database: 'OVN_Southbound' });
t.teardown(async () => {
  await nbc.close();
  await sbc.close();
});
const nb = nbc.replica<NbTables>({ tables: Object.fromEntries(INDEX_NB_TABLES.map((x) => [x, true])) });
const sbr = sbc.replica<SbTables>({ tables: { Chassis: { columns: ['name'] }, Port_Binding: { columns: ['logical_port', 'chassis'] }, BFD: { columns: INDEX_BFD_COLUMNS } } });
await Promise.all([nbc.connect(20_000), sbc.connect(20_000), nb.ready, sbr.ready]);
const index = new GatewayIndex();
// what the replicas hold at the start, as inserts; then every commit
index.follow(nb, sbr);
// and one that reads the gateway ports' chassis another reader keeps (as the daemon's reads NatGateway's NbFacts'), fed first
const ports = new PortChassisIndex();
ports.note(asInserts(nb, PORT_CHASSIS_TABLES));
nb.onCommit((c) => ports.note(c));
const sharing = new GatewayIndex(() => ports);
sharing.follow(nb, sbr);
/** What both indexes say of the ports and chassis named. */
const answers = (ix: GatewayIndex, portNames: string[], chassis: string[]) =>
  JSON.stringify({ ports: portNames.map((p) => [ix.chassisOf(p), ix.activeOf(p)]), chassis: chassis.map((c) => ix.portsOf(c)), load: [...ix.load()].sort(), policies: ix.policiesTo('100.64.0.2') });
const agree = (t: Test) => {
  const names = ['r1-ext', 'r2-ext', 'group:g1'];
  const ch = ['pc-node-1', 'pc-node-2', 'pc-node-3'];
  t.equal(answers(sharing, names, ch), answers(index, names, ch), 'an index reading the ports another reader keeps answers as the one keeping its own');
};

t.test('gateway ports by chassis, followed change by change', async (t) => {
  await nbctl(sb, 'lr-add', 'r1', '--', 'lrp-add', 'r1', 'r1-ext', '00:00:00:00:01:01', '10.0.0.1/24', '--', 'lr-add', 'r2', '--', 'lrp-add', 'r2', 'r2-ext', '00:00:00:00:02:01', '10.0.1.1/24');
  await nbctl(sb, 'lrp-set-gateway-chassis', 'r1-ext', 'pc-node-1', '30', '--', 'lrp-set-gateway-chassis', 'r1-ext', 'pc-node-2', '20', '--', 'lrp-set-gateway-chassis', 'r2-ext', 'pc-node-2', '30');
  await until('the index to see them', () => index.chassisOf('r1-ext').length === 2 && index.chassisOf('r2-ext').length === 1);
  t.same(index.chassisOf('r1-ext'), [{ chassis: 'pc-node-1', priority: 30 }, { chassis: 'pc-node-2', priority: 20 }], 'r1-ext: its chassis in priority order');
  t.equal(index.activeOf('r1-ext'), 'pc-node-1');
  t.same(index.portsOf('pc-node-2'), [{ port: 'r1-ext', priority: 20, active: false }, { port: 'r2-ext', priority: 30, active: true }], 'pc-node-2: standby for r1-ext, active for r2-ext');
  t.same(index.load().get('pc-node-2'), { active: 1, standby: 1 }, 'its load');

  // a priority changed: pc-node-2 leads r1-ext
  const gc = (await nbctl(sb, '--bare', '--columns=_uuid', 'find', 'Gateway_Chassis', 'name=r1-ext-pc-node-2')).trim();
  await nbctl(sb, 'set', 'Gateway_Chassis', gc, 'priority=40');
  await until('the new active', () => index.activeOf('r1-ext') === 'pc-node-2');
  t.same(index.portsOf('pc-node-1'), [{ port: 'r1-ext', priority: 30, active: false }], 'pc-node-1 now standby');

  // a chassis taken off a port, a port removed
  await nbctl(sb, 'lrp-del-gateway-chassis', 'r1-ext', 'pc-node-1');
  await until('pc-node-1 off r1-ext', () => index.portsOf('pc-node-1').length === 0);
  await nbctl(sb, 'lrp-del', 'r2-ext');
  await until('r2-ext gone', () => index.chassisOf('r2-ext').length === 0);
  t.same(index.portsOf('pc-node-2'), [{ port: 'r1-ext', priority: 40, active: true }], 'pc-node-2: only r1-ext left');
  agree(t);
});

t.test('HA chassis groups and reroute policies', async (t) => {
  await nbctl(sb, 'ha-chassis-group-add', 'g1', '--', 'ha-chassis-group-add-chassis', 'g1', 'pc-node-3', '10', '--', 'ha-chassis-group-add-chassis', 'g1', 'pc-node-1', '5');
  await until('the group', () => index.chassisOf('group:g1').length === 2);
  t.same(index.portsOf('pc-node-3'), [{ port: 'group:g1', priority: 10, active: true }]);
  await nbctl(sb, 'lr-policy-add', 'r1', '31000', 'ip4.src == 10.16.0.0/16', 'reroute', '100.64.0.2,100.64.0.3');
  await until('the policy', () => index.policiesTo('100.64.0.3').length === 1);
  t.equal(index.policiesTo('100.64.0.2').length, 1, 'each next hop names it');
  const pol = index.policiesTo('100.64.0.3')[0];
  await nbctl(sb, 'set', 'Logical_Router_Policy', pol, 'nexthops="100.64.0.2"');
  await until('a next hop dropped', () => index.policiesTo('100.64.0.3').length === 0);
  t.same(index.policiesTo('100.64.0.2'), [pol], 'the other stays');
  agree(t);
});

t.test("SB: the chassis a gateway port's chassisredirect port is bound to", async (t) => {
  // (ovn-northd makes the chassisredirect port of r1-ext, which has a gateway chassis; no ovn-controller claims it here)
  await until('northd to make cr-r1-ext', async () => (await sbctl('--bare', '--columns=_uuid', 'find', 'Port_Binding', 'logical_port=cr-r1-ext')) !== '');
  const ch = await sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', 'name=pc-node-2');
  await sbctl('set', 'Port_Binding', 'cr-r1-ext', `chassis=${ch}`);
  await until('the binding', () => index.boundOf('r1-ext') === 'pc-node-2');
  t.pass('bound to pc-node-2, as SB says');
  t.same(index.boundPortsOf('pc-node-2'), ['r1-ext'], 'pc-node-2 has r1-ext bound to it');
  t.match(index.bindingOf('r1-ext'), { chassis: ch }, 'the binding row and its chassis (the write guard of a stale BFD session)');
  await nbctl(sb, 'create', 'BFD', 'logical_port=r1-ext', 'dst_ip=10.0.0.254', 'min_rx=200', 'detect_mult=4');
  await until("northd's SB session", () => index.sessionsOf('r1-ext').length === 1);
  t.match(index.sessionsOf('r1-ext'), [{ logical_port: 'r1-ext', dst_ip: '10.0.0.254', detectMs: 800 }], 'the SB BFD session of r1-ext, with its detection time');
  await sbctl('clear', 'Port_Binding', 'cr-r1-ext', 'chassis');
  await until('unbound', () => index.boundOf('r1-ext') === undefined);
  t.same(index.boundPortsOf('pc-node-2'), [], 'unbound: pc-node-2 has none');
  t.match(index.bindingOf('r1-ext'), { chassis: null }, 'the binding row, with no chassis');
  agree(t);
});
