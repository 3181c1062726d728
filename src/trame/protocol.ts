/**
 * The trame layer's vocabulary, in one table: the topics a trame server publishes on, the
 * methods it answers, the state keys every trame application has. The client, the embedded
 * server and the CLI all take their names from here.
 * @module
 */
import { MSGPACK_MAX_DEPTH } from "../protocol/msgpack_check.ts";

/** The topic of state changes: each publish is a map of the keys that changed. */
export const STATE_TOPIC = "trame.state.topic";
/** The topic of client-side actions: each publish is a list of actions. */
export const ACTIONS_TOPIC = "trame.actions.topic";

/** @internal The RPC methods of a trame server, by what they do. */
export const TRAME_METHODS = Object.freeze(
  {
    /** `[]` → `{ name, state }`: the whole state. */
    stateGet: "trame.state.get",
    /** `[[{ key, value }, …]]`: changes from a client. */
    stateUpdate: "trame.state.update",
    /** `[name, args, kwargs]` → what the trigger returns. */
    trigger: "trame.trigger",
    /** `[key, …]`: publish the current values of these keys to every client. */
    forcePush: "trame.force.push",
    /** `[phase]`: a client's lifecycle (`client_connected`, `client_exited`). */
    lifecycleUpdate: "trame.lifecycle.update",
    /** `[message]`: an error a client reports, for the server's log. */
    errorClient: "trame.error.client",
    /** `[]`: exit the application now. */
    exit: "application.exit",
    /** `[seconds]`: exit the application after a delay (60 s when omitted). */
    exitLater: "application.exit.later",
  } as const,
);

/** @internal The lifecycle phases a trame client announces. */
export const LIFECYCLE_PHASES = Object.freeze(
  {
    connected: "client_connected",
    exited: "client_exited",
  } as const,
);

/** The key that lists the names a client must never send back. */
export const CLIENT_ONLY_KEY = "trame__client_only";

/**
 * The deepest a state value may nest, the value itself being level 1. `trame.state.get` sends
 * each value deepest: three levels down (envelope → `result` → `state` → the value), and no
 * message may nest deeper than {@link MSGPACK_MAX_DEPTH}: 97.
 */
export const STATE_VALUE_MAX_DEPTH: number = MSGPACK_MAX_DEPTH - 3;

/**
 * The one key a state cannot have: @msgpack/msgpack (the decoder of trame's own web client, of
 * wslink's, and of this one) refuses a map holding it, so no such client could read the state.
 */
export const UNSENDABLE_STATE_KEY = "__proto__";

/** The prefix of the keys trame reserves for itself; they are never translated. */
export const RESERVED_KEY_PREFIX = "trame__";

/** The `trame__*` keys every trame server's state holds. */
export interface TrameBuiltinState {
  /** Scripts the page loads. */
  trame__scripts: unknown[];
  /** ES module scripts the page loads. */
  trame__module_scripts: unknown[];
  /** Style sheets the page loads. */
  trame__styles: unknown[];
  /** Vue plugins the page installs. */
  trame__vue_use: unknown[];
  /** Keyboard shortcuts bound in the page. */
  trame__mousetrap: unknown[];
  /** Keys clients never send back. */
  trame__client_only: string[];
  /** How many server calls are in progress. */
  trame__busy: number;
  /** The page's favicon URL, or `null`. */
  trame__favicon: string | null;
  /** The page's title. */
  trame__title: string;
}

/** The initial `trame__*` values, as a freshly started trame-server application has them. */
export function defaultTrameState(): TrameBuiltinState {
  return {
    trame__scripts: [],
    trame__module_scripts: [],
    trame__styles: [],
    trame__vue_use: [],
    trame__mousetrap: [],
    [CLIENT_ONLY_KEY]: ["trame__busy"],
    trame__busy: 1,
    trame__favicon: null,
    trame__title: "Trame",
  };
}
