/**
 * ovn-natgwctl as a new user meets it, against a real OVN (ovsdb-server NB/SB,
 * ovn-northd), through the bin as an operator runs it (a child process) and
 * its main() in this process where a terminal must be pretended:
 *  - no silent deletion: an input without objects is refused, `apply -f`
 *    removes nothing that is not in it (kubectl apply), `--prune` does and
 *    refuses an empty input, `delete -f` deletes a file's objects, and a file
 *    names objects applied before from another file;
 *  - no hangs: every unreachable database fails fast with its cause, and
 *    --timeout bounds the command;
 *  - manners: help per command, --version, usage errors with exit status 2,
 *    kubectl's output shapes, readable deletes, follow-on errors said as such.
 * NB is checked with ovn-nbctl. The subtests share one sandbox and run in order.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { main } from '../src/cli/natgwctl.js';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { runBin } from './helpers/bin.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { diff, nbSnapshots } from './helpers/nb-snapshot.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { spawnOvsdbServer } from './helpers/ovsdb-server.js';
import { tempDir } from './helpers/util.js';

const sb = await withSandbox(t);
await addChassisRows(sb, 3);
const dir = await tempDir(t, 'natgw-cli-');
const { settle, snapshot } = nbSnapshots(sb);
const env = { OVN_NB_DB: sb.nbRemote, OVN_SB_DB: sb.sbRemote };
const ctl = (...args: string[]) => runBin(args, env);
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const file = async (name: string, text: string) => {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
};
const eip = (name: string, ip?: string) => `kind: OvnEip\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {externalSubnet: external204${ip ? `, v4Ip: ${ip}` : ''}}\n`;
const fip = (name: string, e: string, ip: string) => `kind: OvnFip\napiVersion: kubeovn.io/v1\nmetadata: {name: ${name}}\nspec: {ovnEip: ${e}, vpc: vpc1, v4Ip: ${ip}}\n`;
const natList = async () => (await nbctl(sb, 'lr-nat-list', 'vpc1')).split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' ')).filter(Boolean).sort();

/** NB as ovsdb-client reads it, before and after `fn`: what it changed (NB_Global included). */
async function nbChangedBy(fn: () => Promise<unknown>): Promise<string[]> {
  await settle();
  const a = await snapshot();
  await fn();
  return diff(a, await snapshot());
}

const NETWORK = await file('network.yaml', dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']));

t.test('no silent deletion: an input without objects is refused, with exit status 1 and NB unchanged', async (t) => {
  t.equal((await ctl('apply', '-f', NETWORK)).code, 0, 'the network and vpc1 applied');
  const empty = await file('empty.yaml', '');
  const comments = await file('comments.yaml', '# nothing here yet\n---\n# and here\n');
  const emptyDir = path.join(dir, 'empty.d');
  await mkdir(emptyDir);
  for (const [what, args, err] of [
    ['an empty file', ['apply', '-f', empty], `no objects in ${empty}`],
    ['a comment-only file', ['apply', '-f', comments], `no objects in ${comments}`],
    ['a comment-only file with --prune', ['apply', '--prune', '-f', comments], `no objects in ${comments}`],
    ['an empty file to plan', ['plan', '--prune', '-f', empty], `no objects in ${empty}`],
    ['an empty file to delete', ['delete', '-f', empty], `no objects in ${empty}`],
    ['an empty directory', ['apply', '--prune', '-f', emptyDir], 'no *.yaml, *.yml or *.json files in this directory'],
    ['a missing file', ['apply', '--prune', '-f', path.join(dir, 'nope.yaml')], 'cannot read'],
  ] as const) {
    let r!: Awaited<ReturnType<typeof ctl>>;
    t.same(await nbChangedBy(async () => (r = await ctl(...args))), [], `${what}: NB unchanged`);
    t.equal(r.code, 1, `${what}: exit status 1`);
    t.match(r.stderr, err, `${what}: ${err}`);
  }
  t.match(await nbctl(sb, 'show', 'vpc1'), /port vpc1-external204/, 'vpc1 is still there');
});

t.test('apply -f is kubectl apply: a second file adds its objects and removes nothing; objects it names come from NB', async (t) => {
  await nbctl(sb, 'lsp-add', 'vpc1-subnet1', 'vm1', '--', 'lsp-set-addresses', 'vm1', '00:00:00:00:01:01 192.168.0.10');
  const eips = await file('eips.yaml', eip('eip-a', '10.5.204.150') + '---\n' + eip('eip-b'));
  const fips = await file('fips.yaml', fip('fip-a', 'eip-a', '192.168.0.10'));
  let r = await ctl('apply', '-f', eips);
  t.equal(r.code, 0, r.stderr);
  t.match(await nbctl(sb, 'show', 'vpc1'), /port vpc1-external204/, 'the network file\'s objects stay when another file is applied');
  // the FIP's EIP (and its network and VPC) were applied from other files: read from NB
  r = await ctl('apply', '-f', fips);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\+ NAT dnat_and_snat 10\.5\.204\.150 <-> 192\.168\.0\.10 \(router vpc1\)$/m, 'the FIP on its EIP from eips.yaml');
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.10'], 'lr-nat-list vpc1');
  t.match((await ctl('get', 'oeip')).stdout, /^eip-b\s+10\.5\.204\.\d+\s+fd00:5::\S+\s+nat\s+true$/m, 'eip-b is still there');
  const again = await ctl('apply', '-f', eips, '-f', fips);
  t.equal(again.stdout, 'no changes\n', 'applying both files again: no changes');
  // and the FIP's own file again, after the EIP file changed eip-b only
  t.equal((await ctl('apply', '-f', await file('eips.yaml', eip('eip-a', '10.5.204.150') + '---\n' + eip('eip-b', '10.5.204.160')))).code, 0);
  t.match((await ctl('get', 'oeip', 'eip-b')).stdout, /^eip-b\s+10\.5\.204\.160\s/m, 'eip-b moved to its given address');
  t.same(await natList(), ['dnat_and_snat 10.5.204.150 192.168.0.10'], 'the FIP is as it was');
});

