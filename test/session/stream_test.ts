// WslinkSession.callStream against a scripted server: the reply's frames are delivered by hand, in
// order or not, cut short, or mixed with errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ChunkError,
  CLIENT_ERROR,
  EXCEPTION_RAISED,
  generateChunks,
  type SessionErrorEvent,
  WslinkError,
  type WslinkSessionOptions,
} from "../../mod.ts";
import { WslinkSession } from "../../src/session/session.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import { fakeServer, type Message, type Peer, settle } from "./_fake_socket.ts";

const codec = createMessageCodec();

/** The bytes i*7+3 mod 256, so that any byte out of place shows. */
function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 7 + 3) & 0xff;
  return bytes;
}

/** The frames of a reply to `id` with `result`, cut at `frameSize`. */
function replyFrames(id: unknown, result: unknown, frameSize: number): Uint8Array[] {
  return [...generateChunks(codec.encode({ wslink: "1.0", id, result }), frameSize)];
}

interface Setup {
  session: WslinkSession;
  peer: Peer;
  requests: Message[];
  errors: SessionErrorEvent[];
}

// A session whose server records requests and answers none by itself.
async function connect(options: WslinkSessionOptions = {}): Promise<Setup> {
  const requests: Message[] = [];
  const server = fakeServer({ onMessage: (message) => requests.push(message) });
  const session = await WslinkSession.connect("ws://x.invalid/", {
    WebSocket: server.WebSocket,
    ...options,
  });
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  return { session, peer: server.peers[0], requests, errors };
}

// Starts a stream call and waits until the server has its request.
async function start(setup: Setup, options = {}) {
  const stream = setup.session.callStream("get.blob", [], {}, options);
  stream.catch(() => {}); // rejections are looked at by the tests that expect them
  await settle();
  const request = setup.requests.at(-1)!;
  return { stream, id: request.id };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function joined(chunks: readonly Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

function clientFailure(kind: string) {
  return (error: unknown) => {
    assert.ok(error instanceof WslinkError, String(error));
    assert.equal(error.code, CLIENT_ERROR);
    assert.equal((error.data as { kind: string }).kind, kind);
    return true;
  };
}

test("callStream resolves at the first frame with the size, then hands over each frame's bytes as views", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  const data = pattern(100_000);
  const frames = replyFrames(id, data, 8_192);
  setup.peer.socket.deliver(frames[0]);
  const binary = await stream;
  assert.ok(binary instanceof ReadableStream);
  assert.equal(binary.size, 100_000);
  for (const frame of frames.slice(1)) setup.peer.socket.deliver(frame);
  const chunks = await readAll(binary);
  assert.deepEqual(joined(chunks), data);
  assert.equal(chunks.length, frames.length);
  // Every chunk after the first is a frame's content, in place: no copy was made.
  for (const chunk of chunks.slice(1)) {
    assert.equal(chunk.byteOffset, 12);
    assert.equal(chunk.buffer.byteLength, chunk.byteLength + 12);
  }
  assert.deepEqual(setup.errors, []);
  await setup.session.close();
});

test("frames out of order are held until the gap before them fills", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  const data = pattern(50_000);
  const frames = replyFrames(id, data, 4_096);
  // The last frames first, the first one in the middle, the rest reversed.
  const order = [...frames.slice(5).reverse(), frames[0], ...frames.slice(1, 5).reverse()];
  const total = frames.reduce((sum, frame) => sum + frame.byteLength - 12, 0);
  const progress: number[] = [];
  setup.session.on("progress", (event) => {
    assert.equal(event.total, total);
    progress.push(event.received);
  });
  for (const frame of order) setup.peer.socket.deliver(frame);
  const binary = await stream;
  assert.deepEqual(joined(await readAll(binary)), data);
  assert.equal(progress.length, frames.length);
  assert.equal(progress.at(-1), total);
  assert.deepEqual(setup.errors, []);
  assert.equal(await settleCall(setup, "after"), "after");
  await setup.session.close();
});

// Answers the next request with `result` and returns what call() resolved with.
async function settleCall(setup: Setup, result: unknown): Promise<unknown> {
  const reply = setup.session.call("next");
  await settle();
  setup.peer.reply(setup.requests.at(-1)!.id, result);
  return await reply;
}

