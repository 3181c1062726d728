// The bytes received so far of one incomplete message: disjoint, never adjacent ranges
// [start, end), kept in an AVL tree keyed by start. Whatever order the chunks come in, recording
// one costs O(log n) in the number of ranges (sorted arrays cost O(n): 1-byte chunks sent
// backwards made that quadratic). assembly/index.ts keeps the same tree for the WebAssembly engine.

/** What {@link ReceivedRanges.add} did with a chunk. */
export type RangeOutcome =
  /** It extended a range, or filled the gap before or after one: the count is unchanged. */
  | "extended"
  /** It became a range of its own: one more. */
  | "added"
  /** It filled the gap between two ranges, which became one: one fewer. */
  | "merged"
  /** It overlaps a range already received (see `overlapStart`, `overlapEnd`); nothing changed. */
  | "overlap"
  /** It would need a range of its own and the caller allows no more; nothing changed. */
  | "no-room";

// Node fields, four per node in #fields; node 0 is the empty subtree.
const NIL = 0;
const FIELDS = 4;
const START = 0;
const END = 1;
const LEFT = 2;
const RIGHT = 3;
const INITIAL_NODES = 4;

export class ReceivedRanges {
  #fields: Uint32Array;
  // Height of each node's subtree; 0 for NIL.
  #heights: Uint8Array;
  #root: number;
  // The range with the largest start: chunks sent in order extend it without a search.
  #last: number;
  #count = 1;
  #nextUnused: number;
  // Freed nodes, linked through their LEFT field.
  #freeList = NIL;
  /** After an `"overlap"` outcome: the received range the chunk runs into. */
  overlapStart = 0;
  overlapEnd = 0;

  /** The ranges of a message whose first chunk covered [start, end). */
  constructor(start: number, end: number) {
    this.#fields = new Uint32Array(INITIAL_NODES * FIELDS);
    this.#heights = new Uint8Array(INITIAL_NODES);
    this.#nextUnused = 1;
    this.#root = this.#last = this.#newNode(start, end);
  }

  /** How many disjoint ranges there are. */
  get count(): number {
    return this.#count;
  }

  /** The tree's height, which stays within 1.45 log2(count + 2): lets tests see the balance. */
  get height(): number {
    return this.#heights[this.#root];
  }

