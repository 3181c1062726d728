import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHeader } from "../../src/codec/header.ts";
import { serve } from "../../src/server/mod.ts";
import { collectingLogger, RawClient } from "./_client.ts";

// Close codes a client may see when the server drops it for a protocol violation: the code the
// server chose, or 1000 where the runtime lets a server send only 1000 and 3000-4999 (Deno).
function assertDropped(code: number, expected: number): void {
  assert.ok(code === expected || code === 1000, `close code ${code}, expected ${expected}`);
}

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
    for (const secret of ["wslink-secret", ""]) {
      assert.deepStrictEqual(await client.hello(secret), {
        wslink: "1.0",
        id: "system:c0:0",
        error: { code: -32000, message: "Authentication failed" },
      });
    }
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
    assertDropped((await big.closed).code, 1009);

    // A frame over maxMsgSize + 4096, after authentication.
    const huge = await RawClient.authenticated(server.url);
    bad.push(huge);
    const frame = new Uint8Array(1024 + 4096 + 1);
    encodeHeader(7, 0, frame.byteLength - 12, frame);
    huge.sendFrame(frame);
    const hugeClosed = (await huge.closed).code;
    assert.ok([1009, 1000, 1006].includes(hugeClosed), `close code ${hugeClosed}`);

    // Garbage: a frame shorter than a header, and a message that is not msgpack.
    const short = await RawClient.authenticated(server.url);
    bad.push(short);
    short.sendFrame(new Uint8Array([1, 2, 3]));
    assertDropped((await short.closed).code, 1002);
    const junk = await RawClient.authenticated(server.url);
    bad.push(junk);
    const content = new Uint8Array([0xc1, 0xc1, 0xc1]); // 0xc1 is never used in msgpack.
    const junkFrame = new Uint8Array(12 + content.length);
    encodeHeader(9, 0, content.length, junkFrame);
    junkFrame.set(content, 12);
    junk.sendFrame(junkFrame);
    assertDropped((await junk.closed).code, 1007);
    const notMap = await RawClient.authenticated(server.url);
    bad.push(notMap);
    notMap.send([1, 2, 3] as unknown as Record<string, unknown>);
    assertDropped((await notMap.closed).code, 1007);

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
