// Two writers allocate EIPs from one external network at the same time.
//
// Two NatGateway instances with different owners ("a" and "b") share a real
// NB+SB. Each applies a manifest with the same external network
// (ProviderNetwork + Vlan + dual-stack Subnet) and 20 OvnEip of type nat
// without addresses per round, all rounds' EIPs kept, so the ledger grows.
// Both applies of a round start together (Promise.all): both plan against
// the same ledger, so they pick the same addresses; the first commit wins and
// the second fails its OVSDB `wait` on the switch's external_ids and plans
// again. The reservations are read back with ovn-nbctl from the
// Logical_Switch external_ids ("ovn-natgw:ip:<ip>" = "<owner>/OvnEip/<name>").
//
// Round 0 is also the creation race: the external switch does not exist yet
// and both writers want to create it.
import t, { type Test } from 'tap';
import { withSandbox, nbctl } from './helpers/sandbox.js';
import { NatGateway } from '../src/nat/apply.js';
import { parseManifest } from '../src/nat/manifest.js';
import { cidrContains, parseCidr, parseIp, parseIpRange } from '../src/nat/ip.js';
import type { Manifest } from '../src/nat/objects.js';
import type { Plan } from '../src/nat/plan.js';
import { waitFor } from './helpers/util.js';

const sb = await withSandbox(t);

const NET = 'ext-race';
const CIDRS = ['10.6.0.0/22', 'fd00:6::/64'];
const GATEWAYS = ['10.6.3.254', 'fd00:6::fe'];
const EXCLUDED = '10.6.0.1..10.6.0.20';
const EIPS_PER_ROUND = 20;
const ROUNDS = 6;
const OWNERS = ['a', 'b'] as const;
type Owner = (typeof OWNERS)[number];

const NETWORK_YAML = `apiVersion: kubeovn.io/v1
kind: ProviderNetwork
metadata:
  name: provider-race
spec:
  defaultInterface: eth1
---
apiVersion: kubeovn.io/v1
kind: Vlan
metadata:
  name: vlan-race
spec:
  id: 300
  provider: provider-race
---
apiVersion: kubeovn.io/v1
kind: Subnet
metadata:
  name: ${NET}
spec:
  protocol: Dual
  cidrBlock: ${CIDRS.join(',')}
  gateway: ${GATEWAYS.join(',')}
  vlan: vlan-race
  excludeIps:
  - ${EXCLUDED}
`;

const eipName = (owner: Owner, round: number, i: number) => `${owner}-r${round}-e${i}`;

/** The network plus the EIPs of rounds 0..upTo of one owner (earlier rounds stay: the ledger grows). */
function manifestOf(owner: Owner, upTo: number): Manifest {
  const docs = [NETWORK_YAML];
  for (let r = 0; r <= upTo; r++) {
    for (let i = 0; i < EIPS_PER_ROUND; i++) {
      docs.push(`kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata:\n  name: ${eipName(owner, r, i)}\nspec:\n  externalSubnet: ${NET}\n  type: nat\n`);
    }
  }
  return parseManifest(docs.join('---\n'), `race-${owner}.yaml`);
}

/** Every Logical_Switch as ovn-nbctl lists it: name, uuid, external_ids. */
async function listSwitches(): Promise<{ uuid: string; name: string; ids: Map<string, string> }[]> {
  const out = JSON.parse(await nbctl(sb, '--format=json', '--data=json', '--columns=_uuid,name,external_ids', 'list', 'Logical_Switch')) as {
    data: [['uuid', string], string, ['map', [string, string][]]][];
  };
  return out.data.map(([[, uuid], name, [, ids]]) => ({ uuid, name, ids: new Map(ids) }));
}

/** The reservation ledger of the external network, per holder: holder -> addresses. */
function ledgerByHolder(ids: ReadonlyMap<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, v] of ids) {
    if (!k.startsWith('ovn-natgw:ip:')) continue;
    const l = out.get(v) ?? [];
    l.push(k.slice('ovn-natgw:ip:'.length));
    out.set(v, l);
  }
  return out;
}

