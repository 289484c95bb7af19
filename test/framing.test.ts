/**
 * The incremental JSON framer (src/ovsdb/framing.ts), without a server: a
 * stream of back-to-back JSON texts cut at arbitrary byte boundaries must
 * yield exactly what JSON.parse gives for each text.
 */
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import {
  FramingError,
  JsonStreamParser,
  MessageTooLargeError,
  type FramerOptions,
  type LeafSink,
  type PathElem,
} from '../src/ovsdb/framing.js';
import { prng } from './helpers/util.js';

// ------------------------------------------------------------------ helpers

/** Parse `chunks` in order; returns the messages. */
function parseChunks(chunks: Buffer[], opts: FramerOptions = {}): unknown[] {
  const out: unknown[] = [];
  const p = new JsonStreamParser((m) => out.push(m), opts);
  for (const c of chunks) p.push(c);
  if (!p.idle) throw new Error(`parser not idle after the last chunk (${p.pendingBytes} bytes pending)`);
  return out;
}

/** Cut `buf` into chunks whose sizes come from `size()`. */
function cut(buf: Buffer, size: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = Math.max(1, Math.min(size(), buf.length - i));
    // copy, so that no chunk shares memory with its neighbours
    chunks.push(Buffer.from(buf.subarray(i, i + n)));
    i += n;
  }
  return chunks;
}

function oneByteChunks(buf: Buffer): Buffer[] {
  return cut(buf, () => 1);
}

function catchSync(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

// Pieces that stress the string scanner: structural characters, quotes and
// backslashes (JSON.stringify escapes them), control characters, multi-byte
// UTF-8 (2, 3 and 4 bytes) and characters JSON may write as \u escapes.
const STRING_PIECES = ['{', '}', '[', ']', '"', '\\', '\\\\', '\\"', ':', ',', ' ', '\n', '\t', '\u0001', '\u001f', 'é', '€', '😀', '\u2028', '/', 'a', 'Z', '0', 'true', 'null', '-1'];

function randomString(rnd: () => number): string {
  const n = Math.floor(rnd() * 8);
  let s = '';
  for (let i = 0; i < n; i++) s += STRING_PIECES[Math.floor(rnd() * STRING_PIECES.length)];
  return s;
}

/** Serialise a string as JSON, randomly writing characters as \u escapes (surrogate pairs for astral ones). */
function serString(s: string, rnd: () => number): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (rnd() < 0.25) {
      for (let i = 0; i < ch.length; i++) {
        const hex = ch.charCodeAt(i).toString(16).padStart(4, '0');
        out += '\\u' + (rnd() < 0.5 ? hex : hex.toUpperCase());
      }
    } else if (ch === '/' && rnd() < 0.5) {
      out += '\\/';
    } else if (code < 0x20 || ch === '"' || ch === '\\') {
      out += JSON.stringify(ch).slice(1, -1);
    } else {
      out += ch;
    }
  }
  return out + '"';
}

/** Numbers in the forms JSON allows: integers, negatives, fractions, exponents. */
function serNumber(rnd: () => number): string {
  const forms = [
    () => String(Math.floor(rnd() * 10)),
    () => String(Math.floor(rnd() * 2 ** 40)),
    () => '-' + String(Math.floor(rnd() * 100000)),
    () => (rnd() * 1000 - 500).toFixed(1 + Math.floor(rnd() * 6)),
    () => `${Math.floor(rnd() * 9) + 1}e${Math.floor(rnd() * 20)}`,
    () => `-${Math.floor(rnd() * 9) + 1}.${Math.floor(rnd() * 1000)}E-${Math.floor(rnd() * 10)}`,
    () => `${Math.floor(rnd() * 9)}.5E+${Math.floor(rnd() * 5)}`,
    () => '-0',
    () => '9007199254740993', // beyond 2^53: JSON.parse rounds it, so must we
  ];
  return forms[Math.floor(rnd() * forms.length)]();
}

function ws(rnd: () => number): string {
  if (rnd() < 0.7) return '';
  const w = [' ', '\n', '\r\n', '\t', '  '];
  return w[Math.floor(rnd() * w.length)];
}

