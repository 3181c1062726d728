import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { CLIENT_ERROR, UNAUTHORIZED, WslinkError, WslinkSession } from "../../mod.ts";
import { fakeServer, type FakeSocket, fakeWebSocket } from "./_fake_socket.ts";
import { helloMessageSize, longestSecretWithin } from "./_fixtures.ts";
import { within } from "../_support.ts";

function isClientError(kind: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof WslinkError, String(error));
    assert.equal(error.code, CLIENT_ERROR);
    assert.equal((error.data as { kind: string }).kind, kind);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

test("connect() accepts only ws: and wss: URLs", async () => {
  let sockets = 0;
  const WebSocket = fakeWebSocket(() => sockets++);
  for (const url of ["http://127.0.0.1/ws", "file:///tmp/x", "not a url"]) {
    await assert.rejects(WslinkSession.connect(url, { WebSocket }), TypeError);
  }
  assert.equal(sockets, 0);
  const server = fakeServer();
  const session = await WslinkSession.connect(new URL("wss://example.invalid/ws"), {
    WebSocket: server.WebSocket,
  });
  assert.equal(session.url, "wss://example.invalid/ws");
  assert.equal(session.clientId, "c1");
  assert.equal(session.maxMsgSize, 65536);
  await session.close();
});

test("connect() sends the hello with the default secret and waits for the reply", async () => {
  const server = fakeServer({ clientId: "c42", maxMsgSize: 2048 });
  const session = await WslinkSession.connect("ws://x.invalid/ws", { WebSocket: server.WebSocket });
  assert.deepEqual(server.received, [{
    wslink: "1.0",
    id: "system:c0:0",
    method: "wslink.hello",
    args: [{ secret: "wslink-secret" }],
    kwargs: {},
  }]);
  assert.equal(server.peers[0].socket.binaryType, "arraybuffer");
  assert.equal(session.clientId, "c42");
  assert.equal(session.maxFrameSize, 2048);
  await session.close();
});

test("connect() refuses locally a hello over the server's 512-byte pre-auth limit", async () => {
  const secret = longestSecretWithin(512);
  assert.equal(helloMessageSize(secret), 512);
  const server = fakeServer();
  const fits = await WslinkSession.connect("ws://x.invalid/", {
    WebSocket: server.WebSocket,
    secret,
  });
  await fits.close();
  let sockets = 0;
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", {
      WebSocket: fakeWebSocket(() => sockets++),
      secret: secret + "s",
    }),
    isClientError("hello-too-large", /512 bytes.*before authentication/),
  );
  assert.equal(sockets, 0);
});

test("connect() rejects with the server's -32000 and closes the socket", async () => {
  const server = fakeServer({
    onHello: (message, peer) => peer.fail(message.id, UNAUTHORIZED, "Authentication failed"),
  });
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket, secret: "wrong" }),
    (error) => {
      assert.ok(error instanceof WslinkError);
      assert.deepEqual([error.code, error.message, error.data], [
        -32000,
        "Authentication failed",
        undefined,
      ]);
      return true;
    },
  );
  assert.equal(server.peers[0].socket.readyState, 3);
});

test("connect() rejects after helloTimeout when no reply comes, and closes", async () => {
  let socket: FakeSocket | undefined;
  const started = Date.now();
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", {
      WebSocket: fakeWebSocket((created) => socket = created),
      helloTimeout: 50,
    }),
    isClientError("timeout", /^the hello to ws:\/\/x\.invalid\/ got no reply within 50 ms$/),
  );
  assert.ok(Date.now() - started >= 45);
  assert.equal(socket!.readyState, 3);
  assert.equal(socket!.sent.length, 1); // the hello went out; no reply came
});

test("connect() rejects with -32099 when the socket closes before the hello reply", async () => {
  const WebSocket = fakeWebSocket((socket) => {
    socket.onSend = () => queueMicrotask(() => socket.drop(1011, "going away"));
  });
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { WebSocket }),
    (error) => {
      isClientError("closed", /1011: going away/)(error);
      assert.deepEqual((error as WslinkError).data, {
        kind: "closed",
        code: 1011,
        reason: "going away",
      });
      return true;
    },
  );
  // A connection refused: no open, then close 1006.
  const refused = fakeWebSocket((socket) => queueMicrotask(() => socket.drop(1006)), {
    autoOpen: false,
  });
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { WebSocket: refused }),
    isClientError("closed", /1006/),
  );
});

