/**
 * Simulated hypervisors for the sandbox, wired as OVN's own test suite wires
 * them (tests/ofproto-macros.at sim_add, net_add, net_attach; ovn-macros.at
 * ovn_attach): per chassis its own directory (OVS_RUNDIR, OVN_RUNDIR, ...:
 * ovn-controller 23.03 takes no --unixctl), its own Open_vSwitch
 * ovsdb-server, `ovs-vswitchd --enable-dummy=system` (as sim_add; with
 * `override` the geneve ports become plain dummies and BFD never comes up),
 * br-phys attached to a shared dummy L2 network (a bridge of the "main"
 * vswitchd) with an address for the tunnels, and a real ovn-controller on
 * the sandbox's SB. Gateways also get ovn-bridge-mappings for the provider
 * network and ovn-cms-options=enable-chassis-as-gw. Tunnels and BFD between
 * them are real: a gateway port's chassisredirect binding moves when its
 * active chassis's ovs-vswitchd is killed or the whole chassis is stopped.
 *
 * Every process is started detached with its pidfile in the chassis's
 * directory under the sandbox's (the sandbox's watchdog kills them if the
 * test process dies), and stopped by pid.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { findBinary, isAlive, run, type Sandbox } from './sandbox-lib.js';

export type ChassisProcess = 'ovsdb-server' | 'ovs-vswitchd' | 'ovn-controller';
const PROCESSES: readonly ChassisProcess[] = ['ovsdb-server', 'ovs-vswitchd', 'ovn-controller'];

export interface SimChassisOptions {
  name: string;
  /** its tunnel address on the simulated network (192.168.0.0/24 by default numbering) */
  ip: string;
  /** a gateway: ovn-bridge-mappings=<provider>:br-phys, ovn-cms-options=enable-chassis-as-gw */
  gateway?: boolean;
  /** the provider network its gateway bridge serves (default physnet1) */
  provider?: string;
  /** more ovn-cms-options (availability-zones=az1) */
  cmsOptions?: string[];
}

/** The shared L2 network of the simulated chassis: a bridge of the "main" vswitchd. */
export interface SimNetwork {
  dir: string;
  name: string;
  stop(): Promise<void>;
}

function envOf(dir: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['OVS_RUNDIR', 'OVS_LOGDIR', 'OVS_DBDIR', 'OVS_SYSCONFDIR', 'OVS_PKGDATADIR', 'OVN_RUNDIR', 'OVN_LOGDIR', 'OVN_SYSCONFDIR', 'OVN_PKGDATADIR']) env[k] = dir;
  delete env.OVN_NB_DB;
  delete env.OVN_SB_DB;
  return env;
}

