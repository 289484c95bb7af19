/**
 * A real, local OVN control plane for development and tests: OVN_Northbound
 * and OVN_Southbound ovsdb-servers (standalone, or 3-member Raft clusters) and
 * optionally ovn-northd, all under one short directory, all reachable over
 * unix sockets.
 *
 * Every process is started with --detach and --pidfile; the pids are recorded
 * in <dir>/sandbox.json and only those pids are ever signalled (and only if
 * /proc/<pid>/cmdline still mentions the sandbox dir, so a recycled pid is
 * never hit).  Nothing is ever killed by name.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface SandboxOptions {
  /** Directory for dbs, sockets, logs. Default: a fresh mkdtemp under os.tmpdir() ("ovn-natgw-sb-XXXXXX"). */
  dir?: string;
  /** 1 = standalone servers (default), 3 = three-member Raft clusters for NB and SB. */
  cluster?: 1 | 3;
  /** Start ovn-northd (default true). */
  northd?: boolean;
  /**
   * Start a tiny detached `sh` watchdog that SIGKILLs the sandbox's servers
   * once the calling process is gone (covers SIGKILLed test processes, where
   * no exit handler runs). Default false; the test helper turns it on.
   */
  watchdog?: boolean;
  /** The watchdog also removes the sandbox dir (a temp dir nobody asked to keep). */
  watchdogRemovesDir?: boolean;
  /** Overall timeout for bringing everything up (default 60 s). */
  timeoutMs?: number;
}

export type DbKind = 'nb' | 'sb';

export interface DbMember {
  /** 0 for a standalone server; 1..3 for cluster members (nb1..nb3). */
  index: number;
  db: DbKind;
  /** Client remote, e.g. "unix:<dir>/nb1.sock" (or "unix:<dir>/nb.sock" standalone). */
  remote: string;
  /** unixctl socket path, for `ovs-appctl -t <ctl>`. */
  ctl: string;
  dbFile: string;
  /** Raft address (tcp:127.0.0.1:PORT), clusters only. */
  raftAddress?: string;
  /** pid of the running (or last started) ovsdb-server. */
  pid: number;
  pidFile: string;
  logFile: string;
}

export interface Sandbox {
  dir: string;
  /** OVN_NB_DB form: "unix:/d/nb.sock" or, clustered, "unix:/d/nb1.sock,unix:/d/nb2.sock,unix:/d/nb3.sock". */
  nbRemote: string;
  sbRemote: string;
  cluster: 1 | 3;
  members: { nb: DbMember[]; sb: DbMember[] };
  northdPid?: number;
  /** Stops exactly the pids it started (SIGTERM, SIGKILL after ~3 s). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL one ovsdb-server and wait until its pid is gone. */
  killMember(db: DbKind, index: number): Promise<void>;
  /** Restart a member on the same db file and sockets; resolves once its unix socket accepts. */
  startMember(db: DbKind, index: number): Promise<void>;
  /** Index of the current Raft leader (waits for one, up to timeoutMs, default 20 s); 0 for standalone. */
  leaderIndex(db: DbKind, opts?: { timeoutMs?: number }): Promise<number>;
  /** Clusters only: make the leader hand over leadership (cluster/failure-test transfer-leadership); resolves with the new leader's index. */
  transferLeadership(db: DbKind, opts?: { timeoutMs?: number }): Promise<number>;
  /** All pids currently recorded (northd, db servers, watchdog). */
  pids(): number[];
}

export const SCHEMAS = {
  nb: '/usr/share/ovn/ovn-nb.ovsschema',
  sb: '/usr/share/ovn/ovn-sb.ovsschema',
} as const;

export const DB_NAMES = { nb: 'OVN_Northbound', sb: 'OVN_Southbound' } as const;

/** Longest file name we put in the dir is "northd.ctl"/"nb1.sock"; sun_path is 108 bytes incl. NUL. */
const MAX_DIR_LEN = 90;
const STATE_VERSION = 1;

interface StateFile {
  version: number;
  dir: string;
  autoDir: boolean;
  cluster: 1 | 3;
  nbRemote: string;
  sbRemote: string;
  members: { nb: DbMember[]; sb: DbMember[] };
  northdPid?: number;
  watchdogPid?: number;
  createdAt: string;
  stoppedAt?: string;
}

