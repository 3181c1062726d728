// Results and publishes the server streams as it reads them: a Blob, `{ size, stream }` or a file
// from `openFile`, sent as a msgpack bin in frames of `maxMsgSize`, received whole by any client
// and as a stream by `callStream`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXCEPTION_RAISED, WslinkError, WslinkSession } from "../../mod.ts";
import { openFile, serve, type TrameServer } from "../../src/server/mod.ts";
import { RawClient, within } from "./_client.ts";

const quiet = () => {};

function pattern(size: number, seed = 0): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}

// A stream yielding `bytes` in chunks of `chunk` bytes, not a byte stream: the sender copies.
function chunked(bytes: Uint8Array, chunk: number, onCancel?: () => void): ReadableStream {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
    cancel: onCancel,
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function withServer(
  body: (server: TrameServer, session: WslinkSession) => Promise<void>,
  maxMsgSize = 64 * 1024,
): Promise<void> {
  const server = await serve({ port: 0, maxMsgSize, heartbeat: 0, log: quiet });
  const session = await WslinkSession.connect(server.url);
  try {
    await body(server, session);
  } finally {
    await session.close();
    await server.close();
  }
}

const trigger = (name: string, args: unknown[] = []) =>
  ["trame.trigger", [name, args, {}]] as const;

test("a Blob, { size, stream } or a file is sent as a bin in frames of maxMsgSize", async () => {
  const directory = mkdtempSync(join(tmpdir(), "trame-wire-stream-"));
  const server = await serve({ port: 0, maxMsgSize: 64 * 1024, heartbeat: 0, log: quiet });
  const client = await RawClient.authenticated(server.url);
  try {
    const bytes = pattern(300_000);
    const path = join(directory, "data.bin");
    writeFileSync(path, bytes);
    server.trigger("blob", () => new Blob([bytes]));
    server.trigger("stream", () => ({ size: bytes.byteLength, stream: chunked(bytes, 7_000) }));
    server.trigger("file", () => openFile(path));
    server.trigger("empty", () => new Blob([]));
    for (const name of ["blob", "stream", "file"]) {
      client.request("trame.trigger", [name, [], {}]);
      const { message, frames, bytes: size } = await client.next();
      assert.deepEqual(message.result, bytes, name);
      // Every frame but the last is full: header and 64 KiB - 12 bytes of content.
      assert.equal(frames, Math.ceil(size / (64 * 1024 - 12)), name);
    }
    assert.deepEqual((await client.call("trame.trigger", ["empty", [], {}])).result, pattern(0));
  } finally {
    await client.close();
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("callStream receives a file as the server reads it, byte for byte", async () => {
  const directory = mkdtempSync(join(tmpdir(), "trame-wire-stream-"));
  try {
    const bytes = pattern(3_000_000, 5);
    const path = join(directory, "mesh.bin");
    writeFileSync(path, bytes);
    await withServer(async (server, session) => {
      server.trigger("file", () => openFile(path));
      const stream = await session.callStream(...trigger("file"));
      assert.equal(stream.size, bytes.byteLength);
      // A BYOB reader, into one small buffer.
      const reader = stream.getReader({ mode: "byob" });
      const received = new Uint8Array(bytes.byteLength);
      let filled = 0;
      let buffer = new ArrayBuffer(100_000);
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done) break;
        received.set(value, filled);
        filled += value.byteLength;
        buffer = value.buffer as ArrayBuffer;
      }
      assert.equal(filled, bytes.byteLength);
      assert.deepEqual(received, bytes);
      await assert.rejects(openFile(join(directory, "missing.bin")), /ENOENT/);
      await assert.rejects(openFile(directory), TypeError);
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("a source that ends early errors the stream with the server's -32001; one too long is cut", async () => {
  await withServer(async (server, session) => {
    const bytes = pattern(500_000);
    server.trigger("short", () => ({ size: 600_000, stream: chunked(bytes, 50_000) }));
    server.trigger("long", () => ({ size: 432_100, stream: chunked(bytes, 50_000) }));
    server.trigger("tiny", () => ({ size: 10, stream: chunked(bytes.subarray(0, 5), 5) }));
    server.trigger("ok", () => 1);
    const stream = await session.callStream(...trigger("short"));
    await assert.rejects(readAll(stream), (error: unknown) => {
      assert.ok(error instanceof WslinkError && error.code === EXCEPTION_RAISED, String(error));
      assert.match(
        (error.data as { exception: string }).exception,
        /StreamSourceError\('the stream ended after 500000 of 600000 bytes'\)/,
      );
      return true;
    });
    assert.deepEqual(
      await readAll(await session.callStream(...trigger("long"))),
      bytes.subarray(0, 432_100),
    );
    // Refused before its first frame went out: the call itself rejects.
    await assert.rejects(session.callStream(...trigger("tiny")), (error: unknown) => {
      assert.ok(error instanceof WslinkError && error.code === EXCEPTION_RAISED);
      return true;
    });
    // The connection is fine afterwards.
    assert.equal(await session.call(...trigger("ok")), 1);
  });
});

test("a Blob publish reaches every subscriber as binary", async () => {
  await withServer(async (server, session) => {
    const other = await WslinkSession.connect(server.url);
    try {
      const payloads: unknown[] = [];
      const received = new Promise<void>((resolve) => {
        let count = 0;
        const onPayload = (payload: unknown) => {
          payloads.push(payload);
          if (++count === 2) resolve();
        };
        session.subscribe("big", onPayload);
        other.subscribe("big", onPayload);
      });
      const bytes = pattern(200_000, 9);
      server.publish("big", new Blob([bytes]));
      await within(received, 10_000, "both subscribers got the publish");
      assert.deepEqual(payloads, [bytes, bytes]);
    } finally {
      await other.close();
    }
  });
});

test("streams beyond the per-connection limit wait their turn and all complete", async () => {
  await withServer(async (server, session) => {
    const bytes = pattern(400_000, 3);
    server.trigger("blob", () => new Blob([bytes]));
    const streams = await Promise.all(
      Array.from({ length: 7 }, () => session.callStream(...trigger("blob"))),
    );
    for (const stream of streams) assert.deepEqual(await readAll(stream), bytes);
  });
});

test("a client leaving mid-stream stops the reading of the source", async () => {
  let cancelled!: () => void;
  const stopped = new Promise<void>((resolve) => cancelled = resolve);
  let read = 0;
  // 1 GiB made up as it is read: far more than the sockets hold, so the server is still reading
  // when the client goes.
  const size = 2 ** 30;
  const chunk = new Uint8Array(1 << 20);
  const endless = () =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        read += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel: () => cancelled(),
    });
  await withServer(async (server, session) => {
    server.trigger("huge", () => ({ size, stream: endless() }));
    const stream = await session.callStream(...trigger("huge"));
    assert.ok(!(await stream.getReader().read()).done);
    await session.close();
    await within(stopped, 10_000, "the source was cancelled");
    assert.ok(read < size / 4, `${read} bytes were read`);
  });
});
