/** `ids` and every id `next` leads to from them, transitively (each visited once). */
export function walk(ids: Iterable<string>, next: (id: string) => Iterable<string> | undefined): Set<string> {
  const out = new Set<string>();
  const todo = [...ids];
  while (todo.length) {
    const id = todo.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    for (const n of next(id) ?? []) if (!out.has(n)) todo.push(n);
  }
  return out;
}
