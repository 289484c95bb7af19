/**
 * The node locks between a leader's NodeLiveness and nodes' daemons, on a
 * bare ovsdb-server (src/ha/liveness.ts): a node of the current build
 * answers the pings of its ping lock; a node whose daemon holds only its
 * node lock (an older build) is not pinged, so it is not taken as silent
 * while it runs, and its death is still seen when its lock is released.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OvsdbClient } from '../src/ovsdb/client.js';
import { NodeLiveness, NodeLock, nodeLock } from '../src/ha/liveness.js';
import { spawnOvsdbServer } from './helpers/ovsdb-server.js';
import { tempDir, until } from './helpers/util.js';

const dir = await tempDir(t, 'natgw-liveness-locks-');
const sock = path.join(dir, 'nb.sock');
await spawnOvsdbServer(t, { dir, remotes: [`punix:${sock}`] });
await until('the server listening', () => existsSync(sock), 10_000);
const remote = `unix:${sock}`;
const client = async () => {
  const c = new OvsdbClient({ remote, database: 'OVN_Northbound', reconnect: false });
  await c.connect(10_000);
  return c;
};

const leader = await client();
t.teardown(() => leader.close());
const events: string[] = [];
let pongs = 0;
const live = new NodeLiveness(
  leader,
  {
    onDead: (c, cause) => events.push(`${c} dead:${cause}`),
    onReturned: (c) => events.push(`${c} returning`),
    onSuspect: (c) => events.push(`${c} suspect`),
    onUnpingable: (c) => events.push(`${c} unpingable`),
    onPong: () => pongs++,
  },
  { pingMs: 30, holdDownMs: 60_000 },
);
t.teardown(() => live.stop());

t.test('a node of this build: pinged, its pings answered, its death seen as its lock released', async (t) => {
  const node = await client();
  const lock = new NodeLock(node, 'n1');
  await lock.start();
  await live.watch(['n1']);
  await until('pings answered', async () => pongs >= 5, 5000);
  t.equal(live.stateOf('n1'), 'alive', 'alive');
  t.same(events, [], 'neither suspect nor unpingable');
  await lock.stop();
  await node.close();
  await until('n1 dead', async () => live.stateOf('n1') === 'dead', 5000);
  t.same(events, ['n1 dead:released'], 'dead: released');
});

t.test('a node whose daemon holds only its node lock (an older build): not pinged, not taken as silent; dead when its lock goes', async (t) => {
  events.length = 0;
  const node = await client();
  t.ok(await node.steal(nodeLock('n2')), 'the old daemon holds its node lock');
  await live.watch(['n1', 'n2']);
  await until('n2 watched', async () => live.stateOf('n2') === 'alive', 5000);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(live.stateOf('n2'), 'alive', 'ten ping intervals later it is still alive');
  t.same(events, ['n2 unpingable'], 'said once: no ping lock, not pinged; no suspect, no death');
  await node.close();
  await until('n2 dead', async () => live.stateOf('n2') === 'dead', 5000);
  t.same(events, ['n2 unpingable', 'n2 dead:released'], 'its session ended: dead, released');
});
