/**
 * The local OVN sandbox, against the real ovsdb-server / ovn-northd.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary, isAlive, loadSandbox, parseClusterStatus, run, startSandbox } from '../tools/sandbox-lib.js';
import { waitFor } from './helpers/util.js';
import { nbctl, ovsdbClientDump, sbctl, withSandbox } from './helpers/sandbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The pids of `pids` that are still alive. */
async function stillAlive(pids: number[]): Promise<number[]> {
  const alive: number[] = [];
  for (const p of pids) if (await isAlive(p)) alive.push(p);
  return alive;
}

t.test('standalone sandbox: northd compiles a router into SB', async (t) => {
  const sb = await withSandbox(t);
  t.match(sb.nbRemote, /^unix:\/.*\/nb\.sock$/);
  t.match(sb.sbRemote, /^unix:\/.*\/sb\.sock$/);
  t.equal(sb.members.nb.length, 1);
  t.equal(sb.members.nb[0].index, 0);
  t.ok(sb.northdPid, 'northd started');
  t.ok(Buffer.byteLength(sb.members.nb[0].ctl) < 108, 'socket path fits sun_path');
  t.equal(await sb.leaderIndex('nb'), 0, 'standalone leader index is 0');

  const recorded = JSON.parse(await readFile(path.join(sb.dir, 'sandbox.json'), 'utf8')) as {
    northdPid: number;
    members: { nb: { pid: number }[]; sb: { pid: number }[] };
  };
  t.equal(recorded.northdPid, sb.northdPid, 'sandbox.json records northd pid');
  t.equal(recorded.members.sb[0].pid, sb.members.sb[0].pid, 'sandbox.json records sb pid');

  await nbctl(sb, 'lr-add', 'r1');
  await nbctl(sb, '--wait=sb', 'sync');
  const dp = await sbctl(sb, '--bare', '--columns=external_ids', 'find', 'Datapath_Binding', 'external_ids:name=r1');
  t.match(dp, /logical-router=/, 'router datapath compiled by ovn-northd');

  const lr = await ovsdbClientDump(sb.nbRemote, 'OVN_Northbound', 'Logical_Router', '_uuid', 'name');
  t.same(Object.keys(lr), ['Logical_Router']);
  t.equal(lr.Logical_Router.length, 1);
  t.equal(lr.Logical_Router[0].name, 'r1');
  t.match(lr.Logical_Router[0]._uuid, ['uuid', String]);
  const nbDump = await ovsdbClientDump(sb.nbRemote, 'OVN_Northbound');
  t.equal(nbDump.NB_Global.length, 1, 'NB_Global exists');
  const sbDump = await ovsdbClientDump(sb.sbRemote, 'OVN_Southbound');
  t.equal(sbDump.Datapath_Binding.length, 1, 'full dump has one datapath');

  await t.rejects(nbctl(sb, 'lr-del', 'no-such-router'), /no-such-router/, 'nbctl rejects with stderr');

  const pids = sb.pids();
  t.ok(pids.length >= 3, 'northd + 2 servers recorded');
  await sb.stop();
  t.same(await stillAlive(pids), [], 'stop() leaves none of the recorded pids alive');
  await sb.stop(); // idempotent
});

t.test('killMember / startMember on a standalone server', async (t) => {
  const sb = await withSandbox(t, { northd: false });
  t.notOk(sb.northdPid);
  const old = sb.members.nb[0].pid;
  await nbctl(sb, 'ls-add', 'sw0');
  await sb.killMember('nb', 0);
  t.notOk(await isAlive(old), 'killed');
  await t.rejects(nbctl(sb, '--timeout=1', 'ls-list'));
  await sb.startMember('nb', 0);
  t.not(sb.members.nb[0].pid, old, 'new pid recorded');
  t.match(await nbctl(sb, 'ls-list'), /sw0/, 'data survived the restart');
  await t.rejects(sb.startMember('nb', 0), /already running/);
  await t.rejects(sb.killMember('nb', 7), /no nb member with index 7/);
});