// ---------------------------------------------------------------------------
// small utilities

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const EXTRA_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin', '/bin', '/usr/local/bin'];

const binCache = new Map<string, string>();

/** Absolute path of an OVS/OVN binary, or a helpful error. */
export async function findBinary(name: string): Promise<string> {
  const hit = binCache.get(name);
  if (hit) return hit;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      await access(p, fsc.X_OK);
      binCache.set(name, p);
      return p;
    } catch {
      /* keep looking */
    }
  }
  throw new Error(
    `${name} not found (looked in PATH and ${EXTRA_BIN_DIRS.join(', ')}); ` +
      `install OVN/OVS first (apt-get install -y ovn-central ovn-host; in a checkout: bash tools/ensure-ovn.sh)`,
  );
}

/** Environment for OVS/OVN tools: keep every default path inside the sandbox dir. */
function toolEnv(dir: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['OVS_RUNDIR', 'OVS_LOGDIR', 'OVS_DBDIR', 'OVN_RUNDIR', 'OVN_LOGDIR', 'OVN_DBDIR']) env[k] = dir;
  delete env.OVN_NB_DB;
  delete env.OVN_SB_DB;
  return env;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** execFile as a promise; rejects with an Error carrying stderr. */
export function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const e = new Error(
            `${path.basename(file)} ${args.join(' ')} failed` +
              `${(err as NodeJS.ErrnoException & { killed?: boolean }).killed ? ' (timed out)' : ''}: ` +
              `${String(stderr).trim() || err.message}`,
          ) as Error & { stdout?: string; stderr?: string; cause?: unknown };
          e.stdout = String(stdout);
          e.stderr = String(stderr);
          e.cause = err;
          reject(e);
        } else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

async function tail(file: string, lines = 25): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return `(no log at ${file})`;
  }
}

function readProc(pid: number, what: 'stat' | 'cmdline'): Promise<string | undefined> {
  return readFile(`/proc/${pid}/${what}`, 'utf8').catch(() => undefined);
}

/** Alive = exists and is not a zombie (a SIGKILLed daemon may linger as a zombie until init reaps it). */
export async function isAlive(pid: number | undefined): Promise<boolean> {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = await readProc(pid, 'stat');
  if (stat === undefined) return process.platform !== 'linux';
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Synchronous variant for exit handlers. */
export function isAliveSync(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True if pid is alive and its command line mentions `dir` (guards against pid
 * reuse). `exiting`: a pid we signalled also counts while its command line is
 * empty, which is what /proc shows for a process between releasing its
 * memory and becoming a zombie.
 */
async function isOurs(pid: number | undefined, dir: string, exiting = false): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const cmd = await readProc(pid!, 'cmdline');
  if (cmd === undefined) return process.platform !== 'linux';
  return (exiting && cmd === '') || cmd.split('\0').join(' ').includes(dir);
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastErr ? `: ${(lastErr as Error).message ?? String(lastErr)}` : ''),
      );
    }
    await sleep(intervalMs);
  }
}

