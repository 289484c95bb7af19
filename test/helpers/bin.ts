// bin/ovn-natgwctl.js in a child process, as an operator runs it: its exit
// status, stdout and stderr. OVN_NB_DB/OVN_SB_DB are cleared unless given.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/ovn-natgwctl.js', import.meta.url));

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a bin (default ovn-natgwctl of this checkout); `timeoutMs` kills a hung one (then code is null-ish: -1). */
export function runBin(args: string[], env: NodeJS.ProcessEnv = {}, opts: { bin?: string; timeoutMs?: number; input?: string } = {}): Promise<BinResult> {
  return new Promise((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
    delete e.OVN_NB_DB;
    delete e.OVN_SB_DB;
    Object.assign(e, env);
    const file = opts.bin ?? process.execPath;
    const argv = opts.bin ? args : [BIN, ...args];
    const child = execFile(file, argv, { env: e, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const killed = (err as { killed?: boolean } | null)?.killed;
      resolve({ code: killed ? -1 : err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
