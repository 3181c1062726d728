import { test } from "node:test";
import assert from "node:assert/strict";
import { CLIENT_ERROR, decodeHeader, WslinkError, WslinkSession } from "../../mod.ts";
import { fakeServer, settle } from "./_fake_socket.ts";

test("every frame sent is at most the smallest of maxMsgSize and maxFrameSize", async () => {
  for (
    const [serverLimit, optionLimit, expected] of [[700, 0, 700], [700, 500, 500], [300, 900, 300]]
  ) {
    const server = fakeServer({
      maxMsgSize: serverLimit,
      onMessage: (message, peer) =>
        peer.reply(message.id, (message.args as Uint8Array[])[0].length),
    });
    const session = await WslinkSession.connect("ws://x.invalid/", {
      WebSocket: server.WebSocket,
      maxFrameSize: optionLimit,
    });
    assert.equal(session.maxFrameSize, expected);
    assert.equal(await session.call("size", [new Uint8Array(20_000)]), 20_000);
    const frames = server.peers[0].socket.sent.slice(1);
    assert.ok(frames.length >= Math.ceil(20_000 / (expected - 12)));
    for (const frame of frames) assert.ok(frame.byteLength <= expected);
    assert.ok(frames.slice(0, -1).every((frame) => frame.byteLength === expected));
    await session.close();
  }
  await assert.rejects(WslinkSession.connect("ws://x.invalid/", { maxFrameSize: 12 }), RangeError);
});

test("a large send waits on bufferedAmount instead of buffering everything", async () => {
  const highWaterMark = 4096;
  const server = fakeServer({
    maxMsgSize: 1024,
    onMessage: (message, peer) => peer.reply(message.id, "done"),
  });
  const session = await WslinkSession.connect("ws://x.invalid/", {
    WebSocket: server.WebSocket,
    sendHighWaterMark: highWaterMark,
  });
  const socket = server.peers[0].socket;
  let largest = 0;
  socket.onSend = ((forward) => (frame: Uint8Array) => {
    socket.bufferedAmount += frame.byteLength;
    largest = Math.max(largest, socket.bufferedAmount);
    forward?.(frame);
  })(socket.onSend);
  const upload = session.call("upload", [new Uint8Array(200_000)]);
  // The first frames fill the socket up to the high-water mark, then sending waits.
  const sentAtOnce = socket.sent.length - 1;
  assert.equal(sentAtOnce, highWaterMark / 1024);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(socket.sent.length - 1, sentAtOnce);
  // Let the "network" drain until the call completes.
  let drained = 0;
  let finished = false;
  upload.finally(() => finished = true).catch(() => {});
  while (!finished && drained++ < 1000) {
    socket.bufferedAmount = 0;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.equal(await upload, "done");
  assert.ok(largest <= highWaterMark, `largest buffered ${largest}`);
  const frames = socket.sent.slice(1);
  assert.equal(frames.length, Math.ceil(decodeHeader(frames[0]).totalSize / 1012));
  assert.ok(frames.every((frame) => decodeHeader(frame).id === decodeHeader(frames[0]).id));
  await session.close();
});

test("closing while a send waits on bufferedAmount stops it and clears its timer", async () => {
  const server = fakeServer({ maxMsgSize: 1024 });
  const session = await WslinkSession.connect("ws://x.invalid/", {
    WebSocket: server.WebSocket,
    sendHighWaterMark: 2048,
  });
  const socket = server.peers[0].socket;
  socket.bufferedAmount = 10_000; // a congested link
  const upload = session.call("upload", [new Uint8Array(100_000)]);
  const queued = session.call("small"); // waits behind the upload
  await settle();
  const sent = socket.sent.length;
  await session.close();
  for (const call of [upload, queued]) {
    await assert.rejects(call, (error) => {
      assert.ok(error instanceof WslinkError);
      assert.equal(error.code, CLIENT_ERROR);
      return true;
    });
  }
  await new Promise((resolve) => setTimeout(resolve, 15));
  assert.equal(socket.sent.length, sent);
});

test("a timed-out call stops its upload; the next call goes out", async () => {
  const server = fakeServer({
    maxMsgSize: 1024,
    onMessage: (message, peer) => peer.reply(message.id, message.method),
  });
  const session = await WslinkSession.connect("ws://x.invalid/", {
    WebSocket: server.WebSocket,
    sendHighWaterMark: 2048,
  });
  const socket = server.peers[0].socket;
  socket.bufferedAmount = 10_000;
  await assert.rejects(session.call("upload", [new Uint8Array(100_000)], {}, { timeout: 10 }));
  const sentBefore = socket.sent.length;
  socket.bufferedAmount = 0;
  assert.equal(await session.call("next"), "next");
  assert.equal(socket.sent.length, sentBefore + 1);
  await session.close();
});
