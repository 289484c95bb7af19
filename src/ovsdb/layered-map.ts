// A read-only map that is a new version of another at the cost of its change,
// not of its size: a large map column (a switch's external_ids holding the
// address ledger of 100k EIPs) gets a new value on every update, and copying
// it whole each time made one change O(ledger). A version shares the older
// one's base map and keeps its own differences; when those grow past about
// the square root of the size they are folded into a fresh base, so a change
// costs O(sqrt(size)) amortized, and every version stays valid (an event's
// `old` row keeps showing the old value).
//
// It is a Map (instanceof Map, iterable, get/has/size) whose writing methods
// throw: replica rows are read-only.

import { SMALL_MAP_MAX, SmallMap } from './small-map.js';

const GONE: unique symbol = Symbol('gone');

/** Maps smaller than this are copied whole (cheaper than layers). */
export const LAYERED_MIN_SIZE = 4096;

export class LayeredMap<K, V> extends Map<K, V> {
  private readonly n: number;

  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly delta: ReadonlyMap<K, V | typeof GONE>,
    n: number,
  ) {
    super();
    this.n = n;
  }

  /**
   * `cur` with an update2 map diff applied (ovsdb-server(7) 4.1.14: a key not
   * there is added, a key with the same value is removed, a key with another
   * value takes it). Small maps are copied; large ones layered.
   */
  static applyDiff<K, V>(cur: ReadonlyMap<K, V>, diff: ReadonlyMap<K, V>): ReadonlyMap<K, V> {
    if (cur.size < LAYERED_MIN_SIZE && !(cur instanceof LayeredMap)) {
      const m = new Map(cur);
      for (const [k, v] of diff) {
        if (!m.has(k)) m.set(k, v);
        else if (m.get(k) === v) m.delete(k);
        else m.set(k, v);
      }
      if (m.size > SMALL_MAP_MAX) return m;
      const kv: (K | V)[] = new Array(2 * m.size);
      let i = 0;
      for (const [k, v] of m) (kv[i++] = k), (kv[i++] = v);
      return SmallMap.of<K, V>(kv);
    }
    const base = cur instanceof LayeredMap ? (cur.base as ReadonlyMap<K, V>) : cur;
    const delta = cur instanceof LayeredMap ? new Map(cur.delta as ReadonlyMap<K, V | typeof GONE>) : new Map<K, V | typeof GONE>();
    let n = cur.size;
    for (const [k, v] of diff) {
      const had = cur.has(k);
      const cv = had ? cur.get(k) : undefined;
      if (!had) {
        delta.set(k, v);
        n++;
      } else if (cv === v) {
        if (base.has(k)) delta.set(k, GONE);
        else delta.delete(k);
        n--;
      } else delta.set(k, v);
    }
    const next = new LayeredMap<K, V>(base, delta, n);
    // too many differences: fold them into a fresh base
    return delta.size > 2 * Math.ceil(Math.sqrt(n)) + 16 ? new Map(next) : next;
  }

  override get size(): number {
    return this.n;
  }

  override get(k: K): V | undefined {
    if (this.delta.has(k)) {
      const v = this.delta.get(k)!;
      return v === GONE ? undefined : v;
    }
    return this.base.get(k);
  }

  override has(k: K): boolean {
    if (this.delta.has(k)) return this.delta.get(k) !== GONE;
    return this.base.has(k);
  }

  override *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.base) if (!this.delta.has(k)) yield [k, v];
    for (const [k, v] of this.delta) if (v !== GONE) yield [k, v];
  }

  override *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  override *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  override forEach(fn: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  override set(): this {
    throw new TypeError('a replica map is read-only');
  }

  override delete(): boolean {
    throw new TypeError('a replica map is read-only');
  }

  override clear(): void {
    throw new TypeError('a replica map is read-only');
  }
}
