// A read-only map of a few pairs, as a replica row holds most of its map
// columns (a NAT row's external_ids: five keys). V8's Map costs about 300
// bytes for five pairs (a hash table sized for eight, with its buckets); this
// keeps the pairs in one flat array, about 140 bytes, and looks a key up by
// scanning them, as fast for so few. At 100k rows that is 15 MB less.
//
// It answers `instanceof Map` and every reading method of one (get, has,
// size, keys, values, entries, forEach, iteration), so code written for the
// replica's Maps reads it unchanged; its writing methods throw, as the other
// replica maps' do (replica rows are read-only). It is not a real Map inside:
// util.inspect shows its fields, and Map.prototype's methods called on it
// directly (Map.prototype.get.call) throw.

/** Maps of at most this many pairs are held as a SmallMap. */
export const SMALL_MAP_MAX = 8;

export class SmallMap<K, V> {
  /** key, value, key, value... */
  readonly #kv: readonly (K | V)[];

  /** `kv`: the pairs, flat, each key once (the caller's array is kept, not copied). */
  constructor(kv: readonly (K | V)[]) {
    this.#kv = kv;
  }

  /** A SmallMap of these pairs when there are few enough, else a Map; a later pair of the same key wins, as Map.set does. */
  static of<K, V>(kv: (K | V)[]): ReadonlyMap<K, V> {
    if (kv.length > 2 * SMALL_MAP_MAX) {
      const m = new Map<K, V>();
      for (let i = 0; i < kv.length; i += 2) m.set(kv[i] as K, kv[i + 1] as V);
      return m;
    }
    for (let i = 2; i < kv.length; i += 2) {
      for (let j = 0; j < i; j += 2) {
        if (kv[j] === kv[i]) {
          // (a key twice, which a server does not send: the later value, at the first place, as a Map keeps it)
          kv[j + 1] = kv[i + 1];
          kv.splice(i, 2);
          i -= 2;
          break;
        }
      }
    }
    return new SmallMap<K, V>(kv) as unknown as ReadonlyMap<K, V>;
  }

  get size(): number {
    return this.#kv.length >> 1;
  }

  get(k: K): V | undefined {
    const kv = this.#kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === k) return kv[i + 1] as V;
    return undefined;
  }

  has(k: K): boolean {
    const kv = this.#kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === k) return true;
    return false;
  }

  *entries(): MapIterator<[K, V]> {
    const kv = this.#kv;
    for (let i = 0; i < kv.length; i += 2) yield [kv[i] as K, kv[i + 1] as V];
  }

  *keys(): MapIterator<K> {
    const kv = this.#kv;
    for (let i = 0; i < kv.length; i += 2) yield kv[i] as K;
  }

  *values(): MapIterator<V> {
    const kv = this.#kv;
    for (let i = 1; i < kv.length; i += 2) yield kv[i] as V;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    const kv = this.#kv;
    for (let i = 0; i < kv.length; i += 2) fn.call(thisArg, kv[i + 1] as V, kv[i] as K, this as unknown as ReadonlyMap<K, V>);
  }

  set(): never {
    throw new TypeError('a replica map is read-only');
  }

  delete(): never {
    throw new TypeError('a replica map is read-only');
  }

  clear(): never {
    throw new TypeError('a replica map is read-only');
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
  }
}

// instanceof Map, and Map's other members (none but the ones above read a map)
Object.setPrototypeOf(SmallMap.prototype, Map.prototype);
