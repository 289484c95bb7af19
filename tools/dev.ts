// `npm run start:sandbox`: start a local OVN control plane (real ovsdb-server
// for NB and SB and ovn-northd, on unix sockets in a temp dir), put a small
// example gateway in it, and run the manager's main job against it: a live
// summary of NB routers, ports and NAT that follows changes. Ctrl-C stops
// everything that was started.
//
//   npm run start:sandbox -- [--cluster 3] [--empty]
//
// While it runs, change NB from another terminal with the printed
// OVN_NB_DB, e.g. `OVN_NB_DB=... ovn-nbctl lr-nat-add r1 dnat_and_snat 172.16.0.20 10.0.1.20`.

import pino from 'pino';
import { startSandbox, run } from './sandbox-lib.js';
import { watch } from '../src/watch.js';

const args = process.argv.slice(2);
const cluster = args.includes('--cluster') ? (Number(args[args.indexOf('--cluster') + 1]) as 1 | 3) : 1;
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));

const sb = await startSandbox({ cluster });
let stopWatch: (() => Promise<void>) | undefined;
const stop = async (code: number) => {
  await stopWatch?.().catch(() => {});
  await sb.stop();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
try {
  process.stderr.write(`sandbox in ${sb.dir}\nexport OVN_NB_DB=${sb.nbRemote}\nexport OVN_SB_DB=${sb.sbRemote}\n`);
  if (!args.includes('--empty')) {
    const nbctl = (...a: string[]) => run('ovn-nbctl', [`--db=${sb.nbRemote}`, ...a]);
    await nbctl('lr-add', 'r1', '--', 'lrp-add', 'r1', 'r1-external', '0a:00:00:00:00:01', '172.16.0.10/16',
      '--', 'lrp-set-gateway-chassis', 'r1-external', 'gw-1', '3', '--', 'lrp-set-gateway-chassis', 'r1-external', 'gw-2', '2',
      '--', 'lr-route-add', 'r1', '0.0.0.0/0', '172.16.0.1', '--', 'lr-nat-add', 'r1', 'snat', '172.16.0.10', '10.0.1.0/24',
      '--', 'lr-nat-add', 'r1', 'dnat_and_snat', '172.16.0.11', '10.0.1.5');
  }
  stopWatch = await watch({ nbRemote: sb.nbRemote, logger });
  process.stderr.write('following changes; Ctrl-C stops the manager and the sandbox\n');
} catch (e) {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  await stop(1);
}
