// What the server's state may hold, so that no peer can make it unsendable or too large: values
// no deeper than `trame.state.get` can send them, and limits on keys and bytes. The budget knows
// the packed size of every key's last value; updates from peers are checked against it whole
// before any of it is applied.
import { NestingTooDeepError, packedSize } from "../protocol/msgpack.ts";
import { STATE_VALUE_MAX_DEPTH } from "../trame/protocol.ts";
import { assertSendableKey, StateUpdateError } from "../trame/state.ts";

/** The limits on a server's state. 0 means no limit. */
export interface StateLimits {
  /** Most keys in one `trame.state.update` (or `trame.force.push`). */
  readonly maxKeysPerUpdate: number;
  /** Most keys in the whole state. */
  readonly maxKeys: number;
  /** Most bytes of the whole state, packed (keys and values, as `trame.state.get` sends them). */
  readonly maxBytes: number;
}

/** The default {@link StateLimits}. */
export const DEFAULT_STATE_LIMITS: StateLimits = Object.freeze({
  maxKeysPerUpdate: 10_000,
  maxKeys: 100_000,
  maxBytes: 256 * 1024 * 1024,
});

/** The packed size of `key` and `value`; throws a `too-deep` refusal for a value too deep. */
export function stateEntrySize(key: string, value: unknown): number {
  try {
    return packedSize(key, 1) + packedSize(value, STATE_VALUE_MAX_DEPTH);
  } catch (error) {
    if (!(error instanceof NestingTooDeepError)) throw error;
    throw new StateUpdateError(
      "too-deep",
      `the value of ${key} nests deeper than ${STATE_VALUE_MAX_DEPTH} levels, the most ` +
        "trame.state.get can send",
    );
  }
}

/** Tracks the packed size of the state, key by key. */
export class StateBudget {
  readonly limits: StateLimits;
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  constructor(limits: StateLimits) {
    this.limits = limits;
  }

  /** How many keys the state has, as far as the budget knows. */
  get keys(): number {
    return this.#sizes.size;
  }

  /** The packed size of the state, as far as the budget knows. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Throws when `count` keys are more than one update may carry. */
  checkUpdateKeyCount(count: number, method: string): void {
    const limit = this.limits.maxKeysPerUpdate;
    if (limit !== 0 && count > limit) {
      throw new StateUpdateError(
        "too-many-keys",
        `${method} with ${count} keys refused: the limit is ${limit} (maxStateKeysPerUpdate)`,
      );
    }
  }

  /**
   * Checks a peer's update (keys, depth, totals) and, when it fits, records its sizes. Throws a
   * {@link StateUpdateError} otherwise, having recorded nothing.
   */
  admit(values: ReadonlyMap<string, unknown>): void {
    const sizes = new Map<string, number>();
    let added = 0;
    let growth = 0;
    for (const [key, value] of values) {
      assertSendableKey(key);
      const size = stateEntrySize(key, value);
      sizes.set(key, size);
      const previous = this.#sizes.get(key);
      if (previous === undefined) added++;
      growth += size - (previous ?? 0);
    }
    const { maxKeys, maxBytes } = this.limits;
    if (added > 0 && maxKeys !== 0 && this.#sizes.size + added > maxKeys) {
      throw new StateUpdateError(
        "too-many-keys",
        `update refused: ${added} new keys would make ${this.#sizes.size + added}, the limit ` +
          `is ${maxKeys} (maxStateKeys)`,
      );
    }
    if (growth > 0 && maxBytes !== 0 && this.#bytes + growth > maxBytes) {
      throw new StateUpdateError(
        "too-large",
        `update refused: the state would take ${this.#bytes + growth} bytes, the limit is ` +
          `${maxBytes} (maxStateBytes)`,
      );
    }
    for (const [key, size] of sizes) this.#set(key, size);
  }

  /** Records values the server itself set (already checked by the state's `validate`). */
  record(changes: Readonly<Record<string, unknown>>): void {
    for (const [key, value] of Object.entries(changes)) this.#set(key, stateEntrySize(key, value));
  }

  #set(key: string, size: number): void {
    this.#bytes += size - (this.#sizes.get(key) ?? 0);
    this.#sizes.set(key, size);
  }
}
