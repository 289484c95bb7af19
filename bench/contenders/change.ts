/**
 * One change on a warm store: the workload (routers with a gateway port, a
 * SNAT and FIPs, as Kube-OVN manifests) applied through the library, then one
 * FIP added (with its EIP), one rebound (a new internal address), one removed
 * (with its EIP), each as its own apply (`mode: 'merge'` / `'delete'`, as
 * `ovn-natgwctl apply -f` and `delete -f` do), ovn-northd running (23.03
 * compiles this workload for minutes, on the machine's other core: the
 * changes are measured while it does). Per change: the time from the call to
 * the replica showing the commit, and the bytes of the transaction.
 *
 * Beside it, in the same run and on the same server under the same load, the
 * raw limit: a change of the same kind (another FIP), planned by the library
 * beforehand, its transaction encoded beforehand and written on a raw socket,
 * timed from the write to the reply. And `ovn-nbctl lr-nat-add` on the same
 * NB, one process per call, as an operator adds a FIP.
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { NatGateway } from '../../src/nat/apply.js';
import { parseManifest } from '../../src/nat/manifest.js';
import type { Manifest, ManifestObject } from '../../src/nat/objects.js';
import { encodeOperation, type Operation } from '../../src/ovsdb/operations.js';
import type { TransactOptions } from '../../src/ovsdb/client.js';
import { addChassisRows } from '../../tools/sandbox-lib.js';
import { connectUnix, JsonStreamScanner } from '../raw.js';
import type { Sandbox } from '../sandbox.js';
import { buildWorkload, intToIp, ipToInt, type Workload } from '../workload.js';
import { workloadDocuments } from '../workload-yaml.js';

const exec = promisify(execFile);
const K = 'apiVersion: kubeovn.io/v1\n';

export type ChangeKind = 'add' | 'rebind' | 'remove';

export interface ChangeRun {
  kind: ChangeKind;
  /** ms per change, ours (call to the replica showing the commit) */
  ours: number[];
  /** ms per change, the same transaction sent raw */
  raw: number[];
  /** bytes of each transaction's request */
  bytes: number[];
}

export interface ChangeResult {
  fips: number;
  bulkSeconds: number;
  runs: ChangeRun[];
  nbctlMs: number[];
}

/** The n-th address of a router's internal network (its CIDR's base + n). */
const internal = (w: Workload, r: number, n: number) => intToIp(ipToInt(w.routers[r].internalCidr.split('/')[0]) + n);

