// What the in-memory fake shows (send_test, call_test, connect_test), again over a real socket
// on 127.0.0.1 with the runtime's own WebSocket: backpressure on bufferedAmount, aborting a call
// and a connect midway, WSLINK_MAX_MSG_SIZE, useBigInt64 against another msgpack codec, received
// `bin` values as views, and the default size limits.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Decoder, Encoder } from "@msgpack/msgpack";
import {
  DEFAULT_UNCHUNKER_LIMITS,
  encodeHeader,
  generateChunks,
  type SessionErrorEvent,
  type SessionProgressEvent,
  type WslinkError,
  WslinkSession,
} from "../../mod.ts";
import { quietServer, waitFor, within } from "../trame/_client_support.ts";
import { recordingWire } from "../_support.ts";
import { hostileServer } from "../reliability/_hostile_server.ts";
import { assertClientError } from "../reliability/_support.ts";
import { reassembler } from "./_fake_socket.ts";
import { selectTransport } from "./_real_server.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A byte pattern and its length and sum, to check an upload arrived intact. */
function payload(length: number): { bytes: Uint8Array; digest: [number, number] } {
  const bytes = new Uint8Array(length);
  let sum = 0;
  for (let index = 0; index < length; index++) {
    bytes[index] = (index * 31 + 7) & 0xff;
    sum = (sum + bytes[index]) >>> 0;
  }
  return { bytes, digest: [length, sum] };
}

function digestOf(bytes: Uint8Array): [number, number] {
  let sum = 0;
  for (let index = 0; index < bytes.length; index++) sum = (sum + bytes[index]) >>> 0;
  return [bytes.byteLength, sum];
}

test("a large upload over a real socket waits on bufferedAmount, and arrives intact", async () => {
  const { server } = await quietServer({ maxMsgSize: 64 * KiB });
  server.register("digest", ([bytes]) => digestOf(bytes as Uint8Array));
  const { bytes, digest } = payload(16 * MiB);
  try {
    // Without backpressure (a high-water mark above the message) the socket holds megabytes
    // unsent: this runtime's bufferedAmount does show what waits.
    const loose = recordingWire();
    {
      await using session = await WslinkSession.connect(server.url, {
        WebSocket: loose.WebSocket,
        sendHighWaterMark: 64 * MiB,
      });
      assert.deepEqual(await session.call("digest", [bytes]), digest);
    }
    assert.ok(loose.maxBuffered >= 4 * MiB, `without backpressure: ${loose.maxBuffered} bytes`);
    // With a 256 KiB high-water mark, a frame goes out only when it fits under it.
    const highWaterMark = 256 * KiB;
    const tight = recordingWire();
    {
      await using session = await WslinkSession.connect(server.url, {
        WebSocket: tight.WebSocket,
        sendHighWaterMark: highWaterMark,
      });
      assert.deepEqual(await session.call("digest", [bytes]), digest);
    }
    assert.ok(tight.maxBuffered <= highWaterMark, `with backpressure: ${tight.maxBuffered} bytes`);
    const frames = tight.sentSizes.slice(1); // after the hello
    assert.ok(frames.length >= (16 * MiB) / (64 * KiB), `${frames.length} frames`);
    assert.ok(frames.every((size) => size <= 64 * KiB));
  } finally {
    await server.close();
  }
});

test("aborting a call over a real socket: it rejects at once, its late reply drops quietly", async () => {
  const { server } = await quietServer();
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let started = 0;
  server.register("held", async () => {
    started++;
    await released;
    return "late";
  });
  server.register("echo", (args) => args);
  try {
    await using session = await WslinkSession.connect(server.url);
    const errors: SessionErrorEvent[] = [];
    session.on("error", (event) => errors.push(event));
    const controller = new AbortController();
    const call = session.call("held", [], {}, { signal: controller.signal });
    await waitFor(() => started === 1, 5_000, "the server running the call");
    const reason = new Error("user left");
    controller.abort(reason);
    await assert.rejects(within(call, 1_000, "the aborted call"), (error) => {
      assertClientError(error, "aborted");
      assert.equal(((error as WslinkError).data as { reason: unknown }).reason, reason);
      return true;
    });
    release(); // the server answers now: the reply is dropped
    assert.deepEqual(await session.call("echo", [1]), [1]);
    assert.deepEqual(errors, [], "a late reply to an aborted call is not an error");
  } finally {
    await server.close();
  }
});

