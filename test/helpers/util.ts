// Small helpers shared by the tests.
import type { Test } from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';

/** The rejection of a promise, or undefined if it resolved. */
export async function catchAsync(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Poll a condition until it holds or the deadline passes (never a fixed sleep for correctness). */
export async function waitFor(pred: () => boolean | Promise<boolean>, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Poll until a condition holds; throws "gave up waiting for <what>" after `ms`. */
export async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  if (!(await waitFor(pred, ms))) throw new Error(`gave up waiting for ${what}`);
}

const byJson = (a: unknown, b: unknown) => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** A value in a comparable form: sets and maps sorted (OVSDB sets and maps have no order). */
export function norm(v: unknown): unknown {
  if (v instanceof Map) return [...v.entries()].sort(byJson);
  if (Array.isArray(v)) return [...v].sort(byJson);
  return v;
}

/** A temp dir, removed in t.teardown when the test passed (kept, and said so, when it failed). */
export async function tempDir(t: Test, prefix: string, what = 'files'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(async () => {
    if (t.passing()) await rm(dir, { recursive: true, force: true });
    else t.comment(`${what} kept in ${dir}`);
  });
  return dir;
}

/** mulberry32: a small seeded PRNG in [0, 1), so a failing round can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
