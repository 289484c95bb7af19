// Incremental framing and parsing of an OVSDB JSON-RPC stream.
//
// The stream is a sequence of JSON texts with no delimiter. Chunks may split
// anywhere: inside strings, escapes and multi-byte UTF-8 sequences. We scan
// bytes (structural characters are ASCII, so UTF-8 continuation bytes never
// match them) and never hold a message as one JS string:
//
//   * containers near the top of a message (levels 0 .. LEAF_LEVEL-1) are built
//     by this scanner ("skeleton");
//   * any other value (scalars, and containers at LEAF_LEVEL or deeper) is a
//     "leaf": its bytes are cut out and handed to the native JSON.parse.
//
// For OVSDB that makes each leaf about one row, so a monitor reply of hundreds
// of MB is parsed a row at a time while it is still arriving. A message can
// also route its leaves to a sink (see LeafSink) so that rows are consumed as
// they arrive and the full message tree never exists in memory.

import { BACKSLASH, plainStringEnd, QUOTE, type SliceableBuffer } from './json-bytes.js';

export type PathElem = string | number;

/** Receives the leaves under one member ("result" or "params") of a message. */
export interface LeafSink {
  /**
   * Called for every leaf below the member, in document order. `path` is
   * relative to the member (e.g. [2, "NAT", "<uuid>"] for update3 params) and is
   * only valid during the call. Return true if the sink consumed the value (it
   * is then left out of the message).
   */
  onLeaf(path: readonly PathElem[], value: unknown): boolean;
  /**
   * Optional fast path for container leaves: parse the value that starts at
   * `buf[start]` (a "{" or "[") straight from the bytes, reading no further
   * than `limit`. Returns the offset after the value if the sink consumed it,
   * RAW_NOT_HANDLED to have it parsed and given to onLeaf as usual, or
   * RAW_INCOMPLETE if the value runs past `limit` (it is then offered once more,
   * whole, when the rest has arrived).
   */
  rawLeaf?(path: readonly PathElem[], buf: Buffer, start: number, limit: number): number;
}

export const RAW_NOT_HANDLED = -1;
export const RAW_INCOMPLETE = -2;

/**
 * Chooses a sink for a top-level member of a message, given the members
 * already parsed (ovsdb-server sends "id" and "method" first).
 */
export type SinkChooser = (partial: Record<string, unknown>, member: string) => LeafSink | undefined;

export class FramingError extends Error {
  override name = 'FramingError';
}

export class MessageTooLargeError extends FramingError {
  override name = 'MessageTooLargeError';
  constructor(readonly limit: number) {
    super(`message exceeds the maximum message size of ${limit} bytes`);
  }
}

export interface FramerOptions {
  /** Maximum size of one message in bytes (default 1 GiB). */
  maxMessageBytes?: number;
  /** Level from which containers are parsed natively as one leaf (default 4). */
  leafLevel?: number;
  sinkChooser?: SinkChooser;
}

const enum S {
  // object frame
  KeyOrEnd,
  Key,
  Colon,
  Value,
  CommaOrEnd,
  // array frame
  ArrValueOrEnd,
}

const enum Leaf {
  None,
  Str,
  Container,
  Literal,
}

interface Frame {
  obj: Record<string, unknown> | unknown[];
  isArray: boolean;
  key: string;
  index: number;
  state: S;
  sink: LeafSink | undefined;
}

export class JsonStreamParser {
  private readonly max: number;
  private readonly leafLevel: number;
  private readonly chooser: SinkChooser | undefined;
  private stack: Frame[] = [];
  private msgBytes = 0;

  // leaf capture
  private leaf = Leaf.None;
  private leafParts: Buffer[] = [];
  private leafIsKey = false;
  private leafDepth = 0; // bracket depth inside a container leaf
  private inStr = false;
  private esc = false;
  private rawRetry = false; // the sink's rawLeaf ran out of bytes: offer the whole leaf again