/** A random JSON value as text (not via JSON.stringify, so escapes and number forms vary). */
function serValue(rnd: () => number, depth: number): string {
  const r = rnd();
  if (depth < 8 && r < 0.35) {
    const n = Math.floor(rnd() * 5);
    const keys = new Set<string>();
    const members: string[] = [];
    for (let i = 0; i < n; i++) {
      let k = randomString(rnd);
      while (keys.has(k)) k += 'k';
      keys.add(k);
      members.push(ws(rnd) + serString(k, rnd) + ws(rnd) + ':' + ws(rnd) + serValue(rnd, depth + 1) + ws(rnd));
    }
    return '{' + members.join(',') + ws(rnd) + '}';
  }
  if (depth < 8 && r < 0.6) {
    const n = Math.floor(rnd() * 5);
    const elems: string[] = [];
    for (let i = 0; i < n; i++) elems.push(ws(rnd) + serValue(rnd, depth + 1) + ws(rnd));
    return '[' + elems.join(',') + ws(rnd) + ']';
  }
  if (r < 0.8) return serString(randomString(rnd), rnd);
  if (r < 0.92) return serNumber(rnd);
  return ['true', 'false', 'null'][Math.floor(rnd() * 3)];
}

/** A random top-level message: an object or an array. */
function serMessage(rnd: () => number): string {
  let s: string;
  do s = serValue(rnd, 0);
  while (s[0] !== '{' && s[0] !== '[');
  return s;
}

// ------------------------------------------------------------------ random streams

t.test('random streams at random chunk boundaries yield exactly the messages of JSON.parse', async (t) => {
  const ROUNDS = 400;
  const failures: string[] = [];
  let firstFailure: { got: unknown[]; want: unknown[] } | undefined;
  let messages = 0;
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const seed = 0x5eed0000 + round;
    const rnd = prng(seed);
    const texts: string[] = [];
    const count = 1 + Math.floor(rnd() * 12);
    for (let i = 0; i < count; i++) texts.push(serMessage(rnd));
    const want = texts.map((s) => JSON.parse(s) as unknown);
    const stream = Buffer.from(texts.map((s) => ws(rnd) + s + ws(rnd)).join(''), 'utf8');
    messages += count;
    bytes += stream.length;
    // chunking: 1-byte chunks every 4th round, otherwise random sizes
    const maxChunk = [1, 2, 3, 7, 16, 64, 1024][round % 7];
    const chunks = round % 4 === 0 ? oneByteChunks(stream) : cut(stream, () => 1 + Math.floor(rnd() * maxChunk));
    // also vary where containers become native-parsed leaves
    const leafLevel = [4, 1, 2, 3, 6][round % 5];
    let got: unknown[];
    try {
      got = parseChunks(chunks, { leafLevel });
    } catch (e) {
      failures.push(`round ${round} (seed ${seed}, leafLevel ${leafLevel}): threw ${(e as Error).message}`);
      continue;
    }
    if (!isDeepStrictEqual(got, want)) {
      failures.push(`round ${round} (seed ${seed}, leafLevel ${leafLevel}): messages differ`);
      firstFailure ??= { got, want };
    }
  }
  t.comment(`${ROUNDS} rounds, ${messages} messages, ${bytes} bytes`);
  t.same(failures, [], 'every round yields the JSON.parse messages');
  if (firstFailure) t.strictSame(firstFailure.got, firstFailure.want, 'first differing round');
});

