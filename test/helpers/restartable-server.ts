// An ovsdb-server on a fresh NB in a temp dir, on a unix socket, that a test
// restarts under its clients (every session drops; the database stays),
// clients of it that close in t.teardown, and a leader's liveness over one.
import type { Test } from 'tap';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { OvsdbClient } from '../../src/ovsdb/client.js';
import { NodeLiveness, type LivenessOptions } from '../../src/ha/liveness.js';
import { spawnOvsdbServer, type SpawnedOvsdbServer } from './ovsdb-server.js';
import { tempDir, until } from './util.js';

export interface RestartableServer {
  remote: string;
  /** A connected NB client (`reconnect`: with a backoff of `backoffMs` to twice that). */
  client(reconnect: boolean, backoffMs?: number): Promise<OvsdbClient>;
  /** Stops the server and starts it again on the same database and socket. */
  restart(): Promise<void>;
}

export async function restartableServer(t: Test, prefix: string, defaultBackoffMs = 100): Promise<RestartableServer> {
  const dir = await tempDir(t, prefix);
  const sock = path.join(dir, 'nb.sock');
  const start = async (): Promise<SpawnedOvsdbServer> => {
    const s = await spawnOvsdbServer(t, { dir, remotes: [`punix:${sock}`] });
    await until('the server listening', () => existsSync(sock), 10_000);
    return s;
  };
  let server = await start();
  const remote = `unix:${sock}`;
  return {
    remote,
    async client(reconnect, backoffMs = defaultBackoffMs) {
      const c = new OvsdbClient({ remote, database: 'OVN_Northbound', reconnect, minBackoffMs: backoffMs, maxBackoffMs: backoffMs * 2 });
      t.teardown(() => c.close());
      await c.connect(10_000);
      return c;
    },
    async restart() {
      await server.stop();
      rmSync(sock, { force: true });
      server = await start();
    },
  };
}

/** A leader's NodeLiveness on `leader` whose events are recorded as "<chassis> <what>" with their time; stopped in t.teardown. */
export function recordedLiveness(t: Test, leader: OvsdbClient, opts: LivenessOptions): { live: NodeLiveness; events: { at: number; ev: string }[] } {
  const events: { at: number; ev: string }[] = [];
  const tell = (ev: string) => events.push({ at: Date.now(), ev });
  const live = new NodeLiveness(
    leader,
    {
      onDead: (c, cause) => tell(`${c} dead:${cause}`),
      onReturned: (c) => tell(`${c} returning`),
      onSuspect: (c) => tell(`${c} suspect`),
      onWatched: (c) => tell(`${c} watched`),
    },
    opts,
  );
  t.teardown(() => live.stop());
  return { live, events };
}
