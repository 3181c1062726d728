// Long-run codec fuzzing (issue 8): adversarial frame streams pushed into both un-chunker engines,
// which must agree on every frame, refuse only with ChunkErrors, and stay within maxPendingBytes.
//   deno run -A bench/fuzz_codec.ts [--frames 1000000] [--seed 1]
// (also runs under `bun bench/fuzz_codec.ts` and `node bench/fuzz_codec.ts`). Exits 1 on a failure.
import { differentialRun, FUZZ_LIMITS } from "../test/reliability/_codec_fuzz.ts";

function option(name: string, fallback: number): number {
  const args = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
  const index = args.indexOf(`--${name}`);
  const value = index >= 0 ? Number(args[index + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`--${name} must be > 0`);
  return value;
}

const frames = option("frames", 1_000_000);
const seed = option("seed", 1);
const started = performance.now();
const stats = await differentialRun(seed, frames, {
  releaseEvery: 50_000,
  onProgress: (done) => {
    if (done % 250_000 === 0) console.error(`  ${done} frames…`);
  },
});
const seconds = (performance.now() - started) / 1000;
const runtime = (globalThis as { Deno?: unknown }).Deno
  ? "deno"
  : (globalThis as { Bun?: unknown }).Bun
  ? "bun"
  : "node";
console.log(`codec fuzz: ${stats.frames} frames, seed ${seed}, ${runtime}, js + wasm engines`);
console.log(
  `  ${seconds.toFixed(1)} s, ${Math.round(stats.frames / seconds)} frames/s (both engines)`,
);
console.log(`  messages completed: ${stats.messages}, frames pending: ${stats.pending}`);
const reasons = Object.entries(stats.refused).sort((a, b) => b[1] - a[1]);
console.log(`  refused: ${reasons.map(([reason, count]) => `${reason} ${count}`).join(", ")}`);
console.log(
  `  max pendingBytes ${stats.maxPendingBytes} of ${FUZZ_LIMITS.maxPendingBytes}, ` +
    `max pending messages ${stats.maxPendingMessages} of ${FUZZ_LIMITS.maxPendingMessages}, ` +
    `releases ${stats.releases}`,
);
console.log("  engines identical on every frame; no exception other than ChunkError");
