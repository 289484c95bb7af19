/**
 * The drill's figures (issue 16 §8): ovn-natgw-drill run as a user runs it
 * (its own OVN, simulated gateway chassis with real ovn-controllers, an
 * ovn-natgwd per gateway node), its JSON read back; and the hot index's
 * memory at R routers, measured in this process (heap after a full GC,
 * before and after the index is filled with R gateway ports of K chassis
 * and R reroute policies, as the replicas' commits would fill it).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GatewayIndex } from '../../src/ha/index.js';
import type { ChangeEvent } from '../../src/ovsdb/replica.js';

const DRILL = fileURLToPath(new URL('../../bin/ovn-natgw-drill.js', import.meta.url));

export interface DrillRun {
  verdict: string;
  violations: string[];
  drills: Record<string, unknown>[];
}

/** Runs ovn-natgw-drill with these arguments (and -o json); its progress goes to `progress`. */
export function runDrill(args: string[], progress: (msg: string) => void): Promise<DrillRun> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [DRILL, ...args, '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      for (const l of b.toString().split('\n')) if (l.startsWith('drill: ')) progress(l);
    });
    c.on('exit', () => {
      try {
        resolve(JSON.parse(out) as DrillRun);
      } catch {
        reject(new Error(`ovn-natgw-drill gave no JSON: ${err.slice(-1000)}`));
      }
    });
  });
}

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  (runInNewContext('gc') as () => void)();
}

/** The index's heap at `routers` gateway ports with `k` chassis each and one reroute policy each. */
export function indexMemory(routers: number, k = 3, gateways = 10): { bytes: number; perRouter: number } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const index = new GatewayIndex();
  const ev: ChangeEvent[] = [];
  const uuid = (kind: string, i: number, j = 0) => `${kind}${String(i).padStart(8, '0')}-${String(j).padStart(4, '0')}-4000-8000-000000000000`;
  for (let i = 0; i < routers; i++) {
    const members: string[] = [];
    for (let j = 0; j < k; j++) {
      const u = uuid('a', i, j);
      members.push(u);
      ev.push({ table: 'Gateway_Chassis', kind: 'insert', row: { _uuid: u, chassis_name: `gw${(i + j) % gateways}`, priority: 100 - j } as never });
    }
    ev.push({ table: 'Logical_Router_Port', kind: 'insert', row: { _uuid: uuid('b', i), name: `r${i}-ext`, gateway_chassis: members } as never });
    ev.push({ table: 'Logical_Router_Policy', kind: 'insert', row: { _uuid: uuid('c', i), action: 'reroute', nexthops: [`100.64.0.${i % gateways}`] } as never });
  }
  index.noteNb(ev);
  ev.length = 0;
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (index.chassisOf('r0-ext').length !== k) throw new Error('the index did not take the rows');
  return { bytes, perRouter: bytes / routers };
}