  constructor(
    private readonly onMessage: (msg: unknown) => void,
    opts: FramerOptions = {},
  ) {
    this.max = opts.maxMessageBytes ?? 1024 * 1024 * 1024;
    this.leafLevel = opts.leafLevel ?? 4;
    this.chooser = opts.sinkChooser;
  }

  /** True when no message is partially parsed. */
  get idle(): boolean {
    return this.stack.length === 0 && this.leaf === Leaf.None;
  }

  /** Bytes of the message in progress (0 when idle). */
  get pendingBytes(): number {
    return this.msgBytes;
  }

  /**
   * Feed the next bytes of the stream. `chunk` is read during the call only
   * (it may be a reused read buffer): the bytes of a value that continues in
   * the next chunk are copied.
   */
  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    let msgStart = this.idle ? -1 : 0;
    while (i < n) {
      if (this.leaf !== Leaf.None) {
        const start = i;
        i = this.continueLeaf(chunk, i, -1); // a leaf that began in an earlier chunk
        if ((this.leaf as Leaf) !== Leaf.None) {
          // leaf continues in the next chunk
          this.leafParts.push(Buffer.from(chunk.subarray(start, n)));
          break;
        }
        continue;
      }
      const c = chunk[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      const depth = this.stack.length;
      if (depth === 0) {
        if (c !== 0x7b && c !== 0x5b) {
          throw new FramingError(`expected "{" or "[" at the start of a message, got ${describe(c)}`);
        }
        msgStart = i;
        this.msgBytes = 0;
        this.openContainer(c, undefined);
        i++;
        continue;
      }
      const f = this.stack[depth - 1];
      switch (f.state) {
        case S.KeyOrEnd:
        case S.Key:
          if (c === QUOTE) {
            // the common case at once: a plain ASCII key wholly in this chunk
            // (e.g. a row's uuid), and the colon right after it
            const q = plainStringEnd(chunk, i + 1, n);
            if (q >= 0) {
              f.key = (chunk as SliceableBuffer).latin1Slice(i + 1, q);
              i = q + 1;
              if (i < n && chunk[i] === 0x3a) {
                f.state = S.Value;
                i++;
              } else f.state = S.Colon;
              break;
            }
            this.startLeaf(Leaf.Str, true);
            i = this.continueLeaf(chunk, i + 1, i);
          } else if (c === 0x7d && f.state === S.KeyOrEnd) {
            i++;
            this.closeContainer(i, msgStart);
          } else {
            throw new FramingError(`expected an object key, got ${describe(c)}`);
          }
          break;
        case S.Colon:
          if (c !== 0x3a) throw new FramingError(`expected ":" after key "${f.key}", got ${describe(c)}`);
          f.state = S.Value;
          i++;
          break;
        case S.Value:
        case S.ArrValueOrEnd:
          if (c === 0x5d && f.state === S.ArrValueOrEnd) {
            i++;
            this.closeContainer(i, msgStart);
            break;
          }
          i = this.startValue(chunk, i, f, depth);
          break;
        case S.CommaOrEnd:
          if (c === 0x2c) {
            f.state = f.isArray ? S.Value : S.Key;
            i++;
          } else if ((c === 0x7d && !f.isArray) || (c === 0x5d && f.isArray)) {
            i++;
            this.closeContainer(i, msgStart);
          } else {
            throw new FramingError(`expected "," or "${f.isArray ? ']' : '}'}", got ${describe(c)}`);
          }
          break;
      }
      if (this.stack.length === 0 && this.leaf === Leaf.None) msgStart = -1;
    }
    if (!this.idle) {
      this.msgBytes += n - Math.max(msgStart, 0);
      if (this.msgBytes > this.max) throw new MessageTooLargeError(this.max);
    }
  }

  /** Forget any partial message (after the connection is dropped). */
  reset(): void {
    this.shape++;
    this.stack = [];
    this.leaf = Leaf.None;
    this.leafParts = [];
    this.msgBytes = 0;
    this.inStr = false;
    this.esc = false;
    this.rawRetry = false;
  }

  // ------------------------------------------------------------ values

