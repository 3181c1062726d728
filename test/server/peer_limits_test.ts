// What a client may cost the server before and after its hello (issue 13, items 1, 9 and 11),
// on the embedded server in this process: each limit, and what a client over it gets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHeader, HEADER_LENGTH } from "../../src/codec/header.ts";
import { PARSE_ERROR } from "../../src/protocol/error_codes.ts";
import { PEER_LOG_LINES, PEER_LOG_WINDOW_MS, PeerLog } from "../../src/server/_budgets.ts";
import { MAX_FAILED_HELLOS } from "../../src/server/core.ts";
import { serve, type TrameServer } from "../../src/server/mod.ts";
import {
  envelopeEndingWith,
  FOUR_HUGE_ARRAYS,
  helloBomb,
  nestedArray32,
} from "../reliability/_bombs.ts";
import { collectingLogger, disconnects, within } from "./_client.ts";
import {
  callOver,
  envelopeOf,
  framed,
  helloEnvelope,
  helloOver,
  OPCODES,
  RawSocket,
  wslinkFrames,
} from "./_raw_socket.ts";

// A chunk of `content` bytes at `offset` of message `id`, which declares `total` bytes.
function chunk(id: number, offset: number, total: number, content = 1): Uint8Array {
  const frame = new Uint8Array(HEADER_LENGTH + content);
  encodeHeader(id, offset, total, frame);
  return frame;
}

// The message `bytes` in one frame.
const oneFrame = (bytes: Uint8Array, id = 1) => {
  const frame = chunk(id, 0, bytes.byteLength, bytes.byteLength);
  frame.set(bytes, HEADER_LENGTH);
  return frame;
};

async function assertEnded(peer: RawSocket, code: number, reason: string): Promise<void> {
  const ended = await within(peer.ended, 10_000, `the server closes the socket (${code})`);
  assert.deepEqual(ended, { closeCode: code, closeReason: reason });
}

// The server keeps serving others: a fresh client authenticates and gets the state.
async function assertServes(server: TrameServer): Promise<void> {
  const peer = await RawSocket.open(server.url);
  try {
    assert.equal((await helloOver(peer)).error, undefined);
    callOver(peer, "trame.state.get", [], 1);
    await peer.received(2);
    assert.ok(envelopeOf(peer.messages[1]).result, "trame.state.get answered");
  } finally {
    await peer.close();
  }
}

test("the issue's msgpack bombs before the hello: closed (1007), nothing allocated, others served", async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, heartbeat: 0 });
  try {
    const bombs = [helloBomb(), FOUR_HUGE_ARRAYS];
    assert.ok(oneFrame(bombs[0]).byteLength >= 150 && oneFrame(bombs[0]).byteLength <= 170);
    for (const bytes of bombs) {
      const peer = await RawSocket.open(server.url);
      peer.send(oneFrame(bytes));
      await assertEnded(peer, 1007, "Invalid msgpack");
      // The hello bomb's id can be read: it got a parse error first, as the call it is.
      if (bytes !== FOUR_HUGE_ARRAYS) {
        assert.deepEqual(envelopeOf(peer.messages[0]).error, {
          code: PARSE_ERROR,
          message: "Parse error",
          data: (envelopeOf(peer.messages[0]).error as { data: string }).data,
        });
        assert.match(
          (envelopeOf(peer.messages[0]).error as { data: string }).data,
          /declared-length/,
        );
        assert.equal(envelopeOf(peer.messages[0]).id, "system:c0:0");
      } else assert.equal(peer.messageCount, 0);
    }
    await assertServes(server);
  } finally {
    await server.close();
  }
});

