import { Writable } from 'node:stream';
import { main } from '../../src/cli/natgwctl.js';
import type { Sandbox } from './sandbox.js';

/**
 * ovn-natgwctl main() in this process with --db/--sb of a sandbox: its exit
 * status, stdout, and what it wrote to stderr (notices, warnings, errors).
 * A non-zero exit status rejects, with an Error whose message is what it
 * wrote to stderr (and `code`, `stdout`, `stderr` on it).
 */
export async function runCtl(sb: Pick<Sandbox, 'nbRemote' | 'sbRemote'>, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      stdout += String(chunk);
      cb();
    },
  });
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['--db', sb.nbRemote, '--sb', sb.sbRemote, ...args], w);
    if (code !== 0) throw Object.assign(new Error(stderr), { code, stdout, stderr });
    return { code, stdout, stderr };
  } finally {
    process.stderr.write = write;
  }
}