t.test('a chunk is read only during push: one reused buffer, overwritten after every push', async (t) => {
  // what a socket reading into one buffer (transport's onread) hands the parser
  const ROUNDS = 200;
  const failures: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const seed = 0x0b0f0000 + round;
    const rnd = prng(seed);
    const texts: string[] = [];
    const count = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < count; i++) texts.push(serMessage(rnd));
    const want = texts.map((s) => JSON.parse(s) as unknown);
    const stream = Buffer.from(texts.join(ws(rnd)), 'utf8');
    const leafLevel = [4, 1, 2, 3][round % 4];
    const shared = Buffer.alloc(64);
    const got: unknown[] = [];
    const p = new JsonStreamParser((m) => got.push(m), { leafLevel });
    try {
      for (let i = 0; i < stream.length; ) {
        const n = Math.min(1 + Math.floor(rnd() * shared.length), stream.length - i);
        stream.copy(shared, 0, i, i + n);
        p.push(shared.subarray(0, n));
        // bytes that would corrupt any part the parser kept without copying
        shared.fill(round % 2 ? 0x22 : 0x7b);
        i += n;
      }
    } catch (e) {
      failures.push(`round ${round} (seed ${seed}): threw ${(e as Error).message}`);
      continue;
    }
    if (!p.idle || !isDeepStrictEqual(got, want)) failures.push(`round ${round} (seed ${seed}, leafLevel ${leafLevel}): messages differ`);
  }
  t.same(failures, [], 'every round yields the JSON.parse messages');
});

// ------------------------------------------------------------------ every boundary of tricky messages

const TRICKY: Record<string, string> = {
  'structural characters inside strings': '{"id":1,"result":["a{b","c}d","e[f","g]h","{","}","[","]","x,y:z"],"error":null}',
  'escaped quotes and backslashes': String.raw`{"q":"\"","b":"\\","bq":"\\\"","bb":"\\\\","e":"x\\","f":"\"\\\"","g":["\\",""]}`,
  'escapes in keys': String.raw`{"k\"ey":1,"k\\":2,"\\\"":{"\"":"\\"}}`,
  '\\u escapes, including surrogate pairs': String.raw`{"u":"\u0041\u00e9\u20AC\ud83d\ude00\u0022\u005c","\u006b":"\/"}`,
  'multi-byte UTF-8 in keys and values': '{"é😀":"é€😀","ключ":["日本","😀😀"],"x":"\u2028"}',
  'numbers and literals': '{"n":[0,-0,123456789,-0.5e-10,1E+3,2.5E-2,9007199254740993],"t":true,"f":false,"z":null,"a":[true,false,null]}',
  'deep nesting (native-parsed container leaves)': String.raw`{"a":{"b":{"c":{"d":{"s":"}\"]{[","t":["\\\\",{"u":"\"}"}],"n":[1,-2.5e3,true,null]}}}}}`,
  'empty containers': '{"a":{},"b":[],"c":[[],{}],"d":{"e":{"f":{"g":{},"h":[]}}}}',
  'whitespace everywhere': ' { "a" : [ 1 , "x" , { "b" : null } ] ,\r\n\t"c" : true } ',
  'top-level array': '[1,"two",{"three":[3]},[[[["deep"]]]]]',
};

for (const [name, text] of Object.entries(TRICKY)) {
  t.test(`every split point: ${name}`, async (t) => {
    const want = JSON.parse(text) as unknown;
    const buf = Buffer.from(text, 'utf8');
    const bad: number[] = [];
    // two chunks, split at every byte (this also splits every multi-byte character)
    for (let i = 1; i < buf.length; i++) {
      const got = parseChunks([Buffer.from(buf.subarray(0, i)), Buffer.from(buf.subarray(i))]);
      if (!isDeepStrictEqual(got, [want])) bad.push(i);
    }
    t.same(bad, [], 'two-chunk splits that went wrong');
    // three chunks, around every pair of split points (bounded)
    const bad3: string[] = [];
    for (let i = 1; i < buf.length; i++) {
      for (let j = i + 1; j < Math.min(buf.length, i + 12); j++) {
        const got = parseChunks([buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)].map((b) => Buffer.from(b)));
        if (!isDeepStrictEqual(got, [want])) bad3.push(`${i},${j}`);
      }
    }
    t.same(bad3, [], 'three-chunk splits that went wrong');
    t.strictSame(parseChunks(oneByteChunks(buf)), [want], 'one byte at a time');
    t.strictSame(parseChunks([buf]), [want], 'all at once');
  });
}

