// Replays the reference session of test/fixtures/transcript.jsonl: a scripted fake server answers
// each request of the session with the server frames recorded for it, byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeHeader,
  HEADER_LENGTH,
  type SessionErrorEvent,
  type SessionProgressEvent,
  WslinkError,
  WslinkSession,
} from "../../mod.ts";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";
import {
  type FakeSocket,
  fakeWebSocket,
  type Message,
  reassembler,
  settle,
} from "./_fake_socket.ts";
import { messages, recorded, transcript } from "./_fixtures.ts";

interface Exchange {
  step: string;
  request: Message;
  requestFrames: Uint8Array[];
  replyFrames: Uint8Array[];
}

// Each client message (its consecutive c2s frames) with the server frames that followed it.
const exchanges: Exchange[] = (() => {
  const steps = messages.filter((entry) => entry.dir === "c2s");
  const result: Exchange[] = [];
  let current: Exchange | undefined;
  for (const frame of transcript) {
    if (frame.dir === "c2s") {
      if (current === undefined || current.replyFrames.length > 0) {
        const { step, message } = steps[result.length];
        current = { step, request: message, requestFrames: [], replyFrames: [] };
        result.push(current);
      }
      current.requestFrames.push(frame.bytes);
    } else current!.replyFrames.push(frame.bytes);
  }
  assert.equal(result.length, steps.length);
  return result;
})();

const exchange = (step: string) => exchanges.find((entry) => entry.step === step)!;

/** A fake server answering the n-th request it receives with the n-th scripted exchange. */
function replayServer(script: Exchange[]) {
  const codec = createMessageCodec();
  const requests: Message[] = [];
  const requestFrames: Uint8Array[][] = [];
  const sockets: FakeSocket[] = [];
  const WebSocket = fakeWebSocket((socket) => {
    sockets.push(socket);
    let frames: Uint8Array[] = [];
    const assemble = reassembler((bytes) => {
      requests.push(codec.decode(bytes) as Message);
      requestFrames.push(frames);
      frames = [];
      for (const frame of script[requests.length - 1]?.replyFrames ?? []) socket.deliver(frame);
    });
    socket.onSend = (frame) => {
      frames.push(frame);
      assemble(frame);
    };
  });
  return { WebSocket, requests, requestFrames, sockets };
}

// What the session API can produce, in the recorded order. `call-before-hello`,
// `hello-wrong-secret` and `unknown-system-method` are replayed by the other tests of this file.
const sessionSteps = [
  "hello",
  "state-get",
  "trigger-add",
  "trigger-echo",
  "trigger-blob-small",
  "trigger-blob-multichunk",
  "trigger-fail",
  "unknown-method",
  "trigger-bump-publishes-state",
  "state-update-from-client",
  "force-push",
  "custom-publish",
  "client-multichunk-upload",
];

// Passes the recorded binaries as other kinds of binary, which must travel as the same `bin`.
function argumentsFor(step: string, args: unknown[]): unknown[] {
  if (step === "state-update-from-client") {
    const [changes] = args as [{ key: string; value: unknown }[]];
    const bytes = changes[1].value as Uint8Array;
    return [[changes[0], { key: changes[1].key, value: bytes.slice().buffer }]];
  }
  if (step === "client-multichunk-upload") {
    const [name, [bytes], kwargs] = args as [string, [Uint8Array], unknown];
    return [name, [new DataView(bytes.slice().buffer)], kwargs];
  }
  return args;
}

