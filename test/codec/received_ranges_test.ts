// The TypeScript engine's range tree against a plain sorted list of ranges, and its balance under
// the orders that made sorted arrays quadratic. (The WebAssembly engine's tree is held to the
// TypeScript one by the engines' differential tests.)
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type RangeOutcome, ReceivedRanges } from "../../src/codec/_received_ranges.ts";
import { shuffled } from "./_support.ts";

// The same rules over a sorted list, written for clarity rather than speed.
class RangeListModel {
  ranges: [number, number][];
  overlap: [number, number] | undefined;

  constructor(start: number, end: number) {
    this.ranges = [[start, end]];
  }

  add(start: number, end: number, mayAddRange: boolean): RangeOutcome {
    const next = this.ranges.findIndex(([rangeStart]) => rangeStart >= end);
    const nextIndex = next === -1 ? this.ranges.length : next;
    const previous = this.ranges[nextIndex - 1];
    const following = this.ranges[nextIndex];
    if (previous !== undefined && previous[1] > start) {
      this.overlap = [...previous];
      return "overlap";
    }
    const joinsPrevious = previous !== undefined && previous[1] === start;
    const joinsNext = following !== undefined && following[0] === end;
    if (joinsPrevious && joinsNext) {
      previous[1] = following[1];
      this.ranges.splice(nextIndex, 1);
      return "merged";
    }
    if (joinsPrevious) previous[1] = end;
    else if (joinsNext) following[0] = start;
    else if (!mayAddRange) return "no-room";
    else {
      this.ranges.splice(nextIndex, 0, [start, end]);
      return "added";
    }
    return "extended";
  }
}

// The height bound of an AVL tree of n nodes.
function assertBalanced(ranges: ReceivedRanges): void {
  const bound = 1.4405 * Math.log2(ranges.count + 2) - 0.3277;
  assert.ok(ranges.height <= bound, `height ${ranges.height} for ${ranges.count} ranges`);
}

// Mostly allowed: a refused range is the rare case.
const mayAddRange = fc.oneof(
  { weight: 9, arbitrary: fc.constant(true) },
  { weight: 1, arbitrary: fc.constant(false) },
);

// A message's 4-byte cells in a random order (so ranges meet exactly and merge), with random
// chunks mixed in (which mostly overlap, or leave odd gaps).
const chunks = fc.integer({ min: 1, max: 300 }).chain((cells) =>
  fc.tuple(
    fc.shuffledSubarray([...Array(cells).keys()], { minLength: cells, maxLength: cells }),
    fc.array(mayAddRange, { minLength: cells, maxLength: cells }),
    fc.array(
      fc.record({
        at: fc.nat(cells),
        start: fc.nat(4 * cells),
        length: fc.integer({ min: 1, max: 9 }),
        mayAddRange,
      }),
      { maxLength: 40 },
    ),
  ).map(([order, mayAdd, noise]) => {
    const list = order.map((cell, index) => ({
      start: 4 * cell,
      length: 4,
      mayAddRange: mayAdd[index],
    }));
    for (const { at, ...chunk } of noise) list.splice(at, 0, chunk);
    return list;
  })
);

test("received ranges: the tree gives the same outcomes and ranges as a sorted list", () => {
  fc.assert(
    fc.property(chunks, ([first, ...rest]) => {
      const tree = new ReceivedRanges(first.start, first.start + first.length);
      const model = new RangeListModel(first.start, first.start + first.length);
      rest.forEach(({ start, length, mayAddRange }, index) => {
        const outcome = tree.add(start, start + length, mayAddRange);
        assert.equal(outcome, model.add(start, start + length, mayAddRange), `chunk ${index}`);
        if (outcome === "overlap") {
          assert.deepEqual([tree.overlapStart, tree.overlapEnd], model.overlap);
        }
        assert.equal(tree.count, model.ranges.length);
        assertBalanced(tree);
      });
      assert.deepEqual(tree.toArray(), model.ranges);
    }),
    { numRuns: 300 },
  );
});

test("received ranges: every other byte backwards, then the rest in any order, stays balanced", () => {
  const pieces = 5000;
  for (const seed of [1, 2, 3]) {
    const ranges = new ReceivedRanges(2 * (pieces - 1), 2 * pieces - 1);
    for (let piece = pieces - 2; piece >= 0; piece--) {
      assert.equal(ranges.add(2 * piece, 2 * piece + 1, true), "added");
    }
    assert.equal(ranges.count, pieces);
    assertBalanced(ranges);
    const gaps = Array.from({ length: pieces }, (_, piece) => 2 * piece + 1);
    for (const [index, gap] of shuffled(gaps, seed).entries()) {
      assert.match(ranges.add(gap, gap + 1, true), /^(merged|extended)$/);
      if (index % 500 === 0) assertBalanced(ranges);
    }
    assert.deepEqual(ranges.toArray(), [[0, 2 * pieces]]);
  }
});

test("received ranges: refuses a chunk that overlaps, naming the range it runs into", () => {
  const ranges = new ReceivedRanges(20, 30);
  assert.equal(ranges.add(50, 60, true), "added");
  assert.equal(ranges.add(55, 70, true), "overlap");
  assert.deepEqual([ranges.overlapStart, ranges.overlapEnd], [50, 60]);
  assert.equal(ranges.add(10, 21, true), "overlap");
  assert.deepEqual([ranges.overlapStart, ranges.overlapEnd], [20, 30]);
  assert.equal(ranges.add(0, 100, true), "overlap");
  assert.deepEqual([ranges.overlapStart, ranges.overlapEnd], [50, 60]);
  assert.equal(ranges.add(35, 40, false), "no-room");
  assert.deepEqual(ranges.toArray(), [[20, 30], [50, 60]]);
  assert.equal(ranges.add(30, 50, false), "merged", "joining needs no room");
  assert.deepEqual(ranges.toArray(), [[20, 60]]);
});