t.test('multi-byte characters split inside their UTF-8 sequence', async (t) => {
  const text = '{"s":"é😀€"}';
  const buf = Buffer.from(text, 'utf8');
  // é is 2 bytes, 😀 4 bytes, € 3 bytes: split inside each of them
  const start = buf.indexOf('é');
  const splits = [start + 1, start + 3, start + 4, start + 5, start + 7, start + 8];
  for (const at of splits) {
    const got = parseChunks([buf.subarray(0, at), buf.subarray(at)].map((b) => Buffer.from(b)));
    t.strictSame(got, [{ s: 'é😀€' }], `split at byte ${at}`);
  }
});

t.test('whitespace between messages and many messages in one chunk', async (t) => {
  const text = '  \n{"a":1}\r\n\t[2]  {"b" : [ 1 , 2 ] }\n\n[]{}[{}]   ';
  const want = [{ a: 1 }, [2], { b: [1, 2] }, [], {}, [{}]];
  t.strictSame(parseChunks([Buffer.from(text)]), want, 'one chunk');
  t.strictSame(parseChunks(oneByteChunks(Buffer.from(text))), want, 'one byte at a time');
  // whitespace-only chunks between messages leave the parser idle
  const out: unknown[] = [];
  const p = new JsonStreamParser((m) => out.push(m));
  p.push(Buffer.from('{"x":1}'));
  p.push(Buffer.from('  \n '));
  t.ok(p.idle, 'idle after a message and trailing whitespace');
  t.equal(p.pendingBytes, 0);
  p.push(Buffer.from('{"y"'));
  t.notOk(p.idle, 'not idle inside a message');
  t.ok(p.pendingBytes > 0, 'pending bytes counted');
  p.push(Buffer.from(':2}'));
  t.strictSame(out, [{ x: 1 }, { y: 2 }]);
});

t.test('reset() forgets a partial message', async (t) => {
  const out: unknown[] = [];
  const p = new JsonStreamParser((m) => out.push(m));
  p.push(Buffer.from('{"a":"half a str'));
  p.reset();
  t.ok(p.idle);
  p.push(Buffer.from('{"b":[1,2]}'));
  t.strictSame(out, [{ b: [1, 2] }], 'the next connection starts clean');
});

// ------------------------------------------------------------------ leaf sinks

t.test('a LeafSink receives the rows of a member with their paths; consumed values are left out', async (t) => {
  // a monitor_cond reply: result = {table: {uuid: {"initial": row}}}
  const reply = {
    id: 7,
    result: {
      NAT: {
        'u-1': { initial: { type: 'snat', external_ip: '1.1.1.1', external_ids: ['map', [['k', 'v{}']]] } },
        'u-2': { initial: { type: 'dnat' } },
      },
      Logical_Router: { 'r-1': { initial: { name: 'r1' } } },
    },
    error: null,
  };
  // an update3 notification: params = [monitor id, txn id, {table: {uuid: row-update}}]
  const notif = {
    id: null,
    method: 'update3',
    params: ['mon', 'txn-1', { NAT: { 'u-3': { insert: { type: 'snat' } }, 'u-1': { delete: null } } }],
  };
  const text = JSON.stringify(reply) + '\n' + JSON.stringify(notif);

  for (const [how, chunks] of [
    ['one chunk', [Buffer.from(text)]],
    ['one byte at a time', oneByteChunks(Buffer.from(text))],
  ] as const) {
    const leaves: [string, PathElem[], unknown][] = [];
    const chooserCalls: [Record<string, unknown>, string][] = [];
    const sinkFor = (member: string): LeafSink => ({
      onLeaf(path, value) {
        leaves.push([member, [...path], value]);
        // consume the NAT rows, keep everything else in the message
        return path[0] === 'NAT' || (path[0] === 2 && path[1] === 'NAT');
      },
    });
    const msgs = parseChunks(chunks as Buffer[], {
      sinkChooser: (partial, member) => {
        chooserCalls.push([{ ...partial }, member]);
        return member === 'result' || member === 'params' ? sinkFor(member) : undefined;
      },
    });
    t.strictSame(
      chooserCalls,
      [
        [{ id: 7 }, 'result'],
        [{ id: null, method: 'update3' }, 'params'],
      ],
      `${how}: the chooser sees the members parsed so far`,
    );
    t.strictSame(
      leaves,
      [
        ['result', ['NAT', 'u-1', 'initial'], reply.result.NAT['u-1'].initial],
        ['result', ['NAT', 'u-2', 'initial'], { type: 'dnat' }],
        ['result', ['Logical_Router', 'r-1', 'initial'], { name: 'r1' }],
        ['params', [0], 'mon'],
        ['params', [1], 'txn-1'],
        ['params', [2, 'NAT', 'u-3'], { insert: { type: 'snat' } }],
        ['params', [2, 'NAT', 'u-1'], { delete: null }],
      ],
      `${how}: leaves in document order with paths relative to the member`,
    );
    t.strictSame(
      msgs,
      [
        { id: 7, result: { NAT: { 'u-1': {}, 'u-2': {} }, Logical_Router: { 'r-1': { initial: { name: 'r1' } } } }, error: null },
        { id: null, method: 'update3', params: ['mon', 'txn-1', { NAT: {} }] },
      ],
      `${how}: consumed rows are left out of the messages, the rest is kept`,
    );
  }
});