test("aborting an upload midway over a real socket stops it; the next call goes out", async () => {
  const { server } = await quietServer({ maxMsgSize: 64 * KiB });
  let uploads = 0;
  server.register("digest", ([bytes]) => {
    uploads++;
    return digestOf(bytes as Uint8Array);
  });
  server.register("echo", (args) => args);
  try {
    const wire = recordingWire();
    await using session = await WslinkSession.connect(server.url, {
      WebSocket: wire.WebSocket,
      sendHighWaterMark: 64 * KiB,
    });
    const { bytes } = payload(64 * MiB);
    const controller = new AbortController();
    const upload = session.call("digest", [bytes], {}, { signal: controller.signal });
    await waitFor(() => wire.sentSizes.length > 10, 5_000, "the upload under way");
    controller.abort();
    await assert.rejects(
      within(upload, 1_000, "the aborted upload"),
      (e) => !!assertClientError(e, "aborted"),
    );
    const sentWhenAborted = wire.sentSizes.length;
    assert.ok(sentWhenAborted < (64 * MiB) / (64 * KiB), "aborted before its end");
    // The next call goes out right after; the rest of the upload never does.
    assert.deepEqual(await session.call("echo", ["next"]), ["next"]);
    assert.equal(wire.sentSizes.length, sentWhenAborted + 1);
    assert.equal(uploads, 0, "the server never got the whole upload");
  } finally {
    await server.close();
  }
});

test("aborting connect() over a real socket: before the socket opens and during the hello", async () => {
  let releaseHello!: () => void;
  const helloHeld = new Promise<void>((resolve) => releaseHello = resolve);
  let hellos = 0;
  const { server } = await quietServer({
    validateToken: async () => {
      hellos++;
      await helloHeld;
      return true;
    },
  });
  try {
    const early = new AbortController();
    const connecting = WslinkSession.connect(server.url, { signal: early.signal });
    early.abort();
    await assert.rejects(
      within(connecting, 2_000, "connect"),
      (e) => !!assertClientError(e, "aborted"),
    );

    const midway = new AbortController();
    const started = Date.now();
    const pending = WslinkSession.connect(server.url, { signal: midway.signal });
    await waitFor(() => hellos === 1, 5_000, "the server holding the hello");
    midway.abort();
    await assert.rejects(
      within(pending, 1_000, "connect"),
      (e) => !!assertClientError(e, "aborted"),
    );
    assert.ok(Date.now() - started < 10_000, "well before the 10 s hello timeout");
    // The aborted connection is closed; the server, answering late, does not mind.
    await waitFor(() => server.clients.length === 0, 5_000, "the server seeing the close");
    releaseHello();
    await using session = await WslinkSession.connect(server.url);
    assert.match(session.clientId, /^c[0-9a-f]{32}$/);
  } finally {
    releaseHello();
    await server.close();
  }
});

test("WSLINK_MAX_MSG_SIZE caps the frames sent to the embedded server", async () => {
  const { server } = await quietServer(); // announces 10,000,000-byte frames
  server.register("digest", ([bytes]) => digestOf(bytes as Uint8Array));
  const previous = process.env.WSLINK_MAX_MSG_SIZE;
  try {
    process.env.WSLINK_MAX_MSG_SIZE = "1000";
    const wire = recordingWire();
    await using session = await WslinkSession.connect(server.url, { WebSocket: wire.WebSocket });
    assert.equal(session.maxMsgSize, 10_000_000);
    assert.equal(session.maxFrameSize, 1000);
    const { bytes, digest } = payload(100_000);
    assert.deepEqual(await session.call("digest", [bytes]), digest);
    const frames = wire.sentSizes.slice(1);
    assert.ok(frames.length >= 100_000 / 988, `${frames.length} frames`);
    assert.ok(frames.every((size) => size <= 1000), `largest ${Math.max(...frames)}`);
  } finally {
    if (previous === undefined) delete process.env.WSLINK_MAX_MSG_SIZE;
    else process.env.WSLINK_MAX_MSG_SIZE = previous;
    await server.close();
  }
});

