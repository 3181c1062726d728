import { test } from "node:test";
import assert from "node:assert/strict";
import { deepEqual, State, StateCascadeError, StateListenerError } from "../../src/trame/state.ts";

type Shape = { a: number; b: number; label: string; data: Uint8Array; list: number[] };

function manual(initial: Partial<Shape> = {}) {
  const commits: Record<string, unknown>[] = [];
  const state = new State<Shape>(initial, {
    autoFlush: false,
    onCommit: (changes) => commits.push({ ...changes }),
  });
  return { state, commits };
}

test("State.set() of a value deep-equal to the current one is not a change", () => {
  const { state, commits } = manual({ a: 1, data: new Uint8Array([1, 2]), list: [1, 2] });
  state.set("a", 1);
  state.set("data", new Uint8Array([1, 2]));
  state.set("list", [1, 2]);
  assert.equal(state.isDirty("a", "data", "list"), false);
  assert.deepEqual([...state.flush()], []);
  assert.deepEqual(commits, []);
  state.set("data", new Uint8Array([1, 3]));
  state.set("a", 2);
  state.set("a", 1); // back to the current value: cancelled
  assert.equal(state.isDirty("a"), false);
  assert.equal(state.isDirtyAll("data", "a"), false);
  assert.deepEqual([...state.flush()], ["data"]);
  assert.deepEqual(commits, [{ data: new Uint8Array([1, 3]) }]);
});

test("State.get/has/setDefault/update/toObject see pending and current values", () => {
  const { state } = manual({ a: 1 });
  assert.equal(state.has("b"), false);
  assert.equal(state.setDefault("b", 5), 5);
  assert.equal(state.setDefault("b", 6), 5);
  assert.equal(state.setDefault("a", 9), 1);
  state.update({ a: 2, label: "x" });
  assert.equal(state.get("a"), 2);
  assert.equal(state.isDirtyAll("a", "b", "label"), true);
  assert.deepEqual(state.toObject(), { a: 2, b: 5, label: "x" });
  assert.equal(state.isDirty("a", "b", "label"), false);
});

test("State.onChange() runs once per flush with the whole state, and unsubscribes", () => {
  const { state } = manual({ a: 1, b: 1, label: "" });
  const calls: Array<{ values: Record<string, unknown>; modified: string[] }> = [];
  const stop = state.onChange(["a", "b"], (values) => {
    calls.push({ values: { ...values }, modified: [...state.modifiedKeys].sort() });
  });
  state.update({ a: 2, b: 3 });
  state.flush();
  state.set("label", "not watched");
  state.flush();
  assert.deepEqual(calls, [{ values: { a: 2, b: 3, label: "" }, modified: ["a", "b"] }]);
  stop();
  state.set("a", 10);
  state.flush();
  assert.equal(calls.length, 1);
});

test("State listeners that change the state cascade, each pass committed", () => {
  const { state, commits } = manual({ a: 0, b: 0, label: "" });
  state.onChange("a", (values) => state.set("b", values.a * 2));
  state.onChange("b", (values) => state.set("label", `b=${values.b}`));
  state.set("a", 2);
  assert.deepEqual([...state.flush()].sort(), ["a", "b", "label"]);
  assert.deepEqual(commits, [{ a: 2 }, { b: 4 }, { label: "b=4" }]);
  assert.deepEqual([...state.modifiedKeys], ["label"]);
});

test("State.applyRemote() runs listeners but does not commit the peer's values", () => {
  const { state, commits } = manual({ a: 0, b: 0 });
  const seen: number[] = [];
  state.onChange("a", (values) => {
    seen.push(values.a);
    if (values.a > 10) state.set("a", 10);
  });
  state.applyRemote({ a: 5 });
  assert.deepEqual(seen, [5]);
  assert.deepEqual(commits, []);
  state.applyRemote({ a: 5 }); // unchanged: nothing runs
  assert.deepEqual(seen, [5]);
  state.applyRemote({ a: 50, b: 1 });
  // The listener's correction is local: it is committed (sent back), the rest is not.
  assert.deepEqual(commits, [{ a: 10 }]);
  assert.deepEqual(seen, [5, 50, 10]);
  assert.equal(state.get("b"), 1);
});