t.test('consumed array elements are left out and later elements keep their indexes', async (t) => {
  const paths: PathElem[][] = [];
  const msgs = parseChunks([Buffer.from('{"id":1,"result":[10,20,30,[40,41]],"error":null}')], {
    sinkChooser: () => ({
      onLeaf(path, value) {
        paths.push([...path]);
        return value === 20 || value === 40;
      },
    }),
  });
  t.strictSame(paths, [[0], [1], [2], [3, 0], [3, 1]], 'paths count consumed elements');
  t.strictSame(msgs, [{ id: 1, result: [10, 30, [41]], error: null }]);
});

// ------------------------------------------------------------------ size limit

t.test('maxMessageBytes', async (t) => {
  const big = JSON.stringify({ id: 1, result: 'x'.repeat(200), error: null });

  const e1 = catchSync(() => parseChunks([Buffer.from(big)], { maxMessageBytes: 64 }));
  t.type(e1, MessageTooLargeError, 'one chunk: MessageTooLargeError');
  t.type(e1, FramingError, 'which is a FramingError');
  t.equal((e1 as MessageTooLargeError).limit, 64);
  t.match((e1 as Error).message, /64 bytes/);

  const got: unknown[] = [];
  const p = new JsonStreamParser((m) => got.push(m), { maxMessageBytes: 64 });
  const e2 = catchSync(() => {
    for (const c of cut(Buffer.from(big), () => 10)) p.push(c);
  });
  t.type(e2, MessageTooLargeError, 'split into 10-byte chunks: MessageTooLargeError');
  t.same(got, [], 'the oversized message is never delivered');

  // exactly at the limit is fine, one byte over is not (whitespace around it does not count)
  const exact = JSON.stringify({ a: 'y'.repeat(56) });
  t.equal(Buffer.byteLength(exact), 64);
  t.strictSame(parseChunks([Buffer.from('   ' + exact + '   ')], { maxMessageBytes: 64 }), [JSON.parse(exact)], '64 bytes with max 64');
  t.strictSame(parseChunks(oneByteChunks(Buffer.from(exact)), { maxMessageBytes: 64 }), [JSON.parse(exact)], '64 bytes, 1-byte chunks');
  const over = JSON.stringify({ a: 'y'.repeat(57) });
  t.type(catchSync(() => parseChunks([Buffer.from(over)], { maxMessageBytes: 64 })), MessageTooLargeError, '65 bytes with max 64');
  t.type(
    catchSync(() => parseChunks(cut(Buffer.from(over), () => 7), { maxMessageBytes: 64 })),
    MessageTooLargeError,
    '65 bytes in 7-byte chunks',
  );

  // the limit is per message, not per chunk or per stream
  const small = JSON.stringify({ k: 'z'.repeat(30) });
  const many = Buffer.from(small.repeat(20));
  t.ok(many.length > 64 * 5);
  t.equal(parseChunks([many], { maxMessageBytes: 64 }).length, 20, 'many small messages in one big chunk');
  t.equal(parseChunks(cut(many, () => 100), { maxMessageBytes: 64 }).length, 20, 'chunks straddling message boundaries');
});

