// `npm run start:sandbox`: start a local OVN control plane (real ovsdb-server
// for NB and SB and ovn-northd, on unix sockets in a temp dir), put a small
// example gateway in it, and run the manager's main job against it: a live
// summary of NB routers, ports and NAT that follows changes.
//
//   npm run start:sandbox -- [--cluster 3] [--empty] [--chassis-rows N] [--keep]
//
// Plain-text lines (where the sandbox is, OVN_NB_DB/OVN_SB_DB, the summary) go
// to stdout; the pino JSON log to stderr. While it runs, change NB from another
// terminal with the printed OVN_NB_DB, e.g.
// `OVN_NB_DB=... ovn-nbctl lr-nat-add r1 dnat_and_snat 172.16.0.20 10.0.1.20`.
//
// Whatever stops it (Ctrl-C, SIGTERM or SIGHUP to it or to npm, npm killed),
// every process the sandbox started stops and its temp dir is removed, unless
// --keep. The npm script `exec`s node, so npm's signal reaches this process;
// if npm dies without passing one on, this process sees its parent change;
// and a detached watchdog stops the servers if this process is SIGKILLed.

import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { addChassisRows, isAutoDir, startSandbox, run } from './sandbox-lib.js';
import { watch } from '../src/watch.js';

const { values: o } = parseArgs({
  options: {
    cluster: { type: 'string', default: '1' },
    empty: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'chassis-rows': { type: 'string', default: '0' },
  },
  strict: true,
});
const cluster = Number(o.cluster);
if (cluster !== 1 && cluster !== 3) {
  process.stderr.write(`start:sandbox: --cluster must be 1 or 3, got "${o.cluster}"\n`);
  process.exit(2);
}
const rows = Number(o['chassis-rows']);
if (!Number.isInteger(rows) || rows < 0 || rows > 250) {
  process.stderr.write(`start:sandbox: --chassis-rows must be an integer from 0 to 250, got "${o['chassis-rows']}"\n`);
  process.exit(2);
}
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
const say = (line: string) => process.stdout.write(line + '\n');

let sb: Awaited<ReturnType<typeof startSandbox>> | undefined;
let stopWatch: (() => Promise<void>) | undefined;
let stopping: Promise<void> | undefined;
const stop = (code: number, why: string) =>
  (stopping ??= (async () => {
    logger.info({ why }, 'stopping the manager and the sandbox');
    // a second signal while stopping: stop harder (the watchdog kills what is left)
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(code));
    await stopWatch?.().catch(() => {});
    if (sb) {
      await sb.stop();
      if (isAutoDir(sb) && !o.keep) await rm(sb.dir, { recursive: true, force: true });
      else say(`sandbox kept in ${sb.dir}`);
    }
    process.exit(code);
  })());
// from the start: a signal while the sandbox starts stops it once it is up (or the watchdog does)
let early: NodeJS.Signals | undefined;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => (sb ? void stop(0, sig) : (early = sig)));
sb = await startSandbox({ cluster: cluster as 1 | 3, watchdog: true, watchdogRemovesDir: !o.keep });
if (early) await stop(0, early);
// npm (our parent) gone without passing a signal on: we are reparented
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void stop(0, 'parent process gone'), 500).unref();

try {
  say(`sandbox in ${sb.dir}${o.keep ? ' (kept when stopped)' : ''}`);
  say(`export OVN_NB_DB=${sb.nbRemote}`);
  say(`export OVN_SB_DB=${sb.sbRemote}`);
  if (rows > 0) say(`# SB Chassis (gateway-capable): ${(await addChassisRows(sb, rows)).join(' ')}`);
  if (!o.empty) {
    const nbctl = (...a: string[]) => run('ovn-nbctl', [`--db=${sb.nbRemote}`, ...a]);
    await nbctl('lr-add', 'r1', '--', 'lrp-add', 'r1', 'r1-external', '0a:00:00:00:00:01', '172.16.0.10/16',
      '--', 'lrp-set-gateway-chassis', 'r1-external', 'gw-1', '3', '--', 'lrp-set-gateway-chassis', 'r1-external', 'gw-2', '2',
      '--', 'lr-route-add', 'r1', '0.0.0.0/0', '172.16.0.1', '--', 'lr-nat-add', 'r1', 'snat', '172.16.0.10', '10.0.1.0/24',
      '--', 'lr-nat-add', 'r1', 'dnat_and_snat', '172.16.0.11', '10.0.1.5');
  }
  stopWatch = await watch({ nbRemote: sb.nbRemote, logger });
  say('following changes; Ctrl-C stops the manager and the sandbox');
} catch (e) {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  await stop(1, 'start failed');
}
