// The calls of a session waiting for their reply, by message id: each one settles exactly once
// (reply, timeout, abort, or the session closing) and clears its timer and abort listener. Ids of
// calls that gave up are remembered for a while, so that their late replies drop quietly.
import type { ReplyOutcome } from "../protocol/envelope.ts";
import { abortedError, clientError, WslinkError } from "./errors.ts";

// How many ids of calls that timed out or were aborted are remembered.
const ABANDONED_ID_MEMORY = 4_096;

interface PendingCall {
  resolve(result: unknown): void;
  reject(error: WslinkError): void;
  /** What the call still has to send, handed to `onGiveUp` when it ends without a reply. */
  outgoing: unknown;
}

/** What became of a reply handed to {@link PendingCalls.settle}. */
export type SettleResult = "settled" | "late" | "unknown";

/** The table of calls waiting for a reply. */
export class PendingCalls {
  readonly #pending = new Map<string, PendingCall>();
  readonly #abandoned = new Set<string>();
  readonly #onGiveUp: (outgoing: unknown) => void;

  /** `onGiveUp` gets the `outgoing` of a call rejected before its reply (to stop sending it). */
  constructor(onGiveUp: (outgoing: unknown) => void) {
    this.#onGiveUp = onGiveUp;
  }

  /**
   * Registers a call waiting for the reply to `id`. The promise always settles: with the reply,
   * or a -32099 error after `timeout` ms (0: never), when `signal` aborts, or when the table is
   * closed. `what` names the call in error messages.
   */
  track(
    id: string,
    timeout: number,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const release = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
      };
      const pending: PendingCall = {
        resolve: (result) => {
          release();
          resolve(result);
        },
        reject: (error) => {
          release();
          this.#onGiveUp(pending.outgoing);
          reject(error);
        },
        outgoing: undefined,
      };
      const abandon = (error: WslinkError) => {
        pending.reject(error);
        this.#rememberAbandoned(id);
      };
      const onAbort = () => abandon(abortedError(signal!, what));
      this.#pending.set(id, pending);
      if (timeout > 0) {
        const timedOut = () =>
          abandon(clientError("timeout", `${what} got no reply within ${timeout} ms`, { timeout }));
        timer = setTimeout(timedOut, timeout);
      }
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Records what call `id` still has to send; ignored when the call already ended. */
  attach(id: string, outgoing: unknown): void {
    const pending = this.#pending.get(id);
    if (pending !== undefined) pending.outgoing = outgoing;
  }

  /**
   * Settles call `id` with its reply: `"late"` for the reply of a call that gave up (dropped),
   * `"unknown"` when no call has that id.
   */
  settle(id: string, outcome: ReplyOutcome): SettleResult {
    const pending = this.#pending.get(id);
    if (pending === undefined) return this.#abandoned.delete(id) ? "late" : "unknown";
    if (outcome.kind === "result") pending.resolve(outcome.result);
    else if (outcome.kind === "error") {
      const { code, message, data } = outcome.error;
      pending.reject(new WslinkError(code, message, data));
    } else pending.reject(clientError("protocol", outcome.problem, outcome.detail));
    return "settled";
  }

  /** Rejects every pending call with `error` and forgets the abandoned ids. */
  close(error: WslinkError): void {
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    this.#abandoned.clear();
  }

  #rememberAbandoned(id: string): void {
    this.#abandoned.add(id);
    if (this.#abandoned.size > ABANDONED_ID_MEMORY) {
      this.#abandoned.delete(this.#abandoned.values().next().value!);
    }
  }
}