test("a call that does not decode, after the hello: -32700 to its id, then closed (1007)", async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, heartbeat: 0 });
  const peer = await RawSocket.open(server.url);
  try {
    assert.equal((await helloOver(peer)).error, undefined);
    const call = envelopeEndingWith(
      { wslink: "1.0", id: "rpc:c:7", method: "trame.state.get" },
      "args",
      nestedArray32(20),
    );
    peer.send(oneFrame(call));
    await assertEnded(peer, 1007, "Invalid msgpack");
    const reply = envelopeOf(peer.messages[1]);
    assert.equal(reply.id, "rpc:c:7");
    assert.equal((reply.error as { code: number }).code, PARSE_ERROR);
    // Too deep for the server's limit.
    const deep = await serve({ log, heartbeat: 0, maxMessageDepth: 10, port: 0 });
    try {
      const other = await RawSocket.open(deep.url);
      assert.equal((await helloOver(other)).error, undefined);
      callOver(other, "trame.trigger", ["x", [[[[[[[[[[1]]]]]]]]]]], 3);
      await assertEnded(other, 1007, "Invalid msgpack");
      assert.match((envelopeOf(other.messages[1]).error as { data: string }).data, /too-deep/);
    } finally {
      await deep.close();
    }
    await assertServes(server);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test("before the hello a client holds one message of the pre-auth size and nothing else", async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, heartbeat: 0 });
  try {
    // The attack: partial 512-byte messages, one after the other. The second is refused.
    // (The client sees the close frame only if the connection is not reset first, since it goes
    // on sending: the server's view is the one to check.)
    const dropped = disconnects(server);
    const partial = await RawSocket.open(server.url);
    partial.sendRaw(framed(Array.from({ length: 1_024 }, (_, id) => chunk(id, 0, 512))));
    assert.deepEqual(await within(dropped, 10_000, "the client dropped"), [[
      1008,
      "Too many incomplete messages",
    ]]);
    partial.destroy();
    // A frame larger than a header and the pre-auth size.
    const big = await RawSocket.open(server.url);
    big.send(chunk(1, 0, 600, 600));
    await assertEnded(big, 1009, "Message too big");
    // A message declaring more than the pre-auth size.
    const declared = await RawSocket.open(server.url);
    declared.send(chunk(1, 0, 513));
    await assertEnded(declared, 1009, "Message too big");
    // One partial message of the pre-auth size is fine, and so is a hello in 1-byte chunks.
    const slow = await RawSocket.open(server.url);
    slow.send(chunk(1, 0, 512));
    assert.equal(slow.isEnded, false);
    await slow.close();
    const byteByByte = await RawSocket.open(server.url);
    await byteByByte.write(framed(wslinkFrames(helloEnvelope("wslink-secret"), HEADER_LENGTH + 1)));
    await byteByByte.received(1);
    assert.equal(envelopeOf(byteByByte.messages[0]).error, undefined);
    await byteByByte.close();
    await assertServes(server);
  } finally {
    await server.close();
  }
});

test("a text frame before the hello closes the socket (1003); after it, it is logged", async () => {
  const { log, lines } = collectingLogger();
  const server = await serve({ log, heartbeat: 0 });
  try {
    const early = await RawSocket.open(server.url);
    early.sendFrame(OPCODES.text, new TextEncoder().encode("hello?"));
    await assertEnded(early, 1003, "Text frames are not wslink");
    const late = await RawSocket.open(server.url);
    assert.equal((await helloOver(late)).error, undefined);
    late.sendFrame(OPCODES.text, new TextEncoder().encode("hello?"));
    callOver(late, "trame.state.get", [], 1);
    await late.received(2);
    assert.equal(late.isEnded, false);
    assert.ok(
      lines.some((line) => /^error: text frame from client c[0-9a-f]+ ignored$/.test(line)),
    );
    await late.close();
  } finally {
    await server.close();
  }
});

test(`the ${MAX_FAILED_HELLOS}rd failed hello is answered, then the socket is closed (1008)`, async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, heartbeat: 0, secret: "s3cret" });
  try {
    const peer = await RawSocket.open(server.url);
    for (let attempt = 1; attempt <= MAX_FAILED_HELLOS; attempt++) {
      const reply = await helloOver(peer, "wrong");
      assert.deepEqual(reply.error, { code: -32000, message: "Authentication failed" });
    }
    await assertEnded(peer, 1008, "Too many failed hellos");
    // Fewer failures, then the right secret: authenticated.
    const second = await RawSocket.open(server.url);
    for (let attempt = 1; attempt < MAX_FAILED_HELLOS; attempt++) {
      assert.notEqual((await helloOver(second, "wrong")).error, undefined);
    }
    assert.equal((await helloOver(second, "s3cret")).error, undefined);
    assert.equal(second.isEnded, false);
    await second.close();
  } finally {
    await server.close();
  }
});

test("a socket without a successful hello within helloTimeout is closed (1008)", async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, heartbeat: 0, helloTimeout: 300 });
  try {
    const silent = await RawSocket.open(server.url);
    const started = performance.now();
    const authenticated = await RawSocket.open(server.url);
    assert.equal((await helloOver(authenticated)).error, undefined);
    await assertEnded(silent, 1008, "No hello in time");
    assert.ok(performance.now() - started >= 250, "not before the timeout");
    // The authenticated socket outlives the timeout.
    await new Promise((resolve) => setTimeout(resolve, 400));
    callOver(authenticated, "trame.state.get", [], 1);
    await authenticated.received(2);
    assert.equal(authenticated.isEnded, false);
    await authenticated.close();
  } finally {
    await server.close();
  }
  await assert.rejects(serve({ helloTimeout: -1 }), { code: "invalid-option" });
});

