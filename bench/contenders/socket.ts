/**
 * One change through ovn-natgwd's admin socket: the daemon (this checkout's
 * bin) started on a manifest directory holding the workload (its first
 * reconcile applies it), ovn-northd running; then FIPs put (with their EIP),
 * rebound (put again with a new internal address) and deleted through the
 * socket's JSON-RPC methods, as `ovn-natgwctl -t` sends them. Per change: the
 * time from the request to the daemon's answer (its apply has seen the commit
 * and the object's file is in place). Beside it, on the same NB: ovn-nbctl
 * lr-nat-add, one process per call, and through an `ovn-nbctl --detach`
 * daemon (OVN_NB_DAEMON: its replica is warm, each call still a process);
 * and, once the daemon has stopped, the same three changes made in process
 * (NatGateway.apply on a warm replica, checked as the daemon checks them).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { callDaemon } from '../../src/cli/daemon-client.js';
import { NatGateway } from '../../src/nat/apply.js';
import { parseManifest } from '../../src/nat/manifest.js';
import type { ManifestObject } from '../../src/nat/objects.js';
import { readFile } from 'node:fs/promises';
import { addChassisRows } from '../../tools/sandbox-lib.js';
import { rssMb, waitDaemonReady } from '../daemon.js';
import type { Sandbox } from '../sandbox.js';
import { buildWorkload, intToIp, ipToInt } from '../workload.js';
import { workloadDocuments } from '../workload-yaml.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/ovn-natgwd.js', import.meta.url));
const K = 'apiVersion: kubeovn.io/v1\n';

export interface SocketResult {
  readySeconds: number;
  runs: { kind: 'add' | 'rebind' | 'remove'; ms: number[] }[];
  nbctlMs: number[];
  /** lr-nat-add through an ovn-nbctl --detach daemon (ms each) */
  nbctlDaemonMs: number[];
  /** the same changes in process, after the daemon stopped */
  inProcess: { kind: 'add' | 'rebind' | 'remove'; ms: number[] }[];
  rssMb: number;
}

