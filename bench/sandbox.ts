/**
 * Sandbox access for the benchmarks. Uses the project's tools/sandbox-lib.ts
 * when present; otherwise (or with BENCH_SANDBOX=local) falls back to a
 * minimal standalone NB+SB ovsdb-server pair on unix sockets in a temp dir.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface Sandbox {
  dir: string;
  nbRemote: string;
  sbRemote: string;
  stop(): Promise<void>;
}

export interface SandboxOptions {
  dir?: string;
  cluster?: 1 | 3;
  northd?: boolean;
  /** tools/sandbox-lib only: kill the servers if this process dies */
  watchdog?: boolean;
}

type StartFn = (opts?: SandboxOptions) => Promise<Sandbox>;

let startImpl: StartFn | undefined;
let isAutoDirImpl: ((sb: Sandbox) => boolean) | undefined;
export let sandboxProvider = '';

async function resolveStart(): Promise<StartFn> {
  if (startImpl) return startImpl;
  const libUrl = new URL('../tools/sandbox-lib.ts', import.meta.url);
  if (process.env.BENCH_SANDBOX !== 'local' && existsSync(libUrl)) {
    const mod = (await import(libUrl.href)) as { startSandbox?: StartFn; isAutoDir?: (sb: Sandbox) => boolean };
    if (typeof mod.startSandbox === 'function') {
      startImpl = mod.startSandbox;
      isAutoDirImpl = mod.isAutoDir;
      sandboxProvider = 'tools/sandbox-lib';
      return startImpl;
    }
  }
  startImpl = startLocalSandbox;
  sandboxProvider = 'bench-local';
  return startImpl;
}

/**
 * Start a sandbox. The returned stop() also removes the directory when the
 * sandbox created it itself (a temp dir), since benchmark databases are large.
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const start = await resolveStart();
  const sb = await start(opts);
  if (startImpl === startLocalSandbox || opts.dir || !isAutoDirImpl?.(sb)) return sb;
  const dir = sb.dir;
  let stopping: Promise<void> | undefined;
  return {
    dir,
    nbRemote: sb.nbRemote,
    sbRemote: sb.sbRemote,
    stop() {
      stopping ??= (async () => {
        await sb.stop();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

// ---------------------------------------------------------------------------
// fallback

const SCHEMAS = { nb: '/usr/share/ovn/ovn-nb.ovsschema', sb: '/usr/share/ovn/ovn-sb.ovsschema' };

async function waitFor(path: string, child: ChildProcess, ms = 10000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (child.exitCode !== null) throw new Error(`ovsdb-server exited (${child.exitCode}) before creating ${path}`);
    if (Date.now() - t0 > ms) throw new Error(`timeout waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startServer(dir: string, which: 'nb' | 'sb'): Promise<ChildProcess> {
  const db = join(dir, `${which}.db`);
  await execFileP('ovsdb-tool', ['create', db, SCHEMAS[which]]);
  const sock = join(dir, `${which}.sock`);
  const child = spawn(
    'ovsdb-server',
    [
      db,
      `--remote=punix:${sock}`,
      `--unixctl=${join(dir, `${which}.ctl`)}`,
      `--log-file=${join(dir, `${which}.log`)}`,
      '--no-chdir',
      '-vconsole:off',
    ],
    { stdio: 'ignore' },
  );
  await waitFor(sock, child);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

export async function startLocalSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  if (opts.cluster && opts.cluster !== 1) throw new Error('bench-local sandbox: only standalone databases');
  if (opts.northd) throw new Error('bench-local sandbox: northd not supported');
  const ownDir = !opts.dir;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'natgw-bench-')));
  const children: ChildProcess[] = [];
  try {
    children.push(await startServer(dir, 'nb'));
    children.push(await startServer(dir, 'sb'));
  } catch (e) {
    await Promise.all(children.map(stopChild));
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    dir,
    nbRemote: `unix:${join(dir, 'nb.sock')}`,
    sbRemote: `unix:${join(dir, 'sb.sock')}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(children.map(stopChild));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** "unix:/path" → "/path" */
export function unixPath(remote: string): string {
  if (!remote.startsWith('unix:')) throw new Error(`bench: only unix: remotes are supported (got ${remote})`);
  return remote.slice('unix:'.length);
}