/** An address the network may hand out: inside a CIDR, not excluded, not a gateway. */
function assignable(text: string): boolean {
  const ip = parseIp(text);
  if (!ip) return false;
  const range = parseIpRange(EXCLUDED)!;
  if (ip.family === range.family && ip.value >= range.first && ip.value <= range.last) return false;
  return CIDRS.some((c) => cidrContains(parseCidr(c)!, ip)) && !GATEWAYS.includes(ip.text);
}

const writers = new Map<Owner, NatGateway>();
// apply first catches up with NB (an echo round trip), which on its own often
// lets one writer commit before the other plans; during the racing rounds both
// writers meet here after catching up, so that both plan from the same NB and
// really collide
let waiting: (() => void)[] = [];
let racing = false;
const meet = () =>
  new Promise<void>((res) => {
    if (!racing) return res();
    waiting.push(res);
    if (waiting.length === OWNERS.length) for (const r of waiting.splice(0)) r();
  });
for (const owner of OWNERS) {
  const gw = new NatGateway({ nb: sb.nbRemote, sb: sb.sbRemote });
  await gw.connect();
  const caughtUp = gw.caughtUp.bind(gw);
  gw.caughtUp = async () => {
    await caughtUp();
    await meet();
  };
  writers.set(owner, gw);
}
t.teardown(async () => {
  for (const gw of writers.values()) await gw.close();
});

/**
 * The state after round `upTo`, read with ovn-nbctl: one switch for the
 * network; every EIP of both owners so far holds exactly one IPv4 and one
 * IPv6 address; no other holder; no address twice; all assignable. Returns
 * the ledger (ip -> holder) for further checks.
 */
async function checkLedger(t: Test, upTo: number): Promise<Map<string, string>> {
  const nets = (await listSwitches()).filter((s) => s.name === NET);
  t.equal(nets.length, 1, `exactly one Logical_Switch ${NET} (got ${nets.map((s) => s.uuid).join(', ')})`);
  // an address on two rows of the same name would be handed out twice: count over all of them
  const holderOf = new Map<string, string>();
  const twice: string[] = [];
  for (const s of nets) {
    for (const [holder, ips] of ledgerByHolder(s.ids)) {
      for (const ip of ips) {
        if (holderOf.has(ip)) twice.push(`${ip}: ${holderOf.get(ip)} and ${holder}`);
        holderOf.set(ip, holder);
      }
    }
  }
  t.same(twice, [], 'no address is reserved twice');
  const byHolder = new Map<string, string[]>();
  for (const [ip, holder] of holderOf) byHolder.set(holder, [...(byHolder.get(holder) ?? []), ip]);
  const expected = new Set<string>();
  for (const owner of OWNERS) for (let r = 0; r <= upTo; r++) for (let i = 0; i < EIPS_PER_ROUND; i++) expected.add(`${owner}/OvnEip/${eipName(owner, r, i)}`);
  t.same([...byHolder.keys()].filter((h) => !expected.has(h)), [], 'no reservation for anything else');
  const bad: string[] = [];
  for (const h of expected) {
    const ips = byHolder.get(h) ?? [];
    const v4 = ips.filter((x) => !x.includes(':'));
    const v6 = ips.filter((x) => x.includes(':'));
    if (v4.length !== 1 || v6.length !== 1) bad.push(`${h}: ${ips.join(', ') || 'nothing'}`);
    for (const ip of ips) if (!assignable(ip)) bad.push(`${h}: ${ip} is not assignable in ${NET}`);
  }
  t.same(bad, [], `each of the ${expected.size} EIPs holds exactly one IPv4 and one IPv6 address of the network`);
  return holderOf;
}