test("other messages keep flowing, whole or in frames, while a stream call waits and streams", async () => {
  const setup = await connect();
  const published: unknown[] = [];
  setup.session.subscribe("topic", (payload) => published.push(payload));
  const { stream, id } = await start(setup);
  const frames = replyFrames(id, pattern(30_000), 4_096);
  const publish = [...generateChunks(
    codec.encode({ wslink: "1.0", id: "publish:topic:0", result: pattern(10_000) }),
    3_000,
  )];
  // A publish in frames, out of order, around the first frame of the stream.
  setup.peer.socket.deliver(publish[2]);
  setup.peer.socket.deliver(frames[0]);
  setup.peer.socket.deliver(publish[0]);
  setup.peer.socket.deliver(publish[1]);
  for (const frame of publish.slice(3)) setup.peer.socket.deliver(frame);
  setup.peer.publish("topic", "small");
  for (const frame of frames.slice(1)) setup.peer.socket.deliver(frame);
  const binary = await stream;
  assert.deepEqual(joined(await readAll(binary)), pattern(30_000));
  assert.deepEqual(published, [pattern(10_000), "small"]);
  assert.deepEqual(setup.errors, []);
  await setup.session.close();
});

test("a result in one frame, or whole before the stream call asked, is a stream too", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  setup.peer.reply(id, pattern(100));
  const binary = await stream;
  assert.equal(binary.size, 100);
  assert.deepEqual(joined(await readAll(binary)), pattern(100));
  const empty = await start(setup);
  setup.peer.reply(empty.id, new Uint8Array(0));
  assert.deepEqual(await readAll(await empty.stream), []);
  await setup.session.close();
});

test("a result that is not binary rejects with a protocol error carrying it", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  setup.peer.reply(id, { not: "binary" });
  await assert.rejects(stream, (error: unknown) => {
    clientFailure("protocol")(error);
    assert.match((error as Error).message, /get\.blob returned a map, not binary/);
    assert.deepEqual((error as WslinkError).data, { kind: "protocol", value: { not: "binary" } });
    return true;
  });
  // In several frames too: a large non-binary result takes the buffered path.
  const big = await start(setup);
  for (const frame of replyFrames(big.id, ["x".repeat(20_000)], 4_096)) {
    setup.peer.socket.deliver(frame);
  }
  await assert.rejects(big.stream, clientFailure("protocol"));
  const failed = await start(setup);
  setup.peer.fail(failed.id, EXCEPTION_RAISED, "Exception raised", { method: "get.blob" });
  await assert.rejects(failed.stream, (error: unknown) => {
    assert.ok(error instanceof WslinkError && error.code === EXCEPTION_RAISED);
    return true;
  });
  assert.deepEqual(setup.errors, []);
  await setup.session.close();
});

test("a stream may exceed maxMessageSize, up to maxStreamSize", async () => {
  const setup = await connect({ maxMessageSize: 4_096, maxStreamSize: 200_000 });
  const { stream, id } = await start(setup);
  for (const frame of replyFrames(id, pattern(150_000), 10_000)) setup.peer.socket.deliver(frame);
  assert.deepEqual(joined(await readAll(await stream)), pattern(150_000));
  const over = await start(setup);
  for (const frame of replyFrames(over.id, pattern(200_001), 10_000)) {
    setup.peer.socket.deliver(frame);
  }
  await assert.rejects(over.stream, (error: unknown) => {
    clientFailure("too-large")(error);
    assert.deepEqual((error as WslinkError).data, {
      kind: "too-large",
      size: 200_001,
      limit: 200_000,
    });
    return true;
  });
  await settle();
  // Its frames were dropped as they came, not buffered and not reported.
  assert.deepEqual(setup.errors, []);
  assert.equal(await settleCall(setup, 1), 1);
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { maxStreamSize: 2 ** 32 }),
    RangeError,
  );
  await setup.session.close();
});

test("a refused frame mid-stream errors the stream with its ChunkError; the session goes on", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  const frames = replyFrames(id, pattern(40_000), 4_096);
  for (const frame of frames.slice(0, 3)) setup.peer.socket.deliver(frame);
  const bad = frames[3].slice();
  new DataView(bad.buffer).setUint32(8, 123_456_789, true); // another total size
  setup.peer.socket.deliver(bad);
  for (const frame of frames.slice(4)) setup.peer.socket.deliver(frame);
  const binary = await stream;
  await assert.rejects(readAll(binary), (error: unknown) => {
    assert.ok(error instanceof ChunkError);
    assert.equal(error.reason, "total-mismatch");
    return true;
  });
  // A repeated frame is refused as an overlap.
  const again = await start(setup);
  const more = replyFrames(again.id, pattern(20_000), 4_096);
  for (const frame of [more[0], more[1], more[1]]) setup.peer.socket.deliver(frame);
  await assert.rejects(readAll(await again.stream), (error: unknown) => {
    assert.ok(error instanceof ChunkError && error.reason === "overlap");
    return true;
  });
  assert.equal(await settleCall(setup, "still"), "still");
  assert.deepEqual(setup.errors, []);
  await setup.session.close();
});