test("State.dirty() resends a mutated value; clean() makes it current silently", () => {
  const { state, commits } = manual({ list: [1] });
  const runs: number[] = [];
  state.onChange("list", (values) => runs.push(values.list.length));
  state.get("list").push(2);
  state.dirty("list");
  state.flush();
  assert.deepEqual(commits, [{ list: [1, 2] }]);
  assert.deepEqual(runs, [2]);
  state.set("list", [9]);
  state.clean("list");
  assert.deepEqual([...state.flush()], []);
  assert.deepEqual(state.get("list"), [9]);
  assert.deepEqual(runs, [2]);
});

test("State.suppressChangeListeners() sends changes without running listeners", () => {
  const { state, commits } = manual({ a: 0, b: 0 });
  const runs: string[] = [];
  state.onChange("a", () => runs.push("a"));
  state.onChange("b", () => runs.push("b"));
  state.suppressChangeListeners(["a"], () => state.update({ a: 1, b: 1 }));
  state.flush();
  assert.deepEqual(runs, ["b"]);
  state.suppressChangeListeners([], () => state.update({ a: 2, b: 2 }));
  state.flush();
  assert.deepEqual(runs, ["b"]);
  assert.deepEqual(commits, [{ a: 1, b: 1 }, { a: 2, b: 2 }]);
});

test("State.clientOnly() appends to trame__client_only once and flushes", () => {
  const state = new State<Record<string, unknown>>({ trame__client_only: ["trame__busy"] });
  state.clientOnly("x", "trame__busy", "y");
  assert.deepEqual(state.get("trame__client_only"), ["trame__busy", "x", "y"]);
  assert.equal(state.isDirty("trame__client_only"), false);
  state.clientOnly("x");
  assert.deepEqual(state.get("trame__client_only"), ["trame__busy", "x", "y"]);
});

test("State flushes automatically at the end of the tick, coalescing; batch() flushes once", async () => {
  const commits: Record<string, unknown>[] = [];
  const state = new State<Shape>({ a: 0, b: 0 }, { onCommit: (c) => commits.push({ ...c }) });
  state.set("a", 1);
  state.set("b", 1);
  assert.deepEqual(commits, []);
  await Promise.resolve();
  assert.deepEqual(commits, [{ a: 1, b: 1 }]);
  const result = state.batch(() => {
    state.set("a", 2);
    state.batch(() => state.set("b", 2));
    assert.equal(commits.length, 1);
    return "done";
  });
  assert.equal(result, "done");
  assert.deepEqual(commits, [{ a: 1, b: 1 }, { a: 2, b: 2 }]);
  await Promise.resolve();
  assert.equal(commits.length, 2);
});

test("State.flush() completes, then reports listener errors and endless cascades", () => {
  const { state } = manual({ a: 0, b: 0 });
  state.onChange("a", () => {
    throw new Error("listener failed");
  });
  state.onChange("a", (values) => state.set("b", values.a));
  state.set("a", 1);
  assert.throws(() => state.flush(), (error) => {
    assert.ok(error instanceof StateListenerError);
    assert.equal(error.errors.length, 1);
    return true;
  });
  assert.equal(state.get("b"), 1);
  assert.equal(state.isDirty("a", "b"), false);

  const loop = new State<{ n: number }>({ n: 0 }, { autoFlush: false, maxCascade: 5 });
  loop.onChange("n", (values) => loop.set("n", values.n + 1));
  loop.set("n", 1);
  assert.throws(() => loop.flush(), StateCascadeError);
  assert.equal(loop.flushing, false);
});

test("deepEqual() compares plain data structurally and binaries by bytes", () => {
  assert.ok(deepEqual({ a: [1, { b: "c" }] }, { a: [1, { b: "c" }] }));
  assert.ok(deepEqual(new Uint8Array([1, 2]), new Uint8Array([0, 1, 2]).subarray(1)));
  assert.ok(deepEqual(NaN, NaN));
  assert.ok(!deepEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!deepEqual([1], { 0: 1 }));
  assert.ok(!deepEqual(new Map(), new Map()));
});