t.test(`${ROUNDS} rounds of two concurrent applies, ${EIPS_PER_ROUND} new EIPs per writer each`, async (t) => {
  const retries: Record<Owner, number> = { a: 0, b: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    racing = true;
    const results = await Promise.all(
      OWNERS.map(async (owner) => ({ owner, r: await writers.get(owner)!.apply(manifestOf(owner, round), { owner }) })),
    );
    racing = false;
    for (const { owner, r } of results) {
      t.ok(r.transacted, `round ${round}: ${owner} committed (after ${r.attempts} attempt${r.attempts > 1 ? 's' : ''})`);
      retries[owner] += r.attempts - 1;
    }
    const ledger = await checkLedger(t, round);
    // what each writer believes its EIPs hold (its own plan, from its replica) is what NB says
    for (const owner of OWNERS) {
      const view = new Map<string, string[]>();
      for (const res of writers.get(owner)!.desired(manifestOf(owner, round), { owner }).reservations) {
        if (res.kind === 'OvnEip') view.set(res.name, [...(view.get(res.name) ?? []), res.ip]);
      }
      const wrong: string[] = [];
      for (let r = 0; r <= round; r++) {
        for (let i = 0; i < EIPS_PER_ROUND; i++) {
          const name = eipName(owner, r, i);
          const ips = view.get(name) ?? [];
          for (const ip of [ips.find((x) => !x.includes(':')), ips.find((x) => x.includes(':'))]) if (!ip || ledger.get(ip) !== `${owner}/OvnEip/${name}`) wrong.push(`${name}: ${ip ?? 'none'} is ${ip ? (ledger.get(ip) ?? 'unreserved') : '-'}`);
        }
      }
      t.same(wrong, [], `round ${round}: writer ${owner}'s view of its addresses matches the ledger`);
    }
  }
  t.comment(`conflict retries: a ${retries.a}, b ${retries.b}`);
  // the test only means something if the writers really collided
  t.ok(retries.a + retries.b >= 1, `the race was exercised: ${retries.a + retries.b} apply retries after a wait conflict`);

  // settled: a second apply of the same manifests sends nothing
  for (const owner of OWNERS) {
    const r = await writers.get(owner)!.apply(manifestOf(owner, ROUNDS - 1), { owner });
    t.notOk(r.transacted, `a re-apply by ${owner} sends no transaction`);
  }
});

/**
 * Who created the shared switch in round 0's race (either may win it): the
 * owner whose rows it is, and the other, whose Subnet uses it as it is.
 */
