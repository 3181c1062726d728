// The bytes received so far of one incomplete message: disjoint, never adjacent ranges
// [start, end), kept in an AVL tree keyed by start, so recording a chunk costs O(log n) whatever
// order the chunks come in. It mirrors src/codec/_received_ranges.ts step for step.

// What add() did with a chunk (RangeOutcome in the TypeScript engine).
export const EXTENDED: i32 = 0;
export const ADDED: i32 = 1;
export const MERGED: i32 = 2;
export const OVERLAPS: i32 = 3;
export const NO_ROOM: i32 = 4;

// Node fields, four per node in `fields`; node 0 is the empty subtree.
const NIL: u32 = 0;
const FIELDS: u32 = 4;
const START: u32 = 0;
const END: u32 = 1;
const LEFT: u32 = 2;
const RIGHT: u32 = 3;
const INITIAL_NODES: i32 = 4;

export class ReceivedRanges {
  fields: StaticArray<u32> = new StaticArray<u32>(INITIAL_NODES * <i32> FIELDS);
  // Height of each node's subtree; 0 for NIL.
  heights: StaticArray<u8> = new StaticArray<u8>(INITIAL_NODES);
  root: u32 = NIL;
  // The range with the largest start: chunks sent in order extend it without a search.
  last: u32 = NIL;
  count: u32 = 1;
  nextUnused: u32 = 1;
  // Freed nodes, linked through their LEFT field.
  freeList: u32 = NIL;
  // After OVERLAPS: the received range the chunk runs into.
  overlapStart: u32 = 0;
  overlapEnd: u32 = 0;

  constructor(start: u32, end: u32) {
    this.root = this.last = this.newNode(start, end);
  }

  // Records [start, end) as received, unless it overlaps a range already there, or unless it would
  // need a range of its own and mayAddRange is false.
  add(start: u32, end: u32, mayAddRange: bool): i32 {
    const last = this.last * FIELDS;
    // Fast path: chunks in order extend the last range.
    if (this.get(last + END) == start) {
      this.set(last + END, end);
      return EXTENDED;
    }
    // previous: the range with the largest start below `end`, the only one we can overlap;
    // next: the range after it.
    let previous = NIL;
    let next = NIL;
    let node = this.root;
    while (node != NIL) {
      if (this.get(node * FIELDS + START) < end) {
        previous = node;
        node = this.get(node * FIELDS + RIGHT);
      } else {
        next = node;
        node = this.get(node * FIELDS + LEFT);
      }
    }
    const previousEnd: u32 = previous == NIL ? 0 : this.get(previous * FIELDS + END);
    if (previous != NIL && previousEnd > start) {
      this.overlapStart = this.get(previous * FIELDS + START);
      this.overlapEnd = previousEnd;
      return OVERLAPS;
    }
    const joinsPrevious = previous != NIL && previousEnd == start;
    const joinsNext = next != NIL && this.get(next * FIELDS + START) == end;
    if (joinsPrevious && joinsNext) {
      this.set(previous * FIELDS + END, this.get(next * FIELDS + END));
      this.root = this.remove(this.root, end);
      if (next == this.last) this.last = previous;
      this.count--;
      return MERGED;
    }
    if (joinsPrevious) {
      this.set(previous * FIELDS + END, end);
      return EXTENDED;
    }
    if (joinsNext) {
      // Still between its neighbours, so the tree's order holds.
      this.set(next * FIELDS + START, start);
      return EXTENDED;
    }
    if (!mayAddRange) return NO_ROOM;
    const added = this.newNode(start, end);
    this.root = this.insert(this.root, added, start);
    if (start > this.get(this.last * FIELDS + START)) this.last = added;
    this.count++;
    return ADDED;
  }

  @inline
  private get(index: u32): u32 {
    return unchecked(this.fields[index]);
  }

  @inline
  private set(index: u32, value: u32): void {
    unchecked(this.fields[index] = value);
  }

  @inline
  private height(node: u32): i32 {
    return <i32> unchecked(this.heights[node]);
  }

