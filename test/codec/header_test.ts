import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHeader, encodeHeader, HEADER_LENGTH } from "../../mod.ts";

test("encodeHeader() writes id, offset and total as little-endian uint32", () => {
  const header = encodeHeader(0x04030201, 0x08070605, 0x0c0b0a09);
  assert.equal(HEADER_LENGTH, 12);
  assert.deepEqual([...header], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
});

test("decodeHeader() respects the view's byteOffset", () => {
  const backing = new Uint8Array(40).fill(0xee);
  encodeHeader(0xffffffff, 17, 4096, backing, 9);
  assert.deepEqual(decodeHeader(backing.subarray(9, 30)), {
    id: 0xffffffff,
    offset: 17,
    totalSize: 4096,
  });
});

test("decodeHeader() refuses a frame shorter than the header", () => {
  assert.throws(() => decodeHeader(new Uint8Array(11)), RangeError);
});

test("encodeHeader() refuses values that are not uint32", () => {
  assert.throws(() => encodeHeader(-1, 0, 0), RangeError);
  assert.throws(() => encodeHeader(0, 2 ** 32, 0), RangeError);
  assert.throws(() => encodeHeader(0, 0, 1.5), RangeError);
});
