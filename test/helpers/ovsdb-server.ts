// An ovsdb-server started by hand on a fresh NB database in a given dir, with
// the --remote options a test wants (not detached: its pid is our child's,
// and only that pid is ever signalled), stopped in t.teardown.
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SCHEMAS, findBinary, run } from '../../tools/sandbox-lib.js';

export interface SpawnedOvsdbServer {
  pid: number;
  /** Its --log-file (ovsdb-server logs the ports it chose for ptcp:0 / pssl:0). */
  log: string;
  /** SIGTERM, SIGKILL after 5 s; resolves when it has exited (at once if it already had). */
  stop(): Promise<void>;
}

export async function spawnOvsdbServer(
  t: Test,
  opts: { dir: string; remotes: string[]; extraArgs?: string[] },
): Promise<SpawnedOvsdbServer> {
  const { dir, remotes, extraArgs = [] } = opts;
  const db = path.join(dir, 'nb.db');
  const log = path.join(dir, 'ovsdb-server.log');
  if (!existsSync(db)) await run(await findBinary('ovsdb-tool'), ['create', db, SCHEMAS.nb]);
  const server = spawn(
    await findBinary('ovsdb-server'),
    ['--no-chdir', `--log-file=${log}`, '-vconsole:off', `--unixctl=${path.join(dir, 'ctl')}`, ...remotes.map((r) => `--remote=${r}`), ...extraArgs, db],
    { stdio: 'ignore' },
  );
  const pid = server.pid!;
  const exited = once(server, 'exit');
  // belt and braces: never leave our server behind if this process exits early
  const killOnExit = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  t.teardown(async () => {
    await stop();
    process.removeListener('exit', killOnExit);
  });
  return { pid, log, stop };
}