export async function changeBench(
  opts: { routers: number; fips: number; rounds: number },
  start: () => Promise<Sandbox>,
  progress: (s: string) => void,
): Promise<ChangeResult> {
  const w = buildWorkload({ routers: opts.routers, fips: opts.fips });
  if (w.routers.some((r) => r.fips.length < 2)) throw new Error('the change bench needs at least 2 FIPs per router');
  const manifest = parseManifest(workloadDocuments(w).join('---\n'), 'workload.yaml');
  const a = await start();
  await addChassisRows(a, 20);
  const gw = new NatGateway({ nb: a.nbRemote, sb: a.sbRemote, timeoutMs: 600_000 });
  let raw: import('node:net').Socket | undefined;
  try {
    await gw.connect();
    progress(`change: bulk apply of ${manifest.objects.length} objects`);
    let t = performance.now();
    await gw.apply(manifest);
    const bulkSeconds = (performance.now() - t) / 1000;
    raw = await connectUnix(a.nbRemote);
    const sendRaw = rawSender(raw);
    const tx = recordTransactions(gw);
    const encode = tx.encode;

    const runs: ChangeRun[] = [];
    const R = w.routers.length;
    /** change i of a kind, on router r; `tag` keeps ours and the raw one's objects apart */
    const change = (kind: ChangeKind, i: number, r: number, tag: string): Manifest => {
      const router = w.routers[r];
      if (kind === 'add') {
        return parseManifest(`${K}kind: OvnEip\nmetadata: {name: ${tag}e${i}}\nspec: {externalSubnet: external, type: nat}\n---\n${K}kind: OvnFip\nmetadata: {name: ${tag}f${i}}\nspec: {ovnEip: ${tag}e${i}, vpc: ${router.name}, v4Ip: ${internal(w, r, tag === 'raw-' ? 249 : 250)}}\n`, 'change.yaml');
      }
      if (kind === 'rebind') return parseManifest(`${K}kind: OvnFip\nmetadata: {name: ${router.name}-fip0}\nspec: {ovnEip: ${router.name}-fip0, vpc: ${router.name}, v4Ip: ${internal(w, r, 251)}}\n`, 'change.yaml');
      // a delete names its objects (as `ovn-natgwctl delete ofip NAME`)
      return { objects: [{ kind: 'OvnFip', name: `${router.name}-fip1` }, { kind: 'OvnEip', name: `${router.name}-fip1` }] as ManifestObject[], notices: [] };
    };
    for (const kind of ['add', 'rebind', 'remove'] as const) {
      const run: ChangeRun = { kind, ours: [], raw: [], bytes: [] };
      progress(`change: ${opts.rounds} x ${kind}`);
      const mode = kind === 'remove' ? ('delete' as const) : ('merge' as const);
      // the first rounds of each kind warm the code paths up (JIT) and are not counted
      const warm = 5;
      for (let i = 0; i < opts.rounds + warm; i++) {
        // ours, on router r
        const r = (i * 7) % R;
        tx.sent = undefined;
        t = performance.now();
        const res = await gw.apply(change(kind, i, r, 'chg-'), { mode, verify: false });
        const ms = performance.now() - t;
        const sent = tx.sent as string | undefined;
        if (!res.transacted || !sent) throw new Error(`change ${kind} ${i}: no transaction (${res.plan.changes.map((c) => c.label).join('; ')})`);
        // the raw limit: the same kind of change on another router, planned and encoded before the clock starts
        const rr = (i * 7 + 500) % R;
        await gw.caughtUp();
        const p = gw.plan(change(kind, i, rr, 'raw-'), { mode });
        const rawMs = await sendRaw(encode(p.ops, `ovn-natgw ${mode === 'delete' ? 'delete' : 'apply'} (ovn-natgw)`));
        await gw.caughtUp();
        if (i < warm) continue;
        run.ours.push(ms);
        run.bytes.push(Buffer.byteLength(sent));
        run.raw.push(rawMs);
      }
      runs.push(run);
    }
    // ovn-nbctl lr-nat-add on the same NB: one process per call
    const nbctlMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = (i * 13 + 3) % R;
      t = performance.now();
      await exec('ovn-nbctl', [`--db=${a.nbRemote}`, 'lr-nat-add', w.routers[r].name, 'dnat_and_snat', intToIp(ipToInt('172.31.0.10') + i), internal(w, r, 252)]);
      nbctlMs.push(performance.now() - t);
    }
    return { fips: opts.fips, bulkSeconds, runs, nbctlMs };
  } finally {
    raw?.destroy();
    await gw.close();
    await a.stop();
  }
}

/**
 * The transactions a gateway sends, as its client encodes them (`sent`: the
 * last one), and `encode` for the raw limit's own: the same JSON-RPC request.
 */
export function recordTransactions(gw: NatGateway): { encode(ops: readonly Operation[], comment: string): string; sent: string | undefined } {
  const encode = (ops: readonly Operation[], comment: string) =>
    JSON.stringify({ method: 'transact', params: ['OVN_Northbound', ...[...ops, { op: 'comment', comment } as Operation].map((op) => encodeOperation(gw.nbClient.schema!, op))], id: 0 });
  const out = { encode, sent: undefined as string | undefined };
  const transact = gw.nbClient.transact.bind(gw.nbClient);
  gw.nbClient.transact = (ops: readonly Operation[], o: TransactOptions = {}) => {
    out.sent = encode(ops, o.comment ?? '');
    return transact(ops, o);
  };
  return out;
}

/** Sends a pre-encoded request on a raw socket; resolves with the ms to its reply (which must not carry an error). */
export function rawSender(sock: import('node:net').Socket): (request: string) => Promise<number> {
  let waiting: ((msg: Buffer) => void) | undefined;
  const scanner = new JsonStreamScanner((msg) => {
    if (msg && waiting) waiting(msg);
  });
  sock.on('data', (d: Buffer) => scanner.feed(d));
  let id = 1000;
  return (request) =>
    new Promise((resolve, reject) => {
      const bytes = Buffer.from(request.replace(/"id":0\}$/, `"id":${++id}}`));
      const t0 = performance.now();
      waiting = (msg) => {
        const ms = performance.now() - t0;
        waiting = undefined;
        const reply = JSON.parse(msg.toString('utf8')) as { result?: { error?: string; details?: string }[]; error?: unknown };
        const bad = reply.error ?? reply.result?.find((x) => x && x.error);
        if (bad) reject(new Error(`raw replay failed: ${JSON.stringify(bad)}`));
        else resolve(ms);
      };
      sock.write(bytes);
    });
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
