// The trame layer's RPC methods as the embedded server answers them, one named function each.
// They see the server through a small `TrameHost`, never the server class itself.
import { isMap } from "../protocol/envelope.ts";
import { STATE_TOPIC, TRAME_METHODS } from "../trame/protocol.ts";
import { assertSendableKey, type State } from "../trame/state.ts";
import type { StateBudget } from "./_state_budget.ts";
import type { Logger, RpcHandler, ServerClient, WslinkCore } from "./core.ts";

/** The events the trame methods raise on the server. */
export interface TrameHostEvents {
  lifecycle: [phase: string, client: ServerClient];
  clientError: [message: unknown, client: ServerClient];
}

/** What the trame methods need of the server. */
export interface TrameHost {
  /** The name `trame.state.get` returns. */
  readonly name: string;
  readonly state: State<Record<string, unknown>>;
  /** What peers may add to the state. */
  readonly stateBudget: StateBudget;
  readonly triggers: ReadonlyMap<string, RpcHandler>;
  readonly log: Logger;
  /** Publishes the keys whose value really changed, to every client but `skipClientId`. */
  pushStateChange(changes: Record<string, unknown>, skipClientId: string | undefined): void;
  /** Raises a server event; returns whether anyone listened. */
  emit<E extends keyof TrameHostEvents>(event: E, ...args: TrameHostEvents[E]): boolean;
  /** Closes the server (or calls `onExit`) after `seconds`, once the reply is out. */
  scheduleExit(seconds: number, client: ServerClient): void;
}

/** Registers every trame method of the table in `TRAME_METHODS` on `core`. */
export function registerTrameMethods(core: WslinkCore, host: TrameHost): void {
  const handlers: Record<keyof typeof TRAME_METHODS, RpcHandler> = {
    stateGet: () => stateGet(host),
    stateUpdate: (args, _kwargs, client) => stateUpdate(host, args, client),
    trigger: (args, _kwargs, client) => trigger(host, args, client),
    forcePush: (args) => forcePush(host, core, args),
    lifecycleUpdate: (args, _kwargs, client) => lifecycleUpdate(host, args, client),
    errorClient: (args, _kwargs, client) => errorClient(host, args, client),
    exit: (_args, _kwargs, client) => exit(host, client),
    exitLater: (args, _kwargs, client) => exitLater(host, args, client),
  };
  for (const [key, handler] of Object.entries(handlers)) {
    core.register(TRAME_METHODS[key as keyof typeof TRAME_METHODS], handler);
  }
}

/** `trame.state.get`: the application's name and its whole state. */
function stateGet(host: TrameHost): unknown {
  return { name: host.name, state: host.state.toObject() };
}

/**
 * `trame.state.update([{key, value}, …])`: changes from one client, applied whole or refused
 * whole (a `StateUpdateError`) when they break the state's limits.
 */
function stateUpdate(host: TrameHost, args: unknown[], client: ServerClient): null {
  const changes = args[0];
  if (args.length !== 1 || !Array.isArray(changes)) {
    throw new TypeError(`${TRAME_METHODS.stateUpdate} takes one list of {key, value}`);
  }
  host.stateBudget.checkUpdateKeyCount(changes.length, TRAME_METHODS.stateUpdate);
  // A Map: a key such as `__proto__` is a key like any other until the budget refuses it.
  const values = new Map<string, unknown>();
  for (const change of changes) {
    if (!isMap(change) || typeof change.key !== "string") {
      throw new TypeError("a state change must be {key: str, value}");
    }
    values.set(change.key, change.value ?? null);
  }
  host.stateBudget.admit(values);
  const record = Object.fromEntries(values);
  // The other clients hear of the change first, then the server's listeners run.
  host.pushStateChange(record, client.id);
  host.state.applyRemote(record);
  return null;
}

/** `trame.trigger(name, args, kwargs)`: runs the trigger, then flushes the state it changed. */
async function trigger(host: TrameHost, args: unknown[], client: ServerClient): Promise<unknown> {
  const [name, positional, keywords] = args;
  if (args.length !== 3 || typeof name !== "string") {
    throw new TypeError(`${TRAME_METHODS.trigger} takes [name, args, kwargs]`);
  }
  const fn = host.triggers.get(name);
  if (fn === undefined) {
    host.log("warn", `Trigger ${name} seems to be missing`);
    host.state.flush();
    return null;
  }
  try {
    const result = await fn(
      Array.isArray(positional) ? positional : [],
      isMap(keywords) ? keywords : {},
      client,
    );
    return result ?? null;
  } finally {
    host.state.flush();
  }
}

/** `trame.force.push(key, …)`: publishes the current values of `keys` to every client. */
function forcePush(host: TrameHost, core: WslinkCore, keys: unknown[]): null {
  host.stateBudget.checkUpdateKeyCount(keys.length, TRAME_METHODS.forcePush);
  const values = new Map<string, unknown>();
  for (const key of keys) {
    if (typeof key !== "string") {
      throw new TypeError(`${TRAME_METHODS.forcePush} takes key names`);
    }
    assertSendableKey(key);
    values.set(key, host.state.get(key) ?? null);
  }
  if (keys.length > 0) core.publish(STATE_TOPIC, Object.fromEntries(values));
  return null;
}

/** `trame.lifecycle.update(phase)`: raises the `lifecycle` event. */
function lifecycleUpdate(host: TrameHost, args: unknown[], client: ServerClient): null {
  if (args.length !== 1 || typeof args[0] !== "string") {
    throw new TypeError(`${TRAME_METHODS.lifecycleUpdate} takes [phase]`);
  }
  host.emit("lifecycle", args[0], client);
  return null;
}

/** `trame.error.client(message)`: raises `clientError`, or logs it when nobody listens. */
function errorClient(host: TrameHost, args: unknown[], client: ServerClient): null {
  if (args.length !== 1) throw new TypeError(`${TRAME_METHODS.errorClient} takes [message]`);
  if (!host.emit("clientError", args[0], client)) {
    host.log("error", `JS Error => ${String(args[0])}`);
  }
  return null;
}

/** `application.exit()`: exits once the reply is out. */
function exit(host: TrameHost, client: ServerClient): null {
  host.scheduleExit(0, client);
  return null;
}

/** `application.exit.later(seconds = 60)`: exits after `seconds`, however many. */
function exitLater(host: TrameHost, args: unknown[], client: ServerClient): null {
  const seconds = args.length === 0 ? 60 : args[0];
  if (typeof seconds !== "number" || !(seconds >= 0) || seconds === Infinity) {
    throw new TypeError(`${TRAME_METHODS.exitLater} takes [seconds], a finite number >= 0`);
  }
  host.scheduleExit(seconds, client);
  return null;
}
