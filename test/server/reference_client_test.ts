// The reference JavaScript client (the `wslink` npm package) against this server. Its source
// uses directory imports and Blob frames, so it loads only in Bun.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../src/server/mod.ts";
import { collectingLogger, within } from "./_client.ts";
import { connectReference, referenceClientLoads } from "../_wslink_reference.ts";

const skip = referenceClientLoads ? false : "reference client loads only in Bun";

test("the wslink reference client connects, calls, gets publishes and multi-frame results", {
  skip,
}, async () => {
  const { log } = collectingLogger();
  const server = await serve({ log, maxMsgSize: 65536, secret: "ref-secret", state: { n: 1 } });
  server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
  server.trigger("blob", ([size]) => new Uint8Array(size as number).map((_, i) => (i * 7) & 0xff));
  server.trigger("bump", () => {
    server.state.set("n", (server.state.get("n") as number) + 1);
  });
  let reference: Awaited<ReturnType<typeof connectReference>> | undefined;
  try {
    reference = await within(
      connectReference(server.url, "ref-secret"),
      5000,
      "reference client ready",
    );
    const { session } = reference;

    assert.equal(
      await within(session.call("trame.trigger", ["add", [2, 3, 4], {}]), 5000, "add"),
      9,
    );
    const state = await session.call("trame.state.get") as { state: Record<string, unknown> };
    assert.equal(state.state.n, 1);
    assert.deepEqual(state.state.trame__client_only, ["trame__busy"]);

    const published: unknown[] = [];
    const gotPublish = new Promise<void>((resolve) => {
      session.subscribe("trame.state.topic", (data) => {
        published.push(data[0]);
        resolve();
      });
    });
    await session.call("trame.trigger", ["bump", [], {}]);
    await within(gotPublish, 5000, "state publish");
    assert.deepEqual(published, [{ n: 2 }]);

    const blob = await within(session.call("trame.trigger", ["blob", [200_000], {}]), 5000, "blob");
    assert.ok(blob instanceof Uint8Array);
    assert.equal(blob.byteLength, 200_000);
    assert.ok(blob.every((value, index) => value === ((index * 7) & 0xff)));

    await assert.rejects(session.call("no.such"), (error: { code: number; data: string }) => {
      assert.equal(error.code, -32601);
      assert.equal(error.data, "no.such");
      return true;
    });
  } finally {
    if (reference !== undefined) {
      const { connection } = reference;
      const closed = new Promise<void>((resolve) => connection.onConnectionClose(() => resolve()));
      await connection.getSession()?.close();
      await within(closed, 5000, "reference client close");
      connection.destroy();
    }
    await server.close();
  }
});
