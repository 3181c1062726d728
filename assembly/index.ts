// The WebAssembly engine's bookkeeping: header parsing, the table of pending messages, coverage of
// each message by sorted disjoint ranges, and the limits. It mirrors src/codec/_js_engine.ts check
// for check. Message bytes never enter this module: it decides, and src/codec/_wasm_engine.ts
// copies into buffers that live in JavaScript.
//
// Interface: JavaScript writes a frame's first 12 bytes at ioPointer() and calls push(frameLength).
// The result is a status code; every number JavaScript needs besides it is left in the output
// words at ioPointer() + OUTPUT_START (little-endian, read with a DataView).

const HEADER_LENGTH: u64 = 12;
const RANGE_COST_BYTES: u64 = 16;
const DROPPED_ID_MEMORY: i32 = 64;

// Reason codes: 1-based positions in CHUNK_ERROR_REASONS (src/codec/chunk_error.ts).
const SHORT_FRAME: i32 = 1;
const EMPTY_CHUNK: i32 = 2;
const OUT_OF_BOUNDS: i32 = 3;
const TOTAL_MISMATCH: i32 = 4;
const OVERLAP: i32 = 5;
const MESSAGE_TOO_LARGE: i32 = 6;
const TOO_MANY_MESSAGES: i32 = 7;
const PENDING_BYTES: i32 = 8;
const DROPPED: i32 = 9;

// Status codes returned by push(); a refusal returns -reason.
const COMPLETE_SINGLE: i32 = 0;
const STARTED: i32 = 1;
const CONTINUED: i32 = 2;
const COMPLETED: i32 = 3;

// Byte offsets inside the io area.
const OUTPUT_START: usize = 16;
const OUT_ID: usize = OUTPUT_START;
const OUT_OFFSET: usize = OUTPUT_START + 4;
const OUT_TOTAL: usize = OUTPUT_START + 8;
const OUT_RECEIVED: usize = OUTPUT_START + 12;
const OUT_SLOT: usize = OUTPUT_START + 16;
const OUT_FREED_SLOT: usize = OUTPUT_START + 20;
const OUT_DETAIL_A: usize = OUTPUT_START + 24;
const OUT_DETAIL_B: usize = OUTPUT_START + 28;
const IO_BYTES: i32 = 48;

const io: usize = memory.data(IO_BYTES, 16);

class PendingMessage {
  totalSize: u32 = 0;
  slot: i32 = 0;
  receivedBytes: u32 = 0;
  // Disjoint, sorted, never adjacent ranges [starts[i], ends[i]) of bytes received so far.
  starts: Array<u32> = [];
  ends: Array<u32> = [];
}

let maxMessageSize: u64 = 0;
let maxPendingBytes: u64 = 0;
let maxPendingMessages: i64 = 0;

const pending = new Map<u32, PendingMessage>();
let pendingBytesInUse: u64 = 0;
const droppedIds = new StaticArray<u32>(DROPPED_ID_MEMORY);
let droppedCount: u64 = 0;

// Slots index the message buffers JavaScript keeps; freed slots are reused first.
const freeSlots: Array<i32> = [];
let slotCount: i32 = 0;

/** Where JavaScript writes the header and reads the output words. */
export function ioPointer(): usize {
  return io;
}

/** Sets the limits; maxPendingBytes may exceed 2^32, so it travels as a float (exact to 2^53). */
export function init(
  messageSizeLimit: u32,
  pendingBytesLimit: f64,
  pendingMessagesLimit: i32,
): void {
  maxMessageSize = messageSizeLimit;
  maxPendingBytes = <u64> pendingBytesLimit;
  maxPendingMessages = pendingMessagesLimit;
}

export function pendingMessages(): i32 {
  return pending.size;
}

export function pendingBytes(): f64 {
  return <f64> pendingBytesInUse;
}

/** Drops every incomplete message; the memory of refused ids is kept, as in the JS engine. */
export function release(): void {
  pending.clear();
  pendingBytesInUse = 0;
  freeSlots.length = 0;
  slotCount = 0;
}

