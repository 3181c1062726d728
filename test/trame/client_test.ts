// TrameClient against the embedded server on 127.0.0.1: connecting, the shared state both ways,
// triggers and the other trame calls, namespacing, typing, large results, several clients.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { TrameClient, type TrameClientStatus } from "../../src/trame/client.ts";
import { WslinkError } from "../../src/session/errors.ts";
import type { ExitRequest } from "../../src/server/mod.ts";
import { pattern, quietServer, recordUpdates, waitFor } from "./_client_support.ts";

test("connect() loads the whole state, trame__* keys included, before it resolves", async () => {
  const { server } = await quietServer({
    name: "cone",
    state: { resolution: 6, label: "a cone", nested: { list: [1, 2, 3] } },
  });
  const client = new TrameClient(server.url);
  try {
    assert.equal(client.state.has("resolution"), false);
    await client.connect();
    assert.equal(client.status, "connected");
    assert.equal(client.state.get("resolution"), 6);
    assert.equal(client.state.get("label"), "a cone");
    assert.deepEqual(client.state.get("nested"), { list: [1, 2, 3] });
    assert.equal(client.state.get("trame__title"), "Trame");
    assert.deepEqual(client.state.get("trame__client_only"), ["trame__busy"]);
    assert.deepEqual(client.state.toObject(), server.state.toObject());
    // Loading the state is not a change of this client: nothing went back to the server.
    assert.equal(client.state.isDirty("resolution"), false);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("changes made before connect() are kept over the loaded state and sent once connected", async () => {
  const { server } = await quietServer({ state: { label: "server", other: 1 } });
  const client = new TrameClient(server.url);
  try {
    client.state.set("label", "local");
    await assert.rejects(
      client.state.flush(),
      (error: unknown) => error instanceof WslinkError && error.code === -32099,
    );
    const updates = recordUpdates(server);
    await client.connect();
    assert.equal(client.state.get("label"), "local");
    assert.equal(client.state.get("other"), 1);
    await client.state.flush();
    assert.deepEqual(updates, [{ label: "local" }]);
    assert.equal(server.state.get("label"), "local");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("a listener that throws while the state loads is reported, and connect() still succeeds", async () => {
  const { server } = await quietServer({ state: { a: 1 } });
  const client = new TrameClient(server.url);
  const errors: { error: unknown; context: string }[] = [];
  client.on("error", (event) => errors.push(event));
  client.state.onChange("a", () => {
    throw new Error("listener bug");
  });
  try {
    await client.connect();
    assert.equal(client.status, "connected");
    assert.equal(client.state.get("a"), 1);
    assert.equal(errors.length, 1);
    assert.match(String((errors[0].error as Error).message), /listener bug/);
    // Publishes go the same way.
    server.state.set("a", 2);
    server.state.flush();
    await waitFor(() => errors.length === 2, 3000, "the second error");
    assert.equal(client.state.get("a"), 2);
    assert.equal(client.status, "connected");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("status events mark every change; connect() while connected is a no-op", async () => {
  const { server } = await quietServer();
  const client = new TrameClient(server.url);
  const statuses: [TrameClientStatus, TrameClientStatus][] = [];
  const phases: string[] = [];
  const offLifecycle = server.on("lifecycle", (phase) => phases.push(phase));
  client.on("status", ({ status, previous }) => statuses.push([previous, status]));
  try {
    const connecting = client.connect();
    assert.equal(client.status, "connecting");
    assert.equal(client.connect(), connecting, "a second connect() waits for the first");
    await connecting;
    assert.deepEqual(statuses, [["disconnected", "connecting"], ["connecting", "connected"]]);
    assert.deepEqual(phases, ["client_connected"]);

    await client.connect();
    assert.equal(client.status, "connected");
    assert.equal(statuses.length, 2, "no status event");
    assert.equal(server.clients.length, 1, "no second socket");
    assert.deepEqual(phases, ["client_connected"], "no second client_connected");

    await client.disconnect();
    assert.deepEqual(statuses.at(-1), ["connected", "disconnected"]);
    assert.equal(statuses.length, 3);
    assert.deepEqual(phases, ["client_connected", "client_exited"]);
    await waitFor(() => server.clients.length === 0, 3000, "the socket to close");
  } finally {
    offLifecycle();
    await client.disconnect();
    await server.close();
  }
});

test("server-side changes run onChange once per publish with the right modifiedKeys", async () => {
  const { server } = await quietServer({ state: { a: 0, b: 0, c: 0 } });
  const client = new TrameClient(server.url);
  const calls: { keys: string[]; a: unknown; b: unknown }[] = [];
  try {
    await client.connect();
    client.state.onChange(["a", "b"], (state) => {
      calls.push({ keys: [...client.state.modifiedKeys].sort(), a: state.a, b: state.b });
    });
    const updates = recordUpdates(server);

    server.state.update({ a: 1, b: 2 });
    await waitFor(() => client.state.get("b") === 2, 3000, "a and b");
    assert.deepEqual(calls, [{ keys: ["a", "b"], a: 1, b: 2 }]);

    server.state.set("c", 3); // Not watched.
    server.state.flush();
    server.state.set("a", 10);
    server.state.flush();
    await waitFor(() => client.state.get("a") === 10, 3000, "a = 10");
    assert.equal(client.state.get("c"), 3);
    assert.deepEqual(calls.slice(1), [{ keys: ["a"], a: 10, b: 2 }]);

    // None of it went back to the server: a round trip on the same socket proves nothing is
    // on its way.
    await client.state.flush();
    await client.trigger("missing");
    assert.deepEqual(updates, []);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("changes made in one tick reach the server as ONE update; flush() waits for the server", async () => {
  const { server } = await quietServer({ state: { a: 0, b: "", c: [] as number[] } });
  const client = new TrameClient(server.url);
  try {
    await client.connect();
    const updates = recordUpdates(server);
    client.state.set("a", 1);
    client.state.set("b", "two");
    client.state.update({ a: 2, c: [3] });
    client.state.set("b", "two"); // Same pending value again.
    await client.state.flush();
    // Acknowledged means applied: no waiting needed.
    assert.equal(server.state.get("a"), 2);
    assert.equal(server.state.get("b"), "two");
    assert.deepEqual(server.state.get("c"), [3]);
    assert.deepEqual(updates, [{ a: 2, b: "two", c: [3] }]);

    // The next tick is the next update; batch() groups explicitly; an unchanged value is no update.
    client.state.set("a", 3);
    await client.state.flush();
    client.state.batch(() => {
      client.state.set("a", 4);
      client.state.set("b", "four");
    });
    await client.state.flush();
    client.state.set("a", 4);
    await client.state.flush();
    assert.deepEqual(updates, [{ a: 2, b: "two", c: [3] }, { a: 3 }, { a: 4, b: "four" }]);
    assert.equal(server.state.get("a"), 4);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("_filter names are stripped and trame__client_only keys are never sent", async () => {
  const { server } = await quietServer({ state: { upload: null, local: 0, shared: 0 } });
  const client = new TrameClient(server.url);
  try {
    await client.connect();
    const updates = recordUpdates(server);
    const content = new Uint8Array([1, 2, 3]);
    client.state.set("upload", { _filter: ["content"], name: "mesh.vtk", size: 3, content });
    client.state.set("shared", 1);
    await client.state.flush();
    assert.equal(updates.length, 1);
    const upload = updates[0].upload as Record<string, unknown>;
    assert.equal(upload.name, "mesh.vtk");
    assert.equal(upload.size, 3);
    assert.equal("content" in upload, false, "the filtered name is not sent");
    assert.equal("content" in (server.state.get("upload") as object), false);
    // The client keeps its own value whole.
    assert.equal((client.state.get("upload") as { content: Uint8Array }).content, content);

    // Lists of files: each item filtered.
    client.state.set("upload", [
      { _filter: ["content"], name: "a", content },
      { name: "b", content },
    ]);
    await client.state.flush();
    const list = updates[1].upload as Record<string, unknown>[];
    assert.equal("content" in list[0], false);
    assert.deepEqual(Object.keys(list[1]).sort(), ["content", "name"], "unfiltered items whole");
    assert.deepEqual([...(list[1].content as Uint8Array)], [1, 2, 3]);

    // A client-only key (the server's list, and one this client adds).
    server.state.clientOnly("local");
    await waitFor(
      () => (client.state.get("trame__client_only") as string[]).includes("local"),
      3000,
      "the client-only list",
    );
    client.state.set("local", 5);
    client.state.set("trame__busy", 0); // Client-only from the start.
    client.state.set("shared", 2);
    await client.state.flush();
    assert.deepEqual(updates.slice(2), [{ shared: 2 }]);
    assert.equal(server.state.get("local"), 0);
    assert.equal(client.state.get("local"), 5);

    client.state.set("local", 6);
    await client.state.flush();
    assert.equal(updates.length, 3, "an update of client-only keys only is not sent at all");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("values from the server run listeners and are never sent back; listener changes are", async () => {
  const { server } = await quietServer({ state: { input: 0, derived: 0, seen: 0 } });
  const client = new TrameClient(server.url);
  try {
    await client.connect();
    const updates = recordUpdates(server);
    let runs = 0;
    client.state.onChange("input", (state) => {
      runs++;
      client.state.set("derived", (state.input as number) * 2);
    });
    client.state.onChange("seen", () => runs++);
    server.state.set("input", 21);
    server.state.flush();
    await waitFor(() => server.state.get("derived") === 42, 3000, "derived on the server");
    server.state.set("seen", 1);
    server.state.flush();
    await waitFor(() => client.state.get("seen") === 1, 3000, "seen");
    await client.state.flush();
    await client.trigger("missing"); // A round trip: nothing else is on its way.
    assert.equal(runs, 2);
    assert.deepEqual(updates, [{ derived: 42 }], "only the listener's own change was sent");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("triggers return values; server errors become WslinkError with the server's fields", async () => {
  const { server } = await quietServer({ state: { count: 0 } });
  server.trigger("add", (args, kwargs) => {
    const sum = (args as number[]).reduce((total, value) => total + value, 0);
    return sum + ((kwargs.extra as number | undefined) ?? 0);
  });
  server.trigger("increment", () => {
    server.state.set("count", (server.state.get("count") as number) + 1);
    return { count: server.state.get("count"), bytes: new Uint8Array([7, 8]) };
  });
  server.trigger("boom", () => {
    throw new RangeError("it's broken");
  });
  const client = new TrameClient(server.url);
  try {
    const early = await client.trigger("add", [1]).then(
      () => assert.fail("a trigger before connect() must reject"),
      (error: unknown) => error,
    );
    assert.ok(early instanceof WslinkError);
    assert.equal(early.code, -32099);

    await client.connect();
    assert.equal(await client.trigger<number>("add", [1, 2, 3]), 6);
    assert.equal(await client.trigger("add", [1], { extra: 10 }), 11);
    assert.deepEqual(await client.trigger("increment"), {
      count: 1,
      bytes: new Uint8Array([7, 8]),
    });
    assert.equal(await client.trigger("no-such-trigger"), null);
    await waitFor(() => client.state.get("count") === 1, 3000, "the trigger's state change");

    const error = await client.trigger("boom").then(
      () => assert.fail("boom must reject"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof WslinkError);
    assert.equal(error.code, -32001);
    assert.equal(error.message, "Exception raised");
    const data = error.data as { method: string; exception: string; trace: string };
    assert.equal(data.method, "trame.trigger");
    assert.equal(data.exception, `RangeError("it's broken")`);
    assert.match(data.trace, /it's broken/);

    // The client survives a server error.
    assert.equal(client.status, "connected");
    assert.equal(await client.trigger("add", [2, 2]), 4);

    await client.disconnect();
    await assert.rejects(
      client.trigger("add", [1]),
      (error: unknown) =>
        error instanceof WslinkError && error.code === -32099 &&
        (error.data as { kind: string }).kind === "closed",
    );
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("forcePush(), onActions() and reportError() reach the server and back", async () => {
  const { server } = await quietServer({ state: { secret: 1 } });
  const messages: unknown[] = [];
  server.on("clientError", (message) => messages.push(message));
  const client = new TrameClient(server.url);
  const other = new TrameClient(server.url);
  try {
    await client.connect();
    await other.connect();
    // A server value the clients were never told about: only force.push brings it.
    server.state.set("secret", 2);
    server.state.clean("secret");
    let pushed = 0;
    client.state.onChange("secret", () => pushed++);
    await client.forcePush("secret");
    await waitFor(() => client.state.get("secret") === 2, 3000, "the pushed value");
    await waitFor(() => other.state.get("secret") === 2, 3000, "the pushed value elsewhere");
    assert.equal(pushed, 1);

    const received: unknown[][] = [];
    const stop = client.onActions((actions) => received.push(actions));
    const action = { type: "method", ref: "view", method: "resetCamera", args: [1, "a"] };
    server.pushActions([action]);
    await waitFor(() => received.length === 1, 3000, "the actions");
    assert.deepEqual(received, [[action]]);
    stop();
    server.pushActions([action]);
    // A publish queued after the actions arrives after them.
    server.state.set("secret", 3);
    server.state.flush();
    await waitFor(() => client.state.get("secret") === 3, 3000, "the marker");
    assert.equal(received.length, 1, "no call after unsubscribing");

    await client.reportError("TypeError: x is undefined");
    assert.deepEqual(messages, ["TypeError: x is undefined"]);
  } finally {
    await client.disconnect();
    await other.disconnect();
    await server.close();
  }
});

test("prefix and translations namespace the keys; trame__* keys are never translated", async () => {
  const { server } = await quietServer({
    state: { child_a: "child", a: "parent", b: "parent b", server_name: 1, child_b: "child b" },
  });
  const client = new TrameClient(server.url, {
    prefix: "child_",
    translations: { local_name: "server_name" },
  });
  try {
    await client.connect();
    const updates = recordUpdates(server);
    assert.equal(client.state.get("a"), "child");
    assert.equal(client.state.get("b"), "child b");
    assert.equal(client.state.get("local_name"), 1);
    assert.equal(client.state.get("trame__title"), "Trame");

    client.state.set("a", "mine");
    client.state.set("local_name", 2);
    client.state.set("trame__title", "Child");
    await client.state.flush();
    assert.deepEqual(updates, [{ child_a: "mine", server_name: 2, trame__title: "Child" }]);
    assert.equal(server.state.get("a"), "parent", "the parent's key is untouched");

    // The server's changes of the parent's keys do not land on the child's.
    let childRuns = 0;
    client.state.onChange(["a", "b"], () => childRuns++);
    server.state.update({ a: "parent 2", b: "parent b 2" });
    server.state.flush();
    server.state.set("child_a", "from server");
    server.state.flush();
    await waitFor(() => client.state.get("a") === "from server", 3000, "child_a");
    assert.equal(client.state.get("b"), "child b");
    assert.equal(childRuns, 1);

    server.state.set("child_b", "pushed");
    server.state.clean("child_b");
    await client.forcePush("b");
    await waitFor(() => client.state.get("b") === "pushed", 3000, "the pushed child_b");

    // trame__client_only holds server names: the parent's client-only `a` is not the child's,
    // and the child's own client-only keys are listed under their server names.
    server.state.clientOnly("a");
    await waitFor(
      () => (client.state.get("trame__client_only") as string[]).includes("a"),
      3000,
      "the client-only list",
    );
    client.state.clientOnly("b");
    await client.state.flush();
    assert.deepEqual(server.state.get("trame__client_only"), ["trame__busy", "a", "child_b"]);
    updates.length = 0;
    client.state.set("a", "child only?");
    client.state.set("b", "never sent");
    await client.state.flush();
    assert.deepEqual(updates, [{ child_a: "child only?" }]);
  } finally {
    await client.disconnect();
    await server.close();
  }
});

// Compile-time checks of the typed state, never run: each misuse below is marked as an expected
// type error, so `deno check` fails if the typing ever lets one through.
function _typedStateMisuse(client: TrameClient<{ counter: number; label: string }>): void {
  // @ts-expect-error -- counter is a number
  client.state.set("counter", "one");
  // @ts-expect-error -- no such key
  client.state.get("missing");
  // @ts-expect-error -- no such key
  client.state.onChange("missing", () => {});
  // @ts-expect-error -- label is a string
  const label: number = client.state.get("label");
  void label;
}

test("a typed client types get, set and onChange", async () => {
  const { server } = await quietServer({ state: { counter: 1, label: "one" } });
  const client = new TrameClient<{ counter: number; label: string }>(server.url);
  try {
    await client.connect();
    const counter: number = client.state.get("counter");
    assert.equal(counter, 1);
    let seen = 0;
    client.state.onChange("counter", (state) => {
      const value: number = state.counter;
      seen = value;
    });
    client.state.set("counter", counter + 1);
    client.state.update({ label: "two" });
    await client.state.flush();
    assert.equal(seen, 2);
    assert.equal(server.state.get("counter"), 2);
    assert.equal(server.state.get("label"), "two");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("a 50 MiB trigger result arrives intact", async () => {
  const size = 50 * 1024 * 1024;
  const { server } = await quietServer();
  server.trigger("big", () => pattern(size, 7));
  const client = new TrameClient(server.url);
  try {
    await client.connect();
    const result = await client.trigger<Uint8Array>("big");
    assert.ok(result instanceof Uint8Array);
    assert.equal(result.byteLength, size);
    const expected = pattern(size, 7);
    assert.ok(
      Buffer.from(result.buffer, result.byteOffset, result.byteLength).equals(expected),
      "the bytes differ",
    );
    assert.equal(await client.trigger("missing"), null, "the session still works");
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("triggerStream hands a binary result over as a stream; anything else rejects", async () => {
  const size = 3 * 1024 * 1024;
  const { server } = await quietServer();
  server.trigger(
    "export",
    (args) => new Blob([pattern(Number(args[0]), 3) as Uint8Array<ArrayBuffer>]),
  );
  server.trigger("count", () => 3);
  const client = new TrameClient(server.url);
  await assert.rejects(client.triggerStream("export", [size]), (error: unknown) => {
    assert.ok(error instanceof WslinkError);
    assert.equal((error.data as { kind: string }).kind, "closed");
    return true;
  });
  try {
    await client.connect();
    const stream = await client.triggerStream("export", [size], {}, { timeout: 10_000 });
    assert.equal(stream.size, size);
    const bytes = Buffer.from(await new Response(stream).arrayBuffer());
    assert.ok(bytes.equals(pattern(size, 3)), "the bytes differ");
    await assert.rejects(client.triggerStream("count"), (error: unknown) => {
      assert.ok(error instanceof WslinkError);
      assert.deepEqual(error.data, { kind: "protocol", value: 3 });
      return true;
    });
  } finally {
    await client.disconnect();
    await server.close();
  }
});

test("two clients see each other's changes and never their own echoes", async () => {
  const { server } = await quietServer({ state: { x: 0, y: 0 } });
  const first = new TrameClient(server.url);
  const second = new TrameClient(server.url);
  try {
    await first.connect();
    await second.connect();
    const updates = recordUpdates(server);
    const runs = { firstX: 0, firstY: 0, secondX: 0, secondY: 0 };
    first.state.onChange("x", () => runs.firstX++);
    first.state.onChange("y", () => runs.firstY++);
    second.state.onChange("x", () => runs.secondX++);
    second.state.onChange("y", () => runs.secondY++);

    first.state.set("x", 1);
    await first.state.flush();
    await waitFor(() => second.state.get("x") === 1, 3000, "x on the second client");
    second.state.set("y", 2);
    await second.state.flush();
    // Publishes to one socket arrive in order: an echo of x would be there before y.
    await waitFor(() => first.state.get("y") === 2, 3000, "y on the first client");
    await first.trigger("missing");
    await second.trigger("missing");
    assert.deepEqual(runs, { firstX: 1, firstY: 1, secondX: 1, secondY: 1 });
    assert.deepEqual(updates, [{ x: 1 }, { y: 2 }], "no client sent back what it received");
    assert.equal(server.state.get("x"), 1);
    assert.equal(server.state.get("y"), 2);
  } finally {
    await first.disconnect();
    await second.disconnect();
    await server.close();
  }
});

test("disconnect() sends client_exited, and application.exit.later with exitServerAfter", async () => {
  const exits: ExitRequest[] = [];
  const { server } = await quietServer({ onExit: (request) => exits.push(request) });
  const phases: string[] = [];
  server.on("lifecycle", (phase) => phases.push(phase));
  const client = new TrameClient(server.url);
  try {
    await client.connect();
    await client.disconnect();
    assert.deepEqual(phases, ["client_connected", "client_exited"]);
    assert.equal(exits.length, 0);

    await client.connect();
    await client.disconnect({ exitServerAfter: 0 });
    assert.deepEqual(phases.slice(2), ["client_connected", "client_exited"]);
    await waitFor(() => exits.length === 1, 3000, "onExit");
    assert.equal(exits[0].seconds, 0);
    assert.equal(client.status, "disconnected");
  } finally {
    await client.disconnect();
    await server.close();
  }
});
