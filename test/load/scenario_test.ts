// Scenario files: JSON and the YAML subset give the same scenario, templates fill per user and
// iteration, and every mistake is refused up front with a message that says where it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_SCENARIO_SOURCE,
  loadScenarioFile,
  parseScenario,
  parseScenarioText,
  ScenarioError,
} from "../../src/load/scenario.ts";
import { parseYaml, YamlError } from "../../src/load/yaml.ts";
import { parseDuration } from "../../src/load/duration.ts";

const YAML_SCENARIO = `# a scenario of every kind of step
---
name: everything
timeout: 5s
steps:
  - set: { "key_{{user}}": "{{iteration}}", fixed: 'it''s' }
    roundTrip: true
  - get: [counter]
    expect:
      counter: 1
  - trigger: add
    args: [1, 2]        # a comment after a value
    expect: 3
  - call: trame.state.get
  - waitFor: counter
    greaterThan: 0
    timeout: 250ms
  - subscribe: my.topic
  - expectPublish: my.topic
  - think: { min: 0.5s, max: 1.5 }
  - loop:
      - think: 10ms
      - trigger: echo
        kwargs:
          nested:
            - a
            - "b # not a comment"
            - null
            - -1.5e3
    count: 2
`;

const JSON_SCENARIO = {
  name: "everything",
  timeout: "5s",
  steps: [
    { set: { "key_{{user}}": "{{iteration}}", fixed: "it's" }, roundTrip: true },
    { get: ["counter"], expect: { counter: 1 } },
    { trigger: "add", args: [1, 2], expect: 3 },
    { call: "trame.state.get" },
    { waitFor: "counter", greaterThan: 0, timeout: "250ms" },
    { subscribe: "my.topic" },
    { expectPublish: "my.topic" },
    { think: { min: "0.5s", max: 1.5 } },
    {
      loop: [
        { think: "10ms" },
        { trigger: "echo", kwargs: { nested: ["a", "b # not a comment", null, -1500] } },
      ],
      count: 2,
    },
  ],
};

test("the YAML subset reads a scenario exactly as its JSON", () => {
  assert.deepEqual(parseYaml(YAML_SCENARIO), JSON_SCENARIO);
});

test("a scenario of every step kind: metrics, timeouts, durations and templates", () => {
  const scenario = parseScenario(parseScenarioText(YAML_SCENARIO, "every.yaml"), "every.yaml");
  assert.equal(scenario.name, "everything");
  assert.equal(scenario.timeout, 5000);
  assert.equal(scenario.watchesRoundTrips, true);
  assert.deepEqual(scenario.metrics, [
    "set",
    "get",
    "trigger",
    "call",
    "wait_for",
    "state_round_trip",
    "publish",
  ]);
  const [set, , trigger, , waitFor, , expectPublish, think, loop] = scenario.steps;
  assert.equal(set.kind, "set");
  if (set.kind === "set") {
    assert.deepEqual(set.values({ user: 7, iteration: 3 }), { key_7: 3, fixed: "it's" });
    assert.equal(set.timeout, 5000);
  }
  if (trigger.kind === "trigger") {
    assert.deepEqual(trigger.args({ user: 0, iteration: 0 }), [1, 2]);
    assert.equal(trigger.expect?.({ user: 0, iteration: 0 }), 3);
  }
  if (waitFor.kind === "waitFor") {
    assert.equal(waitFor.timeout, 250);
    assert.equal(waitFor.condition.type, "greaterThan");
  }
  assert.equal(expectPublish.kind === "expectPublish" && expectPublish.timeout, 5000);
  assert.deepEqual(think, { kind: "think", min: 500, max: 1500 });
  assert.equal(loop.kind === "loop" && loop.count, 2);
});

test("the default scenario needs only trame: its own key, written and read back", () => {
  const scenario = parseScenario(DEFAULT_SCENARIO_SOURCE, "default");
  assert.deepEqual(scenario.metrics, ["set", "get"]);
  const [set, get] = scenario.steps;
  if (set.kind !== "set" || get.kind !== "get") throw new Error("unexpected steps");
  assert.deepEqual(set.values({ user: 4, iteration: 9 }), { trame_wire_load_4: 9 });
  assert.deepEqual(get.expect?.({ user: 4, iteration: 9 }), { trame_wire_load_4: 9 });
});