export async function socketBench(opts: { routers: number; fips: number; rounds: number }, start: () => Promise<Sandbox>, progress: (s: string) => void): Promise<SocketResult> {
  const w = buildWorkload({ routers: opts.routers, fips: opts.fips });
  const a = await start();
  await addChassisRows(a, 20);
  const dir = await mkdtemp(join(tmpdir(), 'natgw-bench-socket-'));
  const manifests = join(dir, 'manifests.d');
  await mkdir(manifests);
  await writeFile(join(manifests, 'workload.yaml'), workloadDocuments(w).join('---\n'));
  const sock = join(dir, 'natgwd.ctl');
  const t0 = performance.now();
  const args = ['--db', a.nbRemote, '--sb', a.sbRemote, '--manifests', manifests, '--socket', sock, '--config', '/dev/null', '--log-level', 'warn'];
  // the bin run as a program, as its users and the systemd unit run it (its #! line gives node its flags);
  // BENCH_DAEMON_NODE_ARGS: node with those flags instead
  const nodeArgs = process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean);
  const daemon = nodeArgs ? spawn(process.execPath, [...nodeArgs, BIN, ...args], { stdio: 'ignore' }) : spawn(BIN, args, { stdio: 'ignore' });
  try {
    await waitDaemonReady(sock, 600);
    const readySeconds = (performance.now() - t0) / 1000;
    const internal = (r: number, n: number) => intToIp(ipToInt(w.routers[r].internalCidr.split('/')[0]) + n);
    const R = w.routers.length;
    const runs: SocketResult['runs'] = [];
    const warm = 5;
    const n = opts.rounds + warm;
    const fipText = (i: number, host: number) => `${K}kind: OvnFip\nmetadata: {name: sock-f${i}}\nspec: {ovnEip: sock-e${i}, vpc: ${w.routers[(i * 7) % R].name}, v4Ip: ${internal((i * 7) % R, host)}}\n`;
    const timed = async (method: string, params: Record<string, unknown>) => {
      const t = performance.now();
      await callDaemon(sock, method, params);
      return performance.now() - t;
    };
    for (const kind of ['add', 'rebind', 'remove'] as const) {
      progress(`socket: ${opts.rounds} x ${kind}`);
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        let d: number;
        if (kind === 'add') d = await timed('put', { manifest: `${K}kind: OvnEip\nmetadata: {name: sock-e${i}}\nspec: {externalSubnet: external, type: nat}\n---\n${fipText(i, 250)}` });
        else if (kind === 'rebind') d = await timed('put', { manifest: fipText(i, 251) });
        else d = await timed('delete', { objects: [{ kind: 'OvnFip', name: `sock-f${i}` }, { kind: 'OvnEip', name: `sock-e${i}` }] });
        if (i >= warm) ms.push(d);
      }
      runs.push({ kind, ms });
    }
    // (one process per call syncs all of NB: 4 s each at 100k FIPs, so fewer calls there)
    const nbctlMs: number[] = [];
    for (let i = 0; i < (opts.fips >= 50_000 ? 5 : 20); i++) {
      const t = performance.now();
      await exec('ovn-nbctl', [`--db=${a.nbRemote}`, 'lr-nat-add', w.routers[i].name, 'dnat_and_snat', intToIp(ipToInt('172.30.0.10') + i), internal(i, 252)]);
      nbctlMs.push(performance.now() - t);
    }
    // through an ovn-nbctl daemon: started once (it syncs NB), then a process per call that hands it the command
    const ctl = join(dir, 'nbctl.ctl');
    const pidfile = join(dir, 'nbctl.pid');
    await exec('ovn-nbctl', [`--db=${a.nbRemote}`, '--detach', `--pidfile=${pidfile}`, `--unixctl=${ctl}`, `--log-file=${join(dir, 'nbctl.log')}`]);
    const nbctlDaemonMs: number[] = [];
    try {
      for (let i = 0; i < 5 + opts.rounds; i++) {
        const t = performance.now();
        await exec('ovn-nbctl', ['lr-nat-add', w.routers[(i * 11 + 5) % R].name, 'dnat_and_snat', intToIp(ipToInt('172.30.1.10') + i), internal((i * 11 + 5) % R, 253)], { env: { ...process.env, OVN_NB_DAEMON: ctl } });
        if (i >= 5) nbctlDaemonMs.push(performance.now() - t);
      }
    } finally {
      // (stopped by the pid it wrote: ours)
      const pid = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
    }
    const rss = await rssMb(daemon.pid!);
    if (process.env.BENCH_SOCKET_MEMORY) {
      const mem = async () => JSON.stringify(((await callDaemon(sock, 'status')) as { memory_mb: unknown }).memory_mb);
      progress(`memory after the changes: ${await mem()}`);
      await new Promise((r) => setTimeout(r, 20_000));
      progress(`memory 20 s later: ${await mem()}, rss ${(await rssMb(daemon.pid!)).toFixed(0)}`);
    }
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    // the same changes in process, on the same NB (the daemon's owner; it has stopped), each checked after its commit as the daemon's are
    const gw = new NatGateway({ nb: a.nbRemote, sb: a.sbRemote, timeoutMs: 600_000 });
    const inProcess: SocketResult['inProcess'] = [];
    try {
      await gw.connect();
      const doc = (text: string) => parseManifest(text, 'change.yaml');
      for (const kind of ['add', 'rebind', 'remove'] as const) {
        progress(`socket: ${opts.rounds} x ${kind} in process`);
        const ms: number[] = [];
        for (let i = 0; i < n; i++) {
          const fipIn = (host: number) => fipText(i, host).replaceAll('sock-', 'inp-');
          const t = performance.now();
          const r =
            kind === 'add'
              ? await gw.apply(doc(`${K}kind: OvnEip\nmetadata: {name: inp-e${i}}\nspec: {externalSubnet: external, type: nat}\n---\n${fipIn(250)}`), { mode: 'merge', wait: true })
              : kind === 'rebind'
                ? await gw.apply(doc(fipIn(251)), { mode: 'merge', wait: true })
                : await gw.apply({ objects: [{ kind: 'OvnFip', name: `inp-f${i}` }, { kind: 'OvnEip', name: `inp-e${i}` }] as ManifestObject[], notices: [] }, { mode: 'delete' });
          const d = performance.now() - t;
          if (!r.transacted) throw new Error(`in process ${kind} ${i}: no transaction`);
          if (i >= warm) ms.push(d);
        }
        inProcess.push({ kind, ms });
      }
    } finally {
      await gw.close();
    }
    return { readySeconds, runs, nbctlMs, nbctlDaemonMs, inProcess, rssMb: rss };
  } finally {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
    await a.stop();
  }
}
