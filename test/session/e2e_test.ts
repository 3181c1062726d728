// Round trips over a real WebSocket on 127.0.0.1, with the runtime's global WebSocket client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CLIENT_ERROR, METHOD_NOT_FOUND, WslinkError, WslinkSession } from "../../mod.ts";
import { startWslinkServer } from "./_real_server.ts";
import { serve } from "../../src/server/mod.ts";
import { longestSecretWithin } from "./_fixtures.ts";

test("e2e: hello, calls, multi-frame binaries both ways, publishes, errors, close", async () => {
  const server = await startWslinkServer(1000);
  try {
    const session = await WslinkSession.connect(server.url, { callTimeout: 10_000 });
    assert.equal(session.clientId, "c7");
    assert.equal(session.maxFrameSize, 1000);
    assert.equal(await session.call("add", [1, 2, 3.5]), 6.5);
    const blob = new Uint8Array(50_000).map((_, index) => index % 251);
    const progress: number[] = [];
    session.on("progress", ({ received }) => progress.push(received));
    assert.deepEqual(await session.call("echo", [blob, "x"]), [blob, "x"]);
    assert.ok(progress.length >= 50);
    const stream = session.subscribe("my.topic:with:colons");
    assert.equal(await session.call("publish", ["my.topic:with:colons", { n: 1 }]), true);
    assert.deepEqual((await stream.next()).value, { n: 1 });
    await assert.rejects(session.call("nope"), (error) => {
      assert.ok(error instanceof WslinkError);
      assert.deepEqual([error.code, error.data], [METHOD_NOT_FOUND, "nope"]);
      return true;
    });
    assert.ok(server.largestFrame <= 1000, `largest frame ${server.largestFrame}`);
    await session.close();
    assert.deepEqual(await stream.next(), { value: undefined, done: true });
  } finally {
    await server.close();
  }
});

test("e2e: the server hanging up rejects the pending call with its close code", async () => {
  const server = await startWslinkServer();
  try {
    const session = await WslinkSession.connect(server.url);
    const closed = new Promise((resolve) => session.on("close", resolve));
    await assert.rejects(session.call("hang-up", [], {}, { timeout: 10_000 }), (error) => {
      assert.ok(error instanceof WslinkError);
      assert.equal(error.code, CLIENT_ERROR);
      assert.deepEqual(error.data, { kind: "closed", code: 4001, reason: "asked to hang up" });
      return true;
    });
    assert.deepEqual(await closed, { code: 4001, reason: "asked to hang up", local: false });
    await session.close();
  } finally {
    await server.close();
  }
});

test("e2e: against the embedded trame server, with frames both ways cut at its maxMsgSize", async () => {
  const server = await serve({ maxMsgSize: 4096, log: () => {}, state: { counter: 3 } });
  server.register("my.echo", (args) => args);
  try {
    await using session = await WslinkSession.connect(server.url);
    assert.equal(session.maxMsgSize, 4096);
    const reply = await session.call<{ state: { counter: number } }>("trame.state.get");
    assert.equal(reply.state.counter, 3);
    // 100 kB each way: dozens of frames up and down, reassembled exactly.
    const upload = new Uint8Array(100_000).map((_, index) => (index * 7) % 256);
    const [echoed] = await session.call<[Uint8Array]>("my.echo", [upload.buffer]);
    assert.deepEqual(echoed, upload);
    const changes = session.subscribe("trame.state.topic");
    await session.call("trame.force.push", ["counter"]);
    assert.deepEqual((await changes.next()).value, { counter: 3 });
    await assert.rejects(session.call("no.such.method", [1]), (error: unknown) => {
      assert.ok(error instanceof WslinkError);
      assert.deepEqual([error.code, error.message, error.data], [
        METHOD_NOT_FOUND,
        "Unregistered method called",
        "no.such.method",
      ]);
      return true;
    });
  } finally {
    await server.close();
  }
});

test("e2e: the largest hello the session sends is one the embedded server accepts", async () => {
  const secret = longestSecretWithin(512);
  const server = await serve({ secret, log: () => {} });
  try {
    // 512 bytes exactly: within the server's pre-authentication limit, so it authenticates.
    await using session = await WslinkSession.connect(server.url, { secret });
    assert.match(session.clientId, /^c/);
    // One byte more is refused here, before anything is sent.
    await assert.rejects(
      WslinkSession.connect(server.url, { secret: secret + "s" }),
      (error: unknown) => error instanceof WslinkError && error.code === CLIENT_ERROR,
    );
  } finally {
    await server.close();
  }
});
