import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CLIENT_ERROR,
  EXCEPTION_RAISED,
  METHOD_NOT_FOUND,
  RESULT_NOT_SERIALIZABLE,
  type SessionCloseEvent,
  type SessionErrorEvent,
  UNAUTHORIZED,
  WslinkError,
  WslinkSession,
} from "../../mod.ts";
import { fakeServer, type Message, type Peer, settle } from "./_fake_socket.ts";

function connect(onMessage: (message: Message, peer: Peer) => void, useBigInt64 = false) {
  const server = fakeServer({ onMessage, useBigInt64 });
  return WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket, useBigInt64 })
    .then((session) => ({ session, server, peer: server.peers[0] }));
}

function failsWith(code: number, message: string | RegExp, data?: unknown) {
  return (error: unknown) => {
    assert.ok(error instanceof WslinkError, String(error));
    assert.equal(error.code, code);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    if (data !== undefined) assert.deepEqual(error.data, data);
    return true;
  };
}

test("call() numbers its ids rpc:{clientId}:{n} and resolves with the result", async () => {
  const { session, server } = await connect((message, peer) =>
    peer.reply(message.id, { method: message.method, args: message.args, kwargs: message.kwargs })
  );
  assert.deepEqual(await session.call("a.b"), { method: "a.b", args: [], kwargs: {} });
  assert.deepEqual(await session.call("c", [1, "x"], { k: null }), {
    method: "c",
    args: [1, "x"],
    kwargs: { k: null },
  });
  assert.deepEqual(server.received.slice(1).map((message) => message.id), ["rpc:c1:1", "rpc:c1:2"]);
  await session.close();
});

test("call() rejects with every server error code exactly as sent", async () => {
  const trace = { method: "m", exception: "RuntimeError('x')", trace: "Traceback ..." };
  const { session } = await connect((message, peer) => {
    const [code, text, data] = message.args as [number, string, unknown];
    peer.fail(message.id, code, text, data ?? undefined);
  });
  const cases: [number, string, unknown][] = [
    [UNAUTHORIZED, "Unauthorized: Skip message processing", undefined],
    [METHOD_NOT_FOUND, "Unregistered method called", "no.such.method"],
    [METHOD_NOT_FOUND, "Unknown system method called", undefined],
    [EXCEPTION_RAISED, "Exception raised", trace],
    [RESULT_NOT_SERIALIZABLE, "Method result cannot be serialized", "m"],
  ];
  for (const [code, text, data] of cases) {
    await assert.rejects(session.call("fail", [code, text, data ?? null]), (error) => {
      assert.ok(error instanceof WslinkError);
      assert.deepEqual([error.code, error.message, error.data], [code, text, data]);
      return true;
    });
  }
  await session.close();
});

test("call() times out with -32099; the late reply is dropped quietly", async () => {
  const held: Message[] = [];
  const { session, peer } = await connect((message, peer) => {
    if (message.method === "slow") held.push(message);
    else peer.reply(message.id, "fast");
  });
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  await assert.rejects(
    session.call("slow", [], {}, { timeout: 20 }),
    failsWith(CLIENT_ERROR, /no reply within 20 ms/, { kind: "timeout", timeout: 20 }),
  );
  peer.reply(held[0].id, "too late");
  await settle();
  assert.equal(await session.call("other"), "fast");
  assert.deepEqual(errors, []);
  // The session-wide default applies too.
  const strict = fakeServer();
  const second = await WslinkSession.connect("ws://x.invalid/", {
    WebSocket: strict.WebSocket,
    callTimeout: 10,
  });
  await assert.rejects(second.call("never"), failsWith(CLIENT_ERROR, /within 10 ms/));
  await second.close();
  await session.close();
});

