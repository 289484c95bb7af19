/**
 * BFD status that lies (ovn-org/ovn#320), on real ovn-controllers: a router
 * with two gateway ports, each on one gateway chassis only (no other can
 * take it), and an ECMP default route through each, watched by BFD. No peer
 * answers in the sandbox, so the sessions' last status is planted `up` in
 * SB, as a session that was up before its chassis died (the stale row of
 * ovn-org/ovn#322); ovn-northd copies it to NB and puts both routes in ECMP.
 *
 * - gw1's whole node killed (its processes and its ovn-natgwd): the port
 *   stays bound to the dead gw1, where OVN alone would leave its session
 *   `up` and its route in ECMP (the last subtest shows it, with report).
 *   The leader, told by gw1's node lock, sets the session's SB status down:
 *   ovn-nbctl shows it down, ovn-sbctl's logical flows keep only the route
 *   through gw2, and an event says why.
 * - gw2's ovn-controller exits cleanly (its SB Chassis row goes: the port is
 *   bound to no chassis): gw2 is failed over at once (the SB Chassis signal),
 *   and after the session's detection time its session is withdrawn too.
 * - the daemon with staleBfd: report writes nothing, and says so.
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nbctl, sbctl as sbctlOn, withChassis } from './helpers/sandbox.js';
import { tempDir, until } from './helpers/util.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { daemonEvents, daemonFiles, daemonReady, daemonStatus, startDaemon, type DaemonEvent } from './helpers/daemons.js';

const { sb, chassis } = await withChassis(t, 3, 2);
const sbctl = (...args: string[]) => sbctlOn(sb, ...args);
const [gw1, gw2, hv1] = chassis;
const tmp = await tempDir(t, 'ha-bfd-stale-');

// r1: ports r1-gw1 (only gw1) and r1-gw2 (only gw2) on the provider network, a default route through each, with BFD
await nbctl(
  sb,
  'ls-add', 'ext', '--', 'lsp-add', 'ext', 'ln-ext', '--', 'lsp-set-type', 'ln-ext', 'localnet', '--', 'lsp-set-addresses', 'ln-ext', 'unknown', '--', 'lsp-set-options', 'ln-ext', 'network_name=physnet1',
  '--', 'lr-add', 'r1',
  '--', 'lrp-add', 'r1', 'r1-gw1', '00:00:00:00:01:01', '192.168.0.201/24', '--', 'lrp-set-gateway-chassis', 'r1-gw1', 'gw1', '10',
  '--', 'lsp-add', 'ext', 'ext-r1-gw1', '--', 'lsp-set-type', 'ext-r1-gw1', 'router', '--', 'lsp-set-addresses', 'ext-r1-gw1', 'router', '--', 'lsp-set-options', 'ext-r1-gw1', 'router-port=r1-gw1',
  '--', 'lrp-add', 'r1', 'r1-gw2', '00:00:00:00:01:02', '192.168.1.201/24', '--', 'lrp-set-gateway-chassis', 'r1-gw2', 'gw2', '10',
  '--', 'lsp-add', 'ext', 'ext-r1-gw2', '--', 'lsp-set-type', 'ext-r1-gw2', 'router', '--', 'lsp-set-addresses', 'ext-r1-gw2', 'router', '--', 'lsp-set-options', 'ext-r1-gw2', 'router-port=r1-gw2',
  '--', 'lrp-add', 'r1', 'r1-in', '00:00:00:00:ee:01', '10.0.0.1/24', '--', 'ls-add', 'in',
  '--', 'lsp-add', 'in', 'in-r1', '--', 'lsp-set-type', 'in-r1', 'router', '--', 'lsp-set-addresses', 'in-r1', 'router', '--', 'lsp-set-options', 'in-r1', 'router-port=r1-in',
  '--', 'lsp-add', 'in', 'vm1', '--', 'lsp-set-addresses', 'vm1', '00:00:00:00:00:11 10.0.0.11',
);
await hv1.vsctl('add-port', 'br-int', 'vm1', '--', 'set', 'Interface', 'vm1', 'type=dummy', 'external_ids:iface-id=vm1');
const bfd1 = (await nbctl(sb, 'create', 'BFD', 'logical_port=r1-gw1', 'dst_ip=192.168.0.254', 'min_tx=100', 'min_rx=100', 'detect_mult=3')).trim();
const bfd2 = (await nbctl(sb, 'create', 'BFD', 'logical_port=r1-gw2', 'dst_ip=192.168.1.254', 'min_tx=100', 'min_rx=100', 'detect_mult=3')).trim();
await nbctl(sb, `--bfd=${bfd1}`, 'lr-route-add', 'r1', '0.0.0.0/0', '192.168.0.254', '--', '--ecmp', `--bfd=${bfd2}`, 'lr-route-add', 'r1', '0.0.0.0/0', '192.168.1.254');
await nbctl(sb, '--wait=hv', 'sync');

const nbStatus = async (uuid: string) => (await nbctl(sb, 'get', 'BFD', uuid, 'status')).trim();
const sbSession = async (port: string) => sbctl('--bare', '--columns=_uuid', 'find', 'BFD', `logical_port=${port}`);
/** The next hops of r1's default route that ovn-northd put in its logical flows (ECMP members, or the one route). */
async function routedVia(): Promise<string[]> {
  const flows = (await sbctl('lflow-list', 'r1')).split('\n');
  const hops = flows.filter((l) => /lr_in_ip_routing/.test(l) && !/udp\.dst == 3784/.test(l)).flatMap((l) => [...l.matchAll(/reg0 = (192\.168\.\d+\.254)/g)].map((m) => m[1]));
  return [...new Set(hops)].sort();
}
const boundTo = async (port: string) => {
  const u = await sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port=cr-${port}`);
  return u ? sbctl('--bare', '--columns=name', 'list', 'Chassis', u) : '';
};
await until('the gateway ports bound', async () => (await boundTo('r1-gw1')) === 'gw1' && (await boundTo('r1-gw2')) === 'gw2', 30_000);

// the sessions' last status: up (as if their peers had answered before)
for (const port of ['r1-gw1', 'r1-gw2']) await sbctl('set', 'BFD', await sbSession(port), 'status=up');
await until('NB to show both sessions up', async () => (await nbStatus(bfd1)) === 'up' && (await nbStatus(bfd2)) === 'up');
await until('both routes in ECMP', async () => (await routedVia()).length === 2);

const common = ['--db', sb.nbRemote, '--sb', sb.sbRemote, '--log-level', 'info', '--config', '/dev/null', '--ping-ms', '100'];
const manifests = { 'network.yaml': dualStackNetwork(['gw1', 'gw2']) };
const leader = await daemonFiles(tmp, 'leader', manifests, common);
startDaemon(t, leader);
await daemonReady(leader);
const node1 = await daemonFiles(tmp, 'node-gw1', manifests, [...common, '--chassis', 'gw1']);
startDaemon(t, node1);
await daemonReady(node1);
await until('the leader to watch gw1', async () => (await daemonStatus(leader)).liveness.gw1 === 'alive');
const stale = async () => (await daemonEvents(leader)).filter((e: DaemonEvent) => e.type === 'bfd-stale');

t.test('a session running on a live chassis is left alone', async (t) => {
  t.same(await stale(), [], 'no bfd-stale event while its chassis is alive');
  t.equal(await nbStatus(bfd1), 'up', 'ovn-nbctl: still up');
});

t.test("gw1's whole node killed: its session is withdrawn, the route through gw2 stays", async (t) => {
  const t0 = Date.now();
  node1.child!.kill('SIGKILL');
  await gw1.kill('all');
  await until('the leader to find gw1 dead', async () => (await daemonStatus(leader)).liveness.gw1 === 'dead', 10_000);
  await until('the session down in NB', async () => (await nbStatus(bfd1)) === 'down', 10_000);
  t.comment(`from gw1's node killed to its session down in NB: ${Date.now() - t0} ms (ovn-nbctl polled)`);
  t.equal(await boundTo('r1-gw1'), 'gw1', 'ovn-sbctl: r1-gw1 is still bound to the dead gw1 (no other chassis may take it)');
  t.equal(await nbStatus(bfd2), 'up', "gw2's session is left as it is");
  await until('the route through gw1 withdrawn', async () => (await routedVia()).join() === '192.168.1.254', 10_000);
  t.same(await routedVia(), ['192.168.1.254'], "ovn-sbctl lflow-list: r1's default route only through gw2's next hop");
  const ev = await stale();
  t.match(ev, [{ logical_port: 'r1-gw1', dst_ip: '192.168.0.254', status: 'up', reason: 'owner-dead', owner: 'gw1', action: 'withdrawn' }], 'an event: which session, why, what was done');
});

