/**
 * The gateway layer's row renderers (src/gateway/rows.ts) and what the
 * planner makes of their rows, without a server: the rows apply plans are
 * those a failover renders for the same port; a map key wanted absent is
 * deleted, not written back as "false"; inserts are complete as built.
 */
import t from 'tap';
import { bfdPortRows, externalPortRows, gatewayChassisRows, staticRouteRow } from '../src/gateway/rows.js';
import { buildDesired, type Desired } from '../src/nat/desired.js';
import { parseManifest } from '../src/nat/manifest.js';
import { memoryNbView } from '../src/nat/nb-view.js';
import { buildPlan } from '../src/nat/plan.js';
import { rowKey, type RowSpec } from '../src/nat/rows.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';

const chassis = (names: string[]) => names.map((n) => ({ name: n, hostname: n, other_config: new Map(), external_ids: new Map() }));
const keyOf = (part: string) => rowKey('Vpc', 'v1', part);

t.test('an external port: the router port, its peer with nat-addresses=router, a Gateway_Chassis per slot under the port', async (t) => {
  const rows = externalPortRows(
    { router: 'v1', routerRef: keyOf('router'), network: 'ext', switchRef: 'Subnet/ext/switch', mac: '00:00:00:01:02:03', networks: ['10.0.0.2/24'], chassis: [{ chassis: 'c1', priority: 2 }, { chassis: 'c2', priority: 1 }] },
    keyOf,
  );
  t.same(rows.map((r) => `${r.table} ${r.part}`), ['Logical_Router_Port external:ext:port', 'Logical_Switch_Port external:ext:peer', 'Gateway_Chassis external:ext:chassis:c1', 'Gateway_Chassis external:ext:chassis:c2']);
  t.equal(rows[0].columns.name, 'v1-ext');
  t.same(rows[0].parent, { table: 'Logical_Router', ref: 'Vpc/v1/router', column: 'ports' });
  t.equal(rows[1].columns.name, 'ext-v1');
  t.equal((rows[1].columns.options as Map<string, string>).get('nat-addresses'), 'router');
  t.equal((rows[1].columns.options as Map<string, string>).get('router-port'), 'v1-ext');
  t.same(rows.slice(2).map((r) => [r.columns.name, r.columns.chassis_name, r.columns.priority, r.parent?.ref]), [
    ['v1-ext-c1', 'c1', 2, 'Vpc/v1/external:ext:port'],
    ['v1-ext-c2', 'c2', 1, 'Vpc/v1/external:ext:port'],
  ]);
});

t.test('a BFD port: its HA chassis group, an HA_Chassis per slot, the port bound to the group by reference', async (t) => {
  const rows = bfdPortRows({ router: 'v1', routerRef: keyOf('router'), networks: ['10.255.255.255/32'], mac: '00:00:00:00:00:01', chassis: [{ chassis: 'c1', priority: 1 }] }, keyOf);
  t.same(rows.map((r) => `${r.table} ${r.part}`), ['HA_Chassis_Group bfd-port:group', 'HA_Chassis bfd-port:chassis:c1', 'Logical_Router_Port bfd-port']);
  t.same(rows[2].columns.ha_chassis_group, { ref: 'Vpc/v1/bfd-port:group' });
  t.equal((rows[2].columns.options as Map<string, string>).get('bfd-only'), 'true');
  t.equal(rows[1].parent?.ref, 'Vpc/v1/bfd-port:group');
});

t.test('a static route without ECMP symmetric reply wants the option key absent (null), not "false"', async (t) => {
  const base = { router: 'v1', routerRef: keyOf('router'), cidr: '10.1.0.0/16', nexthop: '10.0.0.1', policy: 'dst-ip' as const };
  t.same([...(staticRouteRow({ ...base, symmetric: false }).columns.options as Map<string, unknown>)], [['ecmp_symmetric_reply', null]]);
  t.same([...(staticRouteRow({ ...base, symmetric: true }).columns.options as Map<string, unknown>)], [['ecmp_symmetric_reply', 'true']]);
  t.equal(staticRouteRow({ ...base, symmetric: false }).part, 'route:dst-ip::10.1.0.0/16:10.0.0.1', 'the part names the route');
});

