/**
 * `artillery-engine-trame`: an Artillery engine whose virtual users are trame-wire clients and
 * whose steps are those of `trame-wire load` scenario files. It reports with Artillery's own
 * metrics, so Artillery's reports, plugins and distributed runs work unchanged:
 *
 * - histograms `trame.<metric>` in milliseconds (`trame.connect`, `trame.initial_state`,
 *   `trame.trigger`, `trame.set`, …, the metrics of `trame-wire load`);
 * - counter `trame.actions` (completed steps that measure something);
 * - errors as `errors.trame.<step>.<reason>` (`errors.trame.trigger.timeout`), and launcher
 *   HTTP 503 replies as `errors.trame.launch.busy`.
 *
 * In the Artillery script:
 *
 * ```yaml
 * config:
 *   target: ws://127.0.0.1:8080/ws   # or config.trame.launcher for a wslink launcher
 *   engines: { trame: {} }
 *   trame: { secret: wslink-secret, timeout: 10s }
 * scenarios:
 *   - engine: trame
 *     flow:                           # the steps of a scenario file …
 *       - trigger: add
 *         args: [1, 2]
 *   - engine: trame
 *     scenarioFile: load.yaml         # … or a scenario file, relative to this script
 * ```
 *
 * Each Artillery virtual user connects, runs the steps once (use a `loop` step to repeat) and
 * disconnects; `{{user}}` is Artillery's id of the user.
 * @module
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setMaxListeners } from "node:events";
import process from "node:process";
import type { TrameClient } from "../trame/client.ts";
import {
  ACTION_METRICS,
  type MetricName,
  parseScenario,
  parseScenarioText,
  type Scenario,
} from "./scenario.ts";
import { describeError, reasonOf, RoundTrips, StepFailure, UserSteps } from "./steps.ts";
import { connectUser, type LoadTarget } from "./user.ts";

/** The event emitter Artillery hands to engines (the part used here). */
export interface ArtilleryEvents {
  emit(event: "started"): unknown;
  emit(event: "histogram" | "counter", name: string, value: number): unknown;
  emit(event: "error", code: string): unknown;
}

/** The parts of an Artillery script this engine reads. */
export interface ArtilleryScript {
  readonly config: {
    readonly target?: string;
    readonly trame?: {
      readonly secret?: string;
      readonly launcher?: string;
      readonly application?: string;
      readonly timeout?: string | number;
    };
  };
  readonly _scriptPath?: string;
}

/** One scenario of the script: `flow` steps, or a `scenarioFile`. */
export interface ArtilleryScenarioSpec {
  readonly name?: string;
  readonly flow?: unknown[];
  readonly scenarioFile?: string;
}

/** The context Artillery gives each virtual user. */
export interface ArtilleryContext {
  readonly vars: Record<string, unknown>;
  readonly _uid?: string;
}

/** The engine: Artillery makes one per worker and asks it for each scenario's function. */
export default class TrameEngine {
  readonly #script: ArtilleryScript;
  readonly #target: LoadTarget;
  readonly #never = new AbortController().signal; // Artillery ends users by their steps alone.
  #roundTrips: RoundTrips | undefined;
  #users = 0;

  constructor(script: ArtilleryScript) {
    this.#script = script;
    const options = script.config.trame ?? {};
    setMaxListeners(0, this.#never);
    this.#target = options.launcher !== undefined
      ? {
        launcher: options.launcher,
        launchBody: { application: options.application ?? "trame" },
        secret: options.secret,
      }
      : { url: script.config.target, secret: options.secret };
    if (this.#target.launcher === undefined && typeof this.#target.url !== "string") {
      throw new Error(
        "artillery-engine-trame needs config.target (ws://…) or config.trame.launcher",
      );
    }
  }

  /** Compiles one scenario into the function Artillery runs for each of its virtual users. */
  createScenario(
    spec: ArtilleryScenarioSpec,
    events: ArtilleryEvents,
  ): (
    context: ArtilleryContext,
    done: (error: Error | null, context: ArtilleryContext) => void,
  ) => void {
    const scenario = this.#scenarioOf(spec);
    if (scenario.watchesRoundTrips) this.#roundTrips ??= new RoundTrips();
    return (context, done) => {
      events.emit("started");
      this.#runUser(scenario, context, events).then(
        () => done(null, context),
        (error: Error) => done(error, context),
      );
    };
  }

  #scenarioOf(spec: ArtilleryScenarioSpec): Scenario {
    const timeout = this.#script.config.trame?.timeout;
    const name = spec.name ?? "artillery scenario";
    if (spec.scenarioFile !== undefined) {
      if (spec.flow !== undefined && spec.flow.length > 0) {
        throw new Error(`scenario ${name}: give flow or scenarioFile, not both`);
      }
      const base = this.#script._scriptPath === undefined
        ? process.cwd()
        : dirname(this.#script._scriptPath);
      const path = resolve(base, spec.scenarioFile);
      const value = parseScenarioText(readFileSync(path, "utf8"), path) as Record<string, unknown>;
      return parseScenario(timeout === undefined ? value : { timeout, ...value }, path);
    }
    return parseScenario(
      { name, steps: spec.flow, ...(timeout === undefined ? {} : { timeout }) },
      `Artillery scenario ${JSON.stringify(name)}`,
    );
  }

  async #runUser(
    scenario: Scenario,
    context: ArtilleryContext,
    events: ArtilleryEvents,
  ): Promise<void> {
    const user = context._uid ?? String(context.vars.$uuid ?? `vu${this.#users}`);
    this.#users++;
    const record = (metric: MetricName, ms: number) => {
      events.emit("histogram", `trame.${metric}`, ms);
      if (ACTION_METRICS.has(metric)) events.emit("counter", "trame.actions", 1);
    };
    let client: TrameClient | undefined;
    let steps: UserSteps | undefined;
    try {
      client = await connectUser(this.#target, scenario, this.#never, record);
      steps = new UserSteps(client, {
        user,
        signal: this.#never,
        record,
        roundTrips: this.#roundTrips,
      });
      await steps.run(scenario.steps, 0);
    } catch (error) {
      const kind = error instanceof StepFailure ? error.kind : `step.${reasonOf(error)}`;
      events.emit("error", `trame.${kind}`);
      throw error instanceof Error ? error : new Error(describeError(error));
    } finally {
      steps?.dispose();
      await client?.disconnect(this.#target.launcher === undefined ? {} : { exitServerAfter: 0 });
    }
  }
}
