/**
 * Test helper: a real OVN sandbox per test file.
 *
 *   const sb = await withSandbox(t)            // standalone NB+SB, ovn-northd
 *   const sb = await withSandbox(t, { cluster: 3 })
 *   await nbctl(sb, 'lr-add', 'r1')
 *
 * Servers are stopped by t.teardown; if the test process dies first, a
 * synchronous exit/SIGINT/SIGTERM handler SIGKILLs the recorded pids, and a
 * detached watchdog catches even a SIGKILLed test process.
 */
import type { Test } from 'tap';
import { rm } from 'node:fs/promises';
import {
  findBinary,
  isAliveSync,
  isAutoDir,
  run,
  startSandbox,
  type Sandbox,
  type SandboxOptions,
} from '../../tools/sandbox-lib.js';

import { addChassis, type SimChassis } from '../../tools/chassis-lib.js';
import { ovnTrace as ovnTraceOn } from '../../src/sandbox/ovn-trace.js';

export type { Sandbox, SandboxOptions } from '../../tools/sandbox-lib.js';

const live = new Set<Sandbox>();
let handlersInstalled = false;

function killAllSync(): void {
  for (const sb of live) {
    for (const pid of sb.pids()) {
      if (isAliveSync(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
  live.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync();
      // re-raise with the default disposition so the exit status is honest
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Start a sandbox in its own temp dir for this test (file). Stopped in
 * t.teardown; the dir is removed afterwards when the test passed, and kept
 * (with its logs) when it failed.
 */
export async function withSandbox(t: Test, opts: SandboxOptions = {}): Promise<Sandbox> {
  installHandlers();
  const sb = await startSandbox({ watchdog: true, ...opts });
  live.add(sb);
  t.teardown(async () => {
    try {
      await sb.stop();
    } finally {
      live.delete(sb);
    }
    if (isAutoDir(sb)) {
      if (t.passing()) await rm(sb.dir, { recursive: true, force: true });
      else t.comment(`sandbox logs kept in ${sb.dir}`);
    }
  });
  return sb;
}

/**
 * withSandbox and N simulated chassis on it (K of them gateways: gw1..gwK,
 * then hv1..), each its own ovsdb-server, ovs-vswitchd and ovn-controller;
 * the chassis and their network are stopped in t.teardown.
 */
export async function withChassis(t: Test, n: number, gateways: number, opts: SandboxOptions = {}): Promise<{ sb: Sandbox; chassis: SimChassis[] }> {
  const sb = await withSandbox(t, opts);
  const { net, chassis } = await addChassis(sb, n, gateways);
  t.teardown(async () => {
    for (const c of chassis) await c.stop();
    await net.stop();
  });
  return { sb, chassis };
}

async function ctl(bin: 'ovn-nbctl' | 'ovn-sbctl', db: string, args: string[]): Promise<string> {
  const file = await findBinary(bin);
  const { stdout } = await run(file, [`--db=${db}`, '--timeout=30', ...args], { timeoutMs: 40_000 });
  return stdout.trimEnd();
}

/** `ovn-nbctl --db=<nbRemote> ...args` (the full comma list for clusters: leader-only unless you pass --no-leader-only). */
export function nbctl(sb: Pick<Sandbox, 'nbRemote'>, ...args: string[]): Promise<string> {
  return ctl('ovn-nbctl', sb.nbRemote, args);
}

/** `ovn-sbctl --db=<sbRemote> ...args`. */
export function sbctl(sb: Pick<Sandbox, 'sbRemote'>, ...args: string[]): Promise<string> {
  return ctl('ovn-sbctl', sb.sbRemote, args);
}

/** ovn-trace on the sandbox's SB (src/sandbox/ovn-trace.ts: --ct=new x8, --minimal). */
export function ovnTrace(sb: Pick<Sandbox, 'sbRemote'>, microflow: string): Promise<string> {
  return ovnTraceOn(sb.sbRemote, microflow);
}

export type DumpRow = Record<string, unknown>;

/**
 * `ovsdb-client -f json dump <remote> <db> [table [column...]]`, parsed into
 * { TableName: [{ _uuid: ['uuid', '...'], column: value, ... }, ...] }
 * (values stay in OVSDB JSON notation: ["set", [...]], ["map", [...]], ...).
 *
 * A comma-separated cluster remote is tried one member at a time (a single
 * remote is accepted even when it is a follower; a comma list makes
 * ovsdb-client insist on the leader).
 */
export async function ovsdbClientDump(
  remote: string,
  db: string,
  table?: string,
  ...columns: string[]
): Promise<Record<string, DumpRow[]>> {
  const client = await findBinary('ovsdb-client');
  const remotes = remote.split(',');
  let lastErr: unknown;
  for (const r of remotes) {
    const args = ['--timeout=10', '-f', 'json', 'dump', r, db, ...(table ? [table, ...columns] : [])];
    if (remotes.length > 1) args.unshift('--no-leader-only');
    try {
      const { stdout } = await run(client, args, { timeoutMs: 20_000 });
      return parseJsonDump(stdout);
    } catch (e) {
      lastErr = e;
    }
  }
  throw lastErr;
}

export function parseJsonDump(stdout: string): Record<string, DumpRow[]> {
  const out: Record<string, DumpRow[]> = {};
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const t = JSON.parse(line) as { caption?: string; headings: string[]; data: unknown[][] };
    const name = (t.caption ?? '').replace(/ table$/, '');
    out[name] = t.data.map((row) => Object.fromEntries(t.headings.map((h, i) => [h, row[i]])));
  }
  return out;
}
