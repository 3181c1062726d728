// Sending one call: its arguments checked, its id drawn, its envelope encoded, then tracked among
// the pending calls and handed to the sender. Every failure is a rejection, never a throw.
import { requestEnvelope } from "../protocol/envelope.ts";
import type { FrameEncoder } from "../protocol/frames.ts";
import { callId } from "../protocol/ids.ts";
import { checkCallArguments } from "./_resolve_options.ts";
import type { PendingCalls } from "./_pending.ts";
import type { Sender } from "./_sender.ts";
import { abortedError, clientError, closedError } from "./errors.ts";
import type { SessionCloseEvent } from "./events.ts";
import type { CallOptions } from "./options.ts";

/** What a call needs from its session. */
export interface CallContext {
  readonly encoder: FrameEncoder;
  readonly pending: PendingCalls;
  readonly sender: Sender;
  /** The `callTimeout` option: the default limit of each call, in ms (0: none). */
  readonly callTimeout: number;
  /** The client id from the hello's reply. */
  readonly clientId: () => string;
  /** How the session ended, once it has. */
  readonly closeInfo: () => SessionCloseEvent | undefined;
}

/** Issues a session's calls, numbering them in order. */
export class CallIssuer {
  readonly #session: CallContext;
  // Call counters start at 1: the hello is message 0 of the connection (as in the reference
  // captures, whose first call after the hello is `rpc:{clientId}:1`).
  #nextCallNumber = 1;

  constructor(session: CallContext) {
    this.#session = session;
  }

  /** Sends a request and resolves with its reply's result; `onId` hears its id before it is sent. */
  request(
    method: string,
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>>,
    options: CallOptions,
    onId?: (id: string) => void,
  ): Promise<unknown> {
    const { encoder, pending, sender } = this.#session;
    const closeInfo = this.#session.closeInfo();
    if (closeInfo !== undefined) {
      return Promise.reject(closedError(closeInfo.code, closeInfo.reason));
    }
    const timeout = options.timeout ?? this.#session.callTimeout;
    const signal = options.signal;
    try {
      checkCallArguments(method, args, kwargs, timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal, `the call of ${method}`));
    const id = callId(this.#session.clientId(), this.#nextCallNumber++);
    let bytes: Uint8Array;
    try {
      bytes = encoder.encode(requestEnvelope(id, method, args, kwargs));
      if (bytes.byteLength >= 2 ** 32) throw new RangeError("a message is at most 2^32-1 bytes");
    } catch (cause) {
      return Promise.reject(
        clientError("encode", `cannot encode the call of ${method}: ${String(cause)}`, { cause }),
      );
    }
    onId?.(id);
    const result = pending.track(id, timeout, signal, `the call of ${method}`);
    pending.attach(id, sender.send(bytes));
    return result;
  }
}