t.test('3-member clusters: election, failover, restart', async (t) => {
  const sb = await withSandbox(t, { cluster: 3 });
  t.equal(sb.members.nb.length, 3);
  t.equal(sb.nbRemote.split(',').length, 3);
  for (const m of [...sb.members.nb, ...sb.members.sb]) {
    t.match(m.raftAddress, /^tcp:127\.0\.0\.1:\d+$/);
    t.match(m.remote, new RegExp(`^unix:.*/${m.db}${m.index}\\.sock$`));
  }

  const st = parseClusterStatus(
    (await run('ovs-appctl', ['-t', sb.members.nb[0].ctl, 'cluster/status', 'OVN_Northbound'])).stdout,
  );
  t.equal(st.servers, 3, 'cluster/status shows 3 servers');
  t.equal(st.status, 'cluster member');
  t.not(st.leader, 'unknown', 'a leader exists');

  // northd works against the clusters
  await nbctl(sb, 'lr-add', 'r1');
  await nbctl(sb, '--wait=sb', 'sync');
  t.match(await sbctl(sb, '--bare', '--columns=external_ids', 'list', 'Datapath_Binding'), /name=r1/);
  t.match(await nbctl(sb, '--no-leader-only', 'lr-list'), /r1/);

  const leader = await sb.leaderIndex('nb');
  t.ok([1, 2, 3].includes(leader), `nb leader is member ${leader}`);
  const killed = sb.members.nb.find((m) => m.index === leader)!;
  const killedPid = killed.pid;
  const t0 = Date.now();
  await sb.killMember('nb', leader);
  t.notOk(await isAlive(killedPid), 'old leader is gone');
  const next = await sb.leaderIndex('nb');
  t.not(next, leader, `new leader ${next} elected among the rest`);
  t.comment(`re-election took ${Date.now() - t0} ms`);

  // the cluster still takes writes, and the dump works with a dead first member
  await nbctl(sb, 'lr-add', 'r2');
  const dump = await ovsdbClientDump(sb.nbRemote, 'OVN_Northbound', 'Logical_Router');
  t.same(dump.Logical_Router.map((r) => r.name).sort(), ['r1', 'r2']);

  await sb.startMember('nb', leader);
  t.ok(await isAlive(killed.pid), 'restarted');
  // it rejoins and catches up on what it missed
  const deadline = Date.now() + 20_000;
  let seen = '';
  while (Date.now() < deadline) {
    seen = await run('ovn-nbctl', [`--db=${killed.remote}`, '--no-leader-only', '--timeout=2', 'lr-list']).then(
      (r) => r.stdout,
      () => '',
    );
    if (seen.includes('r2')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.match(seen, /r2/, 'restarted member caught up');
  const st2 = parseClusterStatus(
    (await run('ovs-appctl', ['-t', killed.ctl, 'cluster/status', 'OVN_Northbound'])).stdout,
  );
  t.equal(st2.status, 'cluster member');
  t.equal(st2.servers, 3);

  const before = await sb.leaderIndex('sb');
  const after = await sb.transferLeadership('sb');
  t.not(after, before, `sb leadership moved ${before} -> ${after}`);

  const pids = sb.pids();
  await sb.stop();
  t.same(await stillAlive(pids), [], 'cluster stop() leaves nothing alive');
});

t.test('startSandbox errors: too-long dir, reuse of a live dir', async (t) => {
  await t.rejects(startSandbox({ dir: path.join(os.tmpdir(), 'x'.repeat(120)), northd: false }), /too long/);
  const sb = await withSandbox(t, { northd: false });
  await t.rejects(startSandbox({ dir: sb.dir, northd: false }), /still has a running sandbox/);
  const again = await loadSandbox(sb.dir);
  t.same(again.pids(), sb.pids(), 'loadSandbox re-reads the recorded pids');
});

/** `npm run sandbox -- ARGS` (tools/sandbox.ts), as a user runs it. */
const cli = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'tools', 'sandbox.ts'), ...args], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

