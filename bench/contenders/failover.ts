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
 * and written on a raw socket, timed from the write to the reply. And the
 * same on a raw socket that monitors what our replica monitors (the same
 * monitor_cond_since request, open through the run): ovsdb-server
 * sends a session the updates of its own transaction before the reply
 * (ovsdb-server(7)), so this is the limit of any client that keeps a
 * replica, as ours must; the plain raw socket's reply does not wait for
 * any update to be composed. And,
 * afterwards on the same NB, python ovsdbapp's failovers planned from its
 * IDL (bench/peers/ovsdbapp_failover.py).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { NatGateway } from '../../src/nat/apply.js';
import { parseManifest } from '../../src/nat/manifest.js';
import { addChassisRows } from '../../tools/sandbox-lib.js';
import { JsonStreamScanner, connectUnix } from '../raw.js';
import type { Sandbox } from '../sandbox.js';
import { buildWorkload } from '../workload.js';
import { workloadDocuments } from '../workload-yaml.js';
import { rawSender, recordTransactions } from './change.js';

export interface FailoverResult {
  routers: number;
  /** python ovsdbapp's failovers on the same NB afterwards (ms each, ports each), or why not */
  ovsdbapp?: { ms: number[]; ports: number[] } | { error: string };
  /** ms per failover (ours), the raw limit's, the gateway slots each rewrote, the bytes sent */
  ours: number[];
  raw: number[];
  /** the raw limit of a client that monitors what ours does (its own update before the reply) */
  rawMonitored: number[];
  ports: number[];
  bytes: number[];
  /** two chassis dead at once (one transaction): ours and the raw limit, as above */
  two: { ours: number[]; raw: number[]; ports: number[]; bytes: number[] };
}