  private newNode(start: u32, end: u32): u32 {
    let node = this.freeList;
    if (node != NIL) {
      this.freeList = this.get(node * FIELDS + LEFT);
    } else {
      node = this.nextUnused++;
      if (node == <u32> this.heights.length) this.grow();
    }
    const at = node * FIELDS;
    this.set(at + START, start);
    this.set(at + END, end);
    this.set(at + LEFT, NIL);
    this.set(at + RIGHT, NIL);
    unchecked(this.heights[node] = 1);
    return node;
  }

  private grow(): void {
    const fields = new StaticArray<u32>(this.fields.length * 2);
    memory.copy(changetype<usize>(fields), changetype<usize>(this.fields), this.fields.length << 2);
    this.fields = fields;
    const heights = new StaticArray<u8>(this.heights.length * 2);
    memory.copy(changetype<usize>(heights), changetype<usize>(this.heights), this.heights.length);
    this.heights = heights;
  }

  // Inserts `added` (whose start is `start`) under `node`; returns the subtree's new root.
  private insert(node: u32, added: u32, start: u32): u32 {
    if (node == NIL) return added;
    const at = node * FIELDS;
    const side = start < this.get(at + START) ? LEFT : RIGHT;
    this.set(at + side, this.insert(this.get(at + side), added, start));
    return this.rebalance(node);
  }

  // Removes the node whose range starts at `start` from under `node`; returns the new root.
  // Surviving nodes keep their numbers: a node with two children is replaced by relinking its
  // successor, not by copying the successor's range into it.
  private remove(node: u32, start: u32): u32 {
    const at = node * FIELDS;
    const key = this.get(at + START);
    if (start != key) {
      const side = start < key ? LEFT : RIGHT;
      this.set(at + side, this.remove(this.get(at + side), start));
      return this.rebalance(node);
    }
    const left = this.get(at + LEFT);
    const right = this.get(at + RIGHT);
    this.set(at + LEFT, this.freeList);
    this.freeList = node;
    if (left == NIL) return right;
    if (right == NIL) return left;
    let successor = right;
    while (this.get(successor * FIELDS + LEFT) != NIL) {
      successor = this.get(successor * FIELDS + LEFT);
    }
    this.set(successor * FIELDS + RIGHT, this.removeSmallest(right));
    this.set(successor * FIELDS + LEFT, left);
    return this.rebalance(successor);
  }

  // Unlinks the smallest node under `node`; returns the new root.
  private removeSmallest(node: u32): u32 {
    const at = node * FIELDS;
    const left = this.get(at + LEFT);
    if (left == NIL) return this.get(at + RIGHT);
    this.set(at + LEFT, this.removeSmallest(left));
    return this.rebalance(node);
  }

  // Restores the AVL balance at `node` after one of its subtrees changed height by one.
  private rebalance(node: u32): u32 {
    const at = node * FIELDS;
    const balance = this.height(this.get(at + LEFT)) - this.height(this.get(at + RIGHT));
    if (balance > 1) {
      const left = this.get(at + LEFT);
      const leftAt = left * FIELDS;
      if (this.height(this.get(leftAt + LEFT)) < this.height(this.get(leftAt + RIGHT))) {
        this.set(at + LEFT, this.rotate(left, RIGHT));
      }
      return this.rotate(node, LEFT);
    }
    if (balance < -1) {
      const right = this.get(at + RIGHT);
      const rightAt = right * FIELDS;
      if (this.height(this.get(rightAt + RIGHT)) < this.height(this.get(rightAt + LEFT))) {
        this.set(at + RIGHT, this.rotate(right, LEFT));
      }
      return this.rotate(node, RIGHT);
    }
    this.updateHeight(node);
    return node;
  }

  // Lifts the child on `side` (LEFT: a right rotation) above `node`; returns that child.
  private rotate(node: u32, side: u32): u32 {
    const other = side == LEFT ? RIGHT : LEFT;
    const child = this.get(node * FIELDS + side);
    this.set(node * FIELDS + side, this.get(child * FIELDS + other));
    this.set(child * FIELDS + other, node);
    this.updateHeight(node);
    this.updateHeight(child);
    return child;
  }

  private updateHeight(node: u32): void {
    const at = node * FIELDS;
    const left = this.height(this.get(at + LEFT));
    const right = this.height(this.get(at + RIGHT));
    unchecked(this.heights[node] = <u8> (1 + (left > right ? left : right)));
  }
}
