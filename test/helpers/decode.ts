/**
 * Feed the bytes of a monitor_cond_since reply (found=false) through the
 * framer and the replica's decoder, as the client does, with no server: for
 * the tests of decoding. `nextCut` gives the size of each chunk; `fast` offers
 * rows to the fast row parser (rowparse.ts) first, as the client's sinks do.
 */
import { JsonStreamParser } from '../../src/ovsdb/framing.js';
import { Replica, UpdateDecoder } from '../../src/ovsdb/replica.js';
import type { DatabaseSchema } from '../../src/ovsdb/schema.js';

export function decodeReply(schema: DatabaseSchema, text: string, nextCut: () => number, fast: boolean): Replica {
  const tables = Object.fromEntries([...schema.tables.keys()].map((t) => [t, true as const]));
  const rep = new Replica({ tables } as never);
  rep.bind(schema);
  const decoder = new UpdateDecoder(rep, undefined, 2);
  const sink = {
    onLeaf(path: readonly (string | number)[], value: unknown): boolean {
      if (path.length === 1 && path[0] === 0 && typeof value === 'boolean') decoder.fresh = value ? undefined : new Map();
      return decoder.onLeaf(path, value);
    },
    ...(fast ? { rawLeaf: (path: readonly (string | number)[], buf: Buffer, s: number, l: number) => decoder.rawLeaf(path, buf, s, l) } : {}),
  };
  let done = false;
  const p = new JsonStreamParser(
    () => {
      rep.applyFull(decoder.fresh!);
      done = true;
    },
    { sinkChooser: (_partial, member) => (member === 'result' ? sink : undefined) },
  );
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; ) {
    const k = Math.max(1, nextCut());
    // a copy: the client's socket chunks are not views of one buffer either
    p.push(Buffer.from(bytes.subarray(i, i + k)));
    i += k;
  }
  if (!done) throw new Error('reply not complete');
  return rep;
}