t.test("gw2's ovn-controller exits cleanly: the port bound to nobody, its session withdrawn after its detection time", async (t) => {
  const t0 = Date.now();
  await gw2.appctl('ovn-controller', 'exit');
  await until('gw2 gone from SB', async () => !(await sbctl('--bare', '--columns=name', 'list', 'Chassis')).split('\n').includes('gw2'), 10_000);
  await until('a failover of gw2', async () => (await daemonEvents(leader)).some((e) => e.type === 'failover' && e.cause === 'sb-chassis-deleted'), 10_000);
  t.comment(`from ovn-appctl exit to the failover event: ${Date.now() - t0} ms`);
  t.ok((await daemonEvents(leader)).some((e) => e.type === 'liveness' && e.chassis === 'gw2' && e.state === 'dead' && e.cause === 'sb-chassis-deleted'), 'gw2 dead: its SB Chassis row was deleted (a clean exit of its ovn-controller)');
  await until('the session down in NB', async () => (await nbStatus(bfd2)) === 'down', 10_000);
  t.equal(await boundTo('r1-gw2'), '', 'ovn-sbctl: cr-r1-gw2 is bound to no chassis');
  t.match((await stale()).at(-1), { logical_port: 'r1-gw2', reason: 'unbound', action: 'withdrawn' }, 'an event: bound to no chassis');
  t.same(await routedVia(), [], 'no route left through a next hop nobody watches');
});

