// The WebAssembly engine's bookkeeping: header parsing, the table of pending messages, coverage of
// each message by disjoint ranges (assembly/received_ranges.ts), and the limits. It mirrors
// src/codec/_js_engine.ts check for check. Message bytes never enter this module: it decides, and
// src/codec/_wasm_engine.ts copies into buffers that live in JavaScript.
//
// Interface: JavaScript writes a frame's first 12 bytes at ioPointer() and calls push(frameLength).
// The result is a status code; every number JavaScript needs besides it is left in the output
// words at ioPointer() + OUTPUT_START (little-endian, read with a DataView).

import { ADDED, MERGED, NO_ROOM, OVERLAPS, ReceivedRanges } from "./received_ranges";

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
  constructor(
    public totalSize: u32,
    public slot: i32,
    public receivedBytes: u32,
    public ranges: ReceivedRanges,
  ) {}
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
    const started = new PendingMessage(
      totalSize,
      takeSlot(),
      <u32> contentLength,
      new ReceivedRanges(offset, offset + <u32> contentLength),
    );
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

// Records [start, end) as received; returns 0, or the refusal when it overlaps what is there or a
// further range does not fit in maxPendingBytes.
function addRange(id: u32, message: PendingMessage, start: u32, end: u32): i32 {
  const ranges = message.ranges;
  const outcome = ranges.add(start, end, pendingBytesInUse + RANGE_COST_BYTES <= maxPendingBytes);
  if (outcome == ADDED) {
    pendingBytesInUse += RANGE_COST_BYTES;
  } else if (outcome == MERGED) {
    pendingBytesInUse -= RANGE_COST_BYTES;
  } else if (outcome == OVERLAPS) {
    store<u32>(io + OUT_DETAIL_A, ranges.overlapStart);
    store<u32>(io + OUT_DETAIL_B, ranges.overlapEnd);
    return refuse(OVERLAP, id);
  } else if (outcome == NO_ROOM) {
    store<u32>(io + OUT_DETAIL_A, 1);
    return refuse(PENDING_BYTES, id);
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
  pendingBytesInUse -= <u64> message.totalSize + RANGE_COST_BYTES * <u64> message.ranges.count;
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
