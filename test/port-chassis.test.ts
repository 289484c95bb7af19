/**
 * The gateway ports' chassis kept from commits (src/gateway/port-chassis.ts):
 * after every commit of a random sequence (slots added, reprioritised and
 * removed, ports given and stripped of slots, renamed, HA chassis groups and
 * BFD ports' groups among them), its order per port, its load per chassis and
 * its "active load of every port but these" equal what a scan of the same
 * rows gives (gatewayPortChassis + chassisLoad, the code it replaces). Pure,
 * no server.
 */
import t from 'tap';
import { prng as rng } from './helpers/util.js';
import type { ChangeEvent } from '../src/ovsdb/replica.js';
import { PortChassisIndex } from '../src/gateway/port-chassis.js';
import { chassisLoad } from '../src/gateway/load.js';
import { gatewayPortChassis, memoryNbView } from '../src/nat/nb-view.js';

type Row = { _uuid: string } & Record<string, unknown>;
const TABLES = { Logical_Router_Port: 'gateway_chassis', HA_Chassis_Group: 'ha_chassis' } as const;
const MEMBER = { Logical_Router_Port: 'Gateway_Chassis', HA_Chassis_Group: 'HA_Chassis' } as const;

class Db {
  readonly rows = new Map<string, Map<string, Row>>([
    ['Logical_Router_Port', new Map()],
    ['Gateway_Chassis', new Map()],
    ['HA_Chassis_Group', new Map()],
    ['HA_Chassis', new Map()],
  ]);
  private n = 0;
  batch: ChangeEvent[] = [];
  uuid(): string {
    return `u${++this.n}`;
  }
  insert(table: string, row: Omit<Row, '_uuid'>): Row {
    const r = { _uuid: this.uuid(), ...row } as Row;
    this.rows.get(table)!.set(r._uuid, r);
    this.batch.push({ table, kind: 'insert', row: r as never });
    return r;
  }
  update(table: string, uuid: string, cols: Record<string, unknown>): void {
    const old = this.rows.get(table)!.get(uuid)!;
    const row = { ...old, ...cols };
    this.rows.get(table)!.set(uuid, row);
    this.batch.push({ table, kind: 'update', row: row as never, old: old as never });
  }
  delete(table: string, uuid: string): void {
    const row = this.rows.get(table)!.get(uuid)!;
    this.rows.get(table)!.delete(uuid);
    this.batch.push({ table, kind: 'delete', row: row as never });
  }
  commit(): ChangeEvent[] {
    const b = this.batch;
    this.batch = [];
    return b;
  }
  view() {
    return memoryNbView(Object.fromEntries([...this.rows].map(([t, m]) => [t, [...m.values()]])) as never);
  }
}

const CHASSIS = ['gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e'];

/** One random commit of one to four changes. */
function step(db: Db, r: () => number): void {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const changes = 1 + Math.floor(r() * 4);
  for (let i = 0; i < changes; i++) {
    const parentTable = r() < 0.7 ? 'Logical_Router_Port' : 'HA_Chassis_Group';
    const col = TABLES[parentTable];
    const memberTable = MEMBER[parentTable];
    const parents = [...db.rows.get(parentTable)!.values()];
    const what = r();
    if (parents.length < 3 || what < 0.15) {
      const name = parentTable === 'Logical_Router_Port' ? `lrp-${db.uuid()}` : `${r() < 0.5 ? 'bfd@' : 'vpc-gw-'}${db.uuid()}`;
      const free = [...CHASSIS];
      const members = Array.from({ length: Math.floor(r() * 4) }, () => db.insert(memberTable, { chassis_name: free.splice(Math.floor(r() * free.length), 1)[0], priority: Math.floor(r() * 4) })._uuid);
      db.insert(parentTable, { name, [col]: members });
      continue;
    }
    const p = pick(parents);
    const members = p[col] as string[];
    // (a port names a chassis once: OVN's tools make one Gateway_Chassis row per chassis and port)
    const used = new Set(members.map((u) => String(db.rows.get(memberTable)!.get(u)!.chassis_name)));
    const free = CHASSIS.filter((c) => !used.has(c));
    if (what < 0.35 && members.length) {
      // a slot reprioritised, or moved to another chassis
      const m = pick(members);
      db.update(memberTable, m, r() < 0.5 || !free.length ? { priority: Math.floor(r() * 4) } : { chassis_name: pick(free) });
    } else if (what < 0.5 && free.length) {
      // a slot added
      const m = db.insert(memberTable, { chassis_name: pick(free), priority: Math.floor(r() * 4) });
      db.update(parentTable, p._uuid, { [col]: [...members, m._uuid] });
    } else if (what < 0.65 && members.length) {
      // a slot removed (the row goes with it, as a strong reference's would)
      const m = pick(members);
      db.update(parentTable, p._uuid, { [col]: members.filter((u) => u !== m) });
      db.delete(memberTable, m);
    } else if (what < 0.75) {
      // renamed (a group may become a BFD port's, and back)
      const name = parentTable === 'Logical_Router_Port' ? `lrp-${db.uuid()}` : `${r() < 0.5 ? 'bfd@' : 'vpc-gw-'}${db.uuid()}`;
      db.update(parentTable, p._uuid, { name });
    } else if (what < 0.85) {
      // the port deleted with its slots
      db.delete(parentTable, p._uuid);
      for (const m of members) db.delete(memberTable, m);
    } else {
      // every slot stripped at once
      db.update(parentTable, p._uuid, { [col]: [] });
      for (const m of members) db.delete(memberTable, m);
    }
  }
}

