// The load generator's HDR histogram: every percentile is within 1/1024 above the exact one
// (never below), merging is exact, and the bucket layout covers 0 to 2^32 - 1 without gaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bucketIndexOf,
  highestValueOf,
  Histogram,
  lowestValueOf,
  MAX_MICROSECONDS,
} from "../../src/load/histogram.ts";

// A deterministic pseudo-random sequence (xorshift32), so a failure can be replayed.
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

// The value with `percentile` percent of the values at or below it, counted exactly.
function exactPercentile(sorted: number[], percentile: number): number {
  const rank = Math.max(1, Math.ceil(Number(((percentile * sorted.length) / 100).toFixed(6))));
  return sorted[rank - 1];
}

test("buckets tile 0 … 2^32 - 1: each value lies in its bucket, widths within 1/1024", () => {
  const next = random(7);
  const values = [0, 1, 2047, 2048, 2049, 4095, 4096, 1e6, 2 ** 31 - 1, 2 ** 31, MAX_MICROSECONDS];
  for (let index = 0; index < 20_000; index++) values.push(Math.floor(next() * 2 ** (next() * 32)));
  for (const value of values) {
    const index = bucketIndexOf(value);
    assert.ok(lowestValueOf(index) <= value && value <= highestValueOf(index), `value ${value}`);
    const width = highestValueOf(index) - lowestValueOf(index) + 1;
    assert.ok(width === 1 || width / lowestValueOf(index) <= 1 / 1024, `width at ${value}`);
  }
  // Consecutive buckets are adjacent: no value falls between two of them.
  for (let index = 1; index <= bucketIndexOf(MAX_MICROSECONDS); index++) {
    assert.equal(lowestValueOf(index), highestValueOf(index - 1) + 1, `bucket ${index}`);
  }
  assert.equal(highestValueOf(bucketIndexOf(MAX_MICROSECONDS)), MAX_MICROSECONDS);
});

test("percentiles match the exact ones from a sorted copy, within the bucket's precision", () => {
  for (const seed of [1, 2, 3]) {
    const next = random(seed);
    const histogram = new Histogram();
    const values: number[] = [];
    // Latencies from 50 µs to about 10 s, heavy-tailed like real ones.
    for (let index = 0; index < 50_000; index++) {
      const value = Math.round(50 + 1e7 * next() ** 6);
      values.push(value);
      histogram.recordMicroseconds(value);
    }
    values.sort((a, b) => a - b);
    const summary = histogram.summary();
    assert.equal(summary.count, values.length);
    assert.equal(summary.min, values[0] / 1000);
    assert.equal(summary.max, values.at(-1)! / 1000);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    assert.ok(Math.abs(summary.mean - mean / 1000) < 1e-9);
    for (
      const [percentile, reported] of [
        [50, summary.p50],
        [90, summary.p90],
        [99, summary.p99],
        [99.9, summary.p999],
      ] as const
    ) {
      const exact = exactPercentile(values, percentile);
      const microseconds = reported * 1000;
      assert.equal(histogram.valueAtPercentile(percentile), microseconds);
      assert.ok(microseconds >= exact, `p${percentile}: ${microseconds} < exact ${exact}`);
      assert.ok(
        microseconds <= exact * (1 + 1 / 1024),
        `p${percentile}: ${microseconds} vs ${exact}`,
      );
    }
  }
});

test("small values are exact, and a single value is every percentile", () => {
  const histogram = new Histogram();
  for (let value = 1; value <= 1000; value++) histogram.recordMicroseconds(value);
  assert.deepEqual(histogram.summary(), {
    count: 1000,
    min: 0.001,
    mean: 0.5005,
    p50: 0.5,
    p90: 0.9,
    p99: 0.99,
    p999: 0.999,
    max: 1,
  });
  const single = new Histogram();
  single.recordMilliseconds(12.3456);
  const summary = single.summary();
  for (const figure of [summary.min, summary.p50, summary.p99, summary.p999, summary.max]) {
    assert.equal(figure, 12.346);
  }
});

test("merging histograms (directly or through their data) equals recording everything in one", () => {
  const next = random(11);
  const all = new Histogram();
  const parts = [new Histogram(), new Histogram(), new Histogram()];
  for (let index = 0; index < 30_000; index++) {
    const value = Math.floor(next() * 5e6);
    all.recordMicroseconds(value);
    parts[index % 3].recordMicroseconds(value);
  }
  const merged = new Histogram();
  merged.add(parts[0]);
  merged.add(structuredClone(parts[1].toData())); // as it crosses threads
  merged.add(parts[2].toData());
  merged.add(new Histogram()); // an empty one changes nothing
  assert.deepEqual(merged.summary(), all.summary());
  assert.deepEqual(merged.toData(), all.toData());
});

test("out-of-range values are clamped and still counted; the empty histogram reports zeros", () => {
  const histogram = new Histogram();
  histogram.recordMicroseconds(-5);
  histogram.recordMicroseconds(2 ** 40);
  histogram.recordMilliseconds(Number.NaN);
  const summary = histogram.summary();
  assert.equal(summary.count, 3);
  assert.equal(summary.min, 0);
  assert.equal(summary.max, MAX_MICROSECONDS / 1000);
  assert.deepEqual(new Histogram().summary(), {
    count: 0,
    min: 0,
    mean: 0,
    p50: 0,
    p90: 0,
    p99: 0,
    p999: 0,
    max: 0,
  });
});
