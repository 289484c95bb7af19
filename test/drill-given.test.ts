/**
 * ovn-natgw-drill against a given NB/SB (--nb, --sb, --target): a running
 * deployment it did not build (here: real ovn-controllers on three gateway
 * chassis and an ovn-natgwd holding the drill's routers, with the upstream's
 * MAC learned in SB as a running cloud has it). It uses what exists (the
 * gateway ports, their chassis, K), kills nothing, drains each time the
 * busiest chassis, checks the moved routers with ovn-trace, undrains and
 * rebalances; verdict pass. Kinds that kill, and flags only for its own
 * sandbox, are refused with exit 2.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { drillManifest, drillWorkloads } from '../src/cli/drill.js';
import { runBin } from './helpers/bin.js';
import { daemonFiles, daemonReady, startDaemon } from './helpers/daemons.js';
import { nbctl, sbctl, withChassis } from './helpers/sandbox.js';
import { tempDir, until } from './helpers/util.js';

const DRILL = fileURLToPath(new URL('../bin/ovn-natgw-drill.js', import.meta.url));

t.test('refused: kinds that kill, sandbox-only flags, a half-given pair', async (t) => {
  const k = await runBin(['--nb', 'unix:/nonexistent/nb.sock', '--sb', 'unix:/nonexistent/sb.sock', '--target', '/nonexistent.ctl', '--kinds', 'drain,kill-node'], {}, { bin: DRILL });
  t.equal(k.code, 2);
  t.match(k.stderr, /--kinds: kill-node: against a given NB\/SB the drill starts no processes, so it can kill none \(only drain\)/);
  const r = await runBin(['--nb', 'unix:/x', '--sb', 'unix:/y', '--target', '/z', '--routers', '5'], {}, { bin: DRILL });
  t.match(r.stderr, /--routers: only for the drill's own sandbox; against a given NB\/SB the drill uses what exists/);
  const s = await runBin(['--nb', 'unix:/x', '--target', '/z'], {}, { bin: DRILL });
  t.match(s.stderr, /--sb: needed too: a given NB\/SB is drilled as a pair/);
  const g = await runBin(['--nb', 'unix:/x', '--sb', 'unix:/y'], {}, { bin: DRILL });
  t.match(g.stderr, /--target: needed with --nb\/--sb/);
});

t.test('drains on a deployment it did not build: verdict pass, the moved routers traced', async (t) => {
  const { sb, chassis } = await withChassis(t, 3, 3);
  const names = chassis.map((c) => c.name);
  const tmp = await tempDir(t, 'drill-given-');
  const d = await daemonFiles(tmp, 'natgwd', { 'drill.yaml': drillManifest(3, names) }, ['--db', sb.nbRemote, '--sb', sb.sbRemote, '--gateway-chassis', '2']);
  startDaemon(t, d);
  await daemonReady(d);
  await until('the three gateway ports bound', async () => (await sbctl(sb, '--bare', '--columns=chassis', 'find', 'Port_Binding', 'type=chassisredirect')).split('\n').filter(Boolean).length === 3, 60_000);
  for (const c of drillWorkloads(3, names)) await nbctl(sb, ...c);
  // the upstream router's MAC, as ovn-controller learns it in a running cloud
  for (let i = 0; i < 3; i++) {
    const dp = await sbctl(sb, '--bare', '--columns=_uuid', 'find', 'Datapath_Binding', `external_ids:name=drill-${i}`);
    await sbctl(sb, 'create', 'MAC_Binding', `logical_port=drill-${i}-physnet1`, 'ip="10.5.0.1"', 'mac="0a:00:00:00:00:fe"', `datapath=${dp}`);
  }
  const r = await runBin(['--nb', sb.nbRemote, '--sb', sb.sbRemote, '--target', d.sock, '--drills', '2', '-o', 'json'], {}, { bin: DRILL, timeoutMs: 300_000 });
  t.equal(r.code, 0, r.stderr.slice(-3000));
  const j = JSON.parse(r.stdout) as { verdict: string; violations: string[]; drills: { kind: string; victim: string; nb_visible?: number; sb_moved?: number; traced?: string[] }[] };
  t.equal(j.verdict, 'pass', `verdict (violations: ${j.violations.join('; ')})`);
  t.same(j.drills.map((x) => x.kind), ['drain', 'drain'], 'drains only, two');
  for (const x of j.drills) {
    t.ok(names.includes(x.victim), `a gateway chassis drained (${x.victim})`);
    t.type(x.nb_visible, 'number', `NB showed the actives off ${x.victim} (${x.nb_visible} ms)`);
    t.type(x.sb_moved, 'number', `OVN moved the bindings (${x.sb_moved} ms)`);
    for (const probe of ['fip', 'snat', 'egress']) t.ok(x.traced?.some((p) => p.endsWith(`/${probe}`)), `ovn-trace ${probe} of a moved router (${x.traced?.join(' ')})`);
  }
  t.match(r.stderr, /^drill: 3 gateway ports on 3 gateway chassis \(gw1, gw2, gw3\), K=2$/m, 'what it found, on stderr');
  // undrained and rebalanced: every port on two chassis, the actives spread one each
  const active = [];
  for (let i = 0; i < 3; i++) {
    const gcs = (await nbctl(sb, 'lrp-get-gateway-chassis', `drill-${i}-physnet1`)).split('\n').filter(Boolean);
    t.equal(gcs.length, 2, `drill-${i}-physnet1: two gateway chassis (ovn-nbctl)`);
    active.push(gcs[0].split(/\s+/)[0].replace(/^drill-\d+-physnet1-/, ''));
  }
  t.same(active.sort(), ['gw1', 'gw2', 'gw3'], 'one active on each chassis again');
});