  private startValue(chunk: Buffer, i: number, parent: Frame, depth: number): number {
    const c = chunk[i];
    const isContainer = c === 0x7b || c === 0x5b;
    if (isContainer && depth < this.leafLevel) {
      let sink = parent.sink;
      if (depth === 1 && !parent.isArray && this.chooser) {
        sink = this.chooser(parent.obj as Record<string, unknown>, parent.key);
      }
      this.openContainer(c, sink);
      return i + 1;
    }
    if (isContainer) {
      let retry = false;
      const sink = parent.sink;
      if (sink?.rawLeaf) {
        const end = sink.rawLeaf(this.currentPath(), chunk, i, chunk.length);
        if (end >= 0) {
          if (parent.isArray) parent.index++;
          parent.state = S.CommaOrEnd;
          return end;
        }
        retry = end === RAW_INCOMPLETE;
      }
      this.startLeaf(Leaf.Container, false);
      this.rawRetry = retry;
      this.leafDepth = 1;
      return this.continueLeaf(chunk, i + 1, i);
    }
    if (c === QUOTE) {
      this.startLeaf(Leaf.Str, false);
      return this.continueLeaf(chunk, i + 1, i);
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
      this.startLeaf(Leaf.Literal, false);
      return this.continueLeaf(chunk, i, i);
    }
    throw new FramingError(`unexpected ${describe(c)} where a value was expected`);
  }

  private openContainer(c: number, sink: LeafSink | undefined): void {
    const isArray = c === 0x5b;
    this.shape++;
    this.stack.push({
      obj: isArray ? [] : {},
      isArray,
      key: '',
      index: 0,
      state: isArray ? S.ArrValueOrEnd : S.KeyOrEnd,
      sink,
    });
  }

  private closeContainer(i: number, msgStart: number): void {
    this.shape++;
    const f = this.stack.pop()!;
    if (this.stack.length === 0) {
      this.msgBytes += i - Math.max(msgStart, 0);
      if (this.msgBytes > this.max) throw new MessageTooLargeError(this.max);
      this.msgBytes = 0;
      this.onMessage(f.obj);
      return;
    }
    this.attach(f.obj);
  }

  private attach(value: unknown): void {
    const f = this.stack[this.stack.length - 1];
    if (f.isArray) {
      (f.obj as unknown[]).push(value);
      f.index++;
    } else {
      setMember(f.obj as Record<string, unknown>, f.key, value);
    }
    f.state = S.CommaOrEnd;
  }

  // ------------------------------------------------------------ leaves

  private startLeaf(kind: Leaf, isKey: boolean): void {
    this.leaf = kind;
    this.leafIsKey = isKey;
    this.leafParts = [];
    this.inStr = kind === Leaf.Str;
    this.esc = false;
    this.rawRetry = false;
  }

  /**
   * Scan from `i` to the end of the current leaf. `start` is where the leaf
   * began in this chunk (-1 when it began in an earlier chunk). Returns the
   * index after the leaf, or chunk.length if it continues (the caller keeps the
   * bytes).
   */
  private continueLeaf(chunk: Buffer, i: number, start: number): number {
    const n = chunk.length;
    if (this.leaf === Leaf.Literal) {
      while (i < n) {
        const c = chunk[i];
        if (c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          this.finishLeaf(chunk, start, i);
          return i;
        }
        i++;
      }
      if (start >= 0) this.leafParts.push(Buffer.from(chunk.subarray(start, n)));
      return n;
    }
    for (;;) {
      if (this.inStr) {
        if (this.esc) {
          // the previous chunk ended with a backslash: skip the escaped byte
          this.esc = false;
          i++;
        }
        if (i >= n) break;
        // most OVSDB strings are short: a plain loop beats a native indexOf call per string
        let q = i;
        while (q < n && chunk[q] !== QUOTE) q++;
        const stop = q;
        if (q === n) q = -1;
        // backslashes right before the quote (or the chunk end) decide whether it is escaped
        let k = stop - 1;
        while (k >= i && chunk[k] === BACKSLASH) k--;
        const odd = (stop - 1 - k) & 1;
        if (q < 0) {
          if (odd) this.esc = true;
          i = n;
          break;
        }
        i = q + 1;
        if (odd) continue; // escaped quote
        this.inStr = false;
        if (this.leaf === Leaf.Str) {
          this.finishLeaf(chunk, start, i);
          return i;
        }
        continue;
      }
      // inside a container leaf, outside strings
      if (i >= n) break;
      const c = chunk[i];
      if (c === QUOTE) {
        this.inStr = true;
        i++;
      } else if (c === 0x7b || c === 0x5b) {
        this.leafDepth++;
        i++;
      } else if (c === 0x7d || c === 0x5d) {
        i++;
        if (--this.leafDepth === 0) {
          this.finishLeaf(chunk, start, i);
          return i;
        }
      } else {
        i++;
      }
    }
    if (start >= 0) this.leafParts.push(Buffer.from(chunk.subarray(start, n)));
    return n;
  }

