// One copy of a string that many long-lived structures hold (an object's id
// "Kind/name" is a key or an element of a dozen maps in the daemon). A string
// made by concatenation or sliced out of a text is a new string each time;
// V8's string table keeps one internalized copy of every property name, and
// lets go of it when nothing holds it. So a string given back here is that
// copy: equal strings share it, and none is kept for longer than it is used.

const box: Record<string, 0> = Object.create(null) as Record<string, 0>;

/** The internalized copy of `s` (equal to it; one for all equal strings). */
export function shared(s: string): string {
  box[s] = 0;
  let k = s;
  for (k in box) break;
  delete box[s];
  return k;
}
