import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { launch, LauncherError } from "../../src/trame/launcher.ts";
import { launcherReply, withLauncher } from "../_support.ts";

test("launch() returns a config that has a sessionURL unchanged, asking nobody", async () => {
  const config = { sessionURL: "ws://127.0.0.1:1/ws", secret: "s" };
  assert.equal(await launch(config), config);
});

test("launch() POSTs the config as JSON and merges the reply", async () => {
  await withLauncher(
    [launcherReply(200, { sessionURL: "ws://127.0.0.1:9/ws", secret: "once" })],
    async (url, requests) => {
      const config = await launch({ sessionManagerURL: url, application: "cone" });
      assert.deepEqual(requests, [{ sessionManagerURL: url, application: "cone" }]);
      assert.deepEqual(config, {
        sessionManagerURL: url,
        application: "cone",
        sessionURL: "ws://127.0.0.1:9/ws",
        secret: "once",
      });
    },
  );
});

test("launch() retries after HTTP 503 with the configured delays, then succeeds", async () => {
  await withLauncher(
    [
      launcherReply(503, { busy: true }),
      launcherReply(503, { busy: true }),
      launcherReply(200, { sessionURL: "ws://x/ws" }),
    ],
    async (url, requests) => {
      const config = await launch({ sessionManagerURL: url }, { retryDelays: [5, 5, 5] });
      assert.equal(config.sessionURL, "ws://x/ws");
      assert.equal(requests.length, 3);
    },
  );
});

test("launch() gives up after the last retry with a LauncherError naming URL and status", async () => {
  await withLauncher([launcherReply(503, "busy")], async (url, requests) => {
    const error = await launch({ sessionManagerURL: url }, { retryDelays: [1, 1] }).then(
      () => assert.fail("launch should fail"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof LauncherError);
    assert.equal(error.status, 503);
    assert.equal(error.url, url);
    assert.match(error.message, new RegExp(`${url}.*HTTP 503 after 3 attempts`));
    assert.equal(requests.length, 3);
  });
});

test("launch() fails at once on any other HTTP error, with the status", async () => {
  await withLauncher([launcherReply(404, "no such app")], async (url, requests) => {
    await assert.rejects(
      launch({ sessionManagerURL: url }, { retryDelays: [1, 1] }),
      (error: unknown) => error instanceof LauncherError && error.status === 404,
    );
    assert.equal(requests.length, 1);
  });
});

test("launch() refuses a reply without sessionURL", async () => {
  await withLauncher([launcherReply(200, { secret: "x" })], async (url) => {
    await assert.rejects(
      launch({ sessionManagerURL: url }),
      /the reply has no sessionURL/,
    );
  });
});

test("launch() reports a launcher that does not answer", async () => {
  // A port that was free a moment ago: nothing listens there now.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  await assert.rejects(
    launch({ sessionManagerURL: `http://127.0.0.1:${port}/` }),
    (error: unknown) => error instanceof LauncherError && error.status === undefined,
  );
});

test("launch() needs a sessionURL or a sessionManagerURL", async () => {
  await assert.rejects(launch({}), TypeError);
});