t.test('apply plans a gateway port\'s chassis rows exactly as a failover renders them for that port', async (t) => {
  const nb = memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }] });
  const d = buildDesired(parseManifest(dualStackNetwork(['c1', 'c2', 'c3']), 'network.yaml'), nb, chassis(['c1', 'c2', 'c3']), { owner: 'o' });
  t.same(d.problems, []);
  const planned = d.rows.filter((r) => r.table === 'Gateway_Chassis');
  t.equal(planned.length, 3);
  const port = d.rows.find((r) => r.table === 'Logical_Router_Port' && r.part.endsWith(':port'))!;
  const network = port.part.split(':')[1];
  const slots = planned.map((r) => ({ chassis: String(r.columns.chassis_name), priority: Number(r.columns.priority) }));
  const rendered = gatewayChassisRows({ port: String(port.columns.name), portRef: port.key, network, chassis: slots });
  t.same(
    rendered.map((r) => ({ key: rowKey(port.kind, port.name, r.part), table: r.table, columns: r.columns, parent: r.parent })),
    planned.map((r) => ({ key: r.key, table: r.table, columns: r.columns, parent: r.parent })),
    'same keys, columns and parent',
  );
});

/** A Desired of given rows only. */
function desiredOf(rows: RowSpec[], reservations: Desired['reservations'] = []): Desired {
  return { rows, reservations, problems: [], warnings: [], originOf: () => undefined, specs: new Map(), deps: new Map() };
}
const owned = (kind: string, name: string, part: string, extra: [string, string][] = []) =>
  new Map([['ovn-natgw:owner', 'o'], ['ovn-natgw:kind', kind], ['ovn-natgw:name', name], ['ovn-natgw:part', part], ...extra]);

t.test('a map key wanted absent: deleted from the row that has it, nothing sent when the row lacks it', async (t) => {
  const nat = (options: Map<string, string>) => ({ _uuid: 'n1', type: 'dnat_and_snat' as const, external_ip: '10.0.0.5', logical_ip: '192.168.0.5', options, external_ids: owned('OvnFip', 'f', 'nat:4') });
  const spec: RowSpec = {
    table: 'NAT', key: 'OvnFip/f/nat:4', kind: 'OvnFip', name: 'f', part: 'nat:4', label: 'NAT f',
    parent: { table: 'Logical_Router', ref: 'uuid:r1', column: 'nat' },
    columns: { type: 'dnat_and_snat', external_ip: '10.0.0.5', logical_ip: '192.168.0.5', options: new Map([['stateless', null]]) },
  };
  const view = (options: Map<string, string>) =>
    memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }], Logical_Router: [{ _uuid: 'r1', name: 'r', nat: ['n1'], ports: [], static_routes: [], policies: [], load_balancer: [], external_ids: new Map() }], NAT: [nat(options)] });
  const had = buildPlan(desiredOf([spec]), view(new Map([['stateless', 'true'], ['other', 'x']])), 'o');
  t.same(had.ops, [{ op: 'mutate', table: 'NAT', where: [['_uuid', '==', 'n1']], mutations: [['options', 'delete', ['stateless']]] }], 'one mutate deleting the key; other keys left alone');
  t.same(buildPlan(desiredOf([spec]), view(new Map([['other', 'x']])), 'o').ops, [], 'nothing to do when the row lacks the key');
});

