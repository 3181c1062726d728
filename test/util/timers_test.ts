import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_TIMER_DELAY, setLongTimeout } from "../../src/util/timers.ts";
import { withTimerCensus } from "../_support.ts";

test("setLongTimeout() waits out a delay longer than one step, then calls once", async () => {
  await withTimerCensus(async (live) => {
    const started = performance.now();
    let calls = 0;
    await new Promise<void>((resolve) => {
      setLongTimeout(
        () => {
          calls++;
          resolve();
        },
        60,
        25,
      );
    });
    assert.ok(performance.now() - started >= 55, "called before its time");
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(calls, 1);
    assert.equal(live(), 0);
  });
});

test("setLongTimeout() cancels between steps and leaves no timer", async () => {
  await withTimerCensus(async (live) => {
    let called = false;
    const cancel = setLongTimeout(() => called = true, 50, 10);
    await new Promise((resolve) => setTimeout(resolve, 25));
    cancel();
    assert.equal(live(), 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(called, false);
  });
  assert.equal(MAX_TIMER_DELAY, 2 ** 31 - 1);
});