  /** The ranges in order, as [start, end] pairs; for tests. */
  toArray(): [number, number][] {
    const ranges: [number, number][] = [];
    const visit = (node: number) => {
      if (node === NIL) return;
      const at = node * FIELDS;
      visit(this.#fields[at + LEFT]);
      ranges.push([this.#fields[at + START], this.#fields[at + END]]);
      visit(this.#fields[at + RIGHT]);
    };
    visit(this.#root);
    return ranges;
  }

  /**
   * Records [start, end) as received, unless it overlaps a range already there, or unless it
   * would need a range of its own and `mayAddRange` is false.
   */
  add(start: number, end: number, mayAddRange: boolean): RangeOutcome {
    const fields = this.#fields;
    const last = this.#last * FIELDS;
    // Fast path: chunks in order extend the last range.
    if (fields[last + END] === start) {
      fields[last + END] = end;
      return "extended";
    }
    // previous: the range with the largest start below `end`, the only one we can overlap;
    // next: the range after it.
    let previous = NIL;
    let next = NIL;
    let node = this.#root;
    while (node !== NIL) {
      if (fields[node * FIELDS + START] < end) {
        previous = node;
        node = fields[node * FIELDS + RIGHT];
      } else {
        next = node;
        node = fields[node * FIELDS + LEFT];
      }
    }
    const previousEnd = previous === NIL ? 0 : fields[previous * FIELDS + END];
    if (previous !== NIL && previousEnd > start) {
      this.overlapStart = fields[previous * FIELDS + START];
      this.overlapEnd = previousEnd;
      return "overlap";
    }
    const joinsPrevious = previous !== NIL && previousEnd === start;
    const joinsNext = next !== NIL && fields[next * FIELDS + START] === end;
    if (joinsPrevious && joinsNext) {
      fields[previous * FIELDS + END] = fields[next * FIELDS + END];
      this.#root = this.#remove(this.#root, end);
      if (next === this.#last) this.#last = previous;
      this.#count--;
      return "merged";
    }
    if (joinsPrevious) {
      fields[previous * FIELDS + END] = end;
      return "extended";
    }
    if (joinsNext) {
      // Still between its neighbours, so the tree's order holds.
      fields[next * FIELDS + START] = start;
      return "extended";
    }
    if (!mayAddRange) return "no-room";
    const added = this.#newNode(start, end);
    this.#root = this.#insert(this.#root, added, start);
    if (start > this.#fields[this.#last * FIELDS + START]) this.#last = added;
    this.#count++;
    return "added";
  }

  #newNode(start: number, end: number): number {
    let node = this.#freeList;
    if (node !== NIL) {
      this.#freeList = this.#fields[node * FIELDS + LEFT];
    } else {
      node = this.#nextUnused++;
      if (node === this.#heights.length) this.#grow();
    }
    const at = node * FIELDS;
    const fields = this.#fields;
    fields[at + START] = start;
    fields[at + END] = end;
    fields[at + LEFT] = NIL;
    fields[at + RIGHT] = NIL;
    this.#heights[node] = 1;
    return node;
  }

  #grow(): void {
    const fields = new Uint32Array(this.#fields.length * 2);
    fields.set(this.#fields);
    this.#fields = fields;
    const heights = new Uint8Array(this.#heights.length * 2);
    heights.set(this.#heights);
    this.#heights = heights;
  }

  // Inserts `added` (whose start is `start`) under `node`; returns the subtree's new root.
  #insert(node: number, added: number, start: number): number {
    if (node === NIL) return added;
    const at = node * FIELDS;
    const side = start < this.#fields[at + START] ? LEFT : RIGHT;
    this.#fields[at + side] = this.#insert(this.#fields[at + side], added, start);
    return this.#rebalance(node);
  }

  // Removes the node whose range starts at `start` from under `node`; returns the new root.
  // Surviving nodes keep their numbers: a node with two children is replaced by relinking its
  // successor, not by copying the successor's range into it.
  #remove(node: number, start: number): number {
    const fields = this.#fields;
    const at = node * FIELDS;
    const key = fields[at + START];
    if (start !== key) {
      const side = start < key ? LEFT : RIGHT;
      fields[at + side] = this.#remove(fields[at + side], start);
      return this.#rebalance(node);
    }
    const left = fields[at + LEFT];
    const right = fields[at + RIGHT];
    fields[at + LEFT] = this.#freeList;
    this.#freeList = node;
    if (left === NIL) return right;
    if (right === NIL) return left;
    let successor = right;
    while (fields[successor * FIELDS + LEFT] !== NIL) successor = fields[successor * FIELDS + LEFT];
    fields[successor * FIELDS + RIGHT] = this.#removeSmallest(right);
    fields[successor * FIELDS + LEFT] = left;
    return this.#rebalance(successor);
  }

  // Unlinks the smallest node under `node`; returns the new root.
  #removeSmallest(node: number): number {
    const at = node * FIELDS;
    const left = this.#fields[at + LEFT];
    if (left === NIL) return this.#fields[at + RIGHT];
    this.#fields[at + LEFT] = this.#removeSmallest(left);
    return this.#rebalance(node);
  }

  // Restores the AVL balance at `node` after one of its subtrees changed height by one.
  #rebalance(node: number): number {
    const fields = this.#fields;
    const at = node * FIELDS;
    const balance = this.#height(fields[at + LEFT]) - this.#height(fields[at + RIGHT]);
    if (balance > 1) {
      const left = fields[at + LEFT];
      const leftAt = left * FIELDS;
      if (this.#height(fields[leftAt + LEFT]) < this.#height(fields[leftAt + RIGHT])) {
        fields[at + LEFT] = this.#rotate(left, RIGHT);
      }
      return this.#rotate(node, LEFT);
    }
    if (balance < -1) {
      const right = fields[at + RIGHT];
      const rightAt = right * FIELDS;
      if (this.#height(fields[rightAt + RIGHT]) < this.#height(fields[rightAt + LEFT])) {
        fields[at + RIGHT] = this.#rotate(right, LEFT);
      }
      return this.#rotate(node, RIGHT);
    }
    this.#updateHeight(node);
    return node;
  }

  // Lifts the child on `side` (LEFT: a right rotation) above `node`; returns that child.
  #rotate(node: number, side: number): number {
    const other = side === LEFT ? RIGHT : LEFT;
    const fields = this.#fields;
    const child = fields[node * FIELDS + side];
    fields[node * FIELDS + side] = fields[child * FIELDS + other];
    fields[child * FIELDS + other] = node;
    this.#updateHeight(node);
    this.#updateHeight(child);
    return child;
  }

  #height(node: number): number {
    return this.#heights[node];
  }

  #updateHeight(node: number): void {
    const at = node * FIELDS;
    this.#heights[node] = 1 +
      Math.max(this.#height(this.#fields[at + LEFT]), this.#height(this.#fields[at + RIGHT]));
  }
}