test("one client's log lines are rate-limited; what was held back is counted", async () => {
  const { log, lines } = collectingLogger();
  const server = await serve({ log, heartbeat: 0 });
  server.trigger("fail", () => {
    throw new Error("always");
  });
  try {
    const peer = await RawSocket.open(server.url);
    assert.equal((await helloOver(peer)).error, undefined);
    const calls = 200;
    const frames = Array.from({ length: calls }, (_, index) =>
      wslinkFrames({
        wslink: "1.0",
        id: `rpc:c:${index}`,
        method: "trame.trigger",
        args: ["fail", [], {}],
        kwargs: {},
      })).flat();
    await peer.write(framed(frames));
    await peer.received(1 + calls);
    const about = lines.filter((line) => line.includes("Exception raised"));
    assert.equal(about.length, PEER_LOG_LINES);
    assert.equal(lines.filter((line) => line.includes("the next ones are counted")).length, 1);
    await peer.close();
    await within(
      new Promise<void>((resolve) => {
        const check = () =>
          lines.some((line) =>
              line.endsWith(`${calls - PEER_LOG_LINES} log lines were not written`)
            )
            ? resolve()
            : setTimeout(check, 10);
        check();
      }),
      5_000,
      "the count of lines held back, at close",
    );
  } finally {
    await server.close();
  }
});

test("PeerLog: a window's lines, then one notice, then the count when the next window opens", () => {
  const written: string[] = [];
  let now = 0;
  const peerLog = new PeerLog(
    (level, message) => written.push(`${level}: ${message}`),
    "client x",
    () => now,
  );
  for (let line = 0; line < PEER_LOG_LINES + 5; line++) peerLog.write("error", `line ${line}`);
  assert.equal(written.length, PEER_LOG_LINES + 1);
  now += PEER_LOG_WINDOW_MS;
  peerLog.write("error", "next window");
  assert.deepEqual(written.slice(-2), [
    "warn: client x: 5 log lines were not written",
    "error: next window",
  ]);
  peerLog.close();
  assert.equal(written.length, PEER_LOG_LINES + 3, "nothing held back: nothing more at close");
});

test("the incomplete messages of all clients share a budget; over it, 1013, and it is freed", async () => {
  const { log } = collectingLogger();
  const MiB = 1024 * 1024;
  const share = 1_258_291; // 1.2 MiB
  const server = await serve({ log, heartbeat: 0, maxIncompleteBytes: 3 * MiB });
  const peers: RawSocket[] = [];
  try {
    const good = await RawSocket.open(server.url);
    assert.equal((await helloOver(good)).error, undefined);
    // Each of three clients starts a message of 1.2 MiB: the third does not fit.
    for (let index = 0; index < 3; index++) {
      const peer = await RawSocket.open(server.url);
      peers.push(peer);
      assert.equal((await helloOver(peer)).error, undefined);
      peer.send(chunk(9, 0, share, 64 * 1024));
    }
    await assertEnded(peers[2], 1013, "Server busy: incomplete messages over budget");
    assert.equal(peers[0].isEnded || peers[1].isEnded, false);
    // A message larger than the whole budget is too big, whoever else holds what.
    const huge = await RawSocket.open(server.url);
    assert.equal((await helloOver(huge)).error, undefined);
    huge.send(chunk(1, 0, 4 * MiB));
    await assertEnded(huge, 1009, "Message too big");
    // The well-behaved client is served meanwhile, and small complete messages need no budget.
    callOver(good, "trame.state.get", [], 1);
    await good.received(2);
    // Once the two holders close, their share is free again: another 1.2 MiB message fits.
    await Promise.all(peers.slice(0, 2).map((peer) => peer.close()));
    const later = await RawSocket.open(server.url);
    assert.equal((await helloOver(later)).error, undefined);
    for (let id = 1; id <= 2; id++) later.send(chunk(id, 0, share, 64 * 1024));
    callOver(later, "trame.state.get", [], 1);
    await later.received(2);
    assert.equal(later.isEnded, false);
    await later.close();
    await good.close();
  } finally {
    for (const peer of peers) peer.destroy();
    await server.close();
  }
  await assert.rejects(serve({ maxIncompleteBytes: 0 }), { code: "invalid-option" });
});
