/**
 * Scenario files: what a virtual user does, as a list of steps run in a loop. JSON always; YAML
 * in the subset of `yaml.ts`. Parsing checks everything up front and says where a problem is
 * (`steps[2].waitFor: …`), so a load run never starts with a scenario that cannot work.
 * @module
 */
import { readFile } from "node:fs/promises";
import { parseDuration } from "./duration.ts";
import { parseYaml, YamlError } from "./yaml.ts";

/** The values a template may use: `{{user}}` and `{{iteration}}`. */
export interface TemplateVars {
  /** The virtual user: its index in the run (0, 1, …), or Artillery's id of it. */
  readonly user: number | string;
  /** How many times this user has run the steps before (0 on the first pass). */
  readonly iteration: number;
}

/** A value of the scenario with its `{{…}}` placeholders filled for one user and iteration. */
export type Template = (vars: TemplateVars) => unknown;

/** What `waitFor` waits for. */
export type Condition =
  | { readonly type: "equals" | "notEquals" | "greaterThan" | "lessThan"; readonly value: Template }
  | { readonly type: "exists"; readonly value: boolean }
  | { readonly type: "changes" };

/** One step of a scenario. `timeout` is in milliseconds. */
export type Step =
  | {
    readonly kind: "set";
    readonly values: Template;
    readonly roundTrip: boolean;
    readonly timeout: number;
  }
  | {
    readonly kind: "get";
    readonly keys: Template;
    readonly expect: Template | undefined;
    readonly timeout: number;
  }
  | {
    readonly kind: "trigger" | "call";
    readonly name: Template;
    readonly args: Template;
    readonly kwargs: Template;
    readonly expect: Template | undefined;
    readonly timeout: number;
  }
  | {
    readonly kind: "waitFor";
    readonly key: Template;
    readonly condition: Condition;
    readonly timeout: number;
  }
  | { readonly kind: "subscribe"; readonly topic: string }
  | { readonly kind: "expectPublish"; readonly topic: string; readonly timeout: number }
  | { readonly kind: "think"; readonly min: number; readonly max: number }
  | { readonly kind: "loop"; readonly steps: readonly Step[]; readonly count: number };

/** The latency metrics a run can measure, in the order reports list them. */
export const METRICS = [
  "launch",
  "connect",
  "initial_state",
  "set",
  "get",
  "trigger",
  "call",
  "wait_for",
  "state_round_trip",
  "publish",
] as const;

/** A latency metric. */
export type MetricName = (typeof METRICS)[number];

/** The metrics of steps a user does, counted as actions in the throughput figures. */
export const ACTION_METRICS: ReadonlySet<MetricName> = new Set<MetricName>([
  "set",
  "get",
  "trigger",
  "call",
  "wait_for",
  "publish",
]);

/** A parsed scenario. */
export interface Scenario {
  readonly name: string;
  readonly steps: readonly Step[];
  /** The default timeout of a step, in milliseconds. */
  readonly timeout: number;
  /** The step metrics this scenario measures (besides connect and initial_state). */
  readonly metrics: readonly MetricName[];
  /** Whether a `set` asks for the state round trip (users then watch every state change). */
  readonly watchesRoundTrips: boolean;
}

/** A scenario that cannot be used; `where` says which part (`steps[1].trigger`). */
export class ScenarioError extends Error {
  constructor(source: string, where: string, detail: string) {
    super(`${source}: ${where ? `${where}: ` : ""}${detail}`);
    this.name = "ScenarioError";
  }
}

/** The scenario used when none is given: it needs nothing from the app but trame itself. */
export const DEFAULT_SCENARIO_SOURCE = {
  name: "default: write a key of its own and read it back",
  steps: [
    { set: { "trame_wire_load_{{user}}": "{{iteration}}" } },
    {
      get: ["trame_wire_load_{{user}}"],
      expect: { "trame_wire_load_{{user}}": "{{iteration}}" },
    },
    { think: "1s" },
  ],
};

const DEFAULT_TIMEOUT_MS = 10_000;
const STEP_KINDS = [
  "set",
  "get",
  "trigger",
  "call",
  "waitFor",
  "subscribe",
  "expectPublish",
  "think",
  "loop",
] as const;
const CONDITIONS = ["equals", "notEquals", "greaterThan", "lessThan", "exists", "changes"] as const;
const MAX_STEPS = 10_000;