test("replay: the reference session decodes into the right results, errors and publishes", async () => {
  const script = sessionSteps.map(exchange);
  const server = replayServer(script);
  const progress: SessionProgressEvent[] = [];
  const errors: SessionErrorEvent[] = [];
  // 4096-byte frames: the recorded client uploaded in 4096-byte frames.
  const session = await WslinkSession.connect("ws://replay.invalid/ws", {
    WebSocket: server.WebSocket,
    maxFrameSize: 4096,
    callTimeout: 5000,
  });
  session.on("progress", (event) => progress.push(event));
  session.on("error", (event) => errors.push(event));
  const [helloReply] = recorded("hello", "s2c");
  assert.deepEqual(helloReply.result, {
    clientID: session.clientId,
    maxMsgSize: session.maxMsgSize,
  });
  assert.equal(session.maxFrameSize, 4096);

  const statePublishes: unknown[] = [];
  const stateSubscription = session.subscribe("trame.state.topic", (payload, topic) => {
    assert.equal(topic, "trame.state.topic");
    statePublishes.push(payload);
  });
  const customStream = session.subscribe("my.topic");

  for (const step of sessionSteps.slice(1)) {
    const { request } = exchange(step);
    const [reply] = recorded(step, "s2c");
    const outcome = await session.call(
      request.method as string,
      argumentsFor(step, request.args as unknown[]),
      request.kwargs as Record<string, unknown>,
    ).then((result) => ({ result }), (error) => ({ error }));
    if ("error" in reply) {
      assert.ok("error" in outcome, `${step} must fail`);
      const expected = reply.error as { code: number; message: string; data?: unknown };
      assert.ok(outcome.error instanceof WslinkError, step);
      assert.equal(outcome.error.code, expected.code, step);
      assert.equal(outcome.error.message, expected.message, step);
      assert.deepEqual(outcome.error.data, expected.data, step);
    } else {
      assert.ok(
        "result" in outcome,
        `${step} must succeed: ${(outcome as { error: unknown }).error}`,
      );
      assert.deepEqual(outcome.result, reply.result, step);
    }
  }
  await settle();
  stateSubscription.unsubscribe();
  await session.close();

  // Requests: equal as decoded messages (ids included: the session numbers its calls from 1, as
  // the recorded client did, and the recorded hello reply gives the client id).
  assert.deepEqual(server.requests, script.map((entry) => entry.request));
  // Frames: same count and sizes, same offsets and totals; the payloads are byte-identical, so
  // the session encodes exactly as the reference msgpack does.
  server.requestFrames.forEach((frames, index) => {
    const expected = script[index].requestFrames;
    assert.equal(frames.length, expected.length, script[index].step);
    frames.forEach((frame, at) => {
      const [ours, theirs] = [decodeHeader(frame), decodeHeader(expected[at])];
      assert.deepEqual([ours.offset, ours.totalSize], [theirs.offset, theirs.totalSize]);
      assert.deepEqual(frame.subarray(HEADER_LENGTH), expected[at].subarray(HEADER_LENGTH));
    });
  });

  const publishesOf = (topic: string) =>
    messages.filter((entry) => entry.dir === "s2c" && entry.message.id === `publish:${topic}:0`)
      .map((entry) => entry.message.result);
  assert.deepEqual(statePublishes, publishesOf("trame.state.topic"));
  const custom: unknown[] = [];
  for await (const payload of customStream) custom.push(payload);
  assert.deepEqual(custom, publishesOf("my.topic"));

  // Progress: one event per frame of each multi-frame reply, from the recorded headers.
  const expectedProgress: SessionProgressEvent[] = [];
  for (const step of ["trigger-blob-multichunk", "client-multichunk-upload"]) {
    let received = 0;
    for (const frame of exchange(step).replyFrames) {
      const { id, totalSize } = decodeHeader(frame);
      received += frame.byteLength - HEADER_LENGTH;
      expectedProgress.push({ id, received, total: totalSize });
    }
  }
  assert.deepEqual(progress, expectedProgress);
  assert.deepEqual(errors, []);
});

test("replay: a wrong secret rejects connect() with the recorded -32000", async () => {
  const server = replayServer([exchange("hello-wrong-secret")]);
  const [expected] = recorded("hello-wrong-secret", "s2c");
  await assert.rejects(
    WslinkSession.connect("ws://replay.invalid/ws", {
      WebSocket: server.WebSocket,
      secret: "nope",
    }),
    (error) => {
      assert.ok(error instanceof WslinkError);
      assert.deepEqual(
        { code: error.code, message: error.message, data: error.data },
        { ...(expected.error as object), data: undefined },
      );
      return true;
    },
  );
  assert.deepEqual(server.requests, [exchange("hello-wrong-secret").request]);
});

test("replay: recorded replies to ids the session never used become unknown-id errors", async () => {
  const server = replayServer([exchange("hello"), exchange("state-get")]);
  const session = await WslinkSession.connect("ws://replay.invalid/ws", {
    WebSocket: server.WebSocket,
  });
  const errors: SessionErrorEvent[] = [];
  session.on("error", (event) => errors.push(event));
  // The reference answered `rpc:none:0` (a call before the hello) and `system:c0:1` (an unknown
  // system method); to this session both are replies to calls it never made.
  const unsolicited = ["call-before-hello", "unknown-system-method"].map(exchange);
  for (const { replyFrames } of unsolicited) {
    for (const frame of replyFrames) server.sockets[0].deliver(frame);
  }
  const { request } = exchange("state-get");
  const [reply] = recorded("state-get", "s2c");
  assert.deepEqual(await session.call(request.method as string), reply.result);
  await session.close();
  assert.deepEqual(errors.map((event) => event.kind), ["unknown-id", "unknown-id"]);
  assert.deepEqual(
    errors.map((event) => event.message),
    [recorded("call-before-hello", "s2c")[0], recorded("unknown-system-method", "s2c")[0]],
  );
  const [beforeHello, unknownSystem] = errors.map((event) => event.message as Message);
  assert.deepEqual(beforeHello.error, {
    code: -32000,
    message: "Unauthorized: Skip message processing",
  });
  assert.deepEqual(unknownSystem.error, { code: -32601, message: "Unknown system method called" });
});