t.test('CLI: up prints OVN_NB_DB / OVN_SB_DB, down stops the pids', async (t) => {
  const dir = path.join(os.tmpdir(), `ovn-natgw-cli-${process.pid}`);
  t.teardown(async () => {
    // belt and braces if an assertion below failed
    await loadSandbox(dir).then((s) => s.stop(), () => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const up = await cli('up', '--dir', dir);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, new RegExp(`^export OVN_NB_DB=unix:${dir}/nb\\.sock$`, 'm'));
  t.match(up.stdout, new RegExp(`^export OVN_SB_DB=unix:${dir}/sb\\.sock$`, 'm'));
  t.match(up.stdout, dir);

  const sb = await loadSandbox(dir);
  const pids = sb.pids();
  t.equal(pids.length, 3, 'nb, sb, northd');
  const running: boolean[] = [];
  for (const p of pids) running.push(await isAlive(p));
  t.same(running, [true, true, true], 'servers left running after up');

  const st = await cli('status', '--dir', dir);
  t.equal(st.code, 0);
  t.match(st.stdout, /northd: pid \d+ running/);

  const down = await cli('down', '--dir', dir);
  t.equal(down.code, 0, down.stderr);
  t.same(await stillAlive(pids), [], 'down stopped every recorded pid');
  t.ok(existsSync(path.join(dir, 'nb.log')), 'explicit --dir is kept');

  const st2 = await cli('status', '--dir', dir);
  t.equal(st2.code, 1, 'status reports the servers are gone');
});

t.test('CLI: up --cluster 3 gives remotes the OVN tools use; down stops exactly its pids, not a bystander', async (t) => {
  // another sandbox, running alongside: down must leave it alone
  const bystander = await withSandbox(t, { northd: false });
  await nbctl(bystander, 'ls-add', 'bystander-sw');
  const dir = path.join(os.tmpdir(), `ovn-natgw-cli3-${process.pid}`);
  t.teardown(async () => {
    await loadSandbox(dir).then((s) => s.stop(), () => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const up = await cli('up', '--dir', dir, '--cluster', '3');
  t.equal(up.code, 0, up.stderr);
  const nb = up.stdout.match(/^export OVN_NB_DB=(\S+)$/m)?.[1] ?? '';
  const sbRemote = up.stdout.match(/^export OVN_SB_DB=(\S+)$/m)?.[1] ?? '';
  t.equal(nb.split(',').length, 3, `OVN_NB_DB lists the 3 NB members: ${nb}`);
  t.equal(sbRemote.split(',').length, 3, 'OVN_SB_DB lists the 3 SB members');
  const sb = await loadSandbox(dir);
  const pids = sb.pids();
  t.equal(pids.length, 7, '3 NB, 3 SB, northd');
  // the printed strings work as the OVN tools take them, and northd links the clusters
  const nbctlBin = await findBinary('ovn-nbctl');
  const sbctlBin = await findBinary('ovn-sbctl');
  await run(nbctlBin, [`--db=${nb}`, '--timeout=30', 'lr-add', 'cli3-r1']);
  t.match((await run(nbctlBin, [`--db=${nb}`, '--timeout=30', 'lr-list'])).stdout, /cli3-r1/, 'ovn-nbctl --db=$OVN_NB_DB');
  let dps = '';
  await waitFor(async () => /cli3-r1/.test((dps = (await run(sbctlBin, [`--db=${sbRemote}`, '--timeout=30', '--columns=external_ids', 'list', 'Datapath_Binding']).catch(() => ({ stdout: '' }))).stdout)), 60_000);
  t.match(dps, /cli3-r1/, 'ovn-northd compiled the router into the SB cluster');

  const st = await cli('status', '--dir', dir);
  t.equal(st.code, 0, st.stderr);
  t.equal(st.stdout.match(/role=leader/g)?.length, 2, 'status: one leader per cluster');

  const down = await cli('down', '--dir', dir);
  t.equal(down.code, 0, down.stderr);
  t.same(await stillAlive(pids), [], 'down stopped all 7 of its pids');
  t.same(await stillAlive(bystander.pids()), bystander.pids(), 'every pid of the bystander sandbox still runs');
  t.match(await nbctl(bystander, 'ls-list'), /bystander-sw/, 'and its NB still answers');
});