/** A scenario file read and checked: its plain value (what threads receive) and the result. */
export interface LoadedScenario {
  readonly value: unknown;
  readonly source: string;
  readonly scenario: Scenario;
}

/** Reads and checks a scenario file: `.yaml`/`.yml` as YAML, anything else as JSON. */
export async function loadScenarioFile(path: string): Promise<LoadedScenario> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new ScenarioError(path, "", code === "ENOENT" ? "no such file" : String(error));
  }
  const value = parseScenarioText(text, path);
  return { value, source: path, scenario: parseScenario(value, path) };
}

/** Parses a scenario file's text into plain values; `source` names it and picks the format. */
export function parseScenarioText(text: string, source: string): unknown {
  if (/\.ya?ml$/i.test(source)) {
    try {
      return parseYaml(text);
    } catch (error) {
      if (error instanceof YamlError) throw new ScenarioError(source, "", error.message);
      throw error;
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(source, "", `not valid JSON (${(error as Error).message})`);
  }
}

/** Checks a scenario given as a value (parsed JSON or YAML). */
export function parseScenario(value: unknown, source = "scenario"): Scenario {
  const fail = (where: string, detail: string): never => {
    throw new ScenarioError(source, where, detail);
  };
  if (!isRecord(value)) fail("", 'a scenario is an object with a "steps" list');
  const record = value as Record<string, unknown>;
  checkKeys(record, ["name", "steps", "timeout"], "", fail);
  const name = record.name ?? source;
  if (typeof name !== "string") fail("name", "must be a string");
  const timeout = record.timeout === undefined
    ? DEFAULT_TIMEOUT_MS
    : durationOf(record.timeout, "timeout", fail, true);
  const context: ParseContext = { fail, timeout, metrics: new Set(), roundTrip: false, count: 0 };
  const steps = parseSteps(record.steps, "steps", context);
  if (!containsWork(steps)) {
    fail("steps", "needs at least one step that is not think (a user would only sleep)");
  }
  return {
    name: name as string,
    steps,
    timeout,
    metrics: METRICS.filter((metric) => context.metrics.has(metric)),
    watchesRoundTrips: context.roundTrip,
  };
}

type Fail = (where: string, detail: string) => never;

interface ParseContext {
  readonly fail: Fail;
  readonly timeout: number;
  readonly metrics: Set<MetricName>;
  roundTrip: boolean;
  count: number;
}

function parseSteps(value: unknown, where: string, context: ParseContext): Step[] {
  if (!Array.isArray(value) || value.length === 0) {
    context.fail(where, "must be a non-empty list of steps");
  }
  return (value as unknown[]).map((step, index) => parseStep(step, `${where}[${index}]`, context));
}

function parseStep(value: unknown, where: string, context: ParseContext): Step {
  const { fail } = context;
  if (++context.count > MAX_STEPS) fail(where, `a scenario has at most ${MAX_STEPS} steps`);
  if (!isRecord(value)) fail(where, `a step is an object such as { "trigger": "name" }`);
  const step = value as Record<string, unknown>;
  const kind = stepKind(step, where, fail);
  return STEP_PARSERS[kind]({
    step,
    where,
    at: `${where}.${kind}`,
    context,
    fail,
    timeout: () =>
      step.timeout === undefined
        ? context.timeout
        : durationOf(step.timeout, `${where}.timeout`, fail, true),
    template: (name, value) => compileTemplate(value, `${where}.${name}`, fail),
  });
}

type StepKind = (typeof STEP_KINDS)[number];

// The one step kind among the step's keys.
function stepKind(step: Record<string, unknown>, where: string, fail: Fail): StepKind {
  const kinds = STEP_KINDS.filter((kind) => Object.hasOwn(step, kind));
  if (kinds.length !== 1) {
    fail(
      where,
      kinds.length === 0
        ? `no step kind: expected one of ${STEP_KINDS.join(", ")}; got keys ${
          Object.keys(step).join(", ") || "(none)"
        }`
        : `one step kind per step, got ${kinds.join(" and ")}`,
    );
  }
  return kinds[0];
}

// A step being parsed: its fields, where it is (`at` names its kind's field), and the helpers
// every kind uses.
interface StepInput {
  readonly step: Record<string, unknown>;
  readonly where: string;
  readonly at: string;
  readonly context: ParseContext;
  readonly fail: Fail;
  /** The step's `timeout`, or the scenario's. */
  timeout(): number;
  /** `value` compiled as a template; `name` is the field it is in. */
  template(name: string, value: unknown): Template;
}

const STEP_PARSERS: { readonly [K in StepKind]: (input: StepInput) => Step } = {
  set: parseSetStep,
  get: parseGetStep,
  trigger: (input) => parseCallStep(input, "trigger"),
  call: (input) => parseCallStep(input, "call"),
  waitFor: parseWaitForStep,
  subscribe: parseSubscribeStep,
  expectPublish: parseExpectPublishStep,
  think: parseThinkStep,
  loop: parseLoopStep,
};

function parseSetStep({ step, where, at, context, fail, timeout, template }: StepInput): Step {
  checkKeys(step, ["set", "roundTrip", "timeout"], where, fail);
  if (!isRecord(step.set) || Object.keys(step.set).length === 0) {
    fail(at, "must be an object of state keys and values");
  }
  if (step.roundTrip !== undefined && typeof step.roundTrip !== "boolean") {
    fail(`${where}.roundTrip`, "must be true or false");
  }
  context.metrics.add("set");
  if (step.roundTrip === true) {
    context.metrics.add("state_round_trip");
    context.roundTrip = true;
  }
  return {
    kind: "set",
    values: template("set", step.set),
    roundTrip: step.roundTrip === true,
    timeout: timeout(),
  };
}

function parseGetStep({ step, where, at, context, fail, timeout, template }: StepInput): Step {
  checkKeys(step, ["get", "expect", "timeout"], where, fail);
  const keys = typeof step.get === "string" ? [step.get] : step.get;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string")) {
    fail(at, "must be a key or a list of keys");
  }
  if (step.expect !== undefined && !isRecord(step.expect)) {
    fail(`${where}.expect`, "must be an object of the keys' expected values");
  }
  context.metrics.add("get");
  return {
    kind: "get",
    keys: template("get", keys),
    expect: step.expect === undefined ? undefined : template("expect", step.expect),
    timeout: timeout(),
  };
}