async function pidOf(dir: string, proc: string): Promise<number | undefined> {
  const n = Number((await readFile(path.join(dir, `${proc}.pid`), 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Stops a pid: SIGTERM, then SIGKILL after 5 s. */
async function stopPid(pid: number | undefined): Promise<void> {
  if (!pid || !(await isAlive(pid))) return;
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50; i++) {
    if (!(await isAlive(pid))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** A simulated vswitch: its conf.db server and ovs-vswitchd, in `dir` (sim_add). */
async function simAdd(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const env = envOf(dir);
  const db = path.join(dir, 'conf.db');
  await run(await findBinary('ovsdb-tool'), ['create', db, '/usr/share/openvswitch/vswitch.ovsschema'], { env });
  await startOvsdb(dir);
  await run(await findBinary('ovs-vsctl'), [`--db=unix:${dir}/db.sock`, '--no-wait', '--', 'init'], { env });
  await startVswitchd(dir);
}

const common = (dir: string, proc: string) => ['-vconsole:off', '--detach', '--no-chdir', `--pidfile=${dir}/${proc}.pid`, `--log-file=${dir}/${proc}.log`];

async function startOvsdb(dir: string): Promise<void> {
  await run(await findBinary('ovsdb-server'), [`--remote=punix:${dir}/db.sock`, ...common(dir, 'ovsdb-server'), `${dir}/conf.db`], { env: envOf(dir) });
}

async function startVswitchd(dir: string): Promise<void> {
  await run(await findBinary('ovs-vswitchd'), ['--enable-dummy=system', '-vvconn', '-vofproto_dpif', '-vunixctl', ...common(dir, 'ovs-vswitchd'), `unix:${dir}/db.sock`], { env: envOf(dir) });
}

/** The network the chassis attach to (net_add): the "main" vswitch with its bridge. */
export async function addNetwork(sb: Pick<Sandbox, 'dir'>, name = 'n1'): Promise<SimNetwork> {
  const dir = path.join(sb.dir, 'main');
  await simAdd(dir);
  await run(await findBinary('ovs-vsctl'), [`--db=unix:${dir}/db.sock`, 'add-br', name], { env: envOf(dir) });
  return {
    dir,
    name,
    stop: async () => {
      for (const p of ['ovs-vswitchd', 'ovsdb-server']) await stopPid(await pidOf(dir, p));
    },
  };
}

export class SimChassis {
  readonly dir: string;
  constructor(
    private readonly sb: Pick<Sandbox, 'dir' | 'sbRemote'>,
    private readonly net: SimNetwork,
    readonly o: SimChassisOptions,
  ) {
    this.dir = path.join(sb.dir, o.name);
  }

  get name(): string {
    return this.o.name;
  }

  private env(): NodeJS.ProcessEnv {
    return envOf(this.dir);
  }

  /** ovs-vsctl on this chassis's Open_vSwitch database. */
  async vsctl(...args: string[]): Promise<string> {
    return (await run(await findBinary('ovs-vsctl'), [`--db=unix:${this.dir}/db.sock`, '--timeout=10', ...args], { env: this.env() })).stdout.trim();
  }

  /** ovs-appctl to one of its daemons (by its pid's control socket). */
  async appctl(proc: 'ovs-vswitchd' | 'ovn-controller', ...args: string[]): Promise<string> {
    const pid = await this.pid(proc);
    if (!pid) throw new Error(`${this.name}: ${proc} is not running`);
    return (await run(await findBinary('ovs-appctl'), ['--timeout=10', '-t', path.join(this.dir, `${proc}.${pid}.ctl`), ...args], { env: this.env() })).stdout;
  }

  pid(proc: ChassisProcess): Promise<number | undefined> {
    return pidOf(this.dir, proc);
  }

  /** Every pid of the chassis that is running. */
  async pids(): Promise<Partial<Record<ChassisProcess, number>>> {
    const out: Partial<Record<ChassisProcess, number>> = {};
    for (const p of PROCESSES) {
      const pid = await this.pid(p);
      if (pid && (await isAlive(pid))) out[p] = pid;
    }
    return out;
  }

  /** Creates the chassis and starts it (sim_add, net_attach, ovn_attach). */
  async start(): Promise<this> {
    await simAdd(this.dir);
    const netVsctl = async (...args: string[]) => run(await findBinary('ovs-vsctl'), [`--db=unix:${this.net.dir}/db.sock`, ...args], { env: envOf(this.net.dir) });
    const port = `${this.name}_br-phys`;
    await this.vsctl('add-br', 'br-phys');
    await netVsctl('add-port', this.net.name, port, '--', 'set', 'Interface', port, `options:pstream=punix:${this.net.dir}/${port}.sock`);
    await this.vsctl('add-port', 'br-phys', `br-phys_${this.net.name}`, '--', 'set', 'Interface', `br-phys_${this.net.name}`, `options:stream=unix:${this.net.dir}/${port}.sock`);
    await this.network();
    const cms = [...(this.o.gateway ? ['enable-chassis-as-gw'] : []), ...(this.o.cmsOptions ?? [])];
    await this.vsctl(
      '--', 'set', 'Open_vSwitch', '.',
      `external-ids:hostname=${this.name}`,
      `external-ids:system-id=${this.name}`,
      `external-ids:ovn-remote=${this.sb.sbRemote}`,
      'external-ids:ovn-encap-type=geneve',
      `external-ids:ovn-encap-ip=${this.o.ip}`,
      ...(this.o.gateway ? [`external-ids:ovn-bridge-mappings=${this.o.provider ?? 'physnet1'}:br-phys`] : []),
      ...(cms.length ? [`external-ids:ovn-cms-options="${cms.join(',')}"`] : []),
      '--', '--may-exist', 'add-br', 'br-int',
      '--', 'set', 'bridge', 'br-int', 'fail-mode=secure', 'other-config:disable-in-band=true',
    );
    await this.startController();
    return this;
  }

  /** The dummy address and route of br-phys (a restarted ovs-vswitchd forgets them: BFD stays down until they are back). */
  private async network(): Promise<void> {
    await this.appctl('ovs-vswitchd', 'netdev-dummy/ip4addr', 'br-phys', `${this.o.ip}/24`);
    await this.appctl('ovs-vswitchd', 'ovs/route/add', `${this.o.ip}/24`, 'br-phys');
  }

  private async startController(): Promise<void> {
    await run(await findBinary('ovn-controller'), [...common(this.dir, 'ovn-controller'), `unix:${this.dir}/db.sock`], { env: this.env() });
  }

  /** Sends a signal to one of its processes, or to all of them at once ("a whole node"). */
  async signal(proc: ChassisProcess | 'all', sig: NodeJS.Signals): Promise<void> {
    const pids = await this.pids();
    for (const p of proc === 'all' ? PROCESSES : [proc]) {
      const pid = pids[p];
      if (pid) process.kill(pid, sig);
    }
  }

  /** Kills with SIGKILL and waits until the processes are gone. */
  async kill(proc: ChassisProcess | 'all'): Promise<void> {
    const before = await this.pids();
    await this.signal(proc, 'SIGKILL');
    for (const p of proc === 'all' ? PROCESSES : [proc]) {
      const pid = before[p];
      for (let i = 0; pid && i < 100 && (await isAlive(pid)); i++) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Starts again whatever of its processes is not running (ovs-vswitchd with its dummy address and route). */
  async restart(): Promise<void> {
    const pids = await this.pids();
    if (!pids['ovsdb-server']) await startOvsdb(this.dir);
    if (!pids['ovs-vswitchd']) {
      await startVswitchd(this.dir);
      await this.network();
    }
    if (!pids['ovn-controller']) await this.startController();
  }

  /** Stops every process by pid (SIGTERM: its SB Chassis row stays, as after a crash). */
  async stop(): Promise<void> {
    for (const p of ['ovn-controller', 'ovs-vswitchd', 'ovsdb-server'] as const) await stopPid(await this.pid(p));
  }

  /** The BFD session state towards another chassis (its tunnel ovn-<other>-0), or undefined. */
  async bfdTo(other: string): Promise<string | undefined> {
    try {
      return (await this.vsctl('get', 'Interface', `ovn-${other}-0`, 'bfd_status:state')).replace(/"/g, '');
    } catch {
      return undefined;
    }
  }
}

/** Chassis hv1..hvN on one network, the first K of them gateways (gw1..gwK), addresses 192.168.0.<i>. */
export async function addChassis(sb: Pick<Sandbox, 'dir' | 'sbRemote'>, n: number, gateways: number): Promise<{ net: SimNetwork; chassis: SimChassis[] }> {
  const net = await addNetwork(sb);
  const chassis: SimChassis[] = [];
  for (let i = 1; i <= n; i++) {
    const gateway = i <= gateways;
    chassis.push(await new SimChassis(sb, net, { name: gateway ? `gw${i}` : `hv${i - gateways}`, ip: `192.168.0.${i}`, gateway }).start());
  }
  // (OVN_POPULATE_ARP: each chassis knows the others' tunnel MACs at once, instead of learning them)
  for (const a of chassis) {
    const mac = (await a.vsctl('get', 'Interface', 'br-phys', 'mac_in_use')).replace(/"/g, '');
    for (const b of chassis) if (b !== a) await b.appctl('ovs-vswitchd', 'tnl/neigh/set', 'br-phys', a.o.ip, mac);
  }
  return { net, chassis };
}

/**
 * Stops the simulated chassis (and their network) found under a sandbox's
 * directory, by the pids in their pidfiles, only those whose command line
 * names the directory (`sandbox down`).
 */
export async function stopChassisIn(dir: string): Promise<string[]> {
  const stopped: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!e.isDirectory()) continue;
    const d = path.join(dir, e.name);
    for (const p of ['ovn-controller', 'ovs-vswitchd', 'ovsdb-server']) {
      const pid = await pidOf(d, p);
      if (!pid) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmd.includes(d)) continue;
      await stopPid(pid);
      stopped.push(`${e.name}/${p}(${pid})`);
    }
  }
  return stopped;
}