export function socketAccepts(sockPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: sockPath });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Distinct free TCP ports on 127.0.0.1 (bound together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise<void>((res, rej) => {
        srv.once('error', rej);
        srv.listen(0, '127.0.0.1', () => res());
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function sockPath(remote: string): string {
  return remote.replace(/^punix:|^unix:/, '');
}

export interface ClusterStatus {
  status: string; // "cluster member", "joining cluster", ...
  role: string; // leader | follower | candidate
  term: number;
  leader: string; // "self", a server id, or "unknown"
  serverId: string;
  servers: number;
  raw: string;
}

export function parseClusterStatus(raw: string): ClusterStatus {
  const field = (name: string) => raw.match(new RegExp(`^${name}: (.*)$`, 'm'))?.[1]?.trim() ?? '';
  const serversBlock = raw.split(/^Servers:\s*$/m)[1] ?? '';
  const servers = serversBlock.split('\n').filter((l) => /^\s+\S+ \(/.test(l)).length;
  return {
    status: field('Status'),
    role: field('Role'),
    term: Number(field('Term')) || 0,
    leader: field('Leader'),
    serverId: field('Server ID').split(' ')[0] ?? '',
    servers,
    raw,
  };
}

// ---------------------------------------------------------------------------
// the sandbox

function memberFiles(dir: string, db: DbKind, index: number) {
  const base = index === 0 ? db : `${db}${index}`;
  return {
    remote: `unix:${path.join(dir, `${base}.sock`)}`,
    ctl: path.join(dir, `${base}.ctl`),
    dbFile: path.join(dir, `${base}.db`),
    pidFile: path.join(dir, `${base}.pid`),
    logFile: path.join(dir, `${base}.log`),
  };
}

const OUR_FILE = /^((nb|sb)\d?\.(db|sock|ctl|pid|log)|northd\.(ctl|pid|log)|\.(nb|sb)\d?\.db\.~lock~|sandbox\.json)$/;

class SandboxImpl implements Sandbox {
  private stopping?: Promise<void>;

  constructor(private state: StateFile) {}

  get dir() {
    return this.state.dir;
  }
  get nbRemote() {
    return this.state.nbRemote;
  }
  get sbRemote() {
    return this.state.sbRemote;
  }
  get cluster() {
    return this.state.cluster;
  }
  get members() {
    return this.state.members;
  }
  get northdPid() {
    return this.state.northdPid;
  }
  get autoDir() {
    return this.state.autoDir;
  }

  pids(): number[] {
    const ps = [
      this.state.northdPid,
      ...this.state.members.nb.map((m) => m.pid),
      ...this.state.members.sb.map((m) => m.pid),
      this.state.watchdogPid,
    ];
    return ps.filter((p): p is number => typeof p === 'number' && p > 0);
  }

  async save(): Promise<void> {
    await writeFile(path.join(this.dir, 'sandbox.json'), JSON.stringify(this.state, null, 2) + '\n');
  }

  setWatchdog(pid: number | undefined) {
    this.state.watchdogPid = pid;
  }
  setNorthd(pid: number | undefined) {
    this.state.northdPid = pid;
  }

  member(db: DbKind, index: number): DbMember {
    const m = this.state.members[db].find((x) => x.index === index);
    if (!m) {
      const have = this.state.members[db].map((x) => x.index).join(', ');
      throw new Error(`no ${db} member with index ${index} (have: ${have})`);
    }
    return m;
  }

  async startServer(m: DbMember, timeoutMs = 30_000): Promise<void> {
    const server = await findBinary('ovsdb-server');
    const args = [
      `--remote=punix:${sockPath(m.remote)}`,
      `--unixctl=${m.ctl}`,
      `--pidfile=${m.pidFile}`,
      `--log-file=${m.logFile}`,
      '--no-chdir',
      '--detach',
      m.dbFile,
    ];
    try {
      await run(server, args, { env: toolEnv(this.dir), timeoutMs });
      const pid = Number((await readFile(m.pidFile, 'utf8')).trim());
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad pidfile ${m.pidFile}`);
      m.pid = pid;
      await this.save();
      await waitFor(`${m.remote} to accept connections`, timeoutMs, async () => {
        if (!(await isAlive(pid))) throw new Error(`ovsdb-server (pid ${pid}) exited`);
        return socketAccepts(sockPath(m.remote));
      });
    } catch (e) {
      throw new Error(
        `ovsdb-server for ${m.db}${m.index || ''} failed to start: ${(e as Error).message}\n` +
          `--- tail of ${m.logFile} ---\n${await tail(m.logFile)}`,
        { cause: e },
      );
    }
  }

  async clusterStatus(m: DbMember): Promise<ClusterStatus> {
    const appctl = await findBinary('ovs-appctl');
    const { stdout } = await run(appctl, ['--timeout=5', '-t', m.ctl, 'cluster/status', DB_NAMES[m.db]], {
      env: toolEnv(this.dir),
      timeoutMs: 10_000,
    });
    return parseClusterStatus(stdout);
  }

  async stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const dir = this.dir;
    const signal = async (pids: number[], sig: NodeJS.Signals) => {
      for (const pid of pids) {
        if (await isOurs(pid, dir)) {
          try {
            process.kill(pid, sig);
          } catch {
            /* already gone */
          }
        }
      }
    };
    const waitGone = async (pids: number[], ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const alive: number[] = [];
        for (const p of pids) if (await isOurs(p, dir, true)) alive.push(p);
        if (alive.length === 0 || Date.now() > deadline) return alive;
        await sleep(50);
      }
    };
    // northd first so it does not log a storm of reconnects, then the dbs.
    const northd = this.state.northdPid ? [this.state.northdPid] : [];
    await signal(northd, 'SIGTERM');
    await waitGone(northd, 3000);
    const rest = this.pids();
    await signal(rest, 'SIGTERM');
    const left = await waitGone(rest, 3000);
    if (left.length) {
      await signal(left, 'SIGKILL');
      const still = await waitGone(left, 5000);
      if (still.length) throw new Error(`pids ${still.join(', ')} survived SIGKILL`);
    }
    this.state.stoppedAt = new Date().toISOString();
    await this.save().catch(() => undefined);
  }

  async killMember(db: DbKind, index: number): Promise<void> {
    const m = this.member(db, index);
    if (!(await isOurs(m.pid, this.dir))) return;
    process.kill(m.pid, 'SIGKILL');
    await waitFor(`pid ${m.pid} (${db}${index || ''}) to exit`, 10_000, async () => !(await isAlive(m.pid)), 20);
  }

  async startMember(db: DbKind, index: number): Promise<void> {
    const m = this.member(db, index);
    if (await isOurs(m.pid, this.dir)) throw new Error(`${db}${index || ''} is already running (pid ${m.pid})`);
    await this.startServer(m);
  }

  async leaderIndex(db: DbKind, opts: { timeoutMs?: number } = {}): Promise<number> {
    if (this.cluster === 1) return 0;
    return waitFor(`a ${DB_NAMES[db]} leader`, opts.timeoutMs ?? 20_000, async () => {
      let best: { index: number; term: number } | undefined;
      for (const m of this.members[db]) {
        if (!(await isAlive(m.pid))) continue;
        const st = await this.clusterStatus(m).catch(() => undefined);
        if (st?.role === 'leader' && (!best || st.term > best.term)) best = { index: m.index, term: st.term };
      }
      return best?.index;
    }, 100);
  }

  async transferLeadership(db: DbKind, opts: { timeoutMs?: number } = {}): Promise<number> {
    if (this.cluster === 1) throw new Error('transferLeadership needs a clustered sandbox');
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const old = await this.leaderIndex(db, { timeoutMs });
    const appctl = await findBinary('ovs-appctl');
    await run(appctl, ['-t', this.member(db, old).ctl, 'cluster/failure-test', 'transfer-leadership'], {
      env: toolEnv(this.dir),
    });
    return waitFor(`${DB_NAMES[db]} leadership to move off member ${old}`, timeoutMs, async () => {
      const now = await this.leaderIndex(db, { timeoutMs: 1000 }).catch(() => undefined);
      return now !== undefined && now !== old ? now : undefined;
    }, 100);
  }
}

// ---------------------------------------------------------------------------
// public entry points

async function prepareDir(opts: SandboxOptions): Promise<{ dir: string; autoDir: boolean }> {
  let dir: string;
  let autoDir = false;
  if (opts.dir) {
    dir = path.resolve(opts.dir);
    await mkdir(dir, { recursive: true });
    // Reusing a dir: refuse if it still has live servers, else clear only our own files.
    const prev = await readFile(path.join(dir, 'sandbox.json'), 'utf8').catch(() => undefined);
    if (prev) {
      const old = new SandboxImpl(JSON.parse(prev) as StateFile);
      for (const pid of old.pids()) {
        if (await isOurs(pid, dir)) {
          throw new Error(`${dir} still has a running sandbox (pid ${pid}); stop it first (npm run sandbox -- down --dir ${dir})`);
        }
      }
    }
    for (const f of await readdir(dir)) if (OUR_FILE.test(f)) await rm(path.join(dir, f), { force: true });
  } else {
    let base = os.tmpdir();
    if (base.length > MAX_DIR_LEN - 20) base = '/tmp';
    dir = await mkdtemp(path.join(base, 'ovn-natgw-sb-'));
    autoDir = true;
  }
  if (Buffer.byteLength(dir) > MAX_DIR_LEN) {
    throw new Error(
      `sandbox dir ${dir} is too long (${Buffer.byteLength(dir)} bytes): unix socket paths must stay under 108 bytes; use a shorter --dir`,
    );
  }
  return { dir, autoDir };
}

/** Start a sandbox. On failure everything already started is stopped again. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const cluster = opts.cluster ?? 1;
  if (cluster !== 1 && cluster !== 3) throw new Error(`cluster must be 1 or 3, got ${String(cluster)}`);
  const wantNorthd = opts.northd ?? true;
  const timeoutMs = opts.timeoutMs ?? 60_000;

  // Fail early, with a useful message, if anything is missing.
  const tool = await findBinary('ovsdb-tool');
  await findBinary('ovsdb-server');
  await findBinary('ovs-appctl');
  const nbctlBin = await findBinary('ovn-nbctl');
  const northdBin = wantNorthd ? await findBinary('ovn-northd') : undefined;
  for (const db of ['nb', 'sb'] as const) {
    try {
      await access(SCHEMAS[db], fsc.R_OK);
    } catch {
      throw new Error(`${SCHEMAS[db]} not found; install OVN first: run \`bash tools/ensure-ovn.sh\``);
    }
  }

  const { dir, autoDir } = await prepareDir(opts);
  const env = toolEnv(dir);

  const members: { nb: DbMember[]; sb: DbMember[] } = { nb: [], sb: [] };
  const ports = cluster === 3 ? await freePorts(6) : [];
  for (const db of ['nb', 'sb'] as const) {
    const indexes = cluster === 3 ? [1, 2, 3] : [0];
    for (const index of indexes) {
      const f = memberFiles(dir, db, index);
      const m: DbMember = { index, db, ...f, pid: 0 };
      if (cluster === 3) m.raftAddress = `tcp:127.0.0.1:${ports.shift()}`;
      members[db].push(m);
    }
  }
  const remoteOf = (db: DbKind) => members[db].map((m) => m.remote).join(',');
  const sb = new SandboxImpl({
    version: STATE_VERSION,
    dir,
    autoDir,
    cluster,
    nbRemote: remoteOf('nb'),
    sbRemote: remoteOf('sb'),
    members,
    createdAt: new Date().toISOString(),
  });
  await sb.save();

  try {
    if (opts.watchdog) sb.setWatchdog(startWatchdog(dir, opts.watchdogRemovesDir ?? false));

    // 1. database files
    for (const db of ['nb', 'sb'] as const) {
      const [first, ...rest] = members[db];
      if (cluster === 1) {
        await run(tool, ['create', first.dbFile, SCHEMAS[db]], { env });
      } else {
        await run(tool, ['create-cluster', first.dbFile, SCHEMAS[db], first.raftAddress!], { env });
        for (const m of rest) {
          await run(tool, ['join-cluster', m.dbFile, DB_NAMES[db], m.raftAddress!, first.raftAddress!], { env });
        }
      }
    }

    // 2. servers
    for (const db of ['nb', 'sb'] as const) for (const m of members[db]) await sb.startServer(m, timeoutMs);

    // 3. clusters: every member joined, and all agree on a leader
    if (cluster === 3) {
      for (const db of ['nb', 'sb'] as const) {
        await waitFor(`${DB_NAMES[db]} cluster to form`, timeoutMs, async () => {
          for (const m of members[db]) {
            const st = await sb.clusterStatus(m);
            if (st.status !== 'cluster member' || !st.leader || st.leader === 'unknown' || st.servers !== 3) {
              throw new Error(`member ${m.index}: status=${st.status || '?'} leader=${st.leader || '?'} servers=${st.servers}`);
            }
          }
          return true;
        }, 100);
      }
    }

    // 4. NB_Global must exist for `ovn-nbctl --wait=sb sync` (idempotent).
    await run(nbctlBin, [`--db=${sb.nbRemote}`, `--timeout=${Math.ceil(timeoutMs / 1000)}`, 'init'], { env, timeoutMs });

    // 5. northd
    if (northdBin) {
      const pidFile = path.join(dir, 'northd.pid');
      const logFile = path.join(dir, 'northd.log');
      try {
        await run(
          northdBin,
          [
            `--ovnnb-db=${sb.nbRemote}`,
            `--ovnsb-db=${sb.sbRemote}`,
            `--unixctl=${path.join(dir, 'northd.ctl')}`,
            `--pidfile=${pidFile}`,
            `--log-file=${logFile}`,
            '--no-chdir',
            '--detach',
          ],
          { env, timeoutMs },
        );
        sb.setNorthd(Number((await readFile(pidFile, 'utf8')).trim()));
        await sb.save();
        // northd is ready once it has processed NB into SB.
        await run(nbctlBin, [`--db=${sb.nbRemote}`, `--timeout=${Math.ceil(timeoutMs / 1000)}`, '--wait=sb', 'sync'], {
          env,
          timeoutMs: timeoutMs + 5000,
        });
      } catch (e) {
        throw new Error(`ovn-northd failed to start: ${(e as Error).message}\n--- tail of ${logFile} ---\n${await tail(logFile)}`, {
          cause: e,
        });
      }
    }
    await sb.save();
    return sb;
  } catch (e) {
    await sb.stop().catch(() => undefined);
    throw e;
  }
}

/** Re-attach to a sandbox from <dir>/sandbox.json (e.g. to stop it from another process). */
export async function loadSandbox(dir: string): Promise<Sandbox> {
  const file = path.join(path.resolve(dir), 'sandbox.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`no sandbox in ${dir} (missing ${file})`);
  }
  const state = JSON.parse(text) as StateFile;
  if (state.version !== STATE_VERSION) throw new Error(`${file}: unsupported version ${String(state.version)}`);
  return new SandboxImpl(state);
}

/** True if the sandbox dir was created by startSandbox (mkdtemp) rather than given by the caller. */
export function isAutoDir(sb: Sandbox): boolean {
  return sb instanceof SandboxImpl ? sb.autoDir : false;
}

/**
 * Detached `sh` that waits for this process to die, then SIGKILLs every pid
 * named in <dir>/*.pid (and a simulated chassis's <dir>/<name>/*.pid) whose
 * command line still mentions <dir>.
 */
function startWatchdog(dir: string, removeDir: boolean): number | undefined {
  const script = [
    'P=$1; D=$2',
    'alive() { [ -r /proc/$P/stat ] || return 1; s=$(sed -e "s/^.*) //" /proc/$P/stat 2>/dev/null | cut -c1); [ "$s" != Z ] && [ -n "$s" ]; }',
    'while alive; do sleep 1; done',
    'for f in "$D"/*.pid "$D"/*/*.pid; do',
    '  [ -f "$f" ] || continue',
    '  p=$(cat "$f" 2>/dev/null)',
    '  case "$p" in ""|*[!0-9]*) continue;; esac',
    '  if tr "\\000" " " < /proc/$p/cmdline 2>/dev/null | grep -qF -- "$D"; then kill -9 "$p" 2>/dev/null; fi',
    'done',
    ...(removeDir ? ['sleep 1; rm -rf -- "$D"'] : []),
  ].join('\n');
  if (process.platform !== 'linux') return undefined;
  const child = spawn('sh', ['-c', script, 'ovn-natgw-watchdog', String(process.pid), dir], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child.pid;
}

/**
 * Adds `n` SB Chassis rows as gateway nodes would register them, so that
 * gateway ports can be placed on a sandbox without hypervisors:
 * pc-node-1..n (Kube-OVN's node names in its guide), hostname the same,
 * other_config ovn-cms-options=enable-chassis-as-gw, a geneve encap on
 * 127.0.0.<i>. No ovn-controller runs for them: nothing binds ports.
 */
export async function addChassisRows(sb: Pick<Sandbox, 'sbRemote'>, n: number): Promise<string[]> {
  const sbctl = await findBinary('ovn-sbctl');
  const names: string[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `pc-node-${i}`;
    await run(sbctl, [`--db=${sb.sbRemote}`, '--timeout=30', 'chassis-add', name, 'geneve', `127.0.0.${i}`, '--', 'set', 'Chassis', name, `hostname=${name}`, 'other_config:ovn-cms-options=enable-chassis-as-gw']);
    names.push(name);
  }
  return names;
}