/** Takes the frame whose header is at ioPointer(); frameLength is a float so no length wraps. */
export function push(frameLengthAsFloat: f64): i32 {
  const frameLength = <u64> frameLengthAsFloat;
  store<i32>(io + OUT_FREED_SLOT, -1);
  if (frameLength < HEADER_LENGTH) return -SHORT_FRAME;
  const id = load<u32>(io);
  const offset = load<u32>(io, 4);
  const totalSize = load<u32>(io, 8);
  store<u32>(io + OUT_ID, id);
  store<u32>(io + OUT_OFFSET, offset);
  store<u32>(io + OUT_TOTAL, totalSize);
  const contentLength = frameLength - HEADER_LENGTH;

  if (droppedCount > 0 && wasDropped(id)) return -DROPPED;
  // With nothing pending (the usual case between large messages) skip the hash lookup.
  const message: PendingMessage | null = pending.size > 0 && pending.has(id)
    ? pending.get(id)
    : null;
  if (contentLength == 0 || totalSize == 0) return refuse(EMPTY_CHUNK, id);
  if (<u64> offset + contentLength > <u64> totalSize) return refuse(OUT_OF_BOUNDS, id);

  if (message === null) {
    if (<u64> totalSize > maxMessageSize) return refuse(MESSAGE_TOO_LARGE, id);
    // The whole message in one frame: JavaScript hands out a view of the frame.
    if (contentLength == <u64> totalSize) return COMPLETE_SINGLE;
    if (<i64> pending.size + 1 > maxPendingMessages) return refuse(TOO_MANY_MESSAGES, id);
    const cost = <u64> totalSize + RANGE_COST_BYTES;
    if (pendingBytesInUse + cost > maxPendingBytes) {
      store<u32>(io + OUT_DETAIL_A, 0);
      return refuse(PENDING_BYTES, id);
    }
    const started = new PendingMessage();
    started.totalSize = totalSize;
    started.slot = takeSlot();
    started.receivedBytes = <u32> contentLength;
    started.starts.push(offset);
    started.ends.push(offset + <u32> contentLength);
    pending.set(id, started);
    pendingBytesInUse += cost;
    store<u32>(io + OUT_RECEIVED, started.receivedBytes);
    store<i32>(io + OUT_SLOT, started.slot);
    return STARTED;
  }

  if (totalSize != message.totalSize) {
    store<u32>(io + OUT_DETAIL_A, message.totalSize);
    return refuse(TOTAL_MISMATCH, id);
  }
  const refusal = addRange(id, message, offset, offset + <u32> contentLength);
  if (refusal != 0) return refusal;
  message.receivedBytes += <u32> contentLength;
  store<u32>(io + OUT_RECEIVED, message.receivedBytes);
  store<i32>(io + OUT_SLOT, message.slot);
  if (message.receivedBytes != totalSize) return CONTINUED;
  forget(id, message);
  return COMPLETED;
}

// Records [start, end) as received; returns 0, or the refusal when it overlaps what is there.
function addRange(id: u32, message: PendingMessage, start: u32, end: u32): i32 {
  const starts = message.starts;
  const ends = message.ends;
  const count = ends.length;
  // Fast path: chunks in order extend the last range.
  if (unchecked(ends[count - 1]) == start) {
    unchecked(ends[count - 1] = end);
    return 0;
  }
  // Index of the first range starting at or after `end`: the ranges before it may touch us.
  let low = 0;
  let high = count;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (unchecked(starts[middle]) < end) low = middle + 1;
    else high = middle;
  }
  const next = low;
  const previous = low - 1;
  if (previous >= 0 && unchecked(ends[previous]) > start) {
    store<u32>(io + OUT_DETAIL_A, unchecked(starts[previous]));
    store<u32>(io + OUT_DETAIL_B, unchecked(ends[previous]));
    return refuse(OVERLAP, id);
  }
  const joinsPrevious = previous >= 0 && unchecked(ends[previous]) == start;
  const joinsNext = next < count && unchecked(starts[next]) == end;
  if (joinsPrevious && joinsNext) {
    unchecked(ends[previous] = ends[next]);
    removeAt(starts, next);
    removeAt(ends, next);
    pendingBytesInUse -= RANGE_COST_BYTES;
  } else if (joinsPrevious) {
    unchecked(ends[previous] = end);
  } else if (joinsNext) {
    unchecked(starts[next] = start);
  } else {
    if (pendingBytesInUse + RANGE_COST_BYTES > maxPendingBytes) {
      store<u32>(io + OUT_DETAIL_A, 1);
      return refuse(PENDING_BYTES, id);
    }
    insertAt(starts, next, start);
    insertAt(ends, next, end);
    pendingBytesInUse += RANGE_COST_BYTES;
  }
  return 0;
}

// Drops the message the refused chunk belongs to, remembers its id, and returns -reason.
function refuse(reason: i32, id: u32): i32 {
  if (pending.has(id)) forget(id, pending.get(id));
  unchecked(droppedIds[<i32> (droppedCount % <u64> DROPPED_ID_MEMORY)] = id);
  droppedCount++;
  return -reason;
}

function forget(id: u32, message: PendingMessage): void {
  pending.delete(id);
  pendingBytesInUse -= <u64> message.totalSize + RANGE_COST_BYTES * <u64> message.starts.length;
  freeSlots.push(message.slot);
  store<i32>(io + OUT_FREED_SLOT, message.slot);
}

function wasDropped(id: u32): bool {
  const remembered = droppedCount < <u64> DROPPED_ID_MEMORY
    ? <i32> droppedCount
    : DROPPED_ID_MEMORY;
  for (let index = 0; index < remembered; index++) {
    if (unchecked(droppedIds[index]) == id) return true;
  }
  return false;
}

function takeSlot(): i32 {
  if (freeSlots.length > 0) return freeSlots.pop();
  return slotCount++;
}

function insertAt(values: Array<u32>, index: i32, value: u32): void {
  const tail = values.length - index;
  values.push(0);
  const at = values.dataStart + (<usize> index << 2);
  memory.copy(at + 4, at, <usize> tail << 2);
  store<u32>(at, value);
}

function removeAt(values: Array<u32>, index: i32): void {
  const at = values.dataStart + (<usize> index << 2);
  memory.copy(at, at + 4, <usize> (values.length - index - 1) << 2);
  values.length = values.length - 1;
}
