import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHeader } from "../../src/codec/header.ts";
import { detectRuntime, serve } from "../../src/server/mod.ts";
import { collectingLogger, RawClient, within } from "./_client.ts";

// The code and reason a client sees when the server drops it. Every runtime's adapter sends the
// code the core chose (Deno's server socket accepts 1001-1011 too, so its fallback to 1000 is
// never needed); the one difference is who enforces the frame size limit: see below.
async function assertClosed(client: RawClient, code: number, reason: string): Promise<void> {
  assert.deepStrictEqual(await within(client.closed, 5_000, `close ${code}`), { code, reason });
}

// A frame over maxMsgSize + 4096 is refused by the runtime's own WebSocket layer where it has a
// limit (Bun's maxPayloadLength, with its own reason; Node's `ws` maxPayload, with none), and by
// the core on Deno, which has no limit of its own. The code is 1009 on all three.
const FRAME_TOO_BIG_REASON = {
  deno: "Message too big",
  bun: "Received too big message",
  node: "",
}[detectRuntime()];

test("calls before hello and wrong secrets get the reference's errors; the socket stays usable", async () => {
  const { log } = collectingLogger();
  const server = await serve({ secret: "s3cret", log });
  const client = await RawClient.connect(server.url);
  try {
    assert.deepStrictEqual(await client.call("trame.state.get"), {
      wslink: "1.0",
      id: "rpc:none:0",
      error: { code: -32000, message: "Unauthorized: Skip message processing" },
    });
    // Two failed hellos (a third would close the socket: see pre_auth_test.ts).
    assert.deepStrictEqual(await client.hello("wslink-secret"), {
      wslink: "1.0",
      id: "system:c0:0",
      error: { code: -32000, message: "Authentication failed" },
    });
    client.send({ wslink: "1.0", id: "system:c0:0", method: "wslink.hello", args: [], kwargs: {} });
    assert.equal(((await client.next()).message.error as { code: number }).code, -32000);
    client.send({ wslink: "1.0", id: "system:c0:1", method: "wslink.nope", args: [], kwargs: {} });
    assert.deepStrictEqual((await client.next()).message.error, {
      code: -32601,
      message: "Unknown system method called",
    });
    assert.equal((await client.hello("s3cret")).error, undefined);
    // A notification (no id) is ignored; an unknown method names itself.
    client.send({ wslink: "1.0", method: "trame.state.get", args: [], kwargs: {} });
    assert.deepStrictEqual((await client.call("no.such.method", [1])).error, {
      code: -32601,
      message: "Unregistered method called",
      data: "no.such.method",
    });
    assert.equal(client.isClosed, false);
  } finally {
    await client.close();
    await server.close();
  }
});

test("validateToken(token, clientId) decides authentication instead of the secret", async () => {
  const { log } = collectingLogger();
  const asked: string[] = [];
  const server = await serve({
    log,
    validateToken: async (token, clientId) => {
      asked.push(clientId);
      await Promise.resolve();
      return token === `token-for-${clientId}`;
    },
  });
  const client = await RawClient.connect(server.url);
  try {
    assert.equal(((await client.hello("wslink-secret")).error as { code: number }).code, -32000);
    const id = asked[0];
    assert.match(id, /^c[0-9a-f]{32}$/);
    const reply = await client.hello(`token-for-${id}`);
    assert.equal((reply.result as { clientID: string }).clientID, id);
  } finally {
    await client.close();
    await server.close();
  }
});