function parseCallStep(input: StepInput, kind: "trigger" | "call"): Step {
  const { step, where, at, context, fail, timeout, template } = input;
  checkKeys(step, [kind, "args", "kwargs", "expect", "timeout"], where, fail);
  if (typeof step[kind] !== "string" || step[kind] === "") {
    fail(at, `must be the name of the ${kind === "trigger" ? "trigger" : "wslink method"}`);
  }
  const args = step.args ?? [];
  const kwargs = step.kwargs ?? {};
  if (!Array.isArray(args)) fail(`${where}.args`, "must be a list");
  if (!isRecord(kwargs)) fail(`${where}.kwargs`, "must be an object");
  context.metrics.add(kind);
  return {
    kind,
    name: template(kind, step[kind]),
    args: template("args", args),
    kwargs: template("kwargs", kwargs),
    expect: Object.hasOwn(step, "expect") ? template("expect", step.expect) : undefined,
    timeout: timeout(),
  };
}

function parseWaitForStep(input: StepInput): Step {
  const { step, where, at, context, fail, timeout, template } = input;
  checkKeys(step, ["waitFor", ...CONDITIONS, "timeout"], where, fail);
  if (typeof step.waitFor !== "string" || step.waitFor === "") fail(at, "must be a state key");
  const condition = parseCondition(input);
  context.metrics.add("wait_for");
  return { kind: "waitFor", key: template("waitFor", step.waitFor), condition, timeout: timeout() };
}

// The one condition of a waitFor step.
function parseCondition({ step, where, fail, template }: StepInput): Condition {
  const conditions = CONDITIONS.filter((name) => Object.hasOwn(step, name));
  if (conditions.length !== 1) {
    fail(where, `waitFor needs exactly one condition of ${CONDITIONS.join(", ")}`);
  }
  const type = conditions[0];
  if (type === "exists") {
    if (typeof step.exists !== "boolean") fail(`${where}.exists`, "must be true or false");
    return { type, value: step.exists as boolean };
  }
  if (type === "changes") {
    if (step.changes !== true) fail(`${where}.changes`, "must be true");
    return { type };
  }
  if ((type === "greaterThan" || type === "lessThan") && typeof step[type] !== "number") {
    fail(`${where}.${type}`, "must be a number");
  }
  return { type, value: template(type, step[type]) };
}

function parseSubscribeStep({ step, where, at, fail }: StepInput): Step {
  checkKeys(step, ["subscribe"], where, fail);
  return { kind: "subscribe", topic: topicOf(step.subscribe, at, fail) };
}

