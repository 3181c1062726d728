// Issue 8, codec fuzzing (small CI run): adversarial frame streams into both engines. Only
// ChunkErrors with reasons, identical outcomes step by step, pendingBytes within the budget.
// The long run is bench/fuzz_codec.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CHUNK_ERROR_REASONS } from "../../mod.ts";
import { adversarialFrames, differentialRun, FUZZ_LIMITS } from "./_codec_fuzz.ts";

test("both engines agree on 3 × 12,000 adversarial frames and stay within maxPendingBytes", async () => {
  const started = Date.now();
  for (const seed of [1, 2, 3]) {
    const stats = await differentialRun(seed, 12_000, { releaseEvery: 4_000 });
    assert.equal(stats.frames, 12_000);
    assert.ok(stats.maxPendingBytes <= FUZZ_LIMITS.maxPendingBytes);
    // The stream really is adversarial and really carries messages: most reasons show up.
    const reasons = Object.keys(stats.refused);
    for (const reason of reasons) assert.ok(CHUNK_ERROR_REASONS.includes(reason as never));
    for (
      const reason of ["short-frame", "empty-chunk", "out-of-bounds", "overlap", "dropped"]
    ) assert.ok(stats.refused[reason] > 0, `seed ${seed}: no ${reason} (${reasons})`);
    assert.ok(stats.messages > 100, `seed ${seed}: only ${stats.messages} messages completed`);
    assert.ok(stats.maxPendingMessages > 100, "many ids were interleaved");
  }
  assert.ok(Date.now() - started < 15_000, "no hang");
});

test("thousands of interleaved ids hit too-many-messages identically in both engines", async () => {
  // maxOpen above maxPendingMessages, no release: the message budget is what refuses.
  const stats = await differentialRun(7, 20_000, { maxOpen: 6_000 });
  assert.ok(stats.maxPendingMessages <= FUZZ_LIMITS.maxPendingMessages);
  assert.ok(stats.maxPendingBytes <= FUZZ_LIMITS.maxPendingBytes);
  assert.ok(
    (stats.refused["too-many-messages"] ?? 0) + (stats.refused["pending-bytes"] ?? 0) > 0,
    JSON.stringify(stats.refused),
  );
});

test("the fuzz stream is deterministic per seed, so a failure can be replayed", () => {
  const a = adversarialFrames(42);
  const b = adversarialFrames(42);
  for (let index = 0; index < 2_000; index++) {
    assert.deepEqual(a.next().value, b.next().value);
  }
});
