// Comparing secrets without telling, through the time it takes, how much of a guess was right.

const utf8 = new TextEncoder();

/**
 * Whether `guess` equals `secret`. Every byte of the guess is compared, whatever the earlier ones
 * were, so the time depends on the guess's length only, never on where it first differs.
 */
export function secretsEqual(guess: string, secret: string): boolean {
  const guessBytes = utf8.encode(guess);
  const secretBytes = utf8.encode(secret);
  // A difference in length counts, but the loop still runs over every byte of the guess.
  let difference = guessBytes.length ^ secretBytes.length;
  for (let index = 0; index < guessBytes.length; index++) {
    difference |= guessBytes[index] ^ (secretBytes[index % (secretBytes.length || 1)] ?? 0);
  }
  return difference === 0;
}
