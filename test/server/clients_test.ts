import { test } from "node:test";
import assert from "node:assert/strict";
import { serve, type ServerClient } from "../../src/server/mod.ts";
import { collectingLogger, type Envelope, RawClient } from "./_client.ts";

const STATE_TOPIC_ID = "publish:trame.state.topic:0";

async function expectPublish(client: RawClient, id: string, result: unknown): Promise<void> {
  const { message } = await client.next();
  assert.deepStrictEqual(message, { wslink: "1.0", id, result });
}

test("state changes fan out to the other clients, the sender gets no echo, force.push reaches all", async () => {
  const { log } = collectingLogger();
  const server = await serve({ state: { counter: 0, greeting: "hello", shout: "" }, log });
  server.state.onChange(["greeting"], (state) => {
    server.state.set("shout", String(state.greeting).toUpperCase());
  });
  const clients: RawClient[] = [];
  try {
    for (let index = 0; index < 3; index++) clients.push(await RawClient.authenticated(server.url));
    const [a, b, c] = clients;
    const anonymous = await RawClient.connect(server.url);
    clients.push(anonymous);

    // A client's change: the others get it, then everyone gets what the listener changed.
    const update = await a.call("trame.state.update", [[{ key: "greeting", value: "hi" }]]);
    assert.deepStrictEqual(update.result, null);
    for (const other of [b, c]) {
      await expectPublish(other, STATE_TOPIC_ID, { greeting: "hi" });
      await expectPublish(other, STATE_TOPIC_ID, { shout: "HI" });
    }
    await expectPublish(a, STATE_TOPIC_ID, { shout: "HI" });
    const got = await a.call("trame.state.get");
    assert.equal((got.result as { state: Envelope }).state.greeting, "hi");
    assert.equal(server.state.get("greeting"), "hi");

    // force.push: the caller too.
    const forced = await b.call("trame.force.push", ["counter", "greeting"]);
    assert.deepStrictEqual(forced.result, null);
    for (const client of [a, b, c]) {
      await expectPublish(client, STATE_TOPIC_ID, { counter: 0, greeting: "hi" });
    }

    // Server-side changes: only real changes are published, to everyone.
    server.state.set("counter", 5);
    server.state.flush();
    server.state.set("counter", 5);
    server.state.update({ greeting: "hi" });
    server.state.flush();
    server.publish("marker", 1);
    for (const client of [a, b, c]) {
      await expectPublish(client, STATE_TOPIC_ID, { counter: 5 });
      await expectPublish(client, "publish:marker:0", 1);
    }

    // A client that never authenticated received none of it, even late.
    await assert.rejects(anonymous.next(300), /timed out after 300 ms/, "a message arrived");
    const refused = await anonymous.call("trame.state.get");
    assert.deepStrictEqual(refused.error, {
      code: -32000,
      message: "Unauthorized: Skip message processing",
    });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  }
});

