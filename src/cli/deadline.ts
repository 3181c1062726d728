// The time limit of the command's waits whose length is unknown but whose silence is bounded.
import { clientError } from "../session/errors.ts";

// The watchdog looks this many times per period: it fires after 1 to 1 1/4 periods of silence.
const LOOKS_PER_PERIOD = 4;

/**
 * Fires after about `ms` without a call to {@link Watchdog.touch}: `expired` rejects with a
 * -32099 `timeout` error (so the command exits with its timeout code) and `signal` aborts. For
 * waits whose total length is unknown (thousands of publishes, a large message) but whose
 * silence is not. `touch()` only sets a flag, so calling it for every message costs nothing.
 */
export class Watchdog {
  /** Rejects when the watchdog fires; never resolves. */
  readonly expired: Promise<never>;
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setInterval>;
  #touched = false;
  #quietLooks = 0;

  /** `what` names the wait in the error message. */
  constructor(ms: number, what: string) {
    let fire!: (error: Error) => void;
    this.expired = new Promise<never>((_, reject) => (fire = reject));
    // Nobody may be racing it when it fires after the work is done: no unhandled rejection.
    this.expired.catch(() => {});
    this.#timer = setInterval(() => {
      if (this.#touched) {
        this.#touched = false;
        this.#quietLooks = 0;
        return;
      }
      if (++this.#quietLooks < LOOKS_PER_PERIOD) return;
      this.stop();
      fire(clientError("timeout", `${what}: nothing arrived for ${ms} ms`, { timeout: ms }));
      this.#controller.abort();
    }, Math.max(1, Math.ceil(ms / LOOKS_PER_PERIOD)));
  }

  /** Aborted when the watchdog fires; pass it to the calls the wait depends on. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Something arrived: the silence starts again. */
  touch(): void {
    this.#touched = true;
  }

  /** Stops watching; clears the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Waits for `work` unless the watchdog fires first. */
  guard<T>(work: Promise<T>): Promise<T> {
    // The work may fail after the watchdog fired, with nobody listening any more.
    work.catch(() => {});
    return Promise.race([work, this.expired]);
  }
}
