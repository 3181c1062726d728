import { test } from "node:test";
import assert from "node:assert/strict";
import { Decoder } from "@msgpack/msgpack";
import { createMessageCodec, NestingTooDeepError, packedSize } from "../../src/protocol/msgpack.ts";
import { MSGPACK_MAX_DEPTH } from "../../src/protocol/msgpack_check.ts";

const codec = createMessageCodec();
const bigIntDecoder = new Decoder({ useBigInt64: true });

test("integers pack as the reference packs them, bigint included, up to 64 bits", () => {
  const cases: [unknown, number][] = [
    [2 ** 32, 0xcf],
    [2 ** 53 - 1, 0xcf],
    [-(2 ** 31) - 1, 0xd3],
    [-(2 ** 53) + 1, 0xd3],
    [2n ** 64n - 1n, 0xcf],
    [-(2n ** 63n), 0xd3],
    [5n, 0xcf],
    [2 ** 53, 0xcb], // not a safe integer: a float, as before
    [1.5, 0xcb],
  ];
  for (const [value, type] of cases) {
    const bytes = codec.encode(value);
    assert.equal(bytes[0], type, `type byte of ${value}`);
    const back = bigIntDecoder.decode(bytes);
    // 64-bit integers decode as bigint here; compare as numbers what is not one.
    assert.equal(
      typeof back === "bigint" ? back : Number(back),
      typeof back === "bigint" ? BigInt(value as number | bigint) : value,
    );
  }
  // Inside containers too, and the caller's values are left as they were.
  const list = [2 ** 40, { big: -(2 ** 40) }];
  const decoded = bigIntDecoder.decode(codec.encode(list));
  assert.deepStrictEqual(decoded, [2n ** 40n, { big: -(2n ** 40n) }]);
  assert.deepStrictEqual(list, [2 ** 40, { big: -(2 ** 40) }]);
  // A message holding a bigint is packed by another encoder: its numbers must not change.
  const mixed = [1n, 2 ** 40, -(2 ** 40), 0.5, 300];
  assert.deepStrictEqual(bigIntDecoder.decode(codec.encode(mixed)), [
    1n,
    2n ** 40n,
    -(2n ** 40n),
    0.5,
    300,
  ]);
  assert.deepStrictEqual(mixed, [1n, 2 ** 40, -(2 ** 40), 0.5, 300]);
  for (const tooWide of [2n ** 64n, -(2n ** 63n) - 1n]) {
    assert.throws(() => codec.encode([tooWide]), /does not fit in a 64-bit msgpack integer/);
  }
});

test("packedSize() is the length the encoder produces", () => {
  const text = (length: number, unit: string) => unit.repeat(length);
  const values: unknown[] = [
    null,
    undefined,
    true,
    0,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2 ** 31),
    -(2 ** 31) - 1,
    0.5,
    2 ** 60,
    7n,
    "",
    text(31, "a"),
    text(32, "a"),
    text(255, "a"),
    text(256, "a"),
    text(70_000, "a"),
    "é日😀",
    "\ud800 lone",
    new Uint8Array(255),
    new Uint8Array(256),
    new Uint8Array(70_000),
    new Float64Array(3),
    new ArrayBuffer(10),
    Array.from({ length: 15 }, (_, index) => index),
    Array.from({ length: 16 }, (_, index) => index),
    Array.from({ length: 70_000 }, () => 0),
    Object.fromEntries(Array.from({ length: 16 }, (_, index) => [`k${index}`, index])),
    { nested: { list: [1, "two", { three: [3] }], bin: new Uint8Array(4) } },
  ];
  for (const value of values) {
    assert.equal(packedSize(value, 10), codec.encode(value).byteLength, String(value));
  }
});

test("packedSize() refuses a value nesting deeper than its limit, without walking further", () => {
  let value: unknown = 0;
  for (let level = 1; level < 5; level++) value = [value];
  assert.equal(packedSize(value, 5), 5);
  assert.throws(() => packedSize([value], 5), NestingTooDeepError);
  // A cycle is only ever deeper.
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  assert.throws(() => packedSize(cyclic, MSGPACK_MAX_DEPTH), /deeper than 100 levels/);
  // The encoder has the same limit: the envelope's level counts.
  let deepest: unknown = 0;
  for (let level = 1; level < MSGPACK_MAX_DEPTH; level++) deepest = [deepest];
  assert.equal(codec.encode(deepest).byteLength, MSGPACK_MAX_DEPTH);
  assert.throws(() => codec.encode([deepest]));
});