t.test('inserts are complete as built: children in their new parent, reservations and the ledger version in the new switch', async (t) => {
  const nb = memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }] });
  const d = buildDesired(parseManifest(dualStackNetwork(['c1', 'c2', 'c3']) + '---\nkind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: e1}\nspec: {externalSubnet: external204}\n', 'n.yaml'), nb, chassis(['c1', 'c2', 'c3']), { owner: 'o' });
  t.same(d.problems, []);
  const plan = buildPlan(d, nb, 'o');
  const inserts = plan.ops.filter((o) => o.op === 'insert') as { table: string; uuidName: string; row: Record<string, unknown> }[];
  const names = new Set(inserts.map((o) => o.uuidName));
  // nothing is attached to, or changed on, a row inserted in the same transaction
  const touchesNew = plan.ops.filter((o) => o.op !== 'insert' && JSON.stringify((o as { where?: unknown }).where ?? []).match(/"row\d+"/));
  t.same(touchesNew, [], 'no operation on a row inserted here');
  const byName = (table: string, name: string) => inserts.find((o) => o.table === table && o.row.name === name)!;
  const lr = byName('Logical_Router', 'ovn-cluster') ?? inserts.find((o) => o.table === 'Logical_Router')!;
  const lrps = inserts.filter((o) => o.table === 'Logical_Router_Port');
  t.ok(lrps.length > 0 && lrps.every((p) => (lr.row.ports as string[]).includes(p.uuidName)), 'the router insert holds its new ports');
  for (const p of lrps) {
    const gcs = inserts.filter((o) => o.table === 'Gateway_Chassis' && String(o.row.name).startsWith(`${String(p.row.name)}-`));
    t.same([...((p.row.gateway_chassis as string[] | undefined) ?? [])].sort(), gcs.map((g) => g.uuidName).sort(), `port ${String(p.row.name)} holds its Gateway_Chassis`);
  }
  const ls = byName('Logical_Switch', 'external204');
  const ext = ls.row.external_ids as Map<string, string>;
  t.equal(ext.get('ovn-natgw:ledger-version'), '1', 'the new ledger starts at version 1');
  t.ok([...ext].some(([k, v]) => k.startsWith('ovn-natgw:ip:') && v === 'o/OvnEip/e1'), 'the EIP\'s reservation is in the switch insert');
  t.ok([...names].length === inserts.length, 'uuid-names are unique');
});

t.test("a failover's egress stages alone render a centralized subnet's reroute policies as the whole build does, and nothing else of it", async (t) => {
  const nb = memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }] });
  const text = `${dualStackNetwork(['c1', 'c2', 'c3'])}---\nkind: Subnet\napiVersion: kubeovn.io/v1\nmetadata: {name: eg1}\nspec: {cidrBlock: 192.168.9.0/24, vpc: vpc1, gatewayType: centralized, gatewayNode: "c1:100.64.0.2,c2:100.64.0.3,c3:100.64.0.4"}\n`;
  const m = parseManifest(text, 'n.yaml');
  const live = new Set(['c2', 'c3']);
  const whole = buildDesired(m, nb, chassis(['c1', 'c2', 'c3']), { owner: 'o', live });
  const egress = buildDesired(m, nb, chassis(['c1', 'c2', 'c3']), { owner: 'o', live, only: 'egress' });
  t.same(whole.problems, []);
  t.same(egress.problems, []);
  const policies = (d: Desired) => d.rows.filter((r) => r.part.startsWith('egress:')).map((r) => [r.key, r.table, r.columns.match, r.columns.nexthops, r.parent?.ref]);
  t.equal(policies(whole).length, 1, 'the reroute policy');
  t.same(policies(egress), policies(whole), 'the same policies, same keys, same next hops (c1 is down: the next live node)');
  t.same(policies(egress).map((p) => p[3]), [['100.64.0.3']], 'the next hop: the first live node (c1 is down)');
  t.same(
    [...new Set(egress.rows.map((r) => r.table))].sort(),
    ['Logical_Router', 'Logical_Router_Policy', 'Logical_Switch', 'Logical_Switch_Port'],
    'besides: the networks and routers the policies hang on; no gateway port, slot or NAT row (a failover plans the slots itself)',
  );
  t.same(egress.rows.filter((r) => r.kind === 'Subnet' && (r.name === 'eg1' || r.name === 'vpc1-subnet1')).map((r) => r.part), ['egress:4'], "of the internal subnets, only the egress policy (not their router ports and switches)");
});

t.test("the egress stages alone refuse a centralized subnet whose Vpc is not there, rather than render no policy (which a failover would take as one to remove)", async (t) => {
  const nb = memoryNbView({ NB_Global: [{ _uuid: 'g', external_ids: new Map() }] });
  const text = `${dualStackNetwork(['c1', 'c2', 'c3'])}---\nkind: Subnet\napiVersion: kubeovn.io/v1\nmetadata: {name: eg2}\nspec: {cidrBlock: 192.168.8.0/24, vpc: gone, gatewayType: centralized, gatewayNode: "c1:100.64.0.2"}\n`;
  const d = buildDesired(parseManifest(text, 'n.yaml'), nb, chassis(['c1', 'c2', 'c3']), { owner: 'o', only: 'egress' });
  t.same(d.problems.map((p) => [p.kind, p.name, p.field, p.reason]), [['Subnet', 'eg2', 'spec.vpc', 'Vpc "gone" not found (neither in the input nor applied before)']]);
});
