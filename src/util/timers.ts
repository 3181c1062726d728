// Waiting with a bound.

/** Resolves once `promise` settles or `ms` milliseconds passed, whichever is first; no timer left. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  try {
    await Promise.race([promise.then(() => {}, () => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The longest delay `setTimeout` takes as given (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY = 0x7fff_ffff;

/**
 * Calls `callback` once after `ms` milliseconds, however long that is: `setTimeout` runs a delay
 * beyond {@link MAX_TIMER_DELAY} at once (after a warning, or none), so a longer one is waited
 * out in steps of at most `step`. Returns the function that cancels it.
 */
export function setLongTimeout(
  callback: () => void,
  ms: number,
  step: number = MAX_TIMER_DELAY,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (left: number) => {
    timer = setTimeout(() => {
      if (left > step) arm(left - step);
      else callback();
    }, Math.min(left, step));
  };
  arm(ms);
  return () => clearTimeout(timer);
}
