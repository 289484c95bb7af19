/**
 * ovn-trace, run and read: the packet's way through the logical network as
 * OVN's own tool follows it.
 */
import { findBinary, run } from './sandbox-lib.js';

/**
 * `ovn-trace --db=SB --ct=new (x8) --minimal MICROFLOW`, its output: every
 * conntrack lookup on the way sees a new connection (the default, est, skips
 * the ct.new-only flows), and only header changes and deliveries are printed.
 */
export async function ovnTrace(sbRemote: string, microflow: string): Promise<string> {
  const args = [`--db=${sbRemote}`, ...Array<string>(8).fill('--ct=new'), '--minimal', microflow];
  return (await run(await findBinary('ovn-trace'), args, { timeoutMs: 30_000 })).stdout;
}

/** One delivery of a traced packet: the port and the actions on the way there. */
export interface Delivery {
  port: string;
  steps: string[];
}

/**
 * The deliveries of a --minimal trace: per output("port"), the actions on the
 * way there. --minimal nests what happens after a forking action (ct_snat(...),
 * ct_dnat(...), ct_lb, ct_next, arp) in a "{ ... };" block, so the way to an
 * output is every enclosing block's header plus the lines before it in each
 * enclosing block (not the lines of blocks closed before it).
 */
export function deliveries(out: string): Delivery[] {
  const found: Delivery[] = [];
  const levels: string[][] = [];
  for (const raw of out.split('\n')) {
    if (!raw.trim() || raw.startsWith('#')) continue;
    const depth = (raw.length - raw.trimStart().length) / 4;
    const line = raw.trim();
    levels.length = depth + 1;
    levels[depth] ??= [];
    if (line === '};') {
      levels[depth].pop(); // the header of the block that closes
      continue;
    }
    const port = /^output\("(.+)"\);$/.exec(line)?.[1];
    if (port) found.push({ port, steps: levels.flat() });
    levels[depth].push(line.replace(/ \{$/, ''));
    if (line.endsWith('{')) levels[depth + 1] = [];
  }
  return found;
}

/** The source address a step rewrote to, if it is a ct_snat with one (23.03 prints "ct_snatin_czone(ip4.src=...)" for the in_czone variants). */
export function snatSource(step: string): string | undefined {
  return /^ct_snat\w*\(ip[46]\.src=([^)]+)\)$/.exec(step)?.[1];
}