// ------------------------------------------------------------------ malformed input

t.test('malformed input is a FramingError', async (t) => {
  const cases: [string, string][] = [
    ['missing colon', '{"a" 1}'],
    ['closing bracket at top level', ']'],
    ['closing brace at top level', '}'],
    ['bare number at top level', '5'],
    ['bare string at top level', '"str"'],
    ['bare literal at top level', 'true'],
    ['trailing comma in object', '{"a":1,}'],
    ['trailing comma in array', '[1,]'],
    ['unquoted key', '{a:1}'],
    ['number key', '{1:2}'],
    ['missing comma', '{"a":1 "b":2}'],
    ['missing comma in array', '[1 2]'],
    ['mismatched bracket', '{"a":[1,2}'],
    ['bad literal', '{"a":tru}'],
    ['bad number', '{"a":-}'],
    ['number with junk', '{"a":1x}'],
    ['raw newline inside a string', '{"a":"x\ny"}'],
    ['bad escape', '{"a":"\\q"}'],
    ['malformed deep leaf', '{"a":{"b":{"c":{"d":[1 2]}}}}'],
    ['unexpected colon', '{"a"::1}'],
  ];
  for (const [name, text] of cases) {
    for (const [how, chunks] of [
      ['whole', [Buffer.from(text)]],
      ['bytewise', oneByteChunks(Buffer.from(text))],
    ] as const) {
      const got: unknown[] = [];
      const p = new JsonStreamParser((m) => got.push(m));
      const e = catchSync(() => {
        for (const c of chunks) p.push(c);
      });
      t.type(e, FramingError, `${name} (${how}): ${JSON.stringify(text)}`);
      t.same(got, [], `${name} (${how}): no message delivered`);
    }
  }
});

// ------------------------------------------------------------------ prototype pollution

t.test('"__proto__" keys become own properties, never prototypes', async (t) => {
  const text =
    '{"__proto__":{"polluted":1},"a":{"b":{"c":{"d":{"__proto__":{"polluted":2}}}}},"arr":[{"__proto__":{"polluted":3}}]}';
  for (const [how, chunks] of [
    ['whole', [Buffer.from(text)]],
    ['bytewise', oneByteChunks(Buffer.from(text))],
  ] as const) {
    for (const leafLevel of [1, 4]) {
      const [msg] = parseChunks(chunks as Buffer[], { leafLevel }) as Record<string, any>[];
      t.equal(Object.getPrototypeOf(msg), Object.prototype, `${how}/${leafLevel}: top-level prototype untouched`);
      t.ok(Object.prototype.hasOwnProperty.call(msg, '__proto__'), `${how}/${leafLevel}: own "__proto__" key`);
      t.strictSame(Object.getOwnPropertyDescriptor(msg, '__proto__')?.value, JSON.parse('{"polluted":1}'));
      t.equal(msg.polluted, undefined, `${how}/${leafLevel}: nothing inherited`);
      const deep = msg.a.b.c.d;
      t.equal(Object.getPrototypeOf(deep), Object.prototype, `${how}/${leafLevel}: deep prototype untouched`);
      t.ok(Object.prototype.hasOwnProperty.call(deep, '__proto__'));
      t.equal(deep.polluted, undefined);
      t.ok(Object.prototype.hasOwnProperty.call(msg.arr[0], '__proto__'));
      t.equal(msg.arr[0].polluted, undefined);
      t.equal(Object.keys(msg).join(','), '__proto__,a,arr', 'keys in order');
      t.strictSame(msg, JSON.parse(text), 'same as JSON.parse');
    }
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted');
  t.equal(([] as unknown as Record<string, unknown>).polluted, undefined);
});
