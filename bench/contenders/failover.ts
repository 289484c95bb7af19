/**
 * One failover on a warm store: the workload (R routers, each a gateway port
 * with 3 of the 20 gateway chassis, SNAT and FIPs) applied through the
 * library, ovn-northd running; then a chassis taken as dead and its gateway
 * ports moved (NatGateway.failover: find by index, plan through the generic
 * planner, one transaction, the replica showing it), one chassis after the
 * other. Per failover: the time from the call to the replica showing the
 * commit, the ports it moved, the bytes sent.
 *
 * Beside it, in the same run, the raw limit: the failover of another
 * chassis, planned beforehand (failoverPlan), its transaction pre-encoded
 * and written on a raw socket, timed from the write to the reply.
 */
import { performance } from 'node:perf_hooks';
import { NatGateway } from '../../src/nat/apply.js';
import { parseManifest } from '../../src/nat/manifest.js';
import { addChassisRows } from '../../tools/sandbox-lib.js';
import { connectUnix } from '../raw.js';
import type { Sandbox } from '../sandbox.js';
import { buildWorkload } from '../workload.js';
import { workloadDocuments } from '../workload-yaml.js';
import { rawSender, recordTransactions } from './change.js';

export interface FailoverResult {
  routers: number;
  /** ms per failover (ours), the raw limit's, the gateway slots each rewrote, the bytes sent */
  ours: number[];
  raw: number[];
  ports: number[];
  bytes: number[];
}

export async function failoverBench(opts: { routers: number; rounds: number }, start: () => Promise<Sandbox>, progress: (s: string) => void): Promise<FailoverResult> {
  const w = buildWorkload({ routers: opts.routers, fips: opts.routers * 2 });
  const manifest = parseManifest(workloadDocuments(w).join('---\n'), 'workload.yaml');
  const a = await start();
  const chassis = await addChassisRows(a, 20);
  const gw = new NatGateway({ nb: a.nbRemote, sb: a.sbRemote, timeoutMs: 600_000 });
  let raw: import('node:net').Socket | undefined;
  try {
    await gw.connect();
    progress(`failover: bulk apply of ${manifest.objects.length} objects (${opts.routers} routers)`);
    await gw.apply(manifest);
    raw = await connectUnix(a.nbRemote);
    const sendRaw = rawSender(raw);
    const tx = recordTransactions(gw);
    const out: FailoverResult = { routers: opts.routers, ours: [], raw: [], ports: [], bytes: [] };
    const warm = 2;
    progress(`failover: ${opts.rounds} failovers, each beside a raw one`);
    for (let i = 0; i < opts.rounds + warm; i++) {
      // ours: the chassis with the most active ports now (a failover moves what it leads, and refills what it stands by for)
      const load = gw.gatewayLoad().filter((c) => chassis.includes(c.chassis)).sort((x, y) => y.active.length - x.active.length || (x.chassis < y.chassis ? -1 : 1));
      const dead = load[0].chassis;
      tx.sent = undefined;
      const t = performance.now();
      const r = await gw.failover([dead], { verify: false });
      const ms = performance.now() - t;
      const sent = tx.sent as string | undefined;
      if (!r.transacted || !sent) throw new Error(`failover of ${dead}: no transaction`);
      // the raw limit: the next busiest chassis's failover, planned and encoded before the clock starts
      await gw.caughtUp();
      const next = gw.gatewayLoad().filter((c) => chassis.includes(c.chassis) && c.chassis !== dead).sort((x, y) => y.active.length - x.active.length || (x.chassis < y.chassis ? -1 : 1))[0].chassis;
      const p = gw.failoverPlan([next]);
      const rawMs = await sendRaw(tx.encode(p.ops, 'ovn-natgw apply (ovn-natgw)'));
      await gw.caughtUp();
      if (i < warm) continue;
      out.ours.push(ms);
      out.raw.push(rawMs);
      out.ports.push(r.plan.changes.filter((c) => c.table === 'Gateway_Chassis').length);
      out.bytes.push(Buffer.byteLength(sent));
    }
    return out;
  } finally {
    raw?.destroy();
    await gw.close();
    await a.stop();
  }
}
