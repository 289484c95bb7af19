/**
 * ovn-natgw-drill (src/cli/drill.ts) as a user runs it: its own OVN, three
 * simulated gateway chassis with real ovn-controllers and an ovn-natgwd on
 * each, every kind of drill once; `-o json` gives a verdict of pass with a
 * measurement of each thing the kind moves and ovn-trace of the moved
 * routers (FIP and SNAT out with their EIPs, egress to a live node), exit
 * status 0. Bad arguments:
 * exit 2 naming the flag.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { runBin } from './helpers/bin.js';

const DRILL = fileURLToPath(new URL('../bin/ovn-natgw-drill.js', import.meta.url));

t.test('bad arguments: exit 2, the flag and the reason', async (t) => {
  const k = await runBin(['--kinds', 'kill-node,explode'], {}, { bin: DRILL });
  t.equal(k.code, 2);
  t.match(k.stderr, /--kinds: "explode": unknown kind \(known: kill-node, stop-node, kill-vswitchd, kill-controller, kill-leader, drain\)/);
  const g = await runBin(['--gateways', '2', '--gateway-chassis', '2'], {}, { bin: DRILL });
  t.equal(g.code, 2);
  t.match(g.stderr, /--gateway-chassis: 2 needs at least 3 gateways \(a spare to restore redundancy with\), got --gateways 2/);
  const r = await runBin(['--routers', '0'], {}, { bin: DRILL });
  t.match(r.stderr, /--routers: must be an integer from 1 to 10000, got "0"/);
});

t.test('every kind once on 3 gateways: verdict pass, each measured', async (t) => {
  const r = await runBin(['--routers', '4', '--gateways', '3', '--controller-grace-ms', '1000', '--hold-down-ms', '1500', '-o', 'json'], {}, { bin: DRILL, timeoutMs: 600_000 });
  t.equal(r.code, 0, r.stderr.slice(-3000));
  const j = JSON.parse(r.stdout) as { verdict: string; violations: string[]; drills: Record<string, unknown>[] };
  t.equal(j.verdict, 'pass', `verdict (violations: ${j.violations.join('; ')})`);
  t.same(j.drills.map((d) => d.kind), ['kill-node', 'stop-node', 'kill-vswitchd', 'kill-controller', 'kill-leader', 'drain']);
  const by = (k: string) => j.drills.find((d) => d.kind === k)!;
  for (const k of ['kill-node', 'stop-node', 'kill-vswitchd', 'kill-controller']) {
    for (const m of ['detection', 'nb_commit', 'nb_visible', 'sb_moved', 'egress_rewritten', 'redundancy_restored']) t.type(by(k)[m], 'number', `${k}: ${m} measured (${by(k)[m]} ms)`);
  }
  // ovn-trace after each failover and the drain: a moved router's FIP and SNAT workloads leave with their EIPs, its egress subnet reaches a live node
  for (const k of ['kill-node', 'stop-node', 'kill-vswitchd', 'kill-controller', 'drain']) {
    const traced = (by(k).traced ?? []) as string[];
    for (const probe of ['fip', 'snat', 'egress']) t.ok(traced.some((x) => x.endsWith(`/${probe}`)), `${k}: ovn-trace ${probe} of a moved router left as it should (${traced.join(' ')})`);
  }
  t.ok((by('kill-controller').detection as number) >= 1000, 'kill-controller: found only after its grace');
  t.type(by('kill-leader').first_write, 'number', `kill-leader: the new leader's first write (${by('kill-leader').first_write} ms)`);
  t.type(by('drain').nb_visible, 'number', 'drain: the actives moved');
  t.match(r.stderr, /^drill: kill-node #1: gw\d \(leads \d+ of 4 ports\)$/m, 'progress on stderr');
});
