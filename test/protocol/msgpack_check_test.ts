// The msgpack pre-scan: the attacks of issue 13 (item 1) refused without allocating, every
// encoding @msgpack/msgpack writes accepted, and agreement with the decoder on mutated input.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, Decoder, encode, Encoder, ExtData } from "@msgpack/msgpack";
import {
  checkMsgpackLengths,
  MSGPACK_MAX_DEPTH,
  MsgpackCheckError,
  type MsgpackCheckReason,
} from "../../src/protocol/msgpack_check.ts";

const bytesOf = (...parts: (number | number[])[]) => new Uint8Array(parts.flat());
const repeated = (times: number, part: number[]) =>
  Array.from({ length: times }, () => part).flat();

function assertRefused(
  bytes: Uint8Array,
  reason: MsgpackCheckReason,
  offset: number,
  maxDepth?: number,
): MsgpackCheckError {
  let caught: unknown;
  try {
    checkMsgpackLengths(bytes, maxDepth);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof MsgpackCheckError, `expected a MsgpackCheckError, got ${caught}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.offset, offset, caught.message);
  return caught;
}

// The attacks, and their kin for every length a header can declare.
const ATTACKS: { name: string; bytes: Uint8Array; reason: MsgpackCheckReason; offset: number }[] = [
  {
    // ~160 bytes, 32 nested array32 headers of 2^25 elements each: the decoder's heap OOM.
    name: "nested array32 headers",
    bytes: bytesOf(repeated(32, [0xdd, 0x02, 0x00, 0x00, 0x00])),
    reason: "declared-length",
    offset: 0,
  },
  {
    // Bun peaked at 5 GB on four of these.
    name: "four array32 headers of 0x07ffffff elements",
    bytes: bytesOf(repeated(4, [0xdd, 0x07, 0xff, 0xff, 0xff])),
    reason: "declared-length",
    offset: 0,
  },
  {
    // Each array claims no more than the bytes left, but together they claim far more.
    name: "nested arrays each claiming the bytes left",
    bytes: bytesOf(
      Array.from({ length: 30 }, (_, level) => [0xdc, 0x00, 147 - 3 * level]).flat(),
      repeated(60, [0xc0]),
    ),
    reason: "declared-length",
    offset: 3,
  },
  {
    name: "a map32 of 2^32 - 1 entries",
    bytes: bytesOf(0xdf, 0xff, 0xff, 0xff, 0xff, repeated(40, [0xa0, 0xc0])),
    reason: "declared-length",
    offset: 0,
  },
  {
    name: "a map16 whose 10 entries need 20 values, with 19 bytes",
    bytes: bytesOf(0xde, 0x00, 0x0a, repeated(19, [0x01])),
    reason: "declared-length",
    offset: 0,
  },
  {
    name: "a str32 of 4 GiB inside an array",
    bytes: bytesOf(0x92, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61, 0x62),
    reason: "declared-length",
    offset: 1,
  },
  {
    name: "a bin32 of 4 GiB in a map value",
    bytes: bytesOf(0x81, 0xa1, 0x6b, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00),
    reason: "declared-length",
    offset: 3,
  },
  {
    name: "an ext32 of 4 GiB",
    bytes: bytesOf(0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00),
    reason: "declared-length",
    offset: 0,
  },
  {
    name: "a bin8 that fits alone, but not with the element its array still owes",
    bytes: bytesOf(0x92, 0xc4, 0x02, 0x01, 0x02),
    reason: "declared-length",
    offset: 1,
  },
  {
    name: "arrays nested 100,000 deep",
    bytes: bytesOf(repeated(100_000, [0x91]), 0xc0),
    reason: "too-deep",
    offset: MSGPACK_MAX_DEPTH - 1,
  },
  {
    name: "maps nested 100,000 deep",
    bytes: bytesOf(repeated(100_000, [0x81, 0xa0]), 0xc0),
    reason: "too-deep",
    offset: 2 * (MSGPACK_MAX_DEPTH - 1),
  },
];

test("msgpack check: refuses the issue's attacks, with the offset at fault", () => {
  for (const { name, bytes, reason, offset } of ATTACKS) {
    const error = assertRefused(bytes, reason, offset);
    assert.match(
      error.message,
      new RegExp(`^malformed msgpack \\(${reason}\\) at byte ${offset}: `),
    );
    assert.ok(error.message.length < 200, `${name}: a short message, got ${error.message}`);
  }
  assert.match(
    assertRefused(ATTACKS[0].bytes, "declared-length", 0).message,
    /an array 32 declares 33554432 elements with 155 bytes left$/,
  );
  assert.match(
    assertRefused(ATTACKS[3].bytes, "declared-length", 0).message,
    /a map 32 declares 4294967295 entries with 80 bytes left$/,
  );
  assert.match(
    assertRefused(ATTACKS[8].bytes, "declared-length", 1).message,
    /a bin 8 declares 2 bytes with 2 bytes left, and enclosing values still owe 1 element$/,
  );
});

test("msgpack check: allocates nothing a header declares", () => {
  const constructorNames = [
    "Array",
    "ArrayBuffer",
    "DataView",
    "Float32Array",
    "Float64Array",
    "Int8Array",
    "Int16Array",
    "Int32Array",
    "Map",
    "Set",
    "Uint8Array",
    "Uint16Array",
    "Uint32Array",
  ] as const;
  const deep = bytesOf(repeated(4000, [0x91]), 0xc0);
  const global = globalThis as unknown as Record<string, unknown>;
  const originals = constructorNames.map((name) => global[name]);
  const constructed: string[] = [];
  // Each global constructor, wrapped to record what is built while the check runs.
  constructorNames.forEach((name, index) => {
    global[name] = new Proxy(originals[index] as new (...args: unknown[]) => object, {
      construct(target, args, newTarget) {
        constructed.push(`${name}(${typeof args[0] === "number" ? args[0] : typeof args[0]})`);
        return Reflect.construct(target, args, newTarget);
      },
    });
  });
  const outcomes: string[] = [];
  try {
    for (const { bytes } of ATTACKS) {
      try {
        checkMsgpackLengths(bytes);
      } catch (error) {
        outcomes.push((error as MsgpackCheckError).reason);
      }
    }
    // A larger depth limit than any before grows the reused stack: by that limit, no more.
    checkMsgpackLengths(deep, 4321);
  } finally {
    constructorNames.forEach((name, index) => (global[name] = originals[index]));
  }
  assert.deepEqual(outcomes, ATTACKS.map((attack) => attack.reason));
  assert.ok(
    constructed.every((call) => call === "Float64Array(4321)"),
    `constructed: ${constructed.join("; ")}`,
  );
});

// One value per msgpack format, with the format byte its encoding starts with.
const FORMATS: { format: number; value: unknown; encoder?: Encoder }[] = [
  { format: 0x05, value: 5 },
  { format: 0xe0, value: -32 },
  { format: 0x80, value: {} },
  { format: 0x8f, value: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])) },
  { format: 0x90, value: [] },
  { format: 0x9f, value: Array.from({ length: 15 }, (_, i) => i) },
  { format: 0xa0, value: "" },
  { format: 0xbf, value: "x".repeat(31) },
  { format: 0xc0, value: null },
  { format: 0xc2, value: false },
  { format: 0xc3, value: true },
  { format: 0xc4, value: new Uint8Array(200) },
  { format: 0xc5, value: new Uint8Array(300) },
  { format: 0xc6, value: new Uint8Array(70_000) },
  { format: 0xc7, value: new ExtData(7, new Uint8Array(3)) },
  { format: 0xc8, value: new ExtData(7, new Uint8Array(300)) },
  { format: 0xc9, value: new ExtData(7, new Uint8Array(70_000)) },
  { format: 0xc7, value: new Date(-1) }, // timestamp 96
  { format: 0xca, value: 1.5, encoder: new Encoder({ forceFloat32: true }) },
  { format: 0xcb, value: 0.1 },
  { format: 0xcc, value: 200 },
  { format: 0xcd, value: 60_000 },
  { format: 0xce, value: 4_000_000_000 },
  { format: 0xcf, value: 2n ** 64n - 1n, encoder: new Encoder({ useBigInt64: true }) },
  { format: 0xd0, value: -100 },
  { format: 0xd1, value: -30_000 },
  { format: 0xd2, value: -2_000_000_000 },
  { format: 0xd3, value: -(2n ** 60n), encoder: new Encoder({ useBigInt64: true }) },
  { format: 0xd4, value: new ExtData(1, new Uint8Array(1)) },
  { format: 0xd5, value: new ExtData(1, new Uint8Array(2)) },
  { format: 0xd6, value: new Date(1000) }, // timestamp 32
  { format: 0xd7, value: new Date(1.5) }, // timestamp 64
  { format: 0xd8, value: new ExtData(1, new Uint8Array(16)) },
  { format: 0xd9, value: "x".repeat(32) },
  { format: 0xda, value: "x".repeat(300) },
  { format: 0xdb, value: "x".repeat(70_000) },
  { format: 0xdc, value: Array.from({ length: 16 }, () => null) },
  { format: 0xdd, value: Array.from({ length: 70_000 }, () => null) },
  { format: 0xde, value: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])) },
  {
    format: 0xdf,
    value: Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
  },
];

test("msgpack check: accepts every format, refuses each one cut short or followed by a byte", () => {
  const decoder = new Decoder({ useBigInt64: true });
  for (const { format, value, encoder } of FORMATS) {
    const bytes = (encoder ?? new Encoder()).encode([value, 1]);
    assert.equal(bytes[1], format, `the encoding of ${String(value).slice(0, 20)}`);
    checkMsgpackLengths(bytes);
    checkMsgpackLengths(bytes.subarray(1, -1));
    // Cut inside the value, or after it with the array's last element missing.
    for (const cut of new Set([2, 3, 5, bytes.length - 2, bytes.length - 1])) {
      if (cut >= bytes.length) continue;
      const prefix = bytes.subarray(0, cut);
      assert.throws(
        () => checkMsgpackLengths(prefix),
        MsgpackCheckError,
        `0x${format.toString(16)} cut at ${cut}`,
      );
      // The decoder refuses it too (not timed on the 70,000-element formats: slow, same code).
      if (bytes.length < 10_000) assert.throws(() => decoder.decode(prefix), RangeError);
    }
    const extended = new Uint8Array(bytes.length + 1);
    extended.set(bytes);
    assertRefused(extended, "trailing-bytes", bytes.length);
    if (bytes.length < 10_000) assert.throws(() => decoder.decode(extended), RangeError);
  }
  assertRefused(new Uint8Array(0), "empty", 0);
  assertRefused(bytesOf(0x92, 0xc1, 0x01), "unknown-type", 1);
});

test("msgpack check: the depth limit is the encoder's, and can be changed", () => {
  const nested = (depth: number, innermost: unknown): unknown =>
    depth === 0 ? innermost : [nested(depth - 1, innermost)];
  // The deepest values the encoder writes: 99 arrays around a number, 100 around nothing.
  checkMsgpackLengths(encode(nested(MSGPACK_MAX_DEPTH - 1, 7)));
  checkMsgpackLengths(encode(nested(MSGPACK_MAX_DEPTH - 1, [])));
  assert.throws(() => encode(nested(MSGPACK_MAX_DEPTH, 7)), /Too deep/);
  const tooDeep = new Encoder({ maxDepth: MSGPACK_MAX_DEPTH + 1 }).encode(
    nested(MSGPACK_MAX_DEPTH, 7),
  );
  assertRefused(tooDeep, "too-deep", MSGPACK_MAX_DEPTH - 1);
  checkMsgpackLengths(tooDeep, MSGPACK_MAX_DEPTH + 1);
  checkMsgpackLengths(bytesOf(0x07), 1);
  assertRefused(bytesOf(0x91, 0x07), "too-deep", 0, 1);
  checkMsgpackLengths(bytesOf(0x90), 1);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => checkMsgpackLengths(bytesOf(0x07), bad), RangeError);
  }
});

const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.string(),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.date({ noInvalidDate: true }),
  fc.record({ type: fc.integer({ min: 0, max: 127 }), data: fc.uint8Array({ maxLength: 40 }) })
    .map(({ type, data }) => new ExtData(type, data)),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 20 }),
    fc.dictionary(fc.string(), tie("value"), { maxKeys: 20 }),
  ),
}));
const bigIntEncoder = new Encoder({ useBigInt64: true });

test("msgpack check: passes every message @msgpack/msgpack encodes", () => {
  fc.assert(
    fc.property(value, (item) => {
      checkMsgpackLengths(bigIntEncoder.encode(item));
    }),
    { numRuns: 1000 },
  );
});

// A byte string close to a valid message: an encoding with bytes replaced, inserted or removed.
const mutated = fc
  .tuple(
    value.map((item) => bigIntEncoder.encode(item)),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 })), {
      minLength: 1,
      maxLength: 4,
    }),
  )
  .map(([encoded, edits]) => {
    const bytes = [...encoded];
    for (const [at, byte, kind] of edits) {
      const index = at % (bytes.length + 1);
      if (kind === 0 && index < bytes.length) bytes[index] = byte;
      else if (kind === 1) bytes.splice(index, 0, byte);
      else bytes.splice(index, 1);
    }
    return new Uint8Array(bytes);
  });

// A decoder that refuses any length over twice `size`, so it cannot be made to allocate much;
// one per power of two, as making a Decoder costs more than a small decode.
const boundedDecoders = new Map<number, Decoder>();
function boundedDecoder(size: number): Decoder {
  const limit = 2 ** Math.ceil(Math.log2(Math.max(size, 1)));
  let decoder = boundedDecoders.get(limit);
  if (decoder === undefined) {
    decoder = new Decoder({
      useBigInt64: true,
      maxArrayLength: limit,
      maxMapLength: limit,
      maxStrLength: limit,
      maxBinLength: limit,
      maxExtLength: limit,
    });
    boundedDecoders.set(limit, decoder);
  }
  return decoder;
}
const unboundedDecoder = new Decoder({ useBigInt64: true });

test("msgpack check: agrees with the decoder on mutated messages", () => {
  fc.assert(
    fc.property(mutated, (bytes) => {
      const bounded = boundedDecoder(bytes.byteLength);
      let decoded = true;
      try {
        bounded.decode(bytes);
      } catch {
        decoded = false;
      }
      let refusal: MsgpackCheckError | undefined;
      try {
        checkMsgpackLengths(bytes);
      } catch (error) {
        if (!(error instanceof MsgpackCheckError)) throw error;
        refusal = error;
      }
      if (decoded) assert.equal(refusal, undefined, "what the decoder takes, the check passes");
      if (refusal === undefined) {
        // Passed: the unbounded decoder finds every declared element; at most a key, `__proto__`
        // or a timestamp is refused for what it means.
        try {
          unboundedDecoder.decode(bytes);
        } catch (error) {
          assert.ok(error instanceof DecodeError, `a structural failure after the check: ${error}`);
        }
      } else {
        assert.equal(decoded, false, "what the check refuses, the decoder refuses");
      }
    }),
    { numRuns: 1000 },
  );
});
