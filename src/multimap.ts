// Keys to sets of values, where most keys have one value (an index on a
// column whose values are nearly unique, the users of an object). A key with
// one value holds the value itself; a Set is made only for a second one. A
// Set of one costs about 200 bytes on V8's heap: at 100k keys that is 20 MB
// per index, and the daemon keeps several such indexes.

/** Values are strings or numbers, so that a value is never taken for the Set of a key. */
export class SetMultimap<K, V extends string | number> {
  private readonly m = new Map<K, V | Set<V>>();

  /** The number of keys. */
  get size(): number {
    return this.m.size;
  }

  /** Adds `v` under `k`; false if it was there. */
  add(k: K, v: V): boolean {
    const cur = this.m.get(k);
    if (cur === undefined) {
      this.m.set(k, v);
      return true;
    }
    if (cur instanceof Set) {
      if (cur.has(v)) return false;
      cur.add(v);
      return true;
    }
    if (cur === v) return false;
    this.m.set(k, new Set([cur, v]));
    return true;
  }

  /** Removes `v` from `k` (and `k` when it was its last value); false if it was not there. */
  delete(k: K, v: V): boolean {
    const cur = this.m.get(k);
    if (cur === undefined) return false;
    if (!(cur instanceof Set)) {
      if (cur !== v) return false;
      this.m.delete(k);
      return true;
    }
    if (!cur.delete(v)) return false;
    if (cur.size === 1) this.m.set(k, cur.values().next().value as V);
    return true;
  }

  has(k: K, v?: V): boolean {
    const cur = this.m.get(k);
    if (cur === undefined) return false;
    if (v === undefined) return true;
    return cur instanceof Set ? cur.has(v) : cur === v;
  }

  /** The values of `k` (empty when none); a live view: copy it before changing `k`. */
  get(k: K): Iterable<V> {
    const cur = this.m.get(k);
    if (cur === undefined) return NONE;
    return cur instanceof Set ? cur : [cur];
  }

  keys(): IterableIterator<K> {
    return this.m.keys();
  }

  /** How many values `k` has. */
  countOf(k: K): number {
    const cur = this.m.get(k);
    return cur === undefined ? 0 : cur instanceof Set ? cur.size : 1;
  }

  /** Removes `k` with all its values. */
  deleteKey(k: K): void {
    this.m.delete(k);
  }

  clear(): void {
    this.m.clear();
  }
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Who names what (a ref -> the ids that name it), where a ref that nearly
 * every object names (the gateway ConfigMap, the one external network) keeps
 * no Set: once a ref has more than `wide` users, it is marked wide and its
 * users are found by `scan(ref)` over the objects when asked. A change of
 * such a ref plans that many objects anyway; a Set of 100k ids costs 3 MB,
 * and the daemon kept four.
 */
export class UsersIndex<V extends string> {
  /** the `wide` of indexes made without one (a test sets it low, so that every ref goes wide) */
  static defaultWide = 4096;

  private readonly m = new SetMultimap<string, V>();
  private readonly wideRefs = new Set<string>();

  constructor(
    private readonly scan: (ref: string) => Iterable<V>,
    private readonly wide = UsersIndex.defaultWide,
  ) {}

  add(ref: string, v: V): void {
    if (this.wideRefs.has(ref)) return;
    this.m.add(ref, v);
    if (this.m.countOf(ref) > this.wide) {
      this.m.deleteKey(ref);
      this.wideRefs.add(ref);
    }
  }

  delete(ref: string, v: V): void {
    if (!this.wideRefs.has(ref)) this.m.delete(ref, v);
  }

  /** The ids that name `ref` (of a wide ref, found by a scan: iterate before changing the objects). */
  get(ref: string): Iterable<V> {
    return this.wideRefs.has(ref) ? this.scan(ref) : this.m.get(ref);
  }

  /** Whether `ref` is wide (its users found by a scan). */
  isWide(ref: string): boolean {
    return this.wideRefs.has(ref);
  }
}