test("durations: numbers are seconds, strings carry a unit", () => {
  assert.equal(parseDuration(2), 2000);
  assert.equal(parseDuration("2"), 2000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  for (const bad of ["5 sec", "-1s", "", "1e3", null, Number.NaN, -1, "ms"]) {
    assert.equal(parseDuration(bad), undefined, String(bad));
  }
});

function refusal(value: unknown, pattern: RegExp): void {
  assert.throws(() => parseScenario(value, "test.json"), (error: unknown) => {
    assert.ok(error instanceof ScenarioError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

test("scenario mistakes are refused with the place and what is expected", () => {
  refusal([], /^test\.json: a scenario is an object with a "steps" list$/);
  refusal({ steps: [] }, /^test\.json: steps: must be a non-empty list of steps$/);
  refusal({ steps: [{ think: "1s" }] }, /steps: needs at least one step that is not think/);
  refusal(
    { steps: [{ trigger: "a" }], stpes: 1 },
    /unknown field "stpes" \(expected name, steps, timeout\)/,
  );
  refusal(
    { steps: [{ trgger: "a" }] },
    /^test\.json: steps\[0\]: no step kind: expected one of set, get, trigger.*got keys trgger$/,
  );
  refusal(
    { steps: [{ trigger: "a", set: { a: 1 } }] },
    /steps\[0\]: one step kind per step, got set and trigger/,
  );
  refusal({ steps: [{ trigger: "" }] }, /steps\[0\]\.trigger: must be the name of the trigger/);
  refusal({ steps: [{ trigger: "a", args: 3 }] }, /steps\[0\]\.args: must be a list/);
  refusal(
    { steps: [{ trigger: "a", timeout: "5 sec" }] },
    /steps\[0\]\.timeout: must be a duration such as "200ms", "5s" or 2 \(seconds\), got "5 sec"/,
  );
  refusal({ steps: [{ trigger: "a", timeout: 0 }] }, /steps\[0\]\.timeout: must be a duration/);
  refusal({ steps: [{ set: {} }] }, /steps\[0\]\.set: must be an object of state keys and values/);
  refusal(
    { steps: [{ set: { a: 1 }, roundTrip: "yes" }] },
    /steps\[0\]\.roundTrip: must be true or false/,
  );
  refusal({ steps: [{ get: [1] }] }, /steps\[0\]\.get: must be a key or a list of keys/);
  refusal(
    { steps: [{ waitFor: "a" }] },
    /steps\[0\]: waitFor needs exactly one condition of equals, notEquals/,
  );
  refusal(
    { steps: [{ waitFor: "a", equals: 1, exists: true }] },
    /waitFor needs exactly one condition/,
  );
  refusal(
    { steps: [{ waitFor: "a", greaterThan: "1" }] },
    /steps\[0\]\.greaterThan: must be a number/,
  );
  refusal({ steps: [{ waitFor: "a", changes: false }] }, /steps\[0\]\.changes: must be true/);
  refusal({ steps: [{ expectPublish: "" }] }, /steps\[0\]\.expectPublish: must be a topic name/);
  refusal(
    { steps: [{ subscribe: "t", timeout: 1 }] },
    /unknown field "timeout" \(expected subscribe\)/,
  );
  refusal(
    { steps: [{ think: { min: 2, max: 1 } }, { trigger: "a" }] },
    /steps\[0\]\.think: max must not be below min/,
  );
  refusal(
    { steps: [{ loop: [{ trigger: "a" }], count: 0 }] },
    /steps\[0\]\.count: must be a whole number of at least 1/,
  );
  refusal({ steps: [{ loop: [{ bogus: 1 }], count: 1 }] }, /steps\[0\]\.loop\[0\]: no step kind/);
  refusal(
    { steps: [{ set: { "k{{usr}}": 1 } }] },
    /steps\[0\]\.set: unknown placeholder \{\{usr\}\} \(use \{\{user\}\} or \{\{iteration\}\}\)/,
  );
});

test("files: JSON and YAML errors name the file and the line; a missing file says so", async () => {
  const folder = mkdtempSync(join(tmpdir(), "trame-wire-scenario-"));
  try {
    const write = (name: string, text: string) => {
      writeFileSync(join(folder, name), text);
      return join(folder, name);
    };
    const good = await loadScenarioFile(write("good.yml", "steps:\n  - trigger: add\n"));
    assert.deepEqual(good.value, { steps: [{ trigger: "add" }] });
    assert.equal(good.scenario.name, join(folder, "good.yml"));
    const cases: [string, string, RegExp][] = [
      ["bad.json", "{ steps: [] }", /bad\.json: not valid JSON/],
      ["tabs.yaml", "steps:\n\t- trigger: a\n", /tabs\.yaml: line 2: tabs cannot indent YAML/],
      ["anchor.yaml", "steps:\n  - &x trigger: a\n", /line 2: anchors and aliases/],
      [
        "block.yaml",
        "name: |\n  text\nsteps: []\n",
        /line 1: block scalars \(\| and >\) are not supported/,
      ],
      ["indent.yaml", "steps:\n  - trigger: a\n     args: [1]\n", /line 3: unexpected indentation/],
      [
        "flow.yaml",
        "steps: [\n  1]\n",
        /line 1: expected "," or "\]" \(flow collections must fit on one line\)/,
      ],
      ["template.yaml", "steps:\n  - set: { k: {{user}} }\n", /line 2: /],
      ["quote.yaml", 'name: "abc\nsteps: []\n', /line 1: unterminated " string/],
      ["dup.yaml", "steps: []\nsteps: []\n", /line 2: duplicate key "steps"/],
      ["docs.yaml", "steps: []\n---\nsteps: []\n", /line 2: only one YAML document is supported/],
    ];
    for (const [name, text, pattern] of cases) {
      await assert.rejects(loadScenarioFile(write(name, text)), (error: unknown) => {
        assert.ok(error instanceof ScenarioError, `${name}: ${error}`);
        assert.match(error.message, pattern, name);
        return true;
      });
    }
    await assert.rejects(loadScenarioFile(join(folder, "none.json")), /none\.json: no such file/);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test("YAML scalars: quoted, plain, numbers, booleans, nulls, nested blocks", () => {
  const text = `
a: plain text with: a colon
b: "double \\"quoted\\" \\u00e9"
c: 'single # kept'
d: [true, False, ~, null, 0, -12, 3.5, .5, 1e3, "1e3", 0x10]
e:
- x
- - nested
  - list
f: {}
g: []
h:
i: ws://127.0.0.1:8080/ws
`;
  assert.deepEqual(parseYaml(text), {
    a: "plain text with: a colon",
    b: 'double "quoted" é',
    c: "single # kept",
    d: [true, false, null, null, 0, -12, 3.5, 0.5, 1000, "1e3", "0x10"],
    e: ["x", ["nested", "list"]],
    f: {},
    g: [],
    h: null,
    i: "ws://127.0.0.1:8080/ws",
  });
  assert.equal(parseYaml("# only a comment\n"), null);
  assert.throws(
    () => parseYaml("a: !tag x"),
    (error: unknown) => error instanceof YamlError && /tags/.test(error.message),
  );
});
