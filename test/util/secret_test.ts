import { test } from "node:test";
import assert from "node:assert/strict";
import { secretsEqual } from "../../src/util/secret.ts";

test("secretsEqual() is true only for the same text", () => {
  const secret = "wslink-secret";
  assert.equal(secretsEqual(secret, secret), true);
  assert.equal(secretsEqual("", ""), true);
  assert.equal(secretsEqual("é😀", "é😀"), true);
  for (
    const guess of [
      "",
      "w",
      "wslink-secre",
      "wslink-secreT",
      "xslink-secret",
      "wslink-secretwslink-secret", // the secret twice: same bytes where they overlap
      "wslink-secret\0",
      "Wslink-secret",
    ]
  ) {
    assert.equal(secretsEqual(guess, secret), false, guess);
  }
  assert.equal(secretsEqual("a", ""), false);
  assert.equal(secretsEqual("é", "e\u0301"), false);
});