test("useBigInt64 over a real socket: 64-bit integers exact both ways, read by another codec", async () => {
  // A server that speaks msgpack through @msgpack/msgpack with 64-bit integers as bigint: it
  // echoes the call's args and adds the values it read, as text.
  const encoder = new Encoder({ useBigInt64: true });
  const decoder = new Decoder({ useBigInt64: true });
  const transport = await selectTransport();
  const server = await transport((connection) =>
    reassembler((bytes) => {
      const message = decoder.decode(bytes) as { id: string; method: string; args: unknown[] };
      const result = message.method === "wslink.hello"
        ? { clientID: "c1", maxMsgSize: 0 }
        : [message.args, message.args.map(String)];
      for (
        const frame of generateChunks(encoder.encode({ wslink: "1.0", id: message.id, result }), 0)
      ) {
        connection.send(frame);
      }
    })
  );
  try {
    const values = [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 2n ** 64n - 1n];
    await using session = await WslinkSession.connect(`ws://127.0.0.1:${server.port}/ws`, {
      useBigInt64: true,
    });
    const [echoed, asRead] = await session.call<[unknown[], string[]]>("echo", values);
    assert.deepEqual(asRead, values.map(String), "the server read the exact values");
    assert.deepEqual(echoed, values, "and they came back exact");
  } finally {
    await server.close();
  }
});

test("a received bin is a view of its message's buffer, one frame or many, never reused", async () => {
  for (const maxMsgSize of [0, 1024]) {
    const { server } = await quietServer({ maxMsgSize });
    server.register("bins", ([fill]) => [
      new Uint8Array(1000).fill(fill as number),
      new Uint8Array(2000).fill((fill as number) + 1),
    ]);
    try {
      await using session = await WslinkSession.connect(server.url);
      const [small, large] = await session.call<[Uint8Array, Uint8Array]>("bins", [1]);
      assert.ok(small instanceof Uint8Array && large instanceof Uint8Array);
      // Both are views into one buffer: the message's (with its envelope and, for a message in
      // one frame, its chunk header), not copies of their own.
      assert.equal(small.buffer, large.buffer);
      assert.ok(small.byteOffset > 0 && large.byteOffset > small.byteOffset);
      assert.ok(small.buffer.byteLength > 3000 && small.buffer.byteLength < 3100);
      // Later messages never write into that buffer.
      const [again] = await session.call<[Uint8Array]>("bins", [7]);
      assert.equal(again[0], 7);
      assert.ok(small.every((byte) => byte === 1) && large.every((byte) => byte === 2));
      assert.notEqual(again.buffer, small.buffer);
    } finally {
      await server.close();
    }
  }
});

test("the default limits: 1 GiB per message, 2 GiB pending, 1,024 pending messages", async () => {
  assert.deepEqual(DEFAULT_UNCHUNKER_LIMITS, {
    maxMessageSize: 2 ** 30,
    maxPendingBytes: 2 ** 31,
    maxPendingMessages: 1024,
  });
  // First chunks of messages declaring `total` bytes: what a session with no limit options
  // accepts (a progress event) and refuses (an error event), over a real socket.
  const firstChunk = (id: number, total: number) => {
    const frame = new Uint8Array(12 + 16);
    encodeHeader(id, 0, total, frame);
    return frame;
  };
  const server = await hostileServer((message, peer) => {
    const plan = message.args as [number, number][];
    for (const [id, total] of plan) peer.connection.send(firstChunk(id, total));
    peer.reply(message.id, plan.length);
  });
  const run = async (plan: [number, number][]) => {
    const session = await WslinkSession.connect(server.url);
    const accepted: SessionProgressEvent[] = [];
    const refused: string[] = [];
    session.on("progress", (event) => accepted.push(event));
    session.on("error", ({ error }) => refused.push(`${(error as { reason?: string }).reason}`));
    try {
      assert.equal(await session.call("declare", plan), plan.length);
      return { accepted: accepted.map((event) => [event.id, event.total]), refused };
    } finally {
      await session.close(); // frees what the incomplete messages hold
    }
  };
  try {
    // Sizes: exactly 1 GiB is accepted, one byte more is not. Budget: two messages of 1 GiB
    // would cost 2 GiB plus bookkeeping; one of 1 GiB and one 32 bytes shorter fit exactly.
    const GiB = 2 ** 30;
    const sizes = await run([[1, GiB + 1], [2, GiB], [3, GiB], [4, GiB - 32]]);
    assert.deepEqual(sizes.refused, ["message-too-large", "pending-bytes"]);
    assert.deepEqual(sizes.accepted, [[2, GiB], [4, GiB - 32]]);
    // Count: 1,024 incomplete messages are held, the next one is refused.
    const plan = Array.from({ length: 1025 }, (_, index): [number, number] => [index + 1, 100]);
    const count = await run(plan);
    assert.equal(count.accepted.length, 1024);
    assert.deepEqual(count.refused, ["too-many-messages"]);
  } finally {
    await server.close();
  }
});
