// Property tests: reassembly of random messages in random orders, and the two engines giving the
// same outcome for every step of random, malformed frame streams.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ChunkError,
  createUnChunker,
  decodeHeader,
  generateChunks,
  type UnChunker,
  type UnChunkerOptions,
} from "../../mod.ts";
import { ENGINES, rawFrame, unchunkerOf } from "./_support.ts";

// A message with the frame limit it is chunked with; 1..12 give one content byte per frame.
const chunkedMessage = (id: number) =>
  fc.record({
    bytes: fc.uint8Array({ minLength: 1, maxLength: 400 }),
    maxSize: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 41, max: 500 }),
    ),
  }).map(({ bytes, maxSize }) => ({
    id,
    bytes,
    frames: [...generateChunks(bytes, maxSize, { id })],
  }));

const interleavedMessages = fc
  .integer({ min: 1, max: 4 })
  .chain((count) =>
    fc.tuple(...Array.from({ length: count }, (_, index) => chunkedMessage(index + 1)))
  )
  .chain((messages) => {
    const frames = messages.flatMap((message) => message.frames);
    return fc
      .shuffledSubarray(frames, { minLength: frames.length, maxLength: frames.length })
      .map((order) => ({ messages, order }));
  });

for (const engine of ENGINES) {
  test(`unchunker (${engine}) gives back random messages whatever the frame sizes and order`, async () => {
    await fc.assert(
      fc.asyncProperty(interleavedMessages, async ({ messages, order }) => {
        const unchunker = await unchunkerOf(engine);
        const framesLeft = new Map(messages.map((message) => [message.id, message.frames.length]));
        for (const frame of order) {
          const { id } = decodeHeader(frame);
          const left = framesLeft.get(id)! - 1;
          framesLeft.set(id, left);
          const result = unchunker.push(frame);
          if (left > 0) assert.equal(result, undefined);
          else assert.deepEqual(result, messages[id - 1].bytes);
        }
        assert.equal(unchunker.pendingMessages, 0);
        assert.equal(unchunker.pendingBytes, 0);
      }),
      { numRuns: 150 },
    );
  });
}

type Step = { readonly frame: Uint8Array } | { readonly release: true };

// Frames with arbitrary headers, often inconsistent with each other: repeats, overlaps, wrong
// totals, out-of-bounds offsets, empty content; ids from a small set so they collide.
const noiseFrame = fc
  .record({
    id: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 })),
    offset: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constant(0xffff_ffff)),
    totalSize: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constant(0xffff_ffff)),
    contentLength: fc.integer({ min: 0, max: 30 }),
  })
  .map(({ id, offset, totalSize, contentLength }): Step => ({
    frame: rawFrame(id, offset, totalSize, contentLength, (id * 13 + offset) & 0xff),
  }));

const genuineFrames = fc
  .record({
    id: fc.integer({ min: 1, max: 8 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 90 }),
    maxSize: fc.integer({ min: 0, max: 50 }),
  })
  .map(({ id, bytes, maxSize }): Step[] =>
    [...generateChunks(bytes, maxSize, { id })].map((frame) => ({ frame }))
  );

const frameStream = fc
  .tuple(
    fc.array(genuineFrames, { maxLength: 5 }),
    fc.array(
      fc.oneof(
        { weight: 8, arbitrary: noiseFrame },
        {
          weight: 1,
          arbitrary: fc.uint8Array({ maxLength: 11 }).map((frame): Step => ({ frame })),
        },
        { weight: 1, arbitrary: fc.constant<Step>({ release: true }) },
      ),
      { maxLength: 40 },
    ),
  )
  .chain(([genuine, noise]) => {
    const steps = [...genuine.flat(), ...noise];
    return fc.shuffledSubarray(steps, { minLength: steps.length, maxLength: steps.length });
  });

const limits = fc.record({
  maxMessageSize: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(0xffff_ffff)),
  maxPendingBytes: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constant(2 ** 40)),
  maxPendingMessages: fc.integer({ min: 1, max: 6 }),
});

// Everything a caller can observe after one step.
function outcomeOf(unchunker: UnChunker, step: Step): unknown {
  let result: unknown;
  if ("release" in step) {
    unchunker.release();
    result = "released";
  } else {
    try {
      const bytes = unchunker.push(step.frame);
      result = bytes === undefined ? undefined : Array.from(bytes);
    } catch (error) {
      if (!(error instanceof ChunkError)) throw error;
      result = { reason: error.reason, messageId: error.messageId, message: error.message };
    }
  }
  return {
    result,
    pendingBytes: unchunker.pendingBytes,
    pendingMessages: unchunker.pendingMessages,
  };
}

test("unchunker (js) and unchunker (wasm) agree on every step of random malformed streams", async () => {
  await fc.assert(
    fc.asyncProperty(limits, frameStream, async (limitOptions, steps) => {
      const progress: Record<string, unknown[]> = { js: [], wasm: [] };
      const make = (engine: "js" | "wasm") => {
        const options: UnChunkerOptions = {
          ...limitOptions,
          engine,
          onProgress: (...call) => progress[engine].push(call),
        };
        return createUnChunker(options);
      };
      const js = await make("js");
      const wasm = await make("wasm");
      steps.forEach((step, index) => {
        assert.deepEqual(outcomeOf(wasm, step), outcomeOf(js, step), `step ${index}`);
      });
      assert.deepEqual(progress.wasm, progress.js);
    }),
    { numRuns: 400 },
  );
});