t.test('plan shows exactly what apply does with the same flags', async (t) => {
  const more = await file('more.yaml', eip('eip-c') + '---\n' + fip('fip-c', 'eip-c', '192.168.0.11'));
  for (const flags of [[], ['--prune']]) {
    const input = flags.length ? ['-f', NETWORK, '-f', path.join(dir, 'eips.yaml'), '-f', more] : ['-f', more];
    const plan = await ctl('plan', ...flags, ...input);
    t.equal(plan.code, 0, plan.stderr);
    const applied = await ctl('apply', ...flags, ...input);
    t.equal(applied.code, 0, applied.stderr);
    const lines = (s: string) => s.split('\n').slice(0, -2);
    t.same(lines(applied.stdout), lines(plan.stdout), `apply ${flags.join(' ')}: the lines plan showed`);
    t.equal(plan.stdout.split('\n').at(-2)!.replace('plan:', ''), applied.stdout.split('\n').at(-2)!.replace('applied in one transaction:', ''), 'the same counts');
    if (flags.length) t.match(plan.stdout, /^- NAT dnat_and_snat 10\.5\.204\.150 <-> 192\.168\.0\.10 \(left the manifest\)$/m, '--prune: fip-a, which is not in the input, goes');
    else t.notMatch(plan.stdout, /^- /m, 'without --prune nothing goes');
  }
  const eipC = /^eip-c\s+(\S+)/m.exec((await ctl('get', 'oeip', 'eip-c')).stdout)![1];
  t.same(await natList(), [`dnat_and_snat ${eipC} 192.168.0.11`], 'lr-nat-list vpc1: only fip-c after --prune');
});

t.test('delete -f deletes the objects of a file, printing what plan would say; refused while another object uses one', async (t) => {
  const more = path.join(dir, 'more.yaml');
  const eipOnly = await file('eip-c.yaml', eip('eip-c'));
  let r!: Awaited<ReturnType<typeof ctl>>;
  t.same(await nbChangedBy(async () => (r = await ctl('delete', '-f', eipOnly))), [], 'refused: NB unchanged');
  t.equal(r.code, 1);
  t.match(r.stderr, /^ovn-natgwctl: nothing was written:\nOvnEip eip-c: metadata\.name: in use by OvnFip fip-c; delete those first$/m, 'the EIP is in use by the FIP');
  r = await ctl('delete', '-f', more);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^- NAT dnat_and_snat 10\.5\.204\.\d+ <-> 192\.168\.0\.11 \(deleted\)$/m, 'the FIP, by its label');
  t.match(r.stdout, /^- reservation 10\.5\.204\.\d+ on external204 \(ovn-natgw\/OvnEip\/eip-c\)$/m, 'the EIP\'s reservation');
  t.notMatch(r.stdout, /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no UUIDs');
  t.match(r.stdout, /^deleted in one transaction: 0 to add, 0 to change, 3 to remove$/m, "the FIP's NAT row and the EIP's IPv4 and IPv6 reservations");
  t.same(await natList(), [], 'lr-nat-list vpc1: empty');
  const gone = await ctl('delete', 'ofip', 'fip-c');
  t.equal(gone.code, 1, 'deleting it again: exit 1');
  t.match(gone.stderr, /OvnFip fip-c: metadata\.name: not found \(owner ovn-natgw\)/);
});

