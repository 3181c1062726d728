/**
 * A small HDR histogram of latencies: values are whole microseconds from 0 to 2^32 - 1 (about
 * 71 minutes), kept with 3 significant digits (every value is within 1/1024 of the bucket that
 * holds it), whatever their magnitude. Counts are sparse (a Map from bucket index to count), so
 * an interval's histogram costs only the buckets it used and travels between threads as two
 * arrays. Merging is exact: the sum of two histograms is the histogram of both sets of values.
 *
 * The bucket layout is HdrHistogram's with 2048 sub-buckets: values below 2048 have a bucket
 * each; above, bucket `b` (values from 2^(b+10) to 2^(b+11) - 1) has 1024 sub-buckets of width
 * 2^b. A percentile is reported as the highest value of the bucket that holds it (clamped to the
 * exact maximum recorded), so it never understates a latency.
 * @module
 */

/** The largest value recorded as itself; larger ones are recorded as this (and counted). */
export const MAX_MICROSECONDS = 2 ** 32 - 1;

const SUB_BUCKET_HALF_MAGNITUDE = 10;
const SUB_BUCKET_HALF_COUNT = 1 << SUB_BUCKET_HALF_MAGNITUDE; // 1024
const SUB_BUCKET_MASK = 2 * SUB_BUCKET_HALF_COUNT - 1; // 2047

/** The bucket index of a whole number of microseconds (0 to 2^32 - 1). */
export function bucketIndexOf(value: number): number {
  const bucket = Math.max(0, 31 - Math.clz32(value | SUB_BUCKET_MASK) - SUB_BUCKET_HALF_MAGNITUDE);
  const subBucket = Math.floor(value / 2 ** bucket);
  return ((bucket + 1) << SUB_BUCKET_HALF_MAGNITUDE) + subBucket - SUB_BUCKET_HALF_COUNT;
}

/** The smallest value held by bucket `index`. */
export function lowestValueOf(index: number): number {
  if (index < 2 * SUB_BUCKET_HALF_COUNT) return index;
  const bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
  return ((index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT) * 2 ** bucket;
}

/** The largest value held by bucket `index`. */
export function highestValueOf(index: number): number {
  if (index < 2 * SUB_BUCKET_HALF_COUNT) return index;
  const bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
  return lowestValueOf(index) + 2 ** bucket - 1;
}

/**
 * How many of `count` values lie at or below the `percentile`th one (at least 1). The tiny
 * margin keeps floating-point noise (99.9 / 100 * 1000 = 999.0000000000001) from adding a rank.
 */
export function rankOf(percentile: number, count: number): number {
  return Math.max(1, Math.ceil((Math.min(percentile, 100) / 100) * count - 1e-9));
}

/** A histogram as it travels between threads: parallel arrays of bucket index and count. */
export interface HistogramData {
  readonly indexes: number[];
  readonly counts: number[];
  readonly min: number;
  readonly max: number;
  readonly sum: number;
}

/** The figures of a histogram, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Latencies in microseconds, with exact count, sum, minimum and maximum. */
export class Histogram {
  #counts = new Map<number, number>();
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** How many values were recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records `milliseconds` (a duration; negative ones count as 0). */
  recordMilliseconds(milliseconds: number): void {
    this.recordMicroseconds(Math.round(milliseconds * 1000));
  }

  /** Records a whole number of microseconds, clamped to 0 … {@link MAX_MICROSECONDS}. */
  recordMicroseconds(value: number, count = 1): void {
    const clamped = value > 0 ? Math.min(Math.round(value), MAX_MICROSECONDS) : 0;
    const index = bucketIndexOf(clamped);
    this.#counts.set(index, (this.#counts.get(index) ?? 0) + count);
    this.#count += count;
    this.#sum += clamped * count;
    if (clamped < this.#min) this.#min = clamped;
    if (clamped > this.#max) this.#max = clamped;
  }

  /** Adds every value of `other` (a histogram or its transferred data). */
  add(other: Histogram | HistogramData): void {
    const data = other instanceof Histogram ? other.toData() : other;
    for (let position = 0; position < data.indexes.length; position++) {
      const index = data.indexes[position];
      const count = data.counts[position];
      this.#counts.set(index, (this.#counts.get(index) ?? 0) + count);
      this.#count += count;
    }
    if (data.indexes.length === 0) return;
    this.#sum += data.sum;
    if (data.min < this.#min) this.#min = data.min;
    if (data.max > this.#max) this.#max = data.max;
  }

  /** The value (µs) at or below which `percentile` percent of the values are. */
  valueAtPercentile(percentile: number): number {
    if (this.#count === 0) return 0;
    const rank = rankOf(percentile, this.#count);
    let seen = 0;
    for (const index of this.#sortedIndexes()) {
      seen += this.#counts.get(index)!;
      if (seen >= rank) {
        return Math.max(this.#min, Math.min(highestValueOf(index), this.#max));
      }
    }
    return this.#max;
  }

  /** Count, mean and percentiles in milliseconds (all 0 when empty). */
  summary(): LatencySummary {
    if (this.#count === 0) {
      return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    }
    // One pass over the sorted buckets for all four percentiles.
    const percentiles = [50, 90, 99, 99.9];
    const ranks = percentiles.map((p) => rankOf(p, this.#count));
    const values: number[] = [];
    let seen = 0;
    for (const index of this.#sortedIndexes()) {
      seen += this.#counts.get(index)!;
      while (values.length < ranks.length && seen >= ranks[values.length]) {
        values.push(Math.max(this.#min, Math.min(highestValueOf(index), this.#max)));
      }
      if (values.length === ranks.length) break;
    }
    const ms = (microseconds: number) => microseconds / 1000;
    return {
      count: this.#count,
      min: ms(this.#min),
      mean: ms(this.#sum / this.#count),
      p50: ms(values[0]),
      p90: ms(values[1]),
      p99: ms(values[2]),
      p999: ms(values[3]),
      max: ms(this.#max),
    };
  }

  /** The histogram as plain arrays, for `postMessage`. */
  toData(): HistogramData {
    const indexes = this.#sortedIndexes();
    return {
      indexes,
      counts: indexes.map((index) => this.#counts.get(index)!),
      min: this.#count === 0 ? 0 : this.#min,
      max: this.#max,
      sum: this.#sum,
    };
  }

  #sortedIndexes(): number[] {
    return [...this.#counts.keys()].sort((a, b) => a - b);
  }
}