function parseExpectPublishStep({ step, where, at, context, fail, timeout }: StepInput): Step {
  checkKeys(step, ["expectPublish", "timeout"], where, fail);
  const topic = topicOf(step.expectPublish, at, fail);
  context.metrics.add("publish");
  return { kind: "expectPublish", topic, timeout: timeout() };
}

function topicOf(value: unknown, at: string, fail: Fail): string {
  if (typeof value !== "string" || value === "") fail(at, "must be a topic name");
  return value as string;
}

function parseThinkStep({ step, where, at, fail }: StepInput): Step {
  checkKeys(step, ["think"], where, fail);
  if (isRecord(step.think)) {
    const range = step.think as Record<string, unknown>;
    checkKeys(range, ["min", "max"], at, fail);
    const min = durationOf(range.min, `${at}.min`, fail, false);
    const max = durationOf(range.max, `${at}.max`, fail, false);
    if (max < min) fail(at, "max must not be below min");
    return { kind: "think", min, max };
  }
  const fixed = durationOf(step.think, at, fail, false);
  return { kind: "think", min: fixed, max: fixed };
}

function parseLoopStep({ step, where, at, context, fail }: StepInput): Step {
  checkKeys(step, ["loop", "count"], where, fail);
  const count = step.count;
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 1) {
    fail(`${where}.count`, "must be a whole number of at least 1");
  }
  return { kind: "loop", steps: parseSteps(step.loop, at, context), count: count as number };
}

function containsWork(steps: readonly Step[]): boolean {
  return steps.some((step) =>
    step.kind === "loop" ? containsWork(step.steps) : step.kind !== "think"
  );
}

function checkKeys(
  record: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  fail: Fail,
): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      fail(where, `unknown field ${JSON.stringify(key)} (expected ${allowed.join(", ")})`);
    }
  }
}

function durationOf(value: unknown, where: string, fail: Fail, positive: boolean): number {
  const ms = parseDuration(value);
  if (ms === undefined || (positive && ms <= 0)) {
    fail(
      where,
      `must be a duration such as "200ms", "5s" or 2 (seconds), got ${JSON.stringify(value)}`,
    );
  }
  if (ms! > 2 ** 31 - 1) fail(where, "must be under 24 days");
  return ms!;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_$][\w$]*)\s*\}\}/g;
const VARIABLES = new Set(["user", "iteration"]);

/**
 * Compiles `value` into a function filling its `{{user}}` and `{{iteration}}` placeholders, in
 * strings and object keys. A string that is only a placeholder becomes the variable's value
 * itself (a number for `{{iteration}}`); values without placeholders are returned as they are.
 */
export function compileTemplate(value: unknown, where: string, fail: Fail): Template {
  if (!hasPlaceholder(value, where, fail)) return () => value;
  return (vars) => fill(value, vars);
}

function hasPlaceholder(value: unknown, where: string, fail: Fail): boolean {
  if (typeof value === "string") {
    let found = false;
    for (const match of value.matchAll(PLACEHOLDER)) {
      if (!VARIABLES.has(match[1])) {
        fail(where, `unknown placeholder {{${match[1]}}} (use {{user}} or {{iteration}})`);
      }
      found = true;
    }
    return found;
  }
  if (Array.isArray(value)) {
    let found = false;
    value.forEach((
      item,
      index,
    ) => (found = hasPlaceholder(item, `${where}[${index}]`, fail) || found));
    return found;
  }
  if (isRecord(value)) {
    let found = false;
    for (const [key, item] of Object.entries(value)) {
      found = hasPlaceholder(key, where, fail) || found;
      found = hasPlaceholder(item, `${where}.${key}`, fail) || found;
    }
    return found;
  }
  return false;
}

function fill(value: unknown, vars: TemplateVars): unknown {
  if (typeof value === "string") {
    const whole = /^\{\{\s*(user|iteration)\s*\}\}$/.exec(value);
    if (whole !== null) return vars[whole[1] as keyof TemplateVars];
    return value.replace(PLACEHOLDER, (_, name: keyof TemplateVars) => String(vars[name]));
  }
  if (Array.isArray(value)) return value.map((item) => fill(item, vars));
  if (isRecord(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      result[fill(key, vars) as string] = fill(item, vars);
    }
    return result;
  }
  return value;
}