t.test('no hangs: a database that cannot be reached fails at once with its cause, and the process exits', async (t) => {
  const closedPort = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
  const stopped = await spawnOvsdbServer(t, { dir: await tempDir(t, 'natgw-cli-stopped-'), remotes: [`punix:${path.join(dir, 'stopped.sock')}`] });
  const { waitFor } = await import('./helpers/util.js');
  await waitFor(async () => (await runBin(['--db', `unix:${path.join(dir, 'stopped.sock')}`, 'get', 'vpc'])).code === 0);
  process.kill(stopped.pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(stopped.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  for (const [what, args, cause] of [
    ['no such socket', ['--db', `unix:${path.join(dir, 'nothing.sock')}`, 'get', 'ofip'], /cannot connect: .*nothing\.sock: connect ENOENT .* \(no such socket\)/],
    ['connection refused', ['--db', `tcp:127.0.0.1:${closedPort}`, 'get', 'ofip'], new RegExp(`cannot connect: .*tcp:127\\.0\\.0\\.1:${closedPort}: connect ECONNREFUSED .*\\(connection refused\\)`)],
    ['another database', ['--db', sb.sbRemote, 'get', 'ofip'], /does not serve database OVN_Northbound \(it has OVN_Southbound/],
    ['SB on an NB socket', ['--db', sb.nbRemote, '--sb', sb.nbRemote, 'get', 'ofip'], /does not serve database OVN_Southbound \(it has OVN_Northbound/],
    ['a stopped server', ['--db', `unix:${path.join(dir, 'stopped.sock')}`, 'get', 'ofip'], /cannot connect: .*stopped\.sock\): list_dbs: no reply within 5000 ms/],
    ['--timeout', ['--db', `unix:${path.join(dir, 'stopped.sock')}`, '--timeout', '1', 'apply', '-f', NETWORK], /timed out after 1 s \(while connecting to NB unix:/],
    ['a TLS key that is not there', ['--db', 'ssl:127.0.0.1:1', '-p', path.join(dir, 'no.key'), '-c', path.join(dir, 'no.crt'), '-C', path.join(dir, 'no.pem'), 'get', 'ofip'], /cannot read private key ".*no\.key"/],
    ['no NB given', ['get', 'ofip'], /no NB database: give --db or set OVN_NB_DB/],
  ] as const) {
    const r = await runBin([...args], what === 'no NB given' ? {} : {}, { timeoutMs: 30_000 });
    t.not(r.code, -1, `${what}: the process exits by itself`);
    t.not(r.code, 0, `${what}: a failure`);
    t.match(r.stderr, cause, `${what}: the cause on stderr`);
    t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  }
});

t.test('without SB: what cannot be checked says so, and a new gateway port is refused instead of placed blindly', async (t) => {
  const noSb = { OVN_NB_DB: sb.nbRemote };
  const g = await runBin(['get', 'vpc'], noSb);
  t.equal(g.code, 0, g.stderr);
  t.match(g.stderr, /SB not given \(--sb or OVN_SB_DB\): READY does not check that the gateway chassis are SB chassis/);
  t.notMatch(g.stdout + g.stderr, /is not an SB chassis|is an SB chassis/, 'no claim about SB chassis');
  const vpc2 = await file('vpc2.yaml', 'kind: Vpc\napiVersion: kubeovn.io/v1\nmetadata: {name: vpc2}\nspec: {enableExternal: true}\n');
  let r!: Awaited<ReturnType<typeof ctl>>;
  t.same(await nbChangedBy(async () => (r = await runBin(['apply', '-f', vpc2], noSb))), [], 'NB unchanged');
  t.equal(r.code, 1);
  t.match(r.stderr, /Vpc vpc2 \(.*vpc2\.yaml, document 1\): spec\.enableExternal: gateway port vpc2-external204 gets no gateway chassis: SB was not given \(--sb or OVN_SB_DB\), so the gateway nodes cannot be checked/);
  // vpc1, placed earlier with SB, keeps its chassis when applied without it
  const keep = await runBin(['apply', '-f', NETWORK], noSb);
  t.equal(keep.code, 0, keep.stderr);
  t.equal(keep.stdout, 'no changes\n', 'vpc1 applied without SB: its gateway chassis stay as they are');
});

t.test('an apply is done when its commit is seen: no timer is left behind', async (t) => {
  const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
  const out = new Writable({ write: (_c, _e, cb) => cb() });
  const before = timers();
  const code = await main(['--db', sb.nbRemote, '--sb', sb.sbRemote, 'apply', '-f', await file('eip-d.yaml', eip('eip-d'))], out, out as unknown as NodeJS.WritableStream);
  t.equal(code, 0);
  t.ok(timers() <= before, `no timer of the apply is still pending (${timers()} now, ${before} before)`);
});

t.test('manners: help per command, --version, usage errors exit 2 with our own message', async (t) => {
  const help = await ctl('--help');
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: ovn-natgwctl \[options\] \[command\]/m);
  for (const c of ['plan', 'apply', 'get', 'delete']) t.match(help.stdout, new RegExp(`^  ${c} `, 'm'), `--help lists ${c}`);
  const getHelp = await ctl('get', '--help');
  t.equal(getHelp.code, 0);
  t.match(getHelp.stdout, /^Usage: ovn-natgwctl get \[options\] <KIND> \[NAME\.\.\.\]/m, 'get --help: its usage');
  t.match(getHelp.stdout, /-o, --output <FORMAT>/, 'and its options');
  t.match((await ctl('apply', '--help')).stdout, /--prune/, 'apply --help: --prune');
  const v = await ctl('--version');
  t.same([v.code, v.stdout], [0, `${VERSION}\n`], '--version');
  for (const [what, args, msg] of [
    ['no command', [], /^Usage: ovn-natgwctl \[options\] \[command\]/m],
    ['an unknown command', ['frobnicate'], /^ovn-natgwctl: unknown command "frobnicate"/m],
    ['an unknown option', ['get', 'ofip', '--frob'], /^ovn-natgwctl: unknown option '--frob'/m],
    ['--gateway-chassis 0', ['apply', '-f', NETWORK, '--gateway-chassis', '0'], /^ovn-natgwctl: option '--gateway-chassis <K>' argument '0' is invalid\. --gateway-chassis must be an integer from 1 to 5, got "0"/m],
    ['--gateway-chassis 6', ['plan', '-f', NETWORK, '--gateway-chassis', '6'], /must be an integer from 1 to 5, got "6"/],
    ['--gateway-chassis x', ['plan', '-f', NETWORK, '--gateway-chassis', 'x'], /must be an integer from 1 to 5, got "x"/],
    ['-o bogus', ['get', 'ofip', '-o', 'bogus'], /^ovn-natgwctl: option '-o, --output <FORMAT>' argument 'bogus' is invalid\. Allowed choices are table, wide, name, json, yaml/m],
    ['--timeout -1', ['--timeout', '-1', 'get', 'ofip'], /--timeout must be a number of seconds/],
    ['apply without -f', ['apply'], /^ovn-natgwctl: required option '-f, --filename <FILE>' not specified/m],
    ['an unknown kind', ['get', 'frogs'], /^ovn-natgwctl: get: unknown kind "frogs" \(kinds: oeip, ofip, osnat, odnat, vpc, subnet, vip, vlan, pn, cm\)/m],
    ['delete without names', ['delete', 'ofip'], /^ovn-natgwctl: delete: give KIND NAME\.\.\. or -f FILE/m],
  ] as const) {
    const r = await ctl(...args);
    t.equal(r.code, 2, `${what}: exit status 2`);
    t.match(r.stderr, msg, `${what}: the message`);
    t.notMatch(r.stderr, /ERR_PARSE_ARGS|TypeError|\n\s+at /, `${what}: not Node's parser text, no stack`);
  }
});

t.test('get: kubectl names and shapes', async (t) => {
  t.equal((await ctl('apply', '-f', path.join(dir, 'fips.yaml'))).code, 0, 'fip-a again');
  const names = ['ofip', 'ofips', 'OvnFip', 'ovnfips', 'ovn-fips', 'ovnfips.kubeovn.io'];
  const outs = await Promise.all(names.map((n) => ctl('get', n)));
  for (const [i, o] of outs.entries()) t.equal(o.stdout, outs[0].stdout, `get ${names[i]} = get ofip`);
  t.match(outs[0].stdout, /^NAME\s+VPC\s+V4EIP\s+V4IP\s+V6EIP\s+V6IP\s+READY\n/);
  t.match((await ctl('get', 'oeip')).stdout, /^NAME\s+V4IP\s+V6IP\s+TYPE\s+READY\neip-a\s+10\.5\.204\.150\s+fd00:5::\S+\s+nat\s+true$/m, 'get oeip: TYPE');
  t.match((await ctl('get', 'subnet')).stdout, /^NAME\s+PROVIDER\s+VPC\s+PROTOCOL\s+CIDR\s+READY\nexternal204\s+vlan204\s+Dual\s+10\.5\.204\.0\/24,fd00:5::\/64\s+true\nvpc1-subnet1\s+vpc1\s+Dual\s+192\.168\.0\.0\/24,fd00:10::\/64\s+true\n$/, 'get subnet: CIDR');
  t.match((await ctl('get', 'oeip', '-o', 'wide')).stdout, /^NAME\s+V4IP\s+V6IP\s+TYPE\s+EXTERNAL-SUBNET\s+MAC\s+READY\s+ROWS\neip-a\s+10\.5\.204\.150\s+fd00:5::\S+\s+nat\s+external204\s+true\s+2$/m, '-o wide: more columns');
  t.equal((await ctl('get', 'oeip', '-o', 'name')).stdout, ['eip-a', 'eip-b', 'eip-d'].map((n) => `ovneip.kubeovn.io/${n}\n`).join(''), '-o name');
  const none = await ctl('get', 'odnat');
  t.same([none.code, none.stdout, none.stderr], [0, '', 'No resources found.\n'], 'an empty list: "No resources found." on stderr, exit 0');
  const list = parseYaml((await ctl('get', 'oeip', '-o', 'yaml')).stdout) as { apiVersion: string; kind: string; items: { kind: string; metadata: { name: string }; spec: unknown; status: { ready: boolean } }[] };
  t.match(list, { apiVersion: 'v1', kind: 'List' }, '-o yaml: a List');
  t.same(list.items.map((i) => [i.kind, i.metadata.name, i.status.ready]), [['OvnEip', 'eip-a', true], ['OvnEip', 'eip-b', true], ['OvnEip', 'eip-d', true]], 'with its items');
  // an EIP of type nat has no row: its spec is read back from its reservations (network and addresses)
  t.match(list.items[0].spec, { externalSubnet: 'external204', type: 'nat', v4Ip: '10.5.204.150', v6Ip: /^fd00:5::/ }, 'each with its spec');
  const one = JSON.parse((await ctl('get', 'vpc', 'vpc1', '-o', 'json')).stdout) as Record<string, unknown>;
  t.match(one, { apiVersion: 'kubeovn.io/v1', kind: 'Vpc', metadata: { name: 'vpc1' }, spec: { enableExternal: true }, status: { ready: true } }, '-o json of one: the object itself');
  const missing = await ctl('get', 'oeip', 'eip-a', 'nope');
  t.equal(missing.code, 1, 'a name that is not there: exit 1');
  t.match(missing.stdout, /^eip-a\s/m, 'the others are printed');
  t.match(missing.stderr, /OvnEip "nope" not found \(owner ovn-natgw\)/);
  t.match((await ctl('get', 'vlan')).stdout, /^NAME\s+ID\s+PROVIDER\s+READY\nvlan204\s+204\s+external204\s+true\n$/, 'objects without rows of their own: get vlan');
  t.match((await ctl('get', 'cm')).stdout, /^ovn-external-gw-config\s+true\s+centralized\s+pc-node-1,pc-node-2,pc-node-3\s+true$/m, 'get cm');
});

t.test('errors: a plan is refused (nothing to write); a follow-on error says what it follows', async (t) => {
  const bad = await file('bad.yaml', eip('eip-out', '10.9.9.9') + '---\n' + fip('fip-out', 'eip-out', '192.168.0.12'));
  const plan = await ctl('plan', '-f', bad);
  t.equal(plan.code, 1);
  t.match(plan.stderr, /^ovn-natgwctl: the plan is refused:\n/, 'plan: "the plan is refused"');
  t.notMatch(plan.stderr, /nothing was written/, 'not "nothing was written" (plan writes nothing anyway)');
  t.match(plan.stderr, /OvnEip eip-out \(.*bad\.yaml, document 1\): spec\.v4Ip: 10\.9\.9\.9 is outside network external204/);
  t.match(plan.stderr, /OvnFip fip-out \(.*bad\.yaml, document 2\): spec\.ovnEip: not planned: OvnEip eip-out, which it uses, was refused \(see its error\)/, 'the FIP: a follow-on of its EIP');
  t.notMatch(plan.stderr, /mixed/, 'not a false "IPv4 and IPv6 mixed"');
  const apply = await ctl('apply', '-f', bad);
  t.match(apply.stderr, /^ovn-natgwctl: nothing was written:\n/, 'apply: "nothing was written"');
});

t.test('--quiet; a long output is summarised on a terminal and whole through a pipe', async (t) => {
  const many = await file('many.yaml', Array.from({ length: 30 }, (_, i) => eip(`many-${i}`)).join('---\n'));
  const run = async (tty: boolean, ...args: string[]) => {
    let out = '';
    const w = Object.assign(new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) }), { isTTY: tty });
    const err = Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: false });
    const code = await main(['--db', sb.nbRemote, '--sb', sb.sbRemote, ...args], w, err);
    return { code, out };
  };
  const term = await run(true, 'plan', '-f', many);
  t.equal(term.code, 0);
  const termLines = term.out.trimEnd().split('\n');
  t.equal(termLines.length, 22, 'on a terminal: 20 change lines, a summary of the rest, the counts');
  t.match(termLines.at(-2), /^\.\.\. and 40 more: \+ reservation x40 \(pipe the output to see every line\)$/, 'the rest counted');
  const piped = await run(false, 'plan', '-f', many);
  t.equal(piped.out.trimEnd().split('\n').length, 61, 'piped: every line (30 EIPs, an IPv4 and an IPv6 reservation each)');
  const quiet = await ctl('apply', '-q', '-f', many);
  t.same([quiet.code, quiet.stdout], [0, ''], '--quiet: nothing on stdout');
  t.match((await ctl('get', 'oeip', 'many-29')).stdout, /^many-29\s+10\.5\.204\.\d+\s+fd00:5::\S+\s+nat\s+true$/m, 'and it was applied');
});

