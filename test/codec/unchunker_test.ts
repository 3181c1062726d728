// The un-chunker's behaviour, run against both engines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChunkError, generateChunks } from "../../mod.ts";
import {
  assertRefused,
  ENGINES,
  patternedMessage,
  rawFrame,
  shuffled,
  unchunkerOf,
} from "./_support.ts";

// Bookkeeping charged per disjoint range of received bytes (RANGE_COST_BYTES).
const RANGE_COST = 16;

for (const engine of ENGINES) {
  test(`unchunker (${engine}) reassembles chunks in any order`, async () => {
    const unchunker = await unchunkerOf(engine);
    const message = patternedMessage(1000);
    for (const seed of [1, 2, 3, 4, 5]) {
      const frames = shuffled([...generateChunks(message, 60, { id: seed })], seed);
      const results = frames.map((frame) => unchunker.push(frame));
      assert.deepEqual(results.slice(0, -1), new Array(frames.length - 1).fill(undefined));
      assert.deepEqual(results.at(-1), message);
    }
    const reversed = [...generateChunks(message, 13, { id: 99 })].reverse();
    let whole: Uint8Array | undefined;
    for (const frame of reversed) whole = unchunker.push(frame);
    assert.deepEqual(whole, message);
    assert.equal(unchunker.pendingMessages, 0);
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) reassembles interleaved messages`, async () => {
    const unchunker = await unchunkerOf(engine);
    const messages = [300, 777, 1, 2048].map((length, seed) => patternedMessage(length, seed));
    const perMessage = messages.map((message, index) => [
      ...generateChunks(message, 100, { id: 1000 + index }),
    ]);
    const completed = new Map<number, Uint8Array>();
    // Round robin over the messages, each message's own chunks in reverse.
    const queues = perMessage.map((frames) => [...frames].reverse());
    while (queues.some((queue) => queue.length > 0)) {
      queues.forEach((queue, index) => {
        const frame = queue.shift();
        if (frame === undefined) return;
        const result = unchunker.push(frame);
        if (result !== undefined) completed.set(index, result);
      });
    }
    assert.equal(completed.size, messages.length);
    messages.forEach((message, index) => assert.deepEqual(completed.get(index), message));
    assert.equal(unchunker.pendingMessages, 0);
  });

  test(`unchunker (${engine}) returns a single-frame message as a view of the frame`, async () => {
    const unchunker = await unchunkerOf(engine);
    const backing = new Uint8Array(200);
    const [frame] = generateChunks(patternedMessage(99), 0, { id: 5 });
    backing.set(frame, 40);
    const inBacking = backing.subarray(40, 40 + frame.byteLength);
    const message = unchunker.push(inBacking)!;
    assert.equal(message.buffer, backing.buffer);
    assert.equal(message.byteOffset, 52);
    assert.equal(message.byteLength, 99);
    backing[60] ^= 0xff;
    assert.equal(message[8], backing[60], "a view, not a copy");

    const arrayBuffer = frame.slice().buffer;
    const fromArrayBuffer = unchunker.push(arrayBuffer)!;
    assert.equal(fromArrayBuffer.buffer, arrayBuffer);
    assert.deepEqual(fromArrayBuffer, patternedMessage(99));
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) puts a multi-frame message in one buffer of the declared size`, async () => {
    const unchunker = await unchunkerOf(engine);
    const message = patternedMessage(5000);
    const frames = [...generateChunks(message, 1024)];
    let whole: Uint8Array | undefined;
    for (const frame of frames) whole = unchunker.push(frame);
    assert.ok(whole !== undefined);
    assert.equal(whole.byteOffset, 0);
    assert.equal(whole.byteLength, 5000);
    assert.equal(whole.buffer.byteLength, 5000);
    assert.ok(frames.every((frame) => frame.buffer !== whole.buffer));
    assert.deepEqual(whole, message);
  });

  test(`unchunker (${engine}) accounts pendingBytes per declared total and range`, async () => {
    const unchunker = await unchunkerOf(engine);
    const frames = [...generateChunks(patternedMessage(100), 22, { id: 7 })]; // 10 bytes each
    assert.equal(frames.length, 10);
    unchunker.push(frames[0]);
    assert.equal(unchunker.pendingMessages, 1);
    assert.equal(unchunker.pendingBytes, 100 + RANGE_COST);
    unchunker.push(frames[1]); // extends the range
    assert.equal(unchunker.pendingBytes, 100 + RANGE_COST);
    unchunker.push(frames[5]); // a second range
    unchunker.push(frames[8]); // a third
    assert.equal(unchunker.pendingBytes, 100 + 3 * RANGE_COST);
    unchunker.push(frames[7]); // joins the third from below
    unchunker.push(frames[3]); // a fourth, between the first and second
    assert.equal(unchunker.pendingBytes, 100 + 4 * RANGE_COST);
    unchunker.push(frames[4]); // joins the fourth to the second
    unchunker.push(frames[2]); // joins the first to the fourth
    assert.equal(unchunker.pendingBytes, 100 + 2 * RANGE_COST);
    const other = [...generateChunks(patternedMessage(50), 30, { id: 8 })];
    unchunker.push(other[1]);
    assert.equal(unchunker.pendingMessages, 2);
    assert.equal(unchunker.pendingBytes, 150 + 3 * RANGE_COST);
    unchunker.push(frames[6]);
    unchunker.push(frames[9]);
    assert.equal(unchunker.pendingMessages, 1);
    assert.equal(unchunker.pendingBytes, 50 + RANGE_COST);
    unchunker.push(other[0]);
    assert.deepEqual(unchunker.push(other[2]), patternedMessage(50));
    assert.equal(unchunker.pendingMessages, 0);
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) reports progress of multi-frame messages only`, async () => {
    const calls: [number, number, number][] = [];
    const unchunker = await unchunkerOf(engine, {
      onProgress: (id, received, total) => calls.push([id, received, total]),
    });
    unchunker.push(generateChunks(patternedMessage(40), 0, { id: 1 }).next().value!);
    assert.deepEqual(calls, []);
    const frames = [...generateChunks(patternedMessage(25), 22, { id: 2 })];
    for (const frame of [frames[2], frames[0], frames[1]]) unchunker.push(frame);
    assert.deepEqual(calls, [[2, 5, 25], [2, 15, 25], [2, 25, 25]]);
  });

  test(`unchunker (${engine}) refuses a short frame`, async () => {
    const unchunker = await unchunkerOf(engine);
    for (const length of [0, 1, 11]) {
      const error = assertRefused(
        () => unchunker.push(new Uint8Array(length)),
        "short-frame",
        undefined,
      );
      assert.match(error.message, new RegExp(`got ${length}$`));
    }
    assertRefused(() => unchunker.push(new ArrayBuffer(5)), "short-frame", undefined);
  });

  test(`unchunker (${engine}) refuses an empty chunk and a zero total`, async () => {
    const unchunker = await unchunkerOf(engine);
    assertRefused(() => unchunker.push(rawFrame(1, 0, 10, 0)), "empty-chunk", 1);
    assertRefused(() => unchunker.push(rawFrame(2, 0, 0, 0)), "empty-chunk", 2);
    unchunker.push(rawFrame(3, 0, 10, 4));
    assertRefused(() => unchunker.push(rawFrame(3, 4, 10, 0)), "empty-chunk", 3);
    assert.equal(unchunker.pendingMessages, 0, "the refused message is dropped");
  });

  test(`unchunker (${engine}) refuses a chunk past the declared total`, async () => {
    const unchunker = await unchunkerOf(engine);
    const error = assertRefused(
      () => unchunker.push(rawFrame(1, 8, 10, 4)),
      "out-of-bounds",
      1,
    );
    assert.match(error.message, /bytes 8\.\.12 past the total of 10/);
    unchunker.push(rawFrame(2, 0, 10, 4));
    assertRefused(() => unchunker.push(rawFrame(2, 0xffff_fff0, 10, 4)), "out-of-bounds", 2);
    assertRefused(() => unchunker.push(rawFrame(3, 0, 5, 6)), "out-of-bounds", 3);
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) refuses a total that changes between chunks`, async () => {
    const unchunker = await unchunkerOf(engine);
    unchunker.push(rawFrame(4, 0, 20, 10));
    const error = assertRefused(
      () => unchunker.push(rawFrame(4, 10, 21, 10)),
      "total-mismatch",
      4,
    );
    assert.match(error.message, /declares 21 bytes, an earlier chunk declared 20/);
    assert.equal(unchunker.pendingMessages, 0);
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) refuses repeated and overlapping chunks`, async () => {
    const unchunker = await unchunkerOf(engine);
    unchunker.push(rawFrame(1, 0, 100, 10));
    assertRefused(() => unchunker.push(rawFrame(1, 0, 100, 10)), "overlap", 1);
    unchunker.push(rawFrame(2, 20, 100, 10));
    unchunker.push(rawFrame(2, 50, 100, 10));
    const error = assertRefused(() => unchunker.push(rawFrame(2, 25, 100, 10)), "overlap", 2);
    assert.match(error.message, /bytes 25\.\.35 overlap bytes 20\.\.30 already received/);
    unchunker.push(rawFrame(3, 20, 100, 10));
    assertRefused(() => unchunker.push(rawFrame(3, 15, 100, 10)), "overlap", 3);
    unchunker.push(rawFrame(5, 20, 100, 10));
    assertRefused(() => unchunker.push(rawFrame(5, 10, 100, 40)), "overlap", 5);
    unchunker.push(rawFrame(6, 90, 100, 10));
    unchunker.push(rawFrame(6, 0, 100, 10));
    assertRefused(() => unchunker.push(rawFrame(6, 9, 100, 2)), "overlap", 6);
    assert.equal(unchunker.pendingMessages, 0);
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) refuses a declared total over maxMessageSize`, async () => {
    const unchunker = await unchunkerOf(engine, { maxMessageSize: 64 });
    assertRefused(() => unchunker.push(rawFrame(1, 0, 65, 10)), "message-too-large", 1);
    // Also when the whole message would fit in the frame: the limit comes first.
    assertRefused(() => unchunker.push(rawFrame(2, 0, 65, 65)), "message-too-large", 2);
    assert.deepEqual(unchunker.push(rawFrame(3, 0, 64, 64, 9)), new Uint8Array(64).fill(9));
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) refuses a message over maxPendingMessages`, async () => {
    const unchunker = await unchunkerOf(engine, { maxPendingMessages: 2 });
    unchunker.push(rawFrame(1, 0, 20, 10));
    unchunker.push(rawFrame(2, 0, 20, 10));
    const error = assertRefused(
      () => unchunker.push(rawFrame(3, 0, 20, 10)),
      "too-many-messages",
      3,
    );
    assert.match(error.message, /2 messages are already incomplete/);
    // A single-frame message needs no pending slot, and the held messages still complete.
    assert.equal(unchunker.push(rawFrame(4, 0, 5, 5))?.byteLength, 5);
    assert.equal(unchunker.push(rawFrame(1, 10, 20, 10))?.byteLength, 20);
    assert.equal(unchunker.pendingMessages, 1);
  });

  test(`unchunker (${engine}) refuses a message or range over maxPendingBytes`, async () => {
    const unchunker = await unchunkerOf(engine, { maxPendingBytes: 100 });
    const started = assertRefused(
      () => unchunker.push(rawFrame(1, 0, 85, 10)),
      "pending-bytes",
      1,
    );
    assert.match(started.message, /needs 101 bytes, 0 of 100 in use/);
    unchunker.push(rawFrame(2, 0, 60, 10)); // 76 in use
    unchunker.push(rawFrame(2, 20, 60, 10)); // 92
    assert.equal(unchunker.pendingBytes, 92);
    unchunker.push(rawFrame(2, 10, 60, 5)); // extends a range: still 92
    assert.equal(unchunker.pendingBytes, 92);
    const range = assertRefused(
      () => unchunker.push(rawFrame(2, 40, 60, 5)),
      "pending-bytes",
      2,
    );
    assert.match(range.message, /another disjoint range would exceed 100 bytes/);
    assert.equal(unchunker.pendingBytes, 0);
    assert.equal(unchunker.pendingMessages, 0);
  });

  test(`unchunker (${engine}) keeps maxPendingBytes above 2^32 exact`, async () => {
    // One 4 GiB buffer (left untouched but a page, so never committed) puts the books past 2^32.
    const limit = 2 ** 32 + 40;
    const unchunker = await unchunkerOf(engine, {
      maxPendingBytes: limit,
      maxMessageSize: 0xffff_ffff,
    });
    unchunker.push(rawFrame(1, 0, 0xffff_ffff, 1));
    assert.equal(unchunker.pendingBytes, 2 ** 32 + 15);
    const error = assertRefused(
      () => unchunker.push(rawFrame(2, 0, 10, 1)),
      "pending-bytes",
      2,
    );
    assert.match(error.message, new RegExp(`needs 26 bytes, ${2 ** 32 + 15} of ${limit} in use`));
    unchunker.push(rawFrame(3, 0, 9, 1));
    assert.equal(unchunker.pendingBytes, limit);
    assertRefused(() => unchunker.push(rawFrame(1, 100, 0xffff_ffff, 1)), "pending-bytes", 1);
    assert.equal(unchunker.pendingBytes, 25);
    assert.equal(unchunker.pendingMessages, 1);
    unchunker.release();
    assert.equal(unchunker.pendingBytes, 0);
  });

  test(`unchunker (${engine}) refuses later chunks of a dropped message`, async () => {
    const unchunker = await unchunkerOf(engine);
    unchunker.push(rawFrame(9, 0, 30, 10));
    assertRefused(() => unchunker.push(rawFrame(9, 5, 30, 10)), "overlap", 9);
    const error = assertRefused(() => unchunker.push(rawFrame(9, 10, 30, 10)), "dropped", 9);
    assert.match(error.message, /earlier chunk of this message was refused/);
    // "dropped" is checked before anything else, even a well-formed single frame.
    assertRefused(() => unchunker.push(rawFrame(9, 0, 5, 5)), "dropped", 9);
    assert.equal(unchunker.pendingMessages, 0);
  });

  test(`unchunker (${engine}) remembers the last 64 refused ids`, async () => {
    const unchunker = await unchunkerOf(engine);
    for (let id = 100; id < 165; id++) {
      assertRefused(() => unchunker.push(rawFrame(id, 0, 0, 1)), "empty-chunk", id);
    }
    // 65 refusals: the first id has been forgotten, the other 64 are remembered.
    assert.equal(unchunker.push(rawFrame(100, 0, 3, 3))?.byteLength, 3);
    for (let id = 101; id < 165; id++) {
      assertRefused(() => unchunker.push(rawFrame(id, 0, 3, 3)), "dropped", id);
    }
  });

  test(`unchunker (${engine}) stays usable after each kind of refusal`, async () => {
    const unchunker = await unchunkerOf(engine, {
      maxMessageSize: 1000,
      maxPendingMessages: 3,
      maxPendingBytes: 1000,
    });
    const bystander = [...generateChunks(patternedMessage(300), 112, { id: 77 })];
    unchunker.push(bystander[0]);
    const refusals: [() => unknown, string][] = [
      [() => unchunker.push(new Uint8Array(4)), "short-frame"],
      [() => unchunker.push(rawFrame(1, 0, 10, 0)), "empty-chunk"],
      [() => unchunker.push(rawFrame(2, 9, 10, 2)), "out-of-bounds"],
      [
        () => (unchunker.push(rawFrame(3, 0, 10, 2)), unchunker.push(rawFrame(3, 2, 11, 2))),
        "total-mismatch",
      ],
      [
        () => (unchunker.push(rawFrame(4, 0, 10, 2)), unchunker.push(rawFrame(4, 1, 10, 2))),
        "overlap",
      ],
      [() => unchunker.push(rawFrame(5, 0, 1001, 2)), "message-too-large"],
      [() => unchunker.push(rawFrame(8, 0, 1000, 2)), "pending-bytes"],
      [
        () => (unchunker.push(rawFrame(6, 0, 10, 2)),
          unchunker.push(rawFrame(7, 0, 10, 2)),
          unchunker.push(rawFrame(10, 0, 10, 2))),
        "too-many-messages",
      ],
      [() => unchunker.push(rawFrame(5, 0, 10, 2)), "dropped"],
    ];
    for (const [refused, reason] of refusals) {
      assert.throws(refused, (error) => error instanceof ChunkError && error.reason === reason);
      // A fresh message goes through whole.
      assert.deepEqual(unchunker.push(rawFrame(500, 0, 7, 7, 1)), new Uint8Array(7).fill(1));
    }
    unchunker.push(bystander[2]);
    assert.deepEqual(unchunker.push(bystander[1]), patternedMessage(300), "the bystander survives");
  });

  test(`unchunker (${engine}) release() drops every incomplete message`, async () => {
    const unchunker = await unchunkerOf(engine);
    const first = [...generateChunks(patternedMessage(100), 50, { id: 1 })];
    const second = [...generateChunks(patternedMessage(100, 1), 50, { id: 2 })];
    unchunker.push(first[0]);
    unchunker.push(second[1]);
    assert.equal(unchunker.pendingMessages, 2);
    unchunker.release();
    assert.equal(unchunker.pendingMessages, 0);
    assert.equal(unchunker.pendingBytes, 0);
    // A later chunk of a released message starts it afresh; nothing was refused.
    assert.equal(unchunker.push(first[1]), undefined);
    assert.equal(unchunker.pendingMessages, 1);
    unchunker.push(first[0]);
    assert.deepEqual(unchunker.push(first[2]), patternedMessage(100), "completed afresh");
    assert.equal(unchunker.pendingMessages, 0);
    unchunker.release();
    unchunker.release();
    for (const frame of second) unchunker.push(frame);
    assert.equal(unchunker.pendingMessages, 0);
  });

  // Issue 13, item 8: with sorted arrays this pattern cost O(n) per chunk; 400,000 such frames
  // blocked the event loop 11-16 s. Each chunk costs O(log n) now, and these 100,000 frames take
  // a fraction of a second (test/codec/received_ranges_test.ts checks the tree stays balanced).
  // The suite's only time bound, generous for a loaded machine.
  test(`unchunker (${engine}) takes 1-byte chunks backwards, every other byte first, quickly`, async () => {
    const unchunker = await unchunkerOf(engine);
    const pieces = 50_000;
    const message = patternedMessage(2 * pieces);
    const oneByte = (offset: number) => {
      const frame = rawFrame(1, offset, message.byteLength, 1);
      frame[12] = message[offset];
      return frame;
    };
    const evenBackwards = Array.from(
      { length: pieces },
      (_, index) => oneByte(2 * (pieces - index - 1)),
    );
    // Each odd byte joins two ranges, taken from both ends towards the middle.
    const oddFromBothEnds = Array.from({ length: pieces }, (_, index) => {
      const fromEnd = index % 2 === 1;
      const rank = index >>> 1;
      return oneByte(fromEnd ? 2 * (pieces - rank) - 1 : 2 * rank + 1);
    });
    const started = performance.now();
    for (const frame of evenBackwards) unchunker.push(frame);
    const disjointRanges = (unchunker.pendingBytes - message.byteLength) / RANGE_COST;
    let whole: Uint8Array | undefined;
    for (const frame of oddFromBothEnds) whole = unchunker.push(frame);
    const elapsed = performance.now() - started;
    assert.equal(disjointRanges, pieces, "every even byte was a range of its own");
    assert.deepEqual(whole, message);
    assert.equal(unchunker.pendingBytes, 0);
    assert.ok(elapsed < 5_000, `${2 * pieces} frames took ${Math.round(elapsed)} ms`);
  });

  test(`unchunker (${engine}) keeps returned messages intact over 1,000 further pushes`, async () => {
    const unchunker = await unchunkerOf(engine, { maxPendingMessages: 4096 });
    const single = generateChunks(patternedMessage(99, 3), 0, { id: 1 }).next().value!;
    const singleResult = unchunker.push(single)!;
    const multi = [...generateChunks(patternedMessage(3000, 4), 500, { id: 2 })];
    let multiResult: Uint8Array | undefined;
    for (const frame of multi.reverse()) multiResult = unchunker.push(frame);
    assert.ok(multiResult !== undefined);
    const singleCopy = singleResult.slice();
    const multiCopy = multiResult.slice();
    // 500 interleaved messages, two disjoint chunks each (out of order), stay pending; in the
    // WASM engine that bookkeeping outgrows the initial memory, which detaches old views.
    let pushes = 0;
    for (let id = 10; pushes < 1000; id++) {
      const frames = [...generateChunks(patternedMessage(100, id), 22, { id })];
      unchunker.push(frames[3]);
      unchunker.push(frames[1]);
      pushes += 2;
    }
    assert.equal(unchunker.pendingMessages, 500);
    assert.equal(unchunker.pendingBytes, 500 * (100 + 2 * RANGE_COST));
    assert.deepEqual(singleResult, singleCopy);
    assert.deepEqual(multiResult, multiCopy);
    unchunker.release();
    assert.deepEqual(multiResult, multiCopy);
  });
}