test("misbehaving clients are closed one by one and the server stays up for the others", async () => {
  const { log, lines } = collectingLogger();
  const server = await serve({ log, maxMsgSize: 1024 });
  const good = await RawClient.authenticated(server.url);
  const bad: RawClient[] = [];
  try {
    // Before authentication a message may declare at most 512 bytes.
    const big = await RawClient.connect(server.url);
    bad.push(big);
    big.send({
      wslink: "1.0",
      id: "system:c0:0",
      method: "wslink.hello",
      args: [{
        secret: "wslink-secret",
        padding: "x".repeat(600),
      }],
      kwargs: {},
    }, 256);
    await assertClosed(big, 1009, "Message too big");

    // A frame over maxMsgSize + 4096, after authentication.
    const huge = await RawClient.authenticated(server.url);
    bad.push(huge);
    const frame = new Uint8Array(1024 + 4096 + 1);
    encodeHeader(7, 0, frame.byteLength - 12, frame);
    huge.sendFrame(frame);
    await assertClosed(huge, 1009, FRAME_TOO_BIG_REASON);

    // Garbage: a frame shorter than a header, and a message that is not msgpack.
    const short = await RawClient.authenticated(server.url);
    bad.push(short);
    short.sendFrame(new Uint8Array([1, 2, 3]));
    await assertClosed(short, 1002, "Invalid chunk");
    const outOfBounds = await RawClient.authenticated(server.url);
    bad.push(outOfBounds);
    const lyingFrame = new Uint8Array(12 + 28);
    encodeHeader(5, 100, 10, lyingFrame); // 28 bytes at offset 100 of a 10-byte message
    outOfBounds.sendFrame(lyingFrame);
    await assertClosed(outOfBounds, 1002, "Invalid chunk");
    const junk = await RawClient.authenticated(server.url);
    bad.push(junk);
    const content = new Uint8Array([0xc1, 0xc1, 0xc1]); // 0xc1 is never used in msgpack.
    const junkFrame = new Uint8Array(12 + content.length);
    encodeHeader(9, 0, content.length, junkFrame);
    junkFrame.set(content, 12);
    junk.sendFrame(junkFrame);
    await assertClosed(junk, 1007, "Invalid msgpack");
    const notMap = await RawClient.authenticated(server.url);
    bad.push(notMap);
    notMap.send([1, 2, 3] as unknown as Record<string, unknown>);
    await assertClosed(notMap, 1007, "a message must be a map");
    const noMethod = await RawClient.authenticated(server.url);
    bad.push(noMethod);
    noMethod.send({ wslink: "1.0", id: "rpc:x:1" });
    await assertClosed(noMethod, 1007, "an envelope needs a string id and a method");

    // Text frames are not wslink: logged and ignored, the connection goes on.
    good.sendFrame("hello?");
    assert.deepStrictEqual((await good.call("trame.trigger", ["none", [], {}])).result, null);
    assert.ok(lines.some((line) => line.startsWith("error: text frame from client")));
    assert.equal(good.isClosed, false);
    assert.deepEqual(server.clients.map((client) => client.id), [good.clientId]);

    // A large result still arrives, cut at maxMsgSize.
    server.trigger("blob", () => new Uint8Array(5000).fill(3));
    const id = good.request("trame.trigger", ["blob", [], {}]);
    const received = await good.next();
    assert.equal(received.message.id, id);
    assert.equal(received.frames, Math.ceil(received.bytes / (1024 - 12)));
    assert.deepStrictEqual(received.message.result, new Uint8Array(5000).fill(3));
  } finally {
    await Promise.all([good, ...bad].map((client) => client.close()));
    await server.close();
  }
});

test("a client message larger than one frame is reassembled after authentication", async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, maxMsgSize: 2048 });
  server.trigger("length", ([bytes]) => (bytes as Uint8Array).byteLength);
  const client = await RawClient.authenticated(server.url);
  try {
    const payload = new Uint8Array(100_000).map((_, index) => index % 251);
    const reply = await client.call("trame.trigger", ["length", [payload], {}]);
    assert.equal(reply.result, 100_000);
  } finally {
    await client.close();
    await server.close();
  }
});

test("serve() refuses invalid options", async () => {
  await assert.rejects(serve({ port: -1 }), { name: "TrameServerError", code: "invalid-option" });
  await assert.rejects(serve({ path: "ws" }), { code: "invalid-option" });
  await assert.rejects(serve({ preAuthMaxMessageSize: 0 }), { code: "invalid-option" });
});
