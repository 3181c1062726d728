// What only the WebAssembly engine has: lazy instantiation, its memory, and the fallback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createUnChunker, generateChunks } from "../../mod.ts";
import { wasmMemoryByteLength } from "../../src/codec/_wasm_engine.ts";
import { patternedMessage, rawFrame } from "./_support.ts";

test("unchunker (wasm) is the default engine, and auto picks it where WebAssembly runs", async () => {
  assert.equal((await createUnChunker()).engine, "wasm");
  assert.equal((await createUnChunker({ engine: "auto" })).engine, "wasm");
});

test("unchunker (wasm) instances keep separate books", async () => {
  const first = await createUnChunker({ engine: "wasm", maxMessageSize: 50 });
  const second = await createUnChunker({ engine: "wasm", maxMessageSize: 5000 });
  first.push(rawFrame(1, 0, 40, 10));
  assert.equal(first.pendingMessages, 1);
  assert.equal(second.pendingMessages, 0);
  assert.equal(second.push(rawFrame(1, 0, 40, 10)), undefined, "no overlap with the other");
  assert.throws(() => first.push(rawFrame(2, 0, 60, 10)), /message-too-large/);
  assert.equal(second.push(rawFrame(2, 0, 60, 10)), undefined);
});

test("unchunker (wasm) returns intact messages after its memory grows", async () => {
  const unchunker = await createUnChunker({ engine: "wasm" });
  const initialMemory = wasmMemoryByteLength(unchunker)!;
  let kept: Uint8Array | undefined;
  for (const frame of generateChunks(patternedMessage(777), 100, { id: 1 })) {
    kept = unchunker.push(frame);
  }
  const keptCopy = kept!.slice();
  for (let id = 10; id < 1010; id++) unchunker.push(rawFrame(id, 20, 100, 10, id & 0xff));
  assert.ok(wasmMemoryByteLength(unchunker)! > initialMemory, "the memory grew");
  assert.deepEqual(kept, keptCopy);
  // Views of the grown memory are re-made: every pending message still completes correctly.
  for (let id = 10; id < 1010; id++) {
    unchunker.push(rawFrame(id, 0, 100, 20, id & 0xff));
    const whole = unchunker.push(rawFrame(id, 30, 100, 70, id & 0xff));
    assert.deepEqual(whole, new Uint8Array(100).fill(id & 0xff));
  }
  assert.equal(unchunker.pendingMessages, 0);
  assert.equal(wasmMemoryByteLength(await createUnChunker({ engine: "js" })), undefined);
});

test("unchunker (wasm) rejects clearly where WebAssembly is missing, and auto falls back", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "WebAssembly")!;
  Reflect.deleteProperty(globalThis, "WebAssembly");
  try {
    await assert.rejects(createUnChunker({ engine: "wasm" }), /WebAssembly is not available/);
    const fallback = await createUnChunker({ engine: "auto" });
    assert.equal(fallback.engine, "js");
  } finally {
    Object.defineProperty(globalThis, "WebAssembly", saved);
  }
  assert.equal((await createUnChunker({ engine: "auto" })).engine, "wasm");
});
