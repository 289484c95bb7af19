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

/** Node's Buffer decoders without the checks of toString() (present on every Buffer, untyped). */
export interface SliceableBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
