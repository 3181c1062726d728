// Replays the session recorded against the reference Python server (test/fixtures/transcript.jsonl)
// and checks every reply against the recorded one (test/fixtures/messages.jsonl).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serve, type TrameServer } from "../../src/server/mod.ts";
import { collectingLogger, type Envelope, RawClient } from "./_client.ts";

interface FrameLine {
  seq: number;
  dir: "c2s" | "s2c";
  b64: string;
}
interface MessageLine {
  seq: number;
  dir: "c2s" | "s2c";
  step: string;
  message: Envelope;
}

const RECORDED_ID = "c025d2e8c7e2c49c6a3a116964fe9ff1b";

function lines<T>(name: string): T[] {
  const text = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

// JSON of the fixtures to the values msgpack decodes: {"$bin"} to bytes, the recorded client id
// to ours.
function revive(value: unknown, clientId: string): unknown {
  if (typeof value === "string") return value.replaceAll(RECORDED_ID, clientId);
  if (Array.isArray(value)) return value.map((item) => revive(item, clientId));
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record.$bin === "string" && Object.keys(record).length === 1) {
      return fromBase64(record.$bin);
    }
    return Object.fromEntries(
      Object.entries(record).map(([key, item]) => [key, revive(item, clientId)]),
    );
  }
  return value;
}

// Replaces every occurrence of `from` by `to` (same length) inside `bytes`.
function replaceBytes(bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  outer: for (let index = 0; index + from.length <= copy.length; index++) {
    for (let offset = 0; offset < from.length; offset++) {
      if (copy[index + offset] !== from[offset]) continue outer;
    }
    copy.set(to, index);
  }
  return copy;
}

class RuntimeError extends Error {
  override name = "RuntimeError";
}

// The recorded application: the triggers of the reference session and its initial state.
function recordedApp(server: TrameServer): void {
  server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
  server.trigger("echo", (args, kwargs) => ({ args, kwargs }));
  server.trigger("blob", ([size]) => {
    const bytes = new Uint8Array(size as number);
    for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 31) & 0xff;
    return bytes;
  });
  server.trigger("fail", ([message]) => {
    throw new RuntimeError(message as string);
  });
  server.trigger("bump", () => {
    const counter = (server.state.get("counter") as number) + 1;
    server.state.set("counter", counter);
    return counter;
  });
  server.trigger("publish", ([topic, data]) => {
    server.publish(topic as string, data);
    return true;
  });
}

test("the recorded reference session gets the recorded replies", async () => {
  const frames = lines<FrameLine>("transcript.jsonl");
  const messages = lines<MessageLine>("messages.jsonl");
  const recordedState = messages.find((line) => line.step === "state-get" && line.dir === "s2c")!
    .message.result as { name: string; state: Record<string, unknown> };

  // Which step each client frame belongs to: a client message's `seq` counts the frames before
  // it, so its frames follow that line.
  const c2sMessages = messages.filter((line) => line.dir === "c2s");
  const steps = [...new Set(messages.map((line) => line.step))];
  const framesOf = new Map<string, Uint8Array[]>(steps.map((step) => [step, []]));
  for (const frame of frames) {
    if (frame.dir !== "c2s") continue;
    const owner = c2sMessages.findLast((line) => line.seq < frame.seq)!;
    framesOf.get(owner.step)!.push(fromBase64(frame.b64));
  }
  // How many frames carried each recorded server message, and its size.
  const s2cFrames = frames.filter((frame) => frame.dir === "s2c").map((frame) => {
    const bytes = fromBase64(frame.b64);
    const view = new DataView(bytes.buffer);
    return { seq: frame.seq, id: view.getUint32(0, true), total: view.getUint32(8, true) };
  });

  const { log, lines: logLines } = collectingLogger();
  const server = await serve({
    maxMsgSize: 65536,
    name: recordedState.name,
    state: revive(recordedState.state, "") as Record<string, unknown>,
    log,
  });
  recordedApp(server);
  const client = await RawClient.connect(server.url);
  try {
    const encoder = new TextEncoder();
    let clientId = RECORDED_ID;
    let compared = 0;
    for (const step of steps) {
      for (const frame of framesOf.get(step)!) {
        client.sendFrame(
          replaceBytes(frame, encoder.encode(RECORDED_ID), encoder.encode(clientId)),
        );
      }
      for (const expected of messages.filter((line) => line.step === step && line.dir === "s2c")) {
        const received = await client.next();
        const actual = structuredClone(received.message);
        if (step === "hello") {
          clientId = (actual.result as { clientID: string }).clientID;
          assert.match(clientId, /^c[0-9a-f]{32}$/);
        }
        const wanted = revive(expected.message, clientId) as Envelope;
        const error = actual.error as { data?: { trace?: unknown } } | undefined;
        if (step === "trigger-fail") {
          assert.equal(typeof error?.data?.trace, "string");
          assert.ok((error!.data!.trace as string).length > 0);
          error!.data!.trace = (wanted.error as { data: { trace: string } }).data.trace;
        } else {
          // Same bytes on the wire: same msgpack size, cut into the same number of frames.
          const recorded = s2cFrames.filter((frame) => frame.seq <= expected.seq);
          const last = recorded[recorded.length - 1];
          const count = recorded.filter((frame) => frame.id === last.id).length;
          assert.equal(received.bytes, last.total, `${step}: message size`);
          assert.equal(received.frames, count, `${step}: frame count`);
        }
        assert.deepStrictEqual(actual, wanted, `step ${step}`);
        compared++;
      }
    }
    assert.equal(compared, messages.filter((line) => line.dir === "s2c").length);
    // No message beyond the recorded ones, even a late one.
    await assert.rejects(client.next(300), /timed out after 300 ms/, "an extra message arrived");
    assert.deepEqual(server.state.get("greeting"), "hi from client");
    assert.ok(logLines.some((line) => line.includes("Exception raised in trame.trigger")));
  } finally {
    await client.close();
    await server.close();
  }
});