  private finishLeaf(chunk: Buffer, start: number, end: number): void {
    // decode straight from the chunk when the leaf lies in it (no Buffer view per leaf)
    let buf = chunk;
    if (this.leafParts.length !== 0) {
      this.leafParts.push(chunk.subarray(start < 0 ? 0 : start, end));
      buf = Buffer.concat(this.leafParts);
      this.leafParts = [];
      start = 0;
      end = buf.length;
    }
    const kind = this.leaf;
    this.leaf = Leaf.None;
    const f = this.stack[this.stack.length - 1];
    if (this.rawRetry) {
      this.rawRetry = false;
      if (f.sink?.rawLeaf && f.sink.rawLeaf(this.currentPath(), buf, start, end) === end) {
        if (f.isArray) f.index++;
        f.state = S.CommaOrEnd;
        return;
      }
    }
    let value: unknown;
    try {
      value =
        kind === Leaf.Str ? plainString(buf, start, end) ?? JSON.parse(buf.toString('utf8', start, end)) : JSON.parse(buf.toString('utf8', start, end));
    } catch (e) {
      throw new FramingError(`malformed JSON: ${(e as Error).message}`);
    }
    if (this.leafIsKey) {
      if (typeof value !== 'string') throw new FramingError('object key is not a string');
      f.key = value;
      f.state = S.Colon;
      return;
    }
    if (f.sink && f.sink.onLeaf(this.currentPath(), value)) {
      if (f.isArray) f.index++;
      f.state = S.CommaOrEnd;
      return;
    }
    this.attach(value);
  }

  /**
   * Path of the current position relative to the member that owns the sink.
   * One array, refilled for each call (sinks may not keep it).
   */
  private currentPath(): PathElem[] {
    const st = this.stack;
    const path = this.path;
    if (this.pathOf === this.shape) {
      // same frames as the last call: only the top frame's key or index can have moved
      const top = st[st.length - 1];
      if (top.sink) path[path.length - 1] = top.isArray ? top.index : top.key;
      return path;
    }
    path.length = 0;
    for (let k = 0; k < st.length; k++) {
      const fr = st[k];
      if (!fr.sink) continue;
      path.push(fr.isArray ? fr.index : fr.key);
    }
    this.pathOf = this.shape;
    return path;
  }
  private readonly path: PathElem[] = [];
  /** Bumped whenever a frame is pushed or popped; `pathOf` is its value when `path` was built. */
  private shape = 0;
  private pathOf = -1;
}

function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** The JSON string at buf[start..end) (quotes included) if it has no escapes, else undefined. */
function plainString(buf: Buffer, start: number, end: number): string | undefined {
  let ascii = true;
  for (let i = start + 1; i < end - 1; i++) {
    const c = buf[i];
    if (c === BACKSLASH || c < 0x20) return undefined;
    if (c >= 0x80) ascii = false;
  }
  // latin1 is the same as utf8 for ASCII, and cheaper to decode
  return ascii ? (buf as SliceableBuffer).latin1Slice(start + 1, end - 1) : (buf as SliceableBuffer).utf8Slice(start + 1, end - 1);
}

function describe(c: number): string {
  return c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}
