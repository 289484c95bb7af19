/**
 * The installed CLI as an operator runs it (`npm pack` + `npm install -g`
 * into a temp prefix; one process per command, its start included) on the
 * workload written as Kube-OVN YAML files, ovn-northd off (as the other apply
 * contenders):
 *  - the bulk `apply -f DIR --prune` of the whole workload;
 *  - one new FIP applied as its own file (`apply -f fip.yaml`);
 *  - the workload directory with one object changed, re-applied with
 *    `--prune` (the whole state);
 *  - beside them `ovn-nbctl lr-nat-add` on the same NB, one process per call.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { rssMb, waitDaemonReady } from '../daemon.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Sandbox } from '../sandbox.js';
import { intToIp, ipToInt, type Workload } from '../workload.js';
import { workloadDocuments } from '../workload-yaml.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  bulkSeconds: number;
  /** one new FIP as its own file, per run */
  oneFipSeconds: number[];
  /** the directory with one object changed, --prune, per run */
  pruneOneSeconds: number[];
  nbctlSeconds: number[];
  /** one new FIP through ovn-natgwd's socket (ovn-natgwctl -t), per run, process start included */
  socketFipSeconds: number[];
  /** the daemon's RSS holding the workload */
  daemonRssMb: number;
  files: number;
}

/** Packs and installs the package into a temp prefix: the path of the installed ovn-natgwctl. */
export async function installCli(dir: string): Promise<string> {
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 });
  const file = (JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[])[0].filename;
  await exec('npm', ['install', '-g', '--prefix', join(dir, 'prefix'), '--no-audit', '--no-fund', '--prefer-offline', join(dir, file)], { cwd: dir });
  return join(dir, 'prefix', 'bin', 'ovn-natgwctl');
}

export async function cliBench(w: Workload, sb: Sandbox, runs: number): Promise<CliResult> {
  const dir = await mkdtemp(join(tmpdir(), 'natgw-bench-cli-'));
  try {
    const bin = await installCli(dir);
    await exec('ovn-sbctl', [`--db=${sb.sbRemote}`, ...w.chassis.flatMap((c, i) => ['--', 'chassis-add', c, 'geneve', `127.1.${(i >> 8) & 255}.${(i & 255) + 1}`])]);
    const env = { ...process.env, OVN_NB_DB: sb.nbRemote, OVN_SB_DB: sb.sbRemote };
    const ctl = async (...args: string[]) => {
      const t = performance.now();
      await exec(bin, args, { env, maxBuffer: 256 << 20 }).catch((e: { stderr?: string; message: string }) => {
        throw new Error(`ovn-natgwctl ${args.join(" ")}: ${(e.stderr ?? e.message).slice(-600)}`);
      });
      return (performance.now() - t) / 1000;
    };
    // the workload as a directory of files, one per router (as split manifests are kept), gateway nodes listed
    const docs = workloadDocuments(w, { gatewayNodes: w.chassis });
    const manifests = join(dir, 'manifests.d');
    await mkdir(manifests);
    await writeFile(join(manifests, '00-network.yaml'), docs.slice(0, 4).join('---\n'));
    const perRouter = (docs.length - 4) / w.routers.length;
    for (let i = 0; i < w.routers.length; i++) await writeFile(join(manifests, `r${String(i).padStart(5, '0')}.yaml`), docs.slice(4 + i * perRouter, 4 + (i + 1) * perRouter).join('---\n'));
    const bulkSeconds = await ctl('apply', '-q', '--prune', '-f', manifests);

    const K = 'apiVersion: kubeovn.io/v1\n';
    const oneFipSeconds: number[] = [];
    const pruneOneSeconds: number[] = [];
    const nbctlSeconds: number[] = [];
    const internal = (r: number, n: number) => intToIp(ipToInt(w.routers[r].internalCidr.split('/')[0]) + n);
    for (let i = 0; i < runs; i++) {
      const r = (i * 37) % w.routers.length;
      // kept in the directory, as an operator adds a file to it (the --prune below keeps it)
      const f = join(manifests, `zz-fip-${i}.yaml`);
      await writeFile(f, `${K}kind: OvnEip\nmetadata: {name: cli-e${i}}\nspec: {externalSubnet: external, type: nat}\n---\n${K}kind: OvnFip\nmetadata: {name: cli-f${i}}\nspec: {ovnEip: cli-e${i}, vpc: ${w.routers[r].name}, v4Ip: ${internal(r, 240)}}\n`);
      oneFipSeconds.push(await ctl('apply', '-q', '-f', f));
      // one object of the directory changed (a FIP rebound), the whole directory applied with --prune
      const rr = (i * 53 + 11) % w.routers.length;
      const name = `r${String(rr).padStart(5, '0')}.yaml`;
      const text = docs.slice(4 + rr * perRouter, 4 + (rr + 1) * perRouter).join('---\n').replace(/(kind: OvnFip\nmetadata: \{name: r\d+-fip0\}\nspec: \{[^}]*v4Ip: )([0-9.]+)/, (_m, a: string) => `${a}${internal(rr, 241 + i)}`);
      await writeFile(join(manifests, name), text);
      pruneOneSeconds.push(await ctl('apply', '-q', '--prune', '-f', manifests));
      const t = performance.now();
      await exec('ovn-nbctl', [`--db=${sb.nbRemote}`, 'lr-nat-add', w.routers[(r + 1) % w.routers.length].name, 'dnat_and_snat', intToIp(ipToInt('172.31.0.10') + i), internal((r + 1) % w.routers.length, 242)]);
      nbctlSeconds.push((performance.now() - t) / 1000);
    }
    // the installed daemon on the same directory and NB: one FIP through its socket, the CLI's process included
    const sock = join(dir, 'natgwd.ctl');
    const daemon = spawn(join(dir, 'prefix', 'bin', 'ovn-natgwd'), ['--db', sb.nbRemote, '--sb', sb.sbRemote, '--manifests', manifests, '--socket', sock, '--config', '/dev/null', '--log-level', 'warn'], { stdio: 'ignore' });
    const socketFipSeconds: number[] = [];
    let daemonRssMb = 0;
    try {
      await waitDaemonReady(sock, 120);
      for (let i = 0; i < runs; i++) {
        const r = (i * 41 + 7) % w.routers.length;
        const f = join(dir, `sock-fip-${i}.yaml`);
        await writeFile(f, `${K}kind: OvnEip\nmetadata: {name: sock-e${i}}\nspec: {externalSubnet: external, type: nat}\n---\n${K}kind: OvnFip\nmetadata: {name: sock-f${i}}\nspec: {ovnEip: sock-e${i}, vpc: ${w.routers[r].name}, v4Ip: ${internal(r, 243)}}\n`);
        socketFipSeconds.push(await ctl('-t', sock, 'apply', '-q', '-f', f));
      }
      daemonRssMb = await rssMb(daemon.pid!);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    return { bulkSeconds, oneFipSeconds, pruneOneSeconds, nbctlSeconds, socketFipSeconds, daemonRssMb, files: w.routers.length + 1 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
