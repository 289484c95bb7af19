/**
 * NatGateway.rebalance on the sandbox: twelve routers whose actives were
 * piled onto one of four gateway chassis (by draining the other three);
 * undrained, one rebalance makes the fewest moves (nine) to lead three
 * each, in one transaction, and a later apply of the manifest keeps the
 * new order. Checked with ovn-nbctl.
 */
import t from 'tap';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { buildWorkload } from '../bench/workload.js';
import { workloadDocuments } from '../bench/workload-yaml.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';

const sb = await withSandbox(t);
const nodes = await addChassisRows(sb, 4);
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());
const manifest = () => parseManifest(workloadDocuments(buildWorkload({ routers: 12, fips: 24 })).join('---\n'), 'workload.yaml');

/** Per chassis, how many gateway ports it leads, as ovn-nbctl lists them. */
async function leads(): Promise<number[]> {
  const counts = new Map(nodes.map((n) => [n, 0]));
  for (const lrp of (await nbctl(sb, '--bare', '--columns=name', 'find', 'Logical_Router_Port', 'gateway_chassis!=[]')).split(/\s+/).filter(Boolean)) {
    const top = (await nbctl(sb, 'lrp-get-gateway-chassis', lrp)).trim().split('\n')[0].trim().split(/\s+/)[0].slice(lrp.length + 1);
    counts.set(top, (counts.get(top) ?? 0) + 1);
  }
  return nodes.map((n) => counts.get(n)!);
}

t.test('piled onto one chassis, rebalanced with the fewest moves', async (t) => {
  await gw.apply(manifest());
  t.same(await leads(), [3, 3, 3, 3], 'applied: the actives spread');
  const draining = new Set<string>();
  for (const c of nodes.slice(0, 3)) {
    await gw.drain(c, { draining });
    draining.add(c);
  }
  t.same(await leads(), [0, 0, 0, 12], 'three drained: every port led by the fourth');
  const r = await gw.rebalance();
  t.equal(r.moves.length, 9, 'nine moves: the fewest that leave three each');
  t.ok(r.transacted && r.attempts === 1, 'one transaction');
  t.same([...new Set(r.plan.changes.map((c) => c.table))], ['Gateway_Chassis'], 'only Gateway_Chassis rows');
  t.same(await leads(), [3, 3, 3, 3], 'ovn-nbctl: three each');
  const again = await gw.apply(manifest());
  t.equal(again.transacted, false, 'a later apply keeps the new order');
  t.same((await gw.rebalance()).moves, [], 'balanced: nothing to move');
});
