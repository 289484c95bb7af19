/**
 * A plan scoped by row keys, as a failover will write: with the active
 * gateway chassis of a port taken as down, only that port's Gateway_Chassis
 * rows change (the same rows, under the same keys, that apply writes), and
 * nothing else the plan would also fix (an option removed by hand) is touched.
 * Against a real OVN, checked with ovn-nbctl.
 */
import t from 'tap';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { until } from './helpers/util.js';

const sb = await withSandbox(t);
await addChassisRows(sb, 4);
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());
const NODES = ['pc-node-1', 'pc-node-2', 'pc-node-3', 'pc-node-4'];
await gw.apply(parseManifest(dualStackNetwork(NODES), 'network.yaml'));

/** `lrp-get-gateway-chassis`: [name, priority], highest first. */
const gatewayChassis = async () =>
  (await nbctl(sb, 'lrp-get-gateway-chassis', 'vpc1-external204'))
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p.length === 2)
    .map(([n, p]) => [n.replace(/^vpc1-external204-/, ''), Number(p)] as [string, number]);

t.test('the active chassis down: only the port\'s Gateway_Chassis rows move, a drift elsewhere stays', async (t) => {
  const before = await gatewayChassis();
  t.equal(before.length, 3, 'three gateway chassis');
  const active = before[0][0];
  // the peer's nat-addresses removed by hand: a whole plan puts it back
  await nbctl(sb, 'remove', 'Logical_Switch_Port', 'external204-vpc1', 'options', 'nat-addresses');
  const natAddresses = async () => (await nbctl(sb, 'get', 'Logical_Switch_Port', 'external204-vpc1', 'options')).includes('nat-addresses=router');
  await until('the replica to see the option go', () => [...gw.nb.table('Logical_Switch_Port').values()].some((p) => p.name === 'external204-vpc1' && !p.options.has('nat-addresses')));
  const vpc = gw.stored().manifest.objects.filter((o) => o.kind === 'Vpc' && o.name === 'vpc1');
  const opts = {
    mode: 'merge' as const,
    live: new Set(NODES.filter((n) => n !== active)),
    rows: (k: string) => k.startsWith('Vpc/vpc1/external:external204:chassis:'),
  };
  const plan = gw.plan({ objects: vpc, notices: [] }, opts);
  const tables = new Set(plan.ops.map((o) => `${o.op} ${(o as { table?: string }).table}`));
  t.same([...tables].sort(), ['mutate Gateway_Chassis', 'update Gateway_Chassis'], 'only Gateway_Chassis rows: the dead one\'s row rewritten in place (chassis, name, key), the port\'s references left as they are');
  const moved = plan.ops.filter((o) => o.op === 'update') as { readonly row: Readonly<Record<string, unknown>> }[];
  t.equal(moved.length, 1, 'one row updated');
  t.same(Object.keys(moved[0].row).sort(), ['chassis_name', 'name'].concat('priority' in moved[0].row ? ['priority'] : []).sort(), 'its chassis and name (and priority, when the slot\'s is not its own)');
  t.ok(plan.changes.some((c) => c.action === 'change' && c.label.endsWith(`, in place of ${active}`)), `the plan says which chassis it replaces (${active})`);
  const r = await gw.apply({ objects: vpc, notices: [] }, opts);
  t.ok(r.transacted && r.converged, 'applied');
  const after = await gatewayChassis();
  t.equal(after.length, 3, 'still three');
  t.notOk(after.some(([n]) => n === active), `${active} no longer carries the port`);
  for (const [n, p] of before.slice(1)) t.ok(after.some(([m, q]) => m === n && q === p), `${n} keeps its priority ${p}`);
  t.notOk(await natAddresses(), 'ovn-nbctl: the peer\'s options are untouched');
  // a whole apply afterwards: the port stays where the failover put it; the option is put back
  const whole = await gw.apply(parseManifest(dualStackNetwork(NODES), 'network.yaml'));
  t.ok(whole.transacted, 'a whole apply writes');
  t.same(await gatewayChassis(), after, 'and moves no gateway chassis back');
  t.ok(await natAddresses(), 'and puts nat-addresses=router back');
});
