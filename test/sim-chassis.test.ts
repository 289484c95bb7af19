/**
 * Simulated chassis (tools/chassis-lib.ts) on the sandbox: two gateways and
 * a hypervisor, each its own ovsdb-server, ovs-vswitchd and a real
 * ovn-controller. Checked with the real tools: ovn-sbctl lists the
 * chassis, BFD is up between them (ovs-vsctl bfd_status, ovs-appctl
 * bfd/show), the gateway port's chassisredirect binding is claimed by the
 * highest priority, moves when that chassis's ovs-vswitchd is killed or the
 * whole chassis is stopped (SIGSTOP), and comes back when it returns
 * (OVN preempts); killing ovn-controller alone moves nothing (its
 * ovs-vswitchd keeps answering BFD, so OVN sees the chassis alive).
 */
import t from 'tap';
import { nbctl, sbctl as sbctlOn, withChassis } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const { sb, chassis } = await withChassis(t, 3, 2);
const sbctl = (...args: string[]) => sbctlOn(sb, ...args);
const [gw1, gw2, hv1] = chassis;

await nbctl(
  sb,
  'lr-add', 'lr0', '--', 'lrp-add', 'lr0', 'lrp-ext', '00:00:00:00:ff:01', '172.16.0.1/24',
  '--', 'lrp-set-gateway-chassis', 'lrp-ext', 'gw1', '20', '--', 'lrp-set-gateway-chassis', 'lrp-ext', 'gw2', '10',
  '--', 'ls-add', 'ext', '--', 'lsp-add', 'ext', 'ext-lr0', '--', 'lsp-set-type', 'ext-lr0', 'router', '--', 'lsp-set-addresses', 'ext-lr0', 'router', '--', 'lsp-set-options', 'ext-lr0', 'router-port=lrp-ext',
  '--', 'lsp-add', 'ext', 'ln-ext', '--', 'lsp-set-type', 'ln-ext', 'localnet', '--', 'lsp-set-addresses', 'ln-ext', 'unknown', '--', 'lsp-set-options', 'ln-ext', 'network_name=physnet1',
  '--', 'lrp-add', 'lr0', 'lrp-in', '00:00:00:00:ee:01', '10.0.0.1/24', '--', 'ls-add', 'in',
  '--', 'lsp-add', 'in', 'in-lr0', '--', 'lsp-set-type', 'in-lr0', 'router', '--', 'lsp-set-addresses', 'in-lr0', 'router', '--', 'lsp-set-options', 'in-lr0', 'router-port=lrp-in',
  '--', 'lsp-add', 'in', 'vm1', '--', 'lsp-set-addresses', 'vm1', '00:00:00:00:00:11 10.0.0.11',
);
// the workload's port on the hypervisor: its chassis then uses the router, and BFD runs to the gateways
await hv1.vsctl('add-port', 'br-int', 'vm1', '--', 'set', 'Interface', 'vm1', 'type=dummy', 'external_ids:iface-id=vm1');

/** The chassis SB has bound the gateway port's chassisredirect port to ("" while none). */
async function bound(): Promise<string> {
  const u = await sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', 'logical_port=cr-lrp-ext');
  return u ? sbctl('--bare', '--columns=name', 'list', 'Chassis', u) : '';
}
/** Waits for the binding to be on `name`; returns the ms it took. */
async function movesTo(name: string, ms = 20_000): Promise<number> {
  const t0 = Date.now();
  await until(`cr-lrp-ext on ${name}`, async () => (await bound()) === name, ms);
  return Date.now() - t0;
}

t.test('three chassis with real ovn-controllers; tunnels and BFD up; the port on the highest priority', async (t) => {
  await until('SB to list the three chassis', async () => (await sbctl('--bare', '--columns=name', 'list', 'Chassis')).split(/\s+/).filter(Boolean).sort().join(' ') === 'gw1 gw2 hv1');
  t.pass('ovn-sbctl: Chassis gw1, gw2, hv1');
  t.match(await sbctl('--bare', '--columns=other_config', 'list', 'Chassis', 'gw1'), /ovn-cms-options=enable-chassis-as-gw/, 'gw1 says it is a gateway');
  await until('vm1 bound on hv1', async () => (await sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', 'logical_port=vm1')) !== '');
  for (const [a, b] of [[gw1, gw2], [gw2, gw1], [hv1, gw1], [hv1, gw2], [gw1, hv1], [gw2, hv1]] as const) {
    await until(`BFD ${a.name} -> ${b.name} up`, async () => (await a.bfdTo(b.name)) === 'up');
  }
  t.pass('BFD up both ways between the gateways, and from the hypervisor to each');
  t.match(await gw1.appctl('ovs-vswitchd', 'bfd/show'), /---- ovn-gw2-0 ----[\s\S]*Local Session State: up/, 'ovs-appctl bfd/show on gw1: its session to gw2 up');
  await movesTo('gw1');
  t.pass('cr-lrp-ext claimed by gw1 (priority 20)');
});

t.test("the active's ovs-vswitchd killed: the port moves; back when it returns", async (t) => {
  await gw1.kill('ovs-vswitchd');
  const away = await movesTo('gw2');
  t.comment(`moved to gw2 ${away} ms after gw1's ovs-vswitchd was killed`);
  t.pass('cr-lrp-ext on gw2');
  await gw1.restart();
  const back = await movesTo('gw1');
  t.comment(`back on gw1 ${back} ms after it was restarted`);
  t.pass('back on gw1 (OVN preempts)');
});

t.test('the whole chassis stopped (SIGSTOP, no TCP close): the port moves; SIGCONT: back', async (t) => {
  await gw1.signal('all', 'SIGSTOP');
  try {
    const away = await movesTo('gw2');
    t.comment(`moved to gw2 ${away} ms after gw1 was stopped`);
    t.pass('cr-lrp-ext on gw2');
  } finally {
    await gw1.signal('all', 'SIGCONT');
  }
  await movesTo('gw1');
  t.pass('back on gw1');
});

t.test('ovn-controller alone killed: nothing moves (its vswitchd still answers BFD)', async (t) => {
  // settled first: back on gw1 after the stop above, BFD up to it from both others
  await movesTo('gw1');
  for (const c of [gw2, hv1]) await until(`BFD ${c.name} -> gw1 up`, async () => (await c.bfdTo('gw1')) === 'up');
  await new Promise((r) => setTimeout(r, 2000));
  await movesTo('gw1');
  await gw1.kill('ovn-controller');
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    seen.add(await bound());
    await new Promise((r) => setTimeout(r, 500));
  }
  t.same([...seen], ['gw1'], 'for 5 s always on gw1: OVN does not see it as dead');
  t.equal(await hv1.bfdTo('gw1'), 'up', 'BFD from hv1 to gw1 still up');
  await gw1.restart();
  t.ok((await gw1.pids())['ovn-controller'], 'ovn-controller started again');
});