test("connect() rejects on its signal, and on a hello reply without clientID", async () => {
  const controller = new AbortController();
  const pending = WslinkSession.connect("ws://x.invalid/", {
    WebSocket: fakeWebSocket(() => {}, { autoOpen: false }),
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error("user left")), 5);
  await assert.rejects(pending, isClientError("aborted"));
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { signal: AbortSignal.abort() }),
    isClientError("aborted"),
  );
  const server = fakeServer({ onHello: (message, peer) => peer.reply(message.id, { nope: 1 }) });
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket }),
    isClientError("protocol", /clientID/),
  );
});

test("WSLINK_MAX_MSG_SIZE from the environment caps the frames; invalid values are refused", async () => {
  const previous = process.env.WSLINK_MAX_MSG_SIZE;
  try {
    process.env.WSLINK_MAX_MSG_SIZE = "1000";
    const server = fakeServer({
      maxMsgSize: 4000,
      onMessage: (message, peer) => peer.reply(message.id, null),
    });
    const session = await WslinkSession.connect("ws://x.invalid/", {
      WebSocket: server.WebSocket,
      maxFrameSize: 3000,
    });
    assert.equal(session.maxFrameSize, 1000);
    assert.equal(await session.call("echo", [new Uint8Array(5000)]), null);
    const frames = server.peers[0].socket.sent;
    assert.ok(frames.length > 5 && frames.every((frame) => frame.byteLength <= 1000));
    await session.close();
    process.env.WSLINK_MAX_MSG_SIZE = "lots";
    await assert.rejects(
      WslinkSession.connect("ws://x.invalid/", { WebSocket: server.WebSocket }),
      RangeError,
    );
  } finally {
    if (previous === undefined) delete process.env.WSLINK_MAX_MSG_SIZE;
    else process.env.WSLINK_MAX_MSG_SIZE = previous;
  }
});

/** The `Sec-WebSocket-Extensions` the session's upgrade request carries ("" when none). */
async function offeredExtensions(options: { compression?: boolean } = {}): Promise<string> {
  // A TCP server that reads the upgrade request and hangs up: the session then fails to connect.
  let request = "";
  const listener = createServer((socket) => {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      request += chunk;
      if (request.includes("\r\n\r\n")) socket.destroy();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as AddressInfo;
  try {
    await assert.rejects(
      within(
        WslinkSession.connect(`ws://127.0.0.1:${port}/ws`, { ...options, helloTimeout: 5_000 }),
        10_000,
        "a refused connection",
      ),
      WslinkError,
    );
  } finally {
    await new Promise((resolve) => listener.close(resolve));
  }
  assert.match(request, /^GET \/ws HTTP\/1\.1\r\n/);
  return /^sec-websocket-extensions:\s*(.*)$/im.exec(request)?.[1].trim() ?? "";
}

test("permessage-deflate is offered only with `compression`, where a client can choose", async () => {
  const runtime = globalThis as { Bun?: unknown; Deno?: unknown };
  const offered = [await offeredExtensions(), await offeredExtensions({ compression: true })];
  if (runtime.Bun !== undefined) {
    // Bun's WebSocket lets the client choose: off by default, on when asked.
    assert.equal(offered[0], "");
    assert.match(offered[1], /^permessage-deflate\b/);
  } else if (runtime.Deno !== undefined) {
    assert.deepEqual(offered, ["", ""]); // Deno's WebSocket never offers it
  } else {
    // Node's global WebSocket always offers it, whatever the option says (as documented).
    for (const extensions of offered) assert.match(extensions, /^permessage-deflate\b/);
  }
  await assert.rejects(
    WslinkSession.connect("ws://x.invalid/", { compression: "yes" as unknown as boolean }),
    TypeError,
  );
});

test("a WebSocket class given in the options is constructed with the URL alone", async () => {
  const constructed: unknown[][] = [];
  const server = fakeServer();
  class Recording extends (server.WebSocket as unknown as new (url: string) => WebSocket) {
    constructor(...args: [string]) {
      super(...args);
      constructed.push(args);
    }
  }
  const session = await WslinkSession.connect("ws://x.invalid/ws", {
    WebSocket: Recording,
    compression: true,
  });
  assert.deepEqual(constructed, [["ws://x.invalid/ws"]]);
  await session.close();
});