/** ovsdbapp's failovers (bench/peers/ovsdbapp_failover.py) on this NB. */
function ovsdbappFailovers(python: string, nb: string, chassis: readonly string[], rounds: number): Promise<{ ms: number[]; ports: number[] } | { error: string }> {
  return new Promise((resolve) => {
    const c = spawn(python, [fileURLToPath(new URL('../peers/ovsdbapp_failover.py', import.meta.url)), nb, chassis.join(','), String(rounds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', (e) => resolve({ error: e.message }));
    c.on('exit', (code) => {
      try {
        resolve(JSON.parse(out) as { ms: number[]; ports: number[] });
      } catch {
        resolve({ error: `exit ${code}: ${err.trim().split('\n').pop() ?? ''}` });
      }
    });
  });
}

/**
 * A raw socket that monitors what `gw`'s NB replica monitors (the same
 * monitor_cond_since request; ovsdb-server shares one monitor among
 * identical requests, so the updates are composed once for both), and sends
 * pre-encoded transactions on it, each timed from its write to its reply
 * (the updates that come before are skipped unparsed).
 */
async function monitoredSender(remote: string, gw: NatGateway): Promise<{ send: (request: string) => Promise<number>; close: () => void }> {
  const sock = await connectUnix(remote);
  let waiting: ((msg: Buffer) => void) | undefined;
  const scanner = new JsonStreamScanner((msg) => {
    if (!msg || !waiting) return;
    // (notifications, the updates, start with "method"; ovsdb-server writes the keys in that order)
    if (msg.subarray(0, 16).includes('"method"')) return;
    waiting(msg);
  });
  sock.on('data', (d: Buffer) => scanner.feed(d));
  const reply = () => new Promise<Buffer>((res) => (waiting = (m) => ((waiting = undefined), res(m))));
  const requests = gw.nb.monitorRequests(gw.nbClient.schema!, true);
  const r = reply();
  sock.write(JSON.stringify({ method: 'monitor_cond_since', id: 'mon', params: [gw.nbClient.database, 'raw', requests, '00000000-0000-0000-0000-000000000000'] }));
  const mon = (await r).subarray(0, 200).toString();
  if (mon.includes('"error":{') || mon.includes('"error":"')) throw new Error(`raw monitor refused: ${mon}`);
  let id = 7000;
  const send = async (request: string) => {
    const r = reply();
    const t0 = performance.now();
    sock.write(Buffer.from(request.replace(/"id":0\}$/, `"id":${++id}}`)));
    const msg = await r;
    const ms = performance.now() - t0;
    const rep = JSON.parse(msg.toString('utf8')) as { result?: { error?: string }[]; error?: unknown };
    const bad = rep.error ?? rep.result?.find((x) => x && x.error);
    if (bad) throw new Error(`raw monitored transaction failed: ${JSON.stringify(bad)}`);
    return ms;
  };
  return { send, close: () => sock.destroy() };
}

/** Of these chassis but `not`, the one leading the most ports now (ties by name). */
function busiest(gw: NatGateway, chassis: readonly string[], not: readonly string[]): string {
  const load = gw.gatewayLoad().filter((c) => chassis.includes(c.chassis) && !not.includes(c.chassis));
  return load.sort((x, y) => y.active.length - x.active.length || (x.chassis < y.chassis ? -1 : 1))[0].chassis;
}

export async function failoverBench(opts: { routers: number; rounds: number; python?: string }, start: () => Promise<Sandbox>, progress: (s: string) => void): Promise<FailoverResult> {
  const w = buildWorkload({ routers: opts.routers, fips: opts.routers * 2 });
  const manifest = parseManifest(workloadDocuments(w).join('---\n'), 'workload.yaml');
  const a = await start();
  const chassis = await addChassisRows(a, 20);
  const gw = new NatGateway({ nb: a.nbRemote, sb: a.sbRemote, timeoutMs: 600_000 });
  let raw: import('node:net').Socket | undefined;
  let mon: Awaited<ReturnType<typeof monitoredSender>> | undefined;
  try {
    await gw.connect();
    progress(`failover: bulk apply of ${manifest.objects.length} objects (${opts.routers} routers)`);
    await gw.apply(manifest);
    raw = await connectUnix(a.nbRemote);
    const sendRaw = rawSender(raw);
    mon = await monitoredSender(a.nbRemote, gw);
    const tx = recordTransactions(gw);
    const out: FailoverResult = { routers: opts.routers, ours: [], raw: [], rawMonitored: [], ports: [], bytes: [], two: { ours: [], raw: [], ports: [], bytes: [] } };
    const warm = 2;
    progress(`failover: ${opts.rounds} failovers, each beside a raw one`);
    for (let i = 0; i < opts.rounds + warm; i++) {
      // ours: the chassis with the most active ports now (a failover moves what it leads, and refills what it stands by for)
      const dead = busiest(gw, chassis, []);
      tx.sent = undefined;
      const t = performance.now();
      const r = await gw.failover([dead], { verify: false });
      const ms = performance.now() - t;
      const sent = tx.sent as string | undefined;
      if (!r.transacted || !sent) throw new Error(`failover of ${dead}: no transaction`);
      // the raw limit: the next busiest chassis's failover, planned and encoded before the clock starts
      await gw.caughtUp();
      const next = busiest(gw, chassis, [dead]);
      const p = gw.failoverPlan([next]);
      const rawMs = await sendRaw(tx.encode(p.ops, 'ovn-natgw apply (ovn-natgw)'));
      await gw.caughtUp();
      // and the third busiest on a raw socket that monitors as we do
      const third = busiest(gw, chassis, [dead, next]);
      const monMs = await mon!.send(tx.encode(gw.failoverPlan([third]).ops, 'ovn-natgw apply (ovn-natgw)'));
      await gw.caughtUp();
      if (i < warm) continue;
      out.ours.push(ms);
      out.raw.push(rawMs);
      out.rawMonitored.push(monMs);
      out.ports.push(r.plan.changes.filter((c) => c.table === 'Gateway_Chassis').length);
      out.bytes.push(Buffer.byteLength(sent));
    }
    progress(`failover: ${opts.rounds} failovers of two chassis at once, each beside a raw one`);
    for (let i = 0; i < opts.rounds + warm; i++) {
      const d1 = busiest(gw, chassis, []);
      const dead = [d1, busiest(gw, chassis, [d1])];
      tx.sent = undefined;
      const t = performance.now();
      const r = await gw.failover(dead, { verify: false });
      const ms = performance.now() - t;
      const sent = tx.sent as string | undefined;
      if (!r.transacted || !sent) throw new Error(`failover of ${dead.join(', ')}: no transaction`);
      await gw.caughtUp();
      const n1 = busiest(gw, chassis, dead);
      const next = [n1, busiest(gw, chassis, [...dead, n1])];
      const rawMs = await sendRaw(tx.encode(gw.failoverPlan(next).ops, 'ovn-natgw apply (ovn-natgw)'));
      await gw.caughtUp();
      if (i < warm) continue;
      out.two.ours.push(ms);
      out.two.raw.push(rawMs);
      out.two.ports.push(r.plan.changes.filter((c) => c.table === 'Gateway_Chassis').length);
      out.two.bytes.push(Buffer.byteLength(sent));
    }
    if (opts.python) {
      progress(`failover: ${opts.rounds} failovers through python ovsdbapp (plan from its IDL), on the same NB`);
      out.ovsdbapp = await ovsdbappFailovers(opts.python, a.nbRemote, chassis, opts.rounds);
    }
    return out;
  } finally {
    raw?.destroy();
    mon?.close();
    await gw.close();
    await a.stop();
  }
}
