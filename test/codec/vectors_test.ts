// The reference Python server's chunk vectors: every one decodes, is reproduced by generateChunks,
// and every reject is refused for the right reason on the right frame, by both engines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { type ChunkErrorReason, decodeHeader, generateChunks } from "../../mod.ts";
import {
  assertRefused,
  base64Bytes,
  comparableValue,
  ENGINES,
  expectedValue,
  loadChunkVectors,
  reassembleByHand,
  shuffled,
  unchunkerOf,
} from "./_support.ts";

const fixtures = loadChunkVectors();

test("chunk vectors: the fixture file holds the vectors and rejects this suite expects", () => {
  assert.equal(fixtures.header_length, 12);
  assert.ok(fixtures.vectors.length >= 40, `${fixtures.vectors.length} vectors`);
  assert.ok(fixtures.vectors.some((vector) => vector.frames_b64.length > 50));
  assert.equal(fixtures.rejects.length, 3);
});

test("generateChunks() reproduces every reference vector's frames byte for byte", () => {
  for (const vector of fixtures.vectors) {
    const frames = vector.frames_b64.map(base64Bytes);
    const { id } = decodeHeader(frames[0]);
    const message = reassembleByHand(frames);
    const ours = [...generateChunks(message, vector.max_size, { id })];
    assert.equal(ours.length, frames.length, `${vector.name} @ ${vector.max_size}`);
    ours.forEach((frame, index) => {
      assert.deepEqual(frame, frames[index], `${vector.name} @ ${vector.max_size} frame ${index}`);
    });
  }
});

for (const engine of ENGINES) {
  test(`unchunker (${engine}) decodes every reference vector to its recorded value`, async () => {
    const unchunker = await unchunkerOf(engine);
    for (const vector of fixtures.vectors) {
      const frames = vector.frames_b64.map(base64Bytes);
      const label = `${vector.name} @ ${vector.max_size}`;
      let message: Uint8Array | undefined;
      frames.forEach((frame, index) => {
        const result = unchunker.push(frame);
        if (index < frames.length - 1) assert.equal(result, undefined, label);
        else message = result;
      });
      assert.ok(message !== undefined, label);
      const value = decode(message, { useBigInt64: true });
      assert.deepEqual(comparableValue(value), expectedValue(vector.value), label);
    }
    assert.equal(unchunker.pendingMessages, 0);
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) decodes every reference vector with its frames shuffled`, async () => {
    const unchunker = await unchunkerOf(engine);
    fixtures.vectors.forEach((vector, seed) => {
      const frames = shuffled(vector.frames_b64.map(base64Bytes), seed + 1);
      let message: Uint8Array | undefined;
      for (const frame of frames) message = unchunker.push(frame) ?? message;
      assert.deepEqual(message, reassembleByHand(frames), `${vector.name} @ ${vector.max_size}`);
    });
  });

  test(`unchunker (${engine}) refuses every reference reject on the frame the reference did`, async () => {
    // What the reference's exception corresponds to here; a new reject must be added on purpose.
    const expected: Record<string, ChunkErrorReason | "msgpack"> = {
      "total-size-over-limit": "message-too-large",
      "total-size-changes-mid-message": "total-mismatch",
      "garbage-payload": "msgpack",
    };
    for (const reject of fixtures.rejects) {
      const outcome = expected[reject.name];
      assert.ok(outcome !== undefined, `no expectation for reject ${reject.name}`);
      const unchunker = await unchunkerOf(engine, { maxMessageSize: reject.max_message_size });
      const frames = reject.frames_b64.map(base64Bytes);
      const { id } = decodeHeader(frames[0]);
      for (let index = 0; index < reject.accepted_before; index++) {
        assert.equal(unchunker.push(frames[index]), undefined, `${reject.name} frame ${index}`);
      }
      const failing = frames[reject.accepted_before];
      if (outcome === "msgpack") {
        const bytes = unchunker.push(failing);
        assert.ok(bytes !== undefined, reject.name);
        assert.throws(() => decode(bytes), reject.name);
      } else {
        assertRefused(() => unchunker.push(failing), outcome, id);
        // The rest of a refused message is refused too, and costs nothing.
        for (const later of frames.slice(reject.accepted_before + 1)) {
          assertRefused(() => unchunker.push(later), "dropped", id);
        }
      }
      assert.equal(unchunker.pendingMessages, 0, reject.name);
      assert.equal(unchunker.pendingBytes, 0, reject.name);
    }
  });
}