t.test('-f -: the manifest on stdin; a terminal shows progress on stderr and clears it', async (t) => {
  const r = await runBin(['apply', '-f', '-'], env, { input: eip('eip-stdin') });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\+ reservation 10\.5\.204\.\d+ on external204 for ovn-natgw\/OvnEip\/eip-stdin$/m, 'applied from stdin');
  const none = await runBin(['apply', '-f', '-'], env, { input: '' });
  t.same([none.code, none.stderr.trim()], [1, 'ovn-natgwctl: no objects in -'], 'an empty stdin: no objects');
  let err = '';
  const out = new Writable({ write: (_c, _e, cb) => cb() });
  const tty = Object.assign(new Writable({ write: (c, _e, cb) => ((err += String(c)), cb()) }), { isTTY: true });
  const code = await main(['--db', sb.nbRemote, '--sb', sb.sbRemote, 'plan', '-f', NETWORK], out, tty);
  t.equal(code, 0);
  t.match(err, /\r\x1b\[Kconnecting to NB unix:\S+ and SB unix:\S+\.\.\. \(\d+\.\ds\)/, 'progress: connecting');
  t.match(err, /\r\x1b\[Kplanning \d+ objects\.\.\. \(\d+\.\ds\)\r\x1b\[K/, 'progress: planning, then the line is cleared before anything else is written');
  let piped = '';
  const pipe = new Writable({ write: (c, _e, cb) => ((piped += String(c)), cb()) });
  await main(['--db', sb.nbRemote, '--sb', sb.sbRemote, 'plan', '-f', NETWORK], out, pipe);
  t.notMatch(piped, /\x1b\[K/, 'not on a pipe');
});