test("a value set back by a listener is published to everyone, the sender included", async () => {
  const { log } = collectingLogger();
  const server = await serve({ state: { level: 1 }, log });
  server.state.onChange("level", (state) => {
    if ((state.level as number) > 10) server.state.set("level", 10);
  });
  const a = await RawClient.authenticated(server.url);
  const b = await RawClient.authenticated(server.url);
  try {
    await a.call("trame.state.update", [[{ key: "level", value: 99 }]]);
    await expectPublish(b, STATE_TOPIC_ID, { level: 99 });
    await expectPublish(b, STATE_TOPIC_ID, { level: 10 });
    await expectPublish(a, STATE_TOPIC_ID, { level: 10 });
    assert.equal(server.state.get("level"), 10);
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

test("register(), triggers, publish to one client, actions, lifecycle and client errors", async () => {
  const { log, lines } = collectingLogger();
  const server = await serve({ log, name: "app" });
  const seen: string[] = [];
  let caller: ServerClient | undefined;
  server.register("my.sum", async (args, kwargs, client) => {
    caller = client;
    await Promise.resolve();
    return (args as number[]).reduce((sum, value) => sum + value, 0) * (kwargs.scale as number);
  });
  server.register("my.symbol", () => Symbol("not packable"));
  server.trigger("fn", () => () => 1);
  server.trigger("nothing", () => {});
  server.on("lifecycle", (phase, client) => seen.push(`${phase} ${client.id}`));
  server.on("clientError", (message) => seen.push(`error ${message}`));
  const a = await RawClient.authenticated(server.url);
  const b = await RawClient.authenticated(server.url);
  try {
    assert.throws(() => server.register("my.sum", () => 0), { code: "already-registered" });
    assert.equal((await a.call("my.sum", [1, 2, 3], { scale: 10 })).result, 60);
    assert.equal(caller?.id, a.clientId);

    // Results msgpack cannot pack: -32002 naming the method, and the server goes on.
    assert.deepStrictEqual((await a.call("my.symbol")).error, {
      code: -32002,
      message: "Method result cannot be serialized",
      data: "my.symbol",
    });
    assert.deepStrictEqual((await a.call("trame.trigger", ["fn", [], {}])).error, {
      code: -32002,
      message: "Method result cannot be serialized",
      data: "trame.trigger",
    });
    // A trigger returning nothing, and a missing one (trame-server logs and returns None).
    assert.deepStrictEqual((await a.call("trame.trigger", ["nothing", [], {}])).result, null);
    assert.deepStrictEqual((await a.call("trame.trigger", ["missing", [], {}])).result, null);
    assert.ok(lines.includes("warn: Trigger missing seems to be missing"));
    const bad = (await a.call("trame.trigger", ["only-a-name"])).error as Envelope;
    assert.equal(bad.code, -32001);
    assert.match((bad.data as Envelope).exception as string, /^TypeError\('/);

    server.publish("just.b", { to: "b" }, { clientId: b.clientId });
    server.pushActions([{ type: "method", ref: "view", method: "resetCamera", args: [] }]);
    await expectPublish(b, "publish:just.b:0", { to: "b" });
    for (const client of [a, b]) {
      await expectPublish(client, "publish:trame.actions.topic:0", [
        { type: "method", ref: "view", method: "resetCamera", args: [] },
      ]);
    }

    assert.deepStrictEqual(
      (await b.call("trame.lifecycle.update", ["client_connected"])).result,
      null,
    );
    assert.deepStrictEqual((await b.call("trame.error.client", ["boom"])).result, null);
    assert.deepStrictEqual(seen, [`client_connected ${b.clientId}`, "error boom"]);
    assert.equal(((await a.call("trame.state.get")).result as Envelope).name, "app");
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

test("application.exit.later calls onExit; application.exit without onExit closes the server", async () => {
  const { log } = collectingLogger();
  let exited: (value: { seconds: number; client: string }) => void;
  const exitRequest = new Promise<{ seconds: number; client: string }>((resolve) =>
    exited = resolve
  );
  const withCallback = await serve({
    log,
    onExit: ({ seconds, client }) => exited({ seconds, client: client.id }),
  });
  const a = await RawClient.authenticated(withCallback.url);
  try {
    assert.deepStrictEqual((await a.call("application.exit.later", [0.01])).result, null);
    assert.deepStrictEqual(await exitRequest, { seconds: 0.01, client: a.clientId });
  } finally {
    await a.close();
    await withCallback.close();
  }

  const plain = await serve({ log });
  const b = await RawClient.authenticated(plain.url);
  const disconnected: number[] = [];
  plain.on("disconnect", (_client, code) => disconnected.push(code));
  try {
    assert.deepStrictEqual((await b.call("application.exit")).result, null);
    await plain.finished;
    // Every runtime's adapter sends the core's 1001 as is.
    assert.deepStrictEqual(await b.closed, { code: 1001, reason: "Server shutdown" });
    assert.equal(disconnected.length, 1);
  } finally {
    await b.close();
    await plain.close();
  }
});

test("close() closes every client, is idempotent, and works with await using", async () => {
  const { log } = collectingLogger();
  const clients: RawClient[] = [];
  {
    await using server = await serve({ log });
    for (let index = 0; index < 3; index++) clients.push(await RawClient.authenticated(server.url));
    const first = server.close();
    assert.equal(server.close(), first);
    await first;
    assert.equal(server.clients.length, 0);
  }
  for (const client of clients) {
    assert.deepStrictEqual(await client.closed, { code: 1001, reason: "Server shutdown" });
  }
});