async function roles(): Promise<{ creator: Owner; other: Owner }> {
  const owner = (await nbctl(sb, 'get', 'Logical_Switch', NET, 'external_ids:"ovn-natgw:owner"')).replace(/"/g, '') as Owner;
  return { creator: owner, other: owner === 'a' ? 'b' : 'a' };
}

t.test('an owner that drops the shared network leaves the other owner its reservations', async (t) => {
  const before = await checkLedger(t, ROUNDS - 1);
  const { creator: A, other: B } = await roles();
  // the creator's manifest is now empty: every row it owns leaves, but the switch holds the other's reservations
  const r = await writers.get(A)!.apply({ objects: [], notices: [] }, { owner: A, allowEmpty: true });
  t.ok(r.transacted, `${A} applied its empty manifest`);
  const nets = (await listSwitches()).filter((s) => s.name === NET);
  t.equal(nets.length, 1, `Logical_Switch ${NET} is still there (it holds ${B}'s reservations)`);
  const after = new Map([...(nets[0]?.ids ?? [])].filter(([k]) => k.startsWith('ovn-natgw:ip:')).map(([k, v]) => [k.slice('ovn-natgw:ip:'.length), v]));
  const bOnly = new Map([...before].filter(([, v]) => v.startsWith(`${B}/`)));
  t.same(after, bOnly, `${B}'s reservations are unchanged and ${A}'s are released`);
  t.equal(await nbctl(sb, 'lsp-get-type', `localnet.${NET}`), 'localnet', `${B} keeps its uplink: localnet.${NET} stays with the switch`);
  t.ok(
    r.plan.warnings.some((w) => w.startsWith(`Logical_Switch_Port localnet.${NET} (Subnet/${NET}) left the manifest but is kept: its switch stays for rows of others`)),
    'a warning says why',
    { warnings: r.plan.warnings },
  );

  // the other re-applies: its addresses stay, the localnet port is used as it is
  const rb = await writers.get(B)!.apply(manifestOf(B, ROUNDS - 1), { owner: B });
  t.same(
    rb.plan.changes.filter((c) => c.table === 'Logical_Switch').map((c) => c.label),
    [],
    `${B} reserves nothing anew`,
  );
  t.equal(await nbctl(sb, 'lsp-get-type', `localnet.${NET}`), 'localnet', `localnet.${NET} exists`);
  t.equal((await nbctl(sb, 'get', 'Logical_Switch_Port', `localnet.${NET}`, 'options:network_name')).replace(/"/g, ''), 'provider-race', 'on the provider network');
});

t.test('deleting the shared switch races a reservation: the stale delete is a conflict, the last owner out removes it', async (t) => {
  const { creator: A, other: B } = await roles();
  const [a, b] = [writers.get(A)!, writers.get(B)!];
  const empty: Manifest = { objects: [], notices: [] };
  // the other leaves: its reservations go; the switch is the creator's, so it stays for the creator to remove
  t.ok((await b.apply(empty, { owner: B, allowEmpty: true })).transacted, `${B} applied its empty manifest`);
  const [sw] = (await listSwitches()).filter((s) => s.name === NET);
  t.same(ledgerByHolder(sw?.ids ?? new Map()), new Map(), 'no reservations left');

  // a plans to delete the now unused switch; before a commits, b reserves on it again
  const deletesSwitch = (p: Plan) => p.changes.some((c) => c.action === 'remove' && c.label.startsWith(`Logical_Switch ${NET}`));
  t.ok(await waitFor(() => deletesSwitch(a.plan(empty, { owner: A, allowEmpty: true }))), `${A}'s plan deletes the switch (once ${A}'s replica has seen ${B} leave)`);
  const stale = a.plan(empty, { owner: A, allowEmpty: true });
  const rb = await b.apply(manifestOf(B, 0), { owner: B });
  t.ok(rb.transacted, `${B} reserved ${EIPS_PER_ROUND} EIPs on the switch ${A} is about to delete`);
  const err = await a.nbClient.transact([...stale.ops]).catch((e: unknown) => e);
  t.equal((err as Error).name, 'TransactionError', `${A}'s stale delete fails`);
  t.ok((err as { isConflict?: boolean }).isConflict, 'as a wait conflict (apply would re-plan)');
  const after = (await listSwitches()).filter((s) => s.name === NET);
  t.equal(after.length, 1, 'the switch is still there');
  t.equal(ledgerByHolder(after[0]?.ids ?? new Map()).size, EIPS_PER_ROUND, `with ${B}'s reservations`);

  // through apply, the creator re-plans and keeps the switch (it holds the other's reservations)
  const ra = await a.apply(empty, { owner: A, allowEmpty: true });
  t.ok(ra.plan.warnings.some((w) => w.includes(`Logical_Switch ${NET}`) && w.includes('is kept')), `${A} keeps the switch and says why`);
  t.equal((await listSwitches()).filter((s) => s.name === NET).length, 1, 'the switch is still there');

  // the other leaves for good, then the creator's next apply removes the switch: nothing of either owner remains
  await b.apply(empty, { owner: B, allowEmpty: true });
  // (the creator plans from its replica: let it see the other's commit first, or it rightly keeps the switch once more)
  t.ok(await waitFor(() => deletesSwitch(a.plan(empty, { owner: A, allowEmpty: true }))), `${A}'s replica has seen ${B} leave`);
  await a.apply(empty, { owner: A, allowEmpty: true });
  t.same((await listSwitches()).filter((s) => s.name === NET), [], `Logical_Switch ${NET} is gone`);
  for (const owner of OWNERS) {
    for (const table of ['Logical_Switch', 'Logical_Switch_Port']) {
      t.equal(await nbctl(sb, '--bare', '--columns=_uuid', 'find', table, `external_ids:"ovn-natgw:owner"=${owner}`), '', `no ${table} of ${owner} left`);
    }
  }
});
