/**
 * ovn-natgwd processes for a test, as on gateway nodes: each with its own
 * manifest directory and admin socket, started from the package's bin (in a
 * network namespace when asked), killed with the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { callDaemon } from '../../src/cli/daemon-client.js';
import { until } from './util.js';

export const NATGWD = fileURLToPath(new URL('../../bin/ovn-natgwd.js', import.meta.url));

export interface TestDaemon {
  name: string;
  dir: string;
  sock: string;
  args: string[];
  netns?: string;
  child?: ChildProcess;
}

/** A daemon's files: its manifest directory holding `manifests` (file name -> text), its socket, its flags. */
export async function daemonFiles(tmp: string, name: string, manifests: Record<string, string>, args: string[], netns?: string): Promise<TestDaemon> {
  const dir = path.join(tmp, name, 'manifests.d');
  await mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(manifests)) await writeFile(path.join(dir, f), text);
  return { name, dir, sock: path.join(tmp, name, 'natgwd.ctl'), args, ...(netns ? { netns } : {}) };
}

/** Starts it (again), logs to stderr when NATGWD_TEST_LOG is set. */
export function startDaemon(t: Test, d: TestDaemon): ChildProcess {
  const argv = [NATGWD, '--manifests', d.dir, '--socket', d.sock, ...d.args];
  const stdio = ['ignore', 'ignore', process.env.NATGWD_TEST_LOG ? 'inherit' : 'ignore'] as const;
  // (ip netns exec execs the command: the pid is the daemon's)
  const c = d.netns ? spawn('ip', ['netns', 'exec', d.netns, process.execPath, ...argv], { stdio: [...stdio] }) : spawn(process.execPath, argv, { stdio: [...stdio] });
  d.child = c;
  t.teardown(() => {
    try {
      c.kill('SIGCONT');
    } catch {
      // gone
    }
    c.kill('SIGKILL');
  });
  return c;
}

export interface DaemonStatus {
  ready: boolean;
  role: string;
  dead: string[];
  watched: string[];
  liveness: Record<string, string>;
  health: { healthy: boolean; reason: string | null } | null;
}

export const daemonStatus = async (d: TestDaemon): Promise<DaemonStatus> => (await callDaemon(d.sock, 'status').catch(() => ({ ready: false }))) as DaemonStatus;

export const daemonReady = (d: TestDaemon, ms = 30_000) => until(`${d.name} ready`, async () => existsSync(d.sock) && (await daemonStatus(d)).ready, ms);

export type DaemonEvent = { type: string; [k: string]: unknown };
export const daemonEvents = async (d: TestDaemon): Promise<DaemonEvent[]> => ((await callDaemon(d.sock, 'events')) as { recent: DaemonEvent[] }).recent;
