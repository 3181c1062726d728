// The delay before a retry, named once: exponential growth, a ceiling, and random jitter.

/** The parameters of {@link jitteredExponentialDelay}. */
export interface BackoffOptions {
  /** Milliseconds before the first attempt. */
  readonly initialDelay: number;
  /** The ceiling of the delay before jitter, in milliseconds. */
  readonly maxDelay: number;
  /** Growth of the delay from one attempt to the next. */
  readonly factor: number;
  /** Share of each delay that is random, from 0 (none) to 1 (all); clamped to that range. */
  readonly jitter: number;
}

/**
 * The delay in whole milliseconds before attempt `attempt` (from 1):
 * `min(maxDelay, initialDelay * factor^(attempt-1))`, of which a random share up to `jitter` is
 * taken off, so that clients that dropped together do not all come back at the same instant.
 */
export function jitteredExponentialDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const jitter = Math.min(Math.max(options.jitter, 0), 1);
  const base = Math.min(options.maxDelay, options.initialDelay * options.factor ** (attempt - 1));
  return Math.round(base * (1 - jitter * random()));
}
