/**
 * The package as users install it: `npm pack` (which builds dist/ on
 * prepack), `npm install -g --prefix <temp>` of the tarball, and the
 * installed `ovn-natgwctl` run against a real OVN sandbox: --help, apply, get.
 * It ships compiled JavaScript and the runtime dependencies only: no tests,
 * bench, sources or tsx. In a checkout the bin runs src/, so a dist/ left from
 * an earlier build never stands in for it.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addChassisRows } from '../tools/sandbox-lib.js';
import { runBin } from './helpers/bin.js';
import { dualStackNetwork } from './helpers/nat-fixture.js';
import { nbctl, withSandbox } from './helpers/sandbox.js';
import { tempDir } from './helpers/util.js';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

t.test('npm pack + npm install -g: the installed ovn-natgwctl runs against a sandbox', async (t) => {
  const tmp = await tempDir(t, 'natgw-pkg-');
  // no dist/ beforehand: what ships is what prepack builds (the checkout's own bin runs src/, so no other test needs dist/)
  await rm(path.join(root, 'dist'), { recursive: true, force: true });
  const packed = await exec('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
  const info = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[])[0];
  const files = info.files.map((f) => f.path);
  t.ok(files.includes('dist/cli/natgwctl.js'), 'the tarball has the compiled CLI (built on prepack)');
  t.ok(files.includes('bin/ovn-natgwctl.js') && files.includes('package.json') && files.includes('README.md'));
  t.ok(files.includes('dist/daemon/natgwd.js') && files.includes('bin/ovn-natgwd.js') && files.includes('etc/ovn-natgwd.yaml'), 'the daemon, its bin and its example config');
  t.ok(files.includes('contrib/systemd/ovn-natgwd.service'), 'the systemd unit');
  t.same(files.filter((f) => !/^(bin|dist|etc|contrib)\//.test(f) && !['package.json', 'README.md'].includes(f)), [], 'nothing else at the top');
  t.same(files.filter((f) => /(^|\/)(test|bench|scratch|src)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no tests, bench, scratch or TypeScript sources');

  const prefix = path.join(tmp, 'prefix');
  await exec('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', path.join(tmp, info.filename)], { cwd: tmp, timeout: 240_000 });
  const bin = path.join(prefix, 'bin', 'ovn-natgwctl');
  t.ok(existsSync(bin), 'the bin is installed');
  const pkgDir = path.join(prefix, 'lib', 'node_modules', 'ovn-natgw');
  const deps = await readdir(path.join(pkgDir, 'node_modules'));
  t.notOk(deps.includes('tsx') || deps.includes('typescript') || deps.includes('tap'), 'no dev dependency installed', { deps });
  t.ok(deps.includes('commander') && deps.includes('pino') && deps.includes('yaml'), 'the runtime dependencies are');

  const daemon = path.join(prefix, 'bin', 'ovn-natgwd');
  const dv = await runBin(['--version'], {}, { bin: daemon });
  t.equal(dv.code, 0, dv.stderr);
  t.match(dv.stdout, /^\d+\.\d+\.\d+$/m, 'installed: ovn-natgwd --version');
  const dbad = await runBin(['--config', path.join(pkgDir, 'etc', 'ovn-natgwd.yaml'), '--log-level', 'loud'], {}, { bin: daemon });
  t.equal(dbad.code, 2, 'installed: ovn-natgwd refuses a bad flag with exit 2');
  const help = await runBin(['--help'], {}, { bin });
  t.equal(help.code, 0, help.stderr);
  t.match(help.stdout, /^Usage: ovn-natgwctl \[options\] \[command\]/m, 'installed: --help');

  const sb = await withSandbox(t);
  await addChassisRows(sb, 3);
  const manifest = path.join(tmp, 'network.yaml');
  await writeFile(manifest, dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']));
  const env = { OVN_NB_DB: sb.nbRemote, OVN_SB_DB: sb.sbRemote };
  const applied = await runBin(['apply', '-f', manifest], env, { bin });
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /^\+ Logical_Router_Port vpc1-external204 \(10\.5\.204\.\d+\/24 fd00:5::\S+\/64\)$/m, 'installed: apply');
  t.match(await nbctl(sb, 'show', 'vpc1'), /port vpc1-external204/, 'ovn-nbctl show vpc1: the gateway port');
  const got = await runBin(['get', 'vpc'], env, { bin });
  t.equal(got.code, 0, got.stderr);
  t.match(got.stdout, /^vpc1\s+10\.5\.204\.\d+\s+fd00:5::\S+\s+2\s+0\s+-\s+true$/m, "installed: get vpc (its two default routes)");

  // the installed daemon on the same NB and manifest: ready, nothing to write, ovs-appctl answers, SIGTERM exits 0
  const mdir = path.join(tmp, 'manifests.d');
  await mkdir(mdir);
  await writeFile(path.join(mdir, 'network.yaml'), dualStackNetwork(['pc-node-1', 'pc-node-2', 'pc-node-3']));
  const sock = path.join(tmp, 'natgwd.ctl');
  const child = spawn(daemon, ['--db', sb.nbRemote, '--sb', sb.sbRemote, '--manifests', mdir, '--socket', sock, '--config', '/dev/null'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const appctl = async (...a: string[]) => (await exec('ovs-appctl', ['-t', sock, ...a]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))).stdout;
  for (let i = 0; i < 200 && !/^ready: true$/m.test(await appctl('natgw/status')); i++) await new Promise((r) => setTimeout(r, 100));
  const st = await appctl('natgw/status');
  t.match(st, /^ready: true$/m, 'installed ovn-natgwd: ovs-appctl natgw/status says ready');
  t.match(st, /last reconcile: .*\(start\) nothing to change/, 'NB already as the manifests say: nothing written');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: exit 0');

  // the installed drill: its own OVN and simulated chassis from the package alone (dist/sandbox)
  t.ok(files.includes('bin/ovn-natgw-drill.js') && files.includes('dist/cli/drill.js') && files.includes('dist/sandbox/chassis-lib.js'), 'the drill, its bin and the sandbox it starts');
  const drill = path.join(prefix, 'bin', 'ovn-natgw-drill');
  const dr = await runBin(['--routers', '2', '--gateways', '3', '--kinds', 'kill-node', '-o', 'json'], {}, { bin: drill, timeoutMs: 300_000 });
  t.equal(dr.code, 0, dr.stderr.slice(-2000));
  t.match(JSON.parse(dr.stdout), { verdict: 'pass', drills: [{ kind: 'kill-node', detection: Number, egress_rewritten: Number }] }, 'installed: ovn-natgw-drill kill-node passes');
});

t.test('in a checkout, the bin runs src/: a stale dist/ does not take over', async (t) => {
  const co = await tempDir(t, 'natgw-checkout-');
  await mkdir(path.join(co, 'bin'));
  for (const f of ['ovn-natgwctl.js', 'launch.js']) await cp(path.join(root, 'bin', f), path.join(co, 'bin', f));
  await writeFile(path.join(co, 'package.json'), '{"type":"module"}\n');
  await symlink(path.join(root, 'node_modules'), path.join(co, 'node_modules'));
  for (const [d, f, what] of [['src/cli', 'natgwctl.ts', 'src'], ['dist/cli', 'natgwctl.js', 'dist']] as const) {
    await mkdir(path.join(co, d), { recursive: true });
    await writeFile(path.join(co, d, f), `export async function run(): Promise<void> { process.stdout.write('${what}\\n'); }\n`.replace(': Promise<void>', what === 'dist' ? '' : ': Promise<void>'));
  }
  const bin = path.join(co, 'bin', 'ovn-natgwctl.js');
  t.equal((await runBin([bin], {}, { bin: process.execPath })).stdout, 'src\n', 'with src/ and dist/ both there: src/');
  await rm(path.join(co, 'src'), { recursive: true });
  t.equal((await runBin([bin], {}, { bin: process.execPath })).stdout, 'dist\n', 'an installed package (no src/): dist/');
});
