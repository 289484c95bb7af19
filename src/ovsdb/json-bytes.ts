// The bytes of JSON's structural characters, for the scanners that read
// OVSDB's JSON-RPC stream as bytes (framing.ts, rowparse.ts).
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const COMMA = 0x2c;
export const COLON = 0x3a;

/** plainStringEnd: the string reaches `limit` before it ends. */
export const STRING_CUT = -2;

/**
 * Where a plain JSON string (all ASCII, no escape or control byte) whose first
 * byte after the opening quote is at `from` ends: the index of its closing
 * quote; -1 if it is not plain; STRING_CUT if `limit` comes first.
 */
export function plainStringEnd(buf: Buffer, from: number, limit: number): number {
  for (let q = from; q < limit; q++) {
    const c = buf[q];
    if (c === QUOTE) return q;
    if (c === BACKSLASH || c >= 0x80 || c < 0x20) return -1;
  }
  return STRING_CUT;
}

/** Node's Buffer decoders without the checks of toString() (present on every Buffer, untyped). */
export interface SliceableBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
