/**
 * Local OVN control-plane sandbox.
 *
 *   npm run sandbox -- up [--dir D] [--cluster 3] [--no-northd] [--chassis-rows N] [--chassis N [--gateways K]]
 *   npm run sandbox -- status [--dir D]
 *   npm run sandbox -- down [--dir D] [--keep]
 *
 * `up` leaves the servers running and prints shell lines to eval:
 *   eval "$(npm run -s sandbox -- up)"
 * Without --dir, `status`/`down` use the last dir `up` recorded in
 * $TMPDIR/ovn-natgw-sandbox-last.
 */
import { addChassis, stopChassisIn } from './chassis-lib.js';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  addChassisRows,
  DB_NAMES,
  findBinary,
  isAlive,
  isAutoDir,
  loadSandbox,
  parseClusterStatus,
  run,
  startSandbox,
  type Sandbox,
} from './sandbox-lib.js';

export const LAST_FILE = path.join(os.tmpdir(), 'ovn-natgw-sandbox-last');

const USAGE = `usage:
  sandbox up [--dir D] [--cluster 1|3] [--no-northd] [--chassis-rows N] [--chassis N [--gateways K]]
      --chassis-rows N: N gateway-capable SB Chassis rows pc-node-1..N (no ovn-controller behind them)
      --chassis N [--gateways K]: N simulated hypervisors (own ovsdb-server, ovs-vswitchd
        --enable-dummy=system, real ovn-controller, tunnels and BFD), the first K (default 2)
        gateways gw1..gwK with ovn-bridge-mappings=physnet1:br-phys, the others hv1..
  sandbox status [--dir D]
  sandbox down [--dir D] [--keep]`;

async function lastDir(): Promise<string> {
  const d = (await readFile(LAST_FILE, 'utf8').catch(() => '')).trim();
  if (!d) throw new Error(`no --dir given and no sandbox recorded in ${LAST_FILE}`);
  return d;
}

async function status(sb: Sandbox): Promise<boolean> {
  let ok = true;
  const appctl = await findBinary('ovs-appctl').catch(() => undefined);
  console.log(`dir: ${sb.dir}`);
  console.log(`OVN_NB_DB=${sb.nbRemote}`);
  console.log(`OVN_SB_DB=${sb.sbRemote}`);
  for (const db of ['nb', 'sb'] as const) {
    for (const m of sb.members[db]) {
      const alive = await isAlive(m.pid);
      ok &&= alive;
      let extra = '';
      if (alive && sb.cluster === 3 && appctl) {
        const st = await run(appctl, ['--timeout=5', '-t', m.ctl, 'cluster/status', DB_NAMES[db]])
          .then((r) => parseClusterStatus(r.stdout))
          .catch(() => undefined);
        if (st) extra = ` role=${st.role} term=${st.term} ${m.raftAddress ?? ''}`;
      }
      console.log(`${db}${m.index || ''}: pid ${m.pid} ${alive ? 'running' : 'NOT running'}${extra}`);
    }
  }
  if (sb.northdPid) {
    const alive = await isAlive(sb.northdPid);
    ok &&= alive;
    let extra = '';
    if (alive && appctl) {
      const r = await run(appctl, ['--timeout=5', '-t', path.join(sb.dir, 'northd.ctl'), 'status']).catch(() => undefined);
      if (r) extra = ` (${r.stdout.trim()})`;
    }
    console.log(`northd: pid ${sb.northdPid} ${alive ? 'running' : 'NOT running'}${extra}`);
  }
  return ok;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string' },
      cluster: { type: 'string' },
      'no-northd': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'chassis-rows': { type: 'string' },
      chassis: { type: 'string' },
      gateways: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help || !cmd || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case 'up': {
      const cluster = values.cluster === undefined ? 1 : Number(values.cluster);
      if (cluster !== 1 && cluster !== 3) throw new Error(`--cluster must be 1 or 3`);
      const rows = values['chassis-rows'] === undefined ? 0 : Number(values['chassis-rows']);
      if (!Number.isInteger(rows) || rows < 0 || rows > 250) throw new Error(`--chassis-rows must be an integer from 0 to 250, got "${values['chassis-rows']}"`);
      const sims = values.chassis === undefined ? 0 : Number(values.chassis);
      if (!Number.isInteger(sims) || sims < 0 || sims > 20) throw new Error(`--chassis must be an integer from 0 to 20, got "${values.chassis}"`);
      const gws = values.gateways === undefined ? Math.min(sims, 2) : Number(values.gateways);
      if (!Number.isInteger(gws) || gws < 0 || gws > sims) throw new Error(`--gateways must be an integer from 0 to --chassis (${sims}), got "${values.gateways}"`);
      const sb = await startSandbox({ dir: values.dir, cluster, northd: !values['no-northd'] });
      const chassis = rows > 0 ? await addChassisRows(sb, rows).catch(async (e: Error) => (await sb.stop(), Promise.reject(e))) : [];
      const simulated = sims > 0 ? (await addChassis(sb, sims, gws).catch(async (e: Error) => (await stopChassisIn(sb.dir), await sb.stop(), Promise.reject(e)))).chassis : [];
      await writeFile(LAST_FILE, sb.dir + '\n');
      const what = `${cluster === 3 ? '3-member clusters' : 'standalone'}${values['no-northd'] ? ', no northd' : ', northd'}`;
      console.log(`# ovn-natgw sandbox up (${what}) in ${sb.dir}`);
      console.log(`export OVN_NATGW_SANDBOX=${sb.dir}`);
      console.log(`export OVN_NB_DB=${sb.nbRemote}`);
      console.log(`export OVN_SB_DB=${sb.sbRemote}`);
      if (chassis.length) console.log(`# SB Chassis (gateway-capable, ovn-cms-options=enable-chassis-as-gw): ${chassis.join(' ')}`);
      for (const c of simulated) {
        const pids = await c.pids();
        console.log(`# chassis ${c.name}${c.o.gateway ? ' (gateway, physnet1:br-phys)' : ''} ${c.o.ip}: ${Object.entries(pids).map(([p, pid]) => `${p} ${pid}`).join(', ')}; ovs-vsctl --db=unix:${c.dir}/db.sock`);
      }
      console.log(`# stop with: npm run sandbox -- down --dir ${sb.dir}`);
      return 0;
    }
    case 'status': {
      const sb = await loadSandbox(values.dir ?? (await lastDir()));
      return (await status(sb)) ? 0 : 1;
    }
    case 'down': {
      const dir = path.resolve(values.dir ?? (await lastDir()));
      const sb = await loadSandbox(dir);
      const pids = sb.pids();
      const sims = await stopChassisIn(dir);
      if (sims.length) console.log(`stopped simulated chassis: ${sims.join(' ')}`);
      await sb.stop();
      console.log(`stopped sandbox in ${dir} (pids ${pids.join(' ')})`);
      if (isAutoDir(sb) && !values.keep) {
        await rm(dir, { recursive: true, force: true });
        console.log(`removed ${dir}`);
      }
      const last = (await readFile(LAST_FILE, 'utf8').catch(() => '')).trim();
      if (last && path.resolve(last) === dir) await rm(LAST_FILE, { force: true });
      return 0;
    }
    default:
      console.error(`unknown command ${cmd}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`sandbox: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