test("the server's error for the call midway errors the stream with it", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  const frames = replyFrames(id, pattern(40_000), 4_096);
  for (const frame of frames.slice(0, 4)) setup.peer.socket.deliver(frame);
  const binary = await stream;
  setup.peer.fail(id, EXCEPTION_RAISED, "Exception raised", { exception: "OSError()" });
  await assert.rejects(readAll(binary), (error: unknown) => {
    assert.ok(error instanceof WslinkError && error.code === EXCEPTION_RAISED);
    assert.deepEqual(error.data, { exception: "OSError()" });
    return true;
  });
  assert.deepEqual(setup.errors, []);
  await setup.session.close();
});

test("the connection closing mid-stream errors the stream", async () => {
  const setup = await connect();
  const { stream, id } = await start(setup);
  const frames = replyFrames(id, pattern(40_000), 4_096);
  for (const frame of frames.slice(0, 4)) setup.peer.socket.deliver(frame);
  const binary = await stream;
  const reader = binary.getReader();
  assert.ok((await reader.read()).value!.byteLength > 0);
  setup.peer.socket.drop(1006, "gone");
  await assert.rejects(
    (async () => {
      while (!(await reader.read()).done);
    })(),
    clientFailure("closed"),
  );
});

test("aborting mid-stream errors the stream; the rest is dropped as it comes", async () => {
  const setup = await connect();
  const controller = new AbortController();
  const { stream, id } = await start(setup, { signal: controller.signal });
  const frames = replyFrames(id, pattern(40_000), 4_096);
  for (const frame of frames.slice(0, 4)) setup.peer.socket.deliver(frame);
  const binary = await stream;
  controller.abort(new Error("enough"));
  await assert.rejects(readAll(binary), clientFailure("aborted"));
  for (const frame of frames.slice(4)) setup.peer.socket.deliver(frame);
  await settle();
  assert.deepEqual(setup.errors, []);
  assert.equal(await settleCall(setup, "next"), "next");
  await setup.session.close();
});

test("cancelling the stream drops the rest of the result without buffering it", async () => {
  const setup = await connect({ maxMessageSize: 4_096 });
  const { stream, id } = await start(setup);
  const frames = replyFrames(id, pattern(100_000), 4_096);
  setup.peer.socket.deliver(frames[0]);
  const binary = await stream;
  const reader = binary.getReader();
  assert.ok(!(await reader.read()).done);
  await reader.cancel("not needed");
  for (const frame of frames.slice(1)) setup.peer.socket.deliver(frame);
  await settle();
  // Over maxMessageSize: had the frames gone to the un-chunker, they would be reported refused.
  assert.deepEqual(setup.errors, []);
  assert.equal(await settleCall(setup, "next"), "next");
  await setup.session.close();
});

test("a reader that falls further behind than maxPendingBytes errors its stream", async () => {
  const setup = await connect({ maxPendingBytes: 20_000 });
  const { stream, id } = await start(setup);
  const frames = replyFrames(id, pattern(60_000), 4_096);
  for (const frame of frames) setup.peer.socket.deliver(frame);
  const binary = await stream;
  await settle();
  await assert.rejects(readAll(binary), (error: unknown) => {
    assert.ok(error instanceof ChunkError && error.reason === "pending-bytes");
    return true;
  });
  await setup.session.close();
});

test("a stream call that timed out drops its late reply as it arrives", async () => {
  const setup = await connect({ maxMessageSize: 4_096 });
  const { stream, id } = await start(setup, { timeout: 1 });
  await assert.rejects(stream, clientFailure("timeout"));
  for (const frame of replyFrames(id, pattern(50_000), 4_096)) setup.peer.socket.deliver(frame);
  await settle();
  assert.deepEqual(setup.errors, []);
  await setup.session.close();
});

test("a BYOB reader gets the bytes copied into its buffer, and each frame is freed once copied", async () => {
  const setup = await connect();
  const delivered: ArrayBuffer[] = [];
  setup.peer.socket.addEventListener("message", (event) => {
    delivered.push((event as MessageEvent).data as ArrayBuffer);
  });
  const { stream, id } = await start(setup);
  const data = pattern(30_000);
  for (const frame of replyFrames(id, data, 4_096)) setup.peer.socket.deliver(frame);
  const reader = (await stream).getReader({ mode: "byob" });
  const received: Uint8Array[] = [];
  let buffer = new ArrayBuffer(1_000);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    assert.ok(value.byteLength <= 1_000);
    received.push(value.slice());
    buffer = value.buffer as ArrayBuffer;
  }
  assert.deepEqual(joined(received), data);
  assert.ok(delivered.length > 5);
  // Every frame's memory was let go as soon as its bytes were copied.
  assert.deepEqual(delivered.map((frame) => frame.byteLength), delivered.map(() => 0));
  await setup.session.close();
});
