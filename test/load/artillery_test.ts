// Artillery: the engine package (build_artillery.ts) is packed, installed into a scratch folder
// and loaded by the pinned `artillery` release (test/artillery/package-lock.json, installed into
// build/artillery by setup_artillery.ts) in `artillery run`, telemetry off, against the embedded
// server. Skipped where that install is missing, unless TRAME_WIRE_REQUIRE_ARTILLERY=1 (CI).
// One scenario file is run both by `trame-wire load` and by Artillery (next to an inline flow);
// Artillery's own report must count every user, step and server call, with no error.
// Node only: Artillery runs on Node, and this is its one run per suite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { serve } from "../../src/server/mod.ts";
import { runLoad } from "../../src/load/run.ts";
import { loadScenarioFile } from "../../src/load/scenario.ts";
import { buildArtilleryEngine } from "../publish/build_artillery.ts";
import { explain, run } from "../publish/_support.ts";
import { installedArtillery } from "../publish/setup_artillery.ts";

const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
const artillery = installedArtillery();
const skip = !isNode
  ? "Artillery runs on Node: its engine is tested there, once per suite"
  : artillery === undefined && process.env.TRAME_WIRE_REQUIRE_ARTILLERY !== "1"
  ? "the pinned Artillery is not installed (npm run setup:artillery; .ci/run does it)"
  : false;

const SCENARIO_FILE = `name: add and note
steps:
  - trigger: add
    args: [1, 2]
    expect: 3
  - set: { "note_{{user}}": "{{iteration}}" }
  - get: ["note_{{user}}"]
    expect: { "note_{{user}}": "{{iteration}}" }
`;

const USERS = 10; // 2 s at 5 arrivals per second

const ARTILLERY_SCRIPT = (url: string) =>
  `config:
  target: ${url}
  phases:
    - duration: 2
      arrivalRate: 5
  engines:
    trame: {}
  trame:
    timeout: 10s
scenarios:
  - name: file
    engine: trame
    scenarioFile: scenario.yaml
  - name: inline
    engine: trame
    flow:
      - trigger: add
        args: [2, 3]
        expect: 5
      - think: 0.05
`;

/** Builds, packs and installs the engine; resolves to the node_modules folder holding it. */
async function installEngine(scratch: string): Promise<string> {
  const pack = await run("npm", ["pack", "--silent", "--pack-destination", scratch], {
    cwd: buildArtilleryEngine(),
  });
  assert.equal(pack.code, 0, explain(pack));
  const tarball = join(scratch, pack.stdout.trim().split("\n").at(-1)!);
  const project = join(scratch, "engine");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "engine", private: true }));
  const install = await run("npm", [
    "install",
    tarball,
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
  ], {
    cwd: project,
    timeout: 300_000,
  });
  assert.equal(install.code, 0, explain(install));
  return join(project, "node_modules");
}

test("artillery run with artillery-engine-trame: the same scenario file as trame-wire load", {
  skip,
  timeout: 120_000,
}, async () => {
  assert.ok(
    artillery !== undefined,
    "the pinned Artillery is required here: npm run setup:artillery",
  );
  const scratch = mkdtempSync(join(tmpdir(), "trame-wire-artillery-"));
  try {
    const nodePath = await installEngine(scratch);
    await using server = await serve({ port: 0, log: () => {} });
    const calls = { "1+2": 0, "2+3": 0 };
    server.trigger("add", ([a, b]) => {
      calls[`${a}+${b}` as keyof typeof calls]++;
      return (a as number) + (b as number);
    });
    writeFileSync(join(scratch, "scenario.yaml"), SCENARIO_FILE);
    writeFileSync(join(scratch, "script.yml"), ARTILLERY_SCRIPT(server.url));

    // trame-wire load runs the scenario file…
    const loaded = await loadScenarioFile(join(scratch, "scenario.yaml"));
    const result = await runLoad({
      target: { url: server.url },
      scenario: { value: loaded.value, source: loaded.source },
      users: 2,
      rampMs: 0,
      durationMs: 1000,
      workers: 1,
    });
    assert.deepEqual(result.errors, {});
    assert.equal(result.metrics.trigger!.count, calls["1+2"]);
    assert.ok(result.metrics.get!.count > 0);
    calls["1+2"] = 0;

    // … and so does Artillery, with its own phases, through the packed engine.
    const report = join(scratch, "report.json");
    const artilleryRun = await run(process.execPath, [
      artillery,
      "run",
      "script.yml",
      "--output",
      report,
    ], {
      cwd: scratch,
      timeout: 300_000,
      env: { ARTILLERY_DISABLE_TELEMETRY: "true", NODE_PATH: nodePath },
    });
    assert.equal(artilleryRun.code, 0, explain(artilleryRun));
    const { counters, summaries } = JSON.parse(readFileSync(report, "utf8")).aggregate;
    assert.deepEqual(
      Object.keys(counters).filter((name) => name.startsWith("errors.")),
      [],
      JSON.stringify(counters),
    );
    assert.equal(counters["vusers.created"], USERS);
    assert.equal(counters["vusers.completed"], USERS);
    assert.equal(counters["vusers.failed"] ?? 0, 0);
    const fromFile = counters["vusers.created_by_name.file"] ?? 0;
    const inline = counters["vusers.created_by_name.inline"] ?? 0;
    assert.equal(fromFile + inline, USERS);
    // Every user connected and loaded the state; every server call is in the histograms.
    assert.equal(summaries["trame.connect"].count, USERS);
    assert.equal(summaries["trame.initial_state"].count, USERS);
    assert.equal(calls["1+2"], fromFile);
    assert.equal(calls["2+3"], inline);
    assert.equal(summaries["trame.trigger"].count, USERS);
    assert.equal(summaries["trame.set"]?.count ?? 0, fromFile);
    assert.equal(summaries["trame.get"]?.count ?? 0, fromFile);
    assert.equal(counters["trame.actions"], USERS + 2 * fromFile);
    assert.ok(summaries["trame.trigger"].max >= summaries["trame.trigger"].min);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
