/**
 * A delete goes through the planner, guarded like an apply: the switch it
 * removes is deleted only as the plan read it, so a workload port the CNI adds
 * between the plan and the commit is never taken along (the delete fails its
 * `wait` and, planned again, is refused naming the port). Against a real OVN,
 * checked with ovn-nbctl.
 */
import t from 'tap';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import type { ManifestObject } from '../src/nat/objects.js';
import { TransactionError } from '../src/ovsdb/errors.js';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { catchAsync, until } from './helpers/util.js';

const sb = await withSandbox(t);
await addChassisRows(sb, 3);
const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
await gw.connect();
t.teardown(() => gw.close());
await gw.apply(parseManifest(dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']), 'network.yaml'));
const subnet = [{ kind: 'Subnet', name: 'vpc1-subnet1' }] as ManifestObject[];

t.test('a workload port added between the plan and the commit: the stale delete fails its wait, NB keeps the switch and the port', async (t) => {
  const plan = gw.plan({ objects: subnet, notices: [] }, { mode: 'delete' });
  t.ok(plan.changes.some((c) => c.action === 'remove' && c.label.startsWith('Logical_Switch vpc1-subnet1')), 'the plan removes the switch');
  t.ok(plan.ops.some((o) => o.op === 'wait' && o.table === 'Logical_Switch'), 'guarded by a wait on the switch as read');
  // the CNI adds a pod's port meanwhile
  await nbctl(sb, 'lsp-add', 'vpc1-subnet1', 'pod-late', '--', 'lsp-set-addresses', 'pod-late', '00:00:00:00:0a:01 192.168.0.77');
  const err = await catchAsync(gw.nbClient.transact([...plan.ops]));
  t.type(err, TransactionError, 'the stale delete is refused by the server');
  t.ok((err as TransactionError).isConflict, 'as a wait conflict (an apply plans again)');
  t.match(await nbctl(sb, 'show', 'vpc1-subnet1'), /port pod-late/, 'ovn-nbctl show: the switch and the new port are there');
  // through apply: planned again, and refused with the port named
  await until('the replica to see the port', () => [...gw.nb.table('Logical_Switch_Port').values()].some((p) => p.name === 'pod-late'));
  const refused = await catchAsync(gw.apply({ objects: subnet, notices: [] }, { mode: 'delete' }));
  t.match((refused as Error)?.message, /Subnet vpc1-subnet1.*: metadata\.name: its switch vpc1-subnet1 holds Logical_Switch_Port pod-late; delete those first/, 'planned again: refused, naming the port');
  t.match(await nbctl(sb, 'show', 'vpc1-subnet1'), /port pod-late/, 'still there');
  // without the port, the delete goes through
  await nbctl(sb, 'lsp-del', 'pod-late');
  await until('the replica to lose the port', () => ![...gw.nb.table('Logical_Switch_Port').values()].some((p) => p.name === 'pod-late'));
  const ok = await gw.apply({ objects: subnet, notices: [] }, { mode: 'delete' });
  t.ok(ok.transacted, 'deleted');
  t.equal(await nbctl(sb, '--bare', '--columns=name', 'find', 'Logical_Switch', 'name=vpc1-subnet1'), '', 'ovn-nbctl: the switch is gone');
});
