import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMessageId } from "../../mod.ts";

test("parseMessageId() splits at the first and the last colon", () => {
  assert.deepEqual(parseMessageId("publish:trame.state.topic:0"), {
    type: "publish",
    name: "trame.state.topic",
    counter: "0",
  });
  assert.deepEqual(parseMessageId("publish:a:b.c:d:17"), {
    type: "publish",
    name: "a:b.c:d",
    counter: "17",
  });
  assert.deepEqual(parseMessageId("rpc:c025d:12"), { type: "rpc", name: "c025d", counter: "12" });
  assert.deepEqual(parseMessageId("publish::0"), { type: "publish", name: "", counter: "0" });
});

test("parseMessageId() refuses ids with fewer than two colons", () => {
  assert.equal(parseMessageId("publish:topic"), undefined);
  assert.equal(parseMessageId("nothing"), undefined);
});