/** The scan this index replaces: every port's chassis from the rows. */
function scanned(db: Db, mine: ReadonlySet<string>) {
  const all = gatewayPortChassis(db.view());
  const load = new Map(chassisLoad(all, [], new Map()).map((c) => [c.chassis, { active: c.active.length, standby: c.standby.length }]));
  const others = all.filter((p) => !mine.has(p.port) && (!p.group || p.port.startsWith('bfd@')));
  const active = new Map(chassisLoad(others, [], new Map()).map((c) => [c.chassis, c.active.length]));
  return { all, load, active };
}

const nonzero = (m: ReadonlyMap<string, number>) => new Map([...m].filter(([, n]) => n > 0));
const sorted = <V>(m: ReadonlyMap<string, V>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  t.test(`seed ${seed}: 150 commits, each checked against a scan of the rows`, async (t) => {
    const r = rng(seed);
    const db = new Db();
    const index = new PortChassisIndex();
    let bad = 0;
    for (let i = 0; i < 150 && bad < 3; i++) {
      step(db, r);
      index.note(db.commit());
      const names = [...db.rows.get('Logical_Router_Port')!.values(), ...db.rows.get('HA_Chassis_Group')!.values()].map((p) => String(p.name));
      const mine = new Set(names.filter(() => r() < 0.3));
      const want = scanned(db, mine);
      const load = index.load();
      // a chassis in no port has no load entry; the scan lists only chassis of some port too
      const wantLoad = new Map([...want.load].filter(([, c]) => c.active + c.standby > 0));
      const ok = [
        t.same(sorted(load), sorted(wantLoad), `commit ${i}: load per chassis`),
        t.same(sorted(nonzero(index.activeLoadBut(mine))), sorted(nonzero(want.active)), `commit ${i}: active load of every placed port but ${mine.size}`),
      ];
      for (const p of want.all) {
        const key = p.group ? `group:${p.port}` : p.port;
        const order = [...p.chassis].sort((a, b) => b.priority - a.priority || (a.chassis_name < b.chassis_name ? -1 : 1)).map((g) => ({ chassis: g.chassis_name, priority: g.priority }));
        if (JSON.stringify(index.chassisOf(key)) !== JSON.stringify(order)) ok.push(t.same(index.chassisOf(key), order, `commit ${i}: ${key}'s chassis in priority order`));
      }
      if (ok.includes(false)) bad++;
    }
  });
}

t.test('the counts follow one port, step by step', async (t) => {
  const db = new Db();
  const index = new PortChassisIndex();
  const a = db.insert('Gateway_Chassis', { chassis_name: 'gw-a', priority: 2 });
  const b = db.insert('Gateway_Chassis', { chassis_name: 'gw-b', priority: 1 });
  const p = db.insert('Logical_Router_Port', { name: 'r1-ext', gateway_chassis: [a._uuid, b._uuid] });
  index.note(db.commit());
  t.same(sorted(index.load()), [['gw-a', { active: 1, standby: 0 }], ['gw-b', { active: 0, standby: 1 }]], 'gw-a active, gw-b standby');
  t.same(sorted(index.activeLoadBut(new Set())), [['gw-a', 1]], 'one active port, on gw-a');
  t.same(sorted(nonzero(index.activeLoadBut(new Set(['r1-ext'])))), [], 'but r1-ext: none');
  db.update('Gateway_Chassis', b._uuid, { priority: 3 });
  index.note(db.commit());
  t.same(sorted(index.load()), [['gw-a', { active: 0, standby: 1 }], ['gw-b', { active: 1, standby: 0 }]], 'a priority raised moves the active');
  db.update('Logical_Router_Port', p._uuid, { gateway_chassis: [] });
  db.delete('Gateway_Chassis', a._uuid);
  db.delete('Gateway_Chassis', b._uuid);
  index.note(db.commit());
  t.same(sorted(index.load()), [], 'slots stripped: no load left');
  t.same(index.chassisOf('r1-ext'), [], 'and no chassis');
});
