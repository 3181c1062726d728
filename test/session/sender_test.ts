// The session's sender against a plain `{ send, bufferedAmount }` object: no socket involved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHeader, HEADER_LENGTH } from "../../mod.ts";
import { Sender } from "../../src/session/_sender.ts";
import { within } from "../_support.ts";

/**
 * A sink that records frames. Each frame sent adds to `bufferedAmount` (as a socket that has not
 * written it out yet) unless `writesAtOnce`; the test drains it by setting it.
 */
function recordingSink(writesAtOnce = false) {
  const frames: Uint8Array[] = [];
  return {
    frames,
    bufferedAmount: 0,
    send(frame: Uint8Array) {
      frames.push(frame.slice());
      if (!writesAtOnce) this.bufferedAmount += frame.byteLength;
    },
  };
}

const noFailure = (error: unknown) => assert.fail(`unexpected failure: ${String(error)}`);

function message(size: number, fill: number): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

/** Waits (bounded) until `condition` holds, polling every few milliseconds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
    })(),
    5_000,
    what,
  );
}

test("Sender sends a message that fits at once, as one frame, and keeps nothing", () => {
  const sink = recordingSink();
  const sender = new Sender({ sink, highWaterMark: 1024, frameLimit: 0, onFailure: noFailure });
  const bytes = message(100, 7);
  assert.equal(sender.send(bytes), undefined);
  assert.equal(sink.frames.length, 1);
  assert.equal(decodeHeader(sink.frames[0]).totalSize, 100);
  assert.deepEqual(sink.frames[0].subarray(HEADER_LENGTH), bytes);
  assert.equal(sender.queued, 0);
});

test("Sender waits on bufferedAmount: nothing more goes out until the sink drains", async () => {
  const sink = recordingSink();
  const sender = new Sender({ sink, highWaterMark: 100, frameLimit: 62, onFailure: noFailure });
  sink.bufferedAmount = 80; // the socket still holds bytes: a 62-byte frame would pass the mark
  const outgoing = sender.send(message(150, 1)); // 3 frames of 50 content bytes
  assert.notEqual(outgoing, undefined, "a message over the frame limit is queued");
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(sink.frames.length, 0, "no frame is sent while the sink is above the mark");
  // Each frame sent raises bufferedAmount by 62, over the mark with the next: one per drain.
  for (let frames = 1; frames <= 3; frames++) {
    sink.bufferedAmount = 0;
    await until(() => sink.frames.length === frames, `frame ${frames} after a drain`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(sink.frames.length, frames, "no further frame before the next drain");
  }
  const content = sink.frames.map((frame) => frame.subarray(HEADER_LENGTH));
  assert.deepEqual(content.map((bytes) => bytes.byteLength), [50, 50, 50]);
  await until(() => sender.queued === 0, "the outbox to empty");
});

test("Sender keeps messages in order behind a queued one, and owns a copy of each", async () => {
  const sink = recordingSink(true);
  const sender = new Sender({ sink, highWaterMark: 1, frameLimit: 0, onFailure: noFailure });
  sink.bufferedAmount = 10;
  const shared = message(4, 1);
  sender.send(shared);
  shared.fill(9); // the caller reuses its buffer (as the encoder does)
  sender.send(message(4, 2)); // fits nothing either: queued behind the first
  assert.equal(sender.queued, 2);
  sink.bufferedAmount = 0;
  await until(() => sink.frames.length === 2 && sender.queued === 0, "both messages");
  assert.deepEqual(sink.frames.map((frame) => frame[HEADER_LENGTH]), [1, 2]);
});

test("Sender.cancel() drops a queued message; close() drops the rest and stops waiting", async () => {
  const sink = recordingSink();
  const sender = new Sender({ sink, highWaterMark: 1, frameLimit: 0, onFailure: noFailure });
  sink.bufferedAmount = 10;
  const first = sender.send(message(4, 1));
  const second = sender.send(message(4, 2));
  sender.cancel(second);
  assert.equal(second?.cancelled, true);
  assert.equal(sender.queued, 1);
  sender.close();
  assert.equal(first?.cancelled, true);
  assert.equal(sender.queued, 0);
  sink.bufferedAmount = 0;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(sink.frames.length, 0, "nothing is sent after close()");
  assert.equal(sender.send(message(4, 3)), undefined);
  assert.equal(sink.frames.length, 0);
});

test("Sender reports a sink that throws once, and sends nothing after", () => {
  const failures: unknown[] = [];
  let sends = 0;
  const sink = {
    bufferedAmount: 0,
    send() {
      sends++;
      throw new Error("socket broken");
    },
  };
  const sender = new Sender({
    sink,
    highWaterMark: 1024,
    frameLimit: 0,
    onFailure: (error) => failures.push(error),
  });
  sender.send(message(4, 1));
  sender.send(message(4, 2));
  assert.equal(sends, 1);
  assert.equal(failures.length, 1);
  assert.match(String(failures[0]), /socket broken/);
});

test("Sender stops at a socket that is closing, even one that reports nothing buffered", async () => {
  // Node's WebSocket, once closing, discards what it is given and reads bufferedAmount 0.
  const sink = { ...recordingSink(), readyState: 1 };
  const sender = new Sender({ sink, highWaterMark: 100, frameLimit: 62, onFailure: noFailure });
  try {
    sender.send(message(50 * 1000, 3)); // 1,000 frames, one per drain
    await until(() => sink.frames.length === 1, "the first frame");
    sink.readyState = 2;
    sink.bufferedAmount = 0;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(sink.frames.length, 1, "nothing goes into a closing socket");
    assert.equal(sender.send(message(10, 4)), undefined);
    assert.equal(sink.frames.length, 1, "not even a message that would fit at once");
  } finally {
    sender.close();
  }
});
