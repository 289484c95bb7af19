/**
 * The README's walkthrough runs as written: the block between
 * `<!-- walkthrough:begin -->` and `<!-- walkthrough:end -->` is run in bash
 * from the checkout, on the fresh sandbox its first line starts (TMPDIR in a
 * temp dir of ours), and what it prints is what the README promises: gateway
 * chassis on the three SB chassis, the guide's FIPs, SNATs and DNAT in
 * `ovn-nbctl lr-nat-list`, the DNAT file's objects gone again, and nothing left
 * running afterwards.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/util.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function walkthrough(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const m = /<!-- walkthrough:begin -->\n```sh\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(readme);
  if (!m) throw new Error('README.md has no walkthrough block');
  return m[1];
}

t.test('the README walkthrough runs as written on a fresh sandbox', async (t) => {
  const tmp = await tempDir(t, 'natgw-readme-');
  const script = walkthrough();
  t.match(script, /sandbox -- up --chassis-rows 3/, 'it starts its own sandbox');
  let out = '';
  const code = await new Promise<number | null>((resolve) => {
    // -x: each command before its output, so that the output can be told apart
    // (bash takes no PS4 from the environment when run as root: set it in the script)
    const child = spawn('bash', ['-euo', 'pipefail', '-x', '-c', `PS4='@@@ '\n${script}`], {
      cwd: root,
      env: { ...process.env, TMPDIR: tmp, PATH: `${process.env.PATH}:/usr/sbin:/sbin`, OVN_NB_DB: '', OVN_SB_DB: '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  t.equal(code, 0, 'bash -eu: every command of it succeeds', { output: out.slice(-4000) });
  /** the output of the walkthrough's command that starts with `cmd` (up to the next traced command) */
  const after = (cmd: string) => {
    const i = out.indexOf(`\n@@@ ${cmd}`);
    if (i < 0) return '';
    // (the function's own traced line, "@@@ node bin/ovn-natgwctl.js ...", is part of it)
    const rest = out.slice(out.indexOf('\n', i + 1) + 1).replace(/^@@@ node bin\/ovn-natgwctl\.js .*\n/, '');
    const next = rest.search(/^@@@ /m);
    return next < 0 ? rest : rest.slice(0, next);
  };
  t.match(after('ovn-nbctl lrp-get-gateway-chassis vpc1-external204'), /vpc1-external204-pc-node-\d\s+3\n\s*vpc1-external204-pc-node-\d\s+2\n\s*vpc1-external204-pc-node-\d\s+1/, 'vpc1\'s gateway port on the three SB chassis, priorities 3..1');
  t.match(after('ovn-natgwctl plan -f test/fixtures/seed002/04-eip-fip.yaml'), /^\+ NAT dnat_and_snat 10\.5\.204\.\d+ <-> 192\.168\.0\.2 \(router vpc1\)$/m, 'plan of the FIP file: its FIP, on vpc1 applied from another file');
  const ofip = after('ovn-natgwctl get ofip');
  t.match(ofip, /^eip-for-vip\s+vpc1\s+10\.5\.204\.\d+\s+192\.168\.0\.\d+\s+true$/m, 'get ofip: the FIP of the Vip');
  t.match(ofip, /^eip-static\s+vpc1\s+10\.5\.204\.\d+\s+192\.168\.0\.2\s+true$/m, 'get ofip: the FIP of busybox01');
  t.match(after('ovn-natgwctl get oeip -o wide'), /^eip-dnat\s+10\.5\.204\.\d+\s+nat\s+external204\s+true\s+1$/m, 'get oeip -o wide');
  const nat = after('ovn-nbctl lr-nat-list vpc1');
  t.equal((nat.match(/^dnat_and_snat\s/gm) ?? []).length, 2, 'lr-nat-list vpc1: two floating IPs');
  t.match(nat, /^snat\s+10\.5\.204\.\d+\s+192\.168\.0\.0\/24/m, 'and the subnet SNAT');
  t.match(nat, /^snat\s+10\.5\.204\.\d+\s+192\.168\.0\.4/m, 'and the pod SNAT');
  const del = after('ovn-natgwctl delete -f test/fixtures/seed002/07-dnat.yaml');
  t.match(del, /^- Load_Balancer eip-dnat .*\(deleted\)$/m, 'delete -f: the DNAT\'s load balancer');
  t.match(del, /^- reservation 10\.5\.204\.\d+ on external204 \(ovn-natgw\/OvnEip\/eip-dnat\)$/m, 'and its EIP');
  t.match(after('ovn-natgwctl get odnat'), /No resources found\./, 'get odnat: none left');
  // the sandbox it started is down and gone
  const dirs = (await readdir(tmp)).filter((d) => d.startsWith('ovn-natgw-sb-'));
  t.same(dirs, [], 'npm run sandbox -- down removed the sandbox dir');
  const left: string[] = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const cmd = await readFile(`/proc/${ent}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(tmp)) left.push(cmd.split('\0').join(' '));
  }
  t.same(left, [], 'no process runs from it');
});
