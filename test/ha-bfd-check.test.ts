/**
 * The stale-BFD check (src/ha/bfd-check.ts) and its SB write
 * (src/gateway/bfd-status.ts), without a server: which sessions are stale
 * and why, when an unbound port's sessions become stale (their detection
 * time), and the guarded operations.
 */
import t from 'tap';
import { BfdCrossCheck, staleSessions, type StaleSession } from '../src/ha/bfd-check.js';
import type { BfdSession, Binding } from '../src/ha/index.js';
import { withdrawSessionOps } from '../src/gateway/bfd-status.js';

const session = (port: string, status: string, uuid = `s-${port}`): BfdSession => ({ uuid, logical_port: port, dst_ip: '10.0.0.254', status, detectMs: 300 });
const names = new Map([['u-gw1', 'gw1'], ['u-gw2', 'gw2']]);

function world(bindings: Record<string, Binding>, sessions: BfdSession[]) {
  return {
    sessionsOf: (p: string) => sessions.filter((s) => s.logical_port === p),
    bindingOf: (p: string) => bindings[p],
    chassisNameOf: (u: string) => names.get(u),
    boundPortsOf: (c: string) => Object.entries(bindings).filter(([, b]) => b.chassis && names.get(b.chassis) === c).map(([p]) => p),
  };
}

t.test('staleSessions: up or init, and bound to a dead chassis or to none for the detection time', async (t) => {
  const w = world(
    { a: { row: 'pb-a', chassis: 'u-gw1' }, b: { row: 'pb-b', chassis: 'u-gw2' }, c: { row: 'pb-c', chassis: null }, d: { row: 'pb-d', chassis: null } },
    [session('a', 'up'), session('b', 'up'), session('c', 'init'), session('d', 'up'), session('e', 'up'), session('a', 'down', 's-a2'), session('a', 'admin_down', 's-a3')],
  );
  const x = { sessionsOf: w.sessionsOf, bindingOf: w.bindingOf, chassisName: w.chassisNameOf, isDead: (c: string) => c === 'gw1', unboundSince: (p: string) => ({ c: 0, d: 900 })[p as 'c' | 'd'], now: 1000 };
  const s = staleSessions(['a', 'b', 'c', 'd', 'e'], x);
  t.same(
    s.map((v) => [v.logical_port, v.uuid, v.reason, v.owner ?? null]),
    [
      ['a', 's-a', 'owner-dead', 'gw1'],
      ['c', 's-c', 'unbound', null],
    ],
    'a (up, on dead gw1) and c (init, unbound 1000 ms > 300): stale; b on live gw2, d unbound only 100 ms, e no gateway port, down/admin_down: not',
  );
});

t.test('BfdCrossCheck: an unbound port looked at again after its detection time; a dead chassis checks the ports bound to it', async (t) => {
  const bindings: Record<string, Binding> = { a: { row: 'pb-a', chassis: 'u-gw1' }, c: { row: 'pb-c', chassis: null } };
  const w = world(bindings, [session('a', 'up'), session('c', 'up')]);
  const told: StaleSession[][] = [];
  let dead = false;
  const check = new BfdCrossCheck({ index: w, isDead: (c) => dead && c === 'gw1', onStale: (s) => void told.push(s) });
  t.teardown(() => check.stop());
  check.portsChanged(['a', 'c']);
  t.same(told, [], 'nothing at first: gw1 alive, c unbound only just now');
  await new Promise((r) => setTimeout(r, 350));
  t.same(told.map((s) => s.map((v) => `${v.logical_port}:${v.reason}`)), [['c:unbound']], "c told once its session's detection time has passed");
  dead = true;
  check.chassisDead('gw1');
  t.same(told.at(-1)!.map((v) => `${v.logical_port}:${v.reason}:${v.owner}`), ['a:owner-dead:gw1'], "gw1 dead: a, bound to it, is told");
  bindings.c = { row: 'pb-c', chassis: 'u-gw2' };
  check.portsChanged(['c']);
  t.equal(told.length, 2, 'c bound again (to live gw2): nothing more');
});

t.test('withdrawSessionOps: each binding waited on once, each status waited on, then set down', async (t) => {
  const ops = withdrawSessionOps([
    { uuid: 's1', status: 'up', binding: { row: 'pb-a', chassis: 'u-gw1' } },
    { uuid: 's2', status: 'init', binding: { row: 'pb-a', chassis: 'u-gw1' } },
    { uuid: 's3', status: 'up', binding: { row: 'pb-c', chassis: null } },
  ]);
  t.same(ops, [
    { op: 'wait', table: 'Port_Binding', where: [['_uuid', '==', 'pb-a']], until: '==', rows: [{ chassis: 'u-gw1' }], columns: ['chassis'], timeout: 0 },
    { op: 'wait', table: 'Port_Binding', where: [['_uuid', '==', 'pb-c']], until: '==', rows: [{ chassis: null }], columns: ['chassis'], timeout: 0 },
    { op: 'wait', table: 'BFD', where: [['_uuid', '==', 's1']], until: '==', rows: [{ status: 'up' }], columns: ['status'], timeout: 0 },
    { op: 'update', table: 'BFD', where: [['_uuid', '==', 's1']], row: { status: 'down' } },
    { op: 'wait', table: 'BFD', where: [['_uuid', '==', 's2']], until: '==', rows: [{ status: 'init' }], columns: ['status'], timeout: 0 },
    { op: 'update', table: 'BFD', where: [['_uuid', '==', 's2']], row: { status: 'down' } },
    { op: 'wait', table: 'BFD', where: [['_uuid', '==', 's3']], until: '==', rows: [{ status: 'up' }], columns: ['status'], timeout: 0 },
    { op: 'update', table: 'BFD', where: [['_uuid', '==', 's3']], row: { status: 'down' } },
  ]);
});
