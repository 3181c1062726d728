// Interoperability with the reference JavaScript client's chunking (wslink 2.5.0 on npm).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decoder, encode } from "@msgpack/msgpack";
import {
  generateChunks as referenceGenerateChunks,
  UnChunker as ReferenceUnChunker,
} from "../../node_modules/wslink/src/WebsocketConnection/chunking.js";
import { generateChunks } from "../../mod.ts";
import { ENGINES, patternedMessage, shuffled, unchunkerOf } from "./_support.ts";

const messages = [
  { wslink: "1.0", id: "publish:trame.state.topic:0", result: { counter: 42, busy: false } },
  { wslink: "1.0", id: "rpc:c1:1", result: patternedMessage(20_000) },
  { wslink: "1.0", id: "rpc:c1:2", error: { code: -32001, message: "é".repeat(3000) } },
];
const encoded = messages.map((message) => encode(message));

const decoderFactory = () => new Decoder();

test("the reference un-chunker accepts frames made by generateChunks()", async () => {
  const reference = new ReferenceUnChunker();
  for (const maxSize of [0, 100, 700, 4096]) {
    // All three messages interleaved, each message's chunks in a shuffled order.
    const perMessage = encoded.map((bytes, index) =>
      shuffled([...generateChunks(bytes, maxSize)], maxSize + index)
    );
    const decoded: unknown[] = [];
    const longest = Math.max(...perMessage.map((frames) => frames.length));
    for (let round = 0; round < longest; round++) {
      for (const frames of perMessage) {
        if (round >= frames.length) continue;
        const value = await reference.processChunk(
          new Blob([frames[round] as Uint8Array<ArrayBuffer>]),
          decoderFactory,
        );
        if (value !== undefined) decoded.push(value);
      }
    }
    assert.equal(decoded.length, messages.length, `maxSize ${maxSize}`);
    for (const message of messages) {
      const match = decoded.find((value) => (value as { id?: string }).id === message.id);
      assert.deepEqual(match, message, `maxSize ${maxSize}: ${message.id}`);
    }
  }
});

for (const engine of ENGINES) {
  test(`unchunker (${engine}) accepts frames made by the reference generateChunks()`, async () => {
    const unchunker = await unchunkerOf(engine);
    for (const maxSize of [0, 1, 13, 100, 65_536]) {
      encoded.forEach((bytes, index) => {
        const frames: Uint8Array[] = [...referenceGenerateChunks(bytes, maxSize)];
        let whole: Uint8Array | undefined;
        for (const frame of shuffled(frames, index + maxSize)) whole = unchunker.push(frame);
        assert.deepEqual(whole, bytes, `maxSize ${maxSize}, message ${index}`);
      });
    }
    assert.equal(unchunker.pendingMessages, 0);
  });
}