test("call() rejects with -32099 when its signal aborts, before or during the call", async () => {
  const { session, peer } = await connect(() => {});
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  const reason = new Error("changed my mind");
  await assert.rejects(
    session.call("x", [], {}, { signal: AbortSignal.abort(reason) }),
    failsWith(CLIENT_ERROR, /aborted/, { kind: "aborted", reason }),
  );
  const controller = new AbortController();
  const pending = session.call("y", [], {}, { signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(pending, failsWith(CLIENT_ERROR, /aborted/, { kind: "aborted", reason }));
  peer.reply("rpc:c1:1", "late"); // the pre-aborted call took no id
  await settle();
  assert.deepEqual(errors, []);
  await session.close();
});

test("close() rejects pending calls at once, is idempotent, and emits close once", async () => {
  const { session, peer } = await connect(() => {});
  const closes: SessionCloseEvent[] = [];
  session.on("close", (event) => closes.push(event));
  const pending = [session.call("a"), session.call("b", [], {}, { timeout: 60_000 })];
  const closing = session.close(4000, "bye");
  for (const call of pending) {
    await assert.rejects(
      call,
      failsWith(CLIENT_ERROR, "the connection is closed (4000: bye)", {
        kind: "closed",
        code: 4000,
        reason: "bye",
      }),
    );
  }
  await closing;
  await session.close();
  assert.equal(session.closed, true);
  assert.deepEqual(closes, [{ code: 4000, reason: "bye", local: true }]);
  assert.deepEqual(peer.socket.closeCalls, [{ code: 4000, reason: "bye" }]);
  await assert.rejects(session.call("after"), failsWith(CLIENT_ERROR, /closed/));
  await session.close(1001); // already closed: a no-op, even with another code
});

test("a close from the server rejects pending calls with its code and reason", async () => {
  const { session, peer } = await connect(() => {});
  const closes: SessionCloseEvent[] = [];
  session.on("close", (event) => closes.push(event));
  const pending = session.call("a", [], {}, { timeout: 60_000 });
  peer.socket.drop(1001, "server shutting down");
  await assert.rejects(
    pending,
    failsWith(CLIENT_ERROR, /1001: server shutting down/, {
      kind: "closed",
      code: 1001,
      reason: "server shutting down",
    }),
  );
  assert.deepEqual(closes, [{ code: 1001, reason: "server shutting down", local: false }]);
  await session.close(); // nothing left to do, resolves at once
});

test("await using closes the session", async () => {
  const server = fakeServer();
  let pending: Promise<unknown>;
  {
    await using session = await WslinkSession.connect("ws://x.invalid/", {
      WebSocket: server.WebSocket,
    });
    pending = session.call("never");
    pending.catch(() => {});
  }
  await assert.rejects(pending, failsWith(CLIENT_ERROR, /closed \(1000\)/));
  assert.equal(server.peers[0].socket.readyState, 3);
});

test("typed arrays, DataView and ArrayBuffer travel as bin; bin arrives as Uint8Array", async () => {
  const { session, server } = await connect((message, peer) =>
    peer.reply(message.id, message.args)
  );
  const bytes = Uint8Array.of(1, 2, 3);
  const floats = Float32Array.of(1.5);
  const args = [
    bytes,
    new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4),
    floats,
    new DataView(bytes.slice().buffer),
    bytes.slice().buffer,
    { nested: [bytes.slice().buffer] },
  ];
  const result = await session.call("echo", args) as unknown[];
  const floatBytes = new Uint8Array(floats.buffer);
  assert.deepEqual(result, [bytes, bytes, floatBytes, bytes, bytes, { nested: [bytes] }]);
  for (const value of result.slice(0, 5)) assert.ok(value instanceof Uint8Array);
  assert.deepEqual(server.received[1].args, result);
  await session.close();
});

test("useBigInt64 keeps integers above 2^53 exact, both ways", async () => {
  const big = 2n ** 64n - 1n;
  const { session } = await connect((message, peer) => peer.reply(message.id, message.args), true);
  assert.deepEqual(await session.call("echo", [big, -(2n ** 63n), 7]), [big, -(2n ** 63n), 7]);
  await session.close();
  const plain = await connect((message, peer) =>
    peer.reply(message.id, message.method === "n" ? 2 ** 53 + 2 : message.args)
  );
  assert.equal(await plain.session.call("n"), 2 ** 53 + 2);
  // useBigInt64 is about decoding: a bigint is sent as a 64-bit integer either way (and comes
  // back a number here), but one wider than 64 bits cannot be: the call rejects, nothing is sent.
  assert.deepEqual(await plain.session.call("echo", [2n ** 40n]), [2 ** 40]);
  const sent = plain.server.received.length;
  await assert.rejects(plain.session.call("echo", [2n ** 64n]), (error) => {
    assert.ok(error instanceof WslinkError);
    assert.equal(error.code, CLIENT_ERROR);
    assert.equal((error.data as { kind: string }).kind, "encode");
    return true;
  });
  assert.equal(plain.server.received.length, sent);
  await plain.session.close();
});

test("no failure path leaves an unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  const runtime = globalThis as {
    process?: { on?(...a: unknown[]): void; off?(...a: unknown[]): void };
  };
  runtime.process?.on?.("unhandledRejection", record);
  try {
    const { session, peer } = await connect((message, peer) => {
      if (message.method === "fail") peer.fail(message.id, EXCEPTION_RAISED, "Exception raised");
    });
    session.on("error", () => {
      throw new Error("a throwing error listener");
    });
    session.on("close", () => {
      throw new Error("a throwing close listener");
    });
    session.subscribe("t", () => {
      throw new Error("a throwing subscriber");
    });
    const stream = session.subscribe("t");
    peer.publish("t", 1);
    peer.socket.deliver("text");
    peer.socket.deliver(new Uint8Array(3));
    const calls = [
      session.call("fail").catch((error) => error),
      session.call("slow", [], {}, { timeout: 5 }).catch((error) => error),
      session.call("hang").catch((error) => error),
    ];
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    peer.socket.drop(1006, "");
    for (const error of await Promise.all(calls)) assert.ok(error instanceof WslinkError);
    const consumed: unknown[] = [];
    for await (const value of stream) consumed.push(value);
    assert.deepEqual(consumed, [1]);
    await session.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    (runtime.process?.off)?.("unhandledRejection", record);
  }
  assert.deepEqual(unhandled, []);
});
