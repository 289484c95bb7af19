/** Shared by the bench's contenders that run ovn-natgwd: waiting for it, and its memory. */
import { readFile } from 'node:fs/promises';
import { callDaemon } from '../src/cli/daemon-client.js';

/** Resolves once the daemon on `sock` answers ready; throws after `seconds`. */
export async function waitDaemonReady(sock: string, seconds: number): Promise<void> {
  const ready = async () => ((await callDaemon(sock, 'status').catch(() => ({ ready: false }))) as { ready: boolean }).ready;
  for (let i = 0; i < seconds * 10; i++) {
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ovn-natgwd on ${sock} did not get ready in ${seconds} s`);
}

/** A process's resident set, in MiB (Linux /proc). */
export async function rssMb(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}
