// The decode path both ends share (issue 13, items 1 and 2): every message is pre-scanned before
// it is decoded, the depth limit is the one documented, and the id of a message that does not
// decode can still be read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { MAX_MESSAGE_DEPTH } from "../../src/protocol/defaults.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { envelopeIdOf, MsgpackCheckError } from "../../src/protocol/msgpack_check.ts";
import { createReplyDecoder } from "../../src/protocol/_reply_decoder.ts";
import {
  envelopeEndingWith,
  FOUR_HUGE_ARRAYS,
  helloBomb,
  nestedArray32,
} from "../reliability/_bombs.ts";

const nested = (depth: number) => new Uint8Array([...Array(depth - 1).fill(0x91), 0x00]);

test("decode refuses the issue's bombs before allocating, on both decode paths", () => {
  const codec = createMessageCodec();
  const replies = createReplyDecoder(codec);
  const hello = helloBomb();
  assert.ok(hello.byteLength + 12 >= 150 && hello.byteLength + 12 <= 170, `${hello.byteLength}`);
  const bombs = [
    hello,
    FOUR_HUGE_ARRAYS,
    envelopeEndingWith({ wslink: "1.0", id: "rpc:c1:1" }, "result", nestedArray32(20)),
  ];
  for (const bytes of bombs) {
    for (const decode of [codec.decode, replies]) {
      assert.throws(
        () => decode(bytes),
        (error: unknown) =>
          error instanceof MsgpackCheckError && error.reason === "declared-length",
      );
    }
  }
});

test("decode accepts what the encoder writes; the reply fast path still gives the same", () => {
  const codec = createMessageCodec();
  const replies = createReplyDecoder(codec);
  const reply = { wslink: "1.0", id: "rpc:c1:1", result: { state: [1, "x", new Uint8Array(3)] } };
  const bytes = encode(reply);
  assert.deepEqual(codec.decode(bytes), reply);
  assert.deepEqual(replies(bytes), reply);
});

test("the depth limit: 512 by default, the deepest msgpack-python packs; an option", () => {
  assert.equal(MAX_MESSAGE_DEPTH, 512);
  const codec = createMessageCodec();
  const replies = createReplyDecoder(codec);
  const atLimit = envelopeEndingWith({ wslink: "1.0", id: "rpc:c1:1" }, "result", nested(511));
  const over = envelopeEndingWith({ wslink: "1.0", id: "rpc:c1:1" }, "result", nested(512));
  for (const decode of [codec.decode, replies]) {
    assert.ok(decode(atLimit));
    assert.throws(
      () => decode(over),
      (error: unknown) => error instanceof MsgpackCheckError && error.reason === "too-deep",
    );
  }
  assert.ok(createMessageCodec({ maxDepth: 513 }).decode(over));
  assert.throws(() => createMessageCodec({ maxDepth: 4 }).decode(nested(5)), MsgpackCheckError);
  assert.throws(() => createMessageCodec({ maxDepth: 0 }), RangeError);
});

test("envelopeIdOf reads the id of a message that does not decode", () => {
  const id = "rpc:c1234:17";
  const broken = envelopeEndingWith({ wslink: "1.0", id }, "result", nestedArray32(20));
  assert.equal(envelopeIdOf(broken), id);
  // Fields before the id are skipped, whatever they hold, and so are keys of any type.
  const skipped = new Uint8Array([
    0x85,
    ...encode([1, [2, { a: new Uint8Array(300) }]]),
    ...encode("key is an array"),
    ...encode("wslink"),
    ...encode("1.0"),
    ...encode("identity"),
    ...encode("not the id"),
    ...encode("id"),
    ...encode(id),
    ...encode("result"),
    1,
  ]);
  assert.equal(envelopeIdOf(skipped), id);
  // In map 16 and map 32 headers, with an id in str 8 and str 16.
  const long = "publish:" + "t".repeat(300) + ":0";
  const map16 = new Uint8Array([0xde, 0x00, 0x02, ...encode("id"), ...encode(long), 0xa1, 0x78, 1]);
  assert.equal(envelopeIdOf(map16), long);
  const map32 = new Uint8Array([0xdf, 0, 0, 0, 1, ...encode("id"), ...encode("x".repeat(40))]);
  assert.equal(envelopeIdOf(map32), "x".repeat(40));
  // The first id counts.
  assert.equal(
    envelopeIdOf(new Uint8Array([0x82, 0xa2, 0x69, 0x64, 0xa1, 0x61, 0xa2, 0x69, 0x64, 1])),
    "a",
  );
});

test("envelopeIdOf: undefined when the id cannot be reached or is not a str", () => {
  const cases: Record<string, Uint8Array> = {
    empty: new Uint8Array(0),
    "not a map": encode(["id", "rpc:c1:1"]),
    "no id": encode({ wslink: "1.0", result: 1 }),
    "id is a number": encode({ id: 7 }),
    "id is nil": encode({ id: null }),
    "id after a broken value": envelopeEndingWith({ result: 1 }, "x", nestedArray32(3)),
    "id after a value that declares more than there is": new Uint8Array([
      0x82,
      0xa1,
      0x78,
      0xdb,
      0xff,
      0xff,
      0xff,
      0xff,
      ...encode("id"),
      ...encode("a"),
    ]),
    "id after 0xc1": new Uint8Array([0x82, 0xa1, 0x78, 0xc1, ...encode("id"), ...encode("a")]),
    "id cut short": new Uint8Array([0x81, ...encode("id"), 0xa5, 0x61, 0x62]),
    "map 32 header cut short": new Uint8Array([0xdf, 0, 0]),
    "a map that declares 2^32 - 1 entries": new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff, 0x01]),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    assert.equal(envelopeIdOf(bytes), undefined, name);
  }
});

test("envelopeIdOf: one step per byte at most, whatever the headers declare", () => {
  // A megabyte of array 32 headers declaring 2^32 - 1 elements each, before the id.
  const headers = new Uint8Array(1024 * 1024).map((_, index) => index % 5 === 0 ? 0xdd : 0xff);
  const bytes = new Uint8Array([0x82, 0xa1, 0x78, ...headers, ...encode("id"), 0xa1, 0x61]);
  const started = performance.now();
  assert.equal(envelopeIdOf(bytes), undefined);
  // Generous: linear work on a megabyte takes milliseconds; anything per declared element would
  // take hours.
  assert.ok(performance.now() - started < 5_000);
});