t.test('staleBfd: report writes nothing', async (t) => {
  // a second leader (after the first) with report; the stale status planted again on r1-gw1 (gw1 still dead)
  await leader.child!.kill('SIGTERM');
  const cfg = path.join(tmp, 'report.yaml');
  await writeFile(cfg, 'staleBfd: report\nrequireNodeDaemons: true\n');
  const reporter = await daemonFiles(tmp, 'reporter', manifests, [...common.filter((a) => a !== '/dev/null' && a !== '--config'), '--config', cfg]);
  startDaemon(t, reporter);
  await daemonReady(reporter);
  await until('the reporter to lead', async () => (await daemonStatus(reporter)).role === 'leader');
  await until('gw1 dead to it (no daemon holds its lock)', async () => (await daemonStatus(reporter)).liveness.gw1 === 'dead', 10_000);
  await sbctl('set', 'BFD', await sbSession('r1-gw1'), 'status=up');
  await until('a report', async () => (await daemonEvents(reporter)).some((e) => e.type === 'bfd-stale' && e.logical_port === 'r1-gw1'), 10_000);
  const e = (await daemonEvents(reporter)).find((x) => x.type === 'bfd-stale' && x.logical_port === 'r1-gw1');
  t.match(e, { reason: 'owner-dead', action: 'reported' }, 'reported, not withdrawn');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(await nbStatus(bfd1), 'up', 'ovn-nbctl: the status is left up (what OVN does alone)');
  t.same(await routedVia(), ['192.168.0.254'], 'and the route through the dead gw1 stays in the logical flows');
});
