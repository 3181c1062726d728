/**
 * {@link BinaryStream}: a binary result handed over as its bytes arrive.
 * @module
 */

// Chunks count by their bytes and the stream wants none in advance: `desiredSize` is then minus
// the bytes enqueued and not yet read, which is what the session charges to its budget.
const QUEUED_BYTES: QueuingStrategy<Uint8Array> = {
  highWaterMark: 0,
  size: (chunk) => chunk.byteLength,
};

/**
 * The bytes of a binary result (a msgpack `bin`), as `WslinkSession.callStream()` and
 * `TrameClient.triggerStream()` resolve them: a `ReadableStream<Uint8Array>` whose chunks are
 * views of the frames they arrived in (never copied), with the total `size` known from the
 * first frame. Read it with `for await`, `getReader()` or `pipeTo()`; `cancel()` drops the rest
 * of the result as it arrives, without keeping it.
 *
 * The WebSocket API cannot slow the server down, so bytes a slow reader has not taken yet wait in
 * the stream; they count against the session's `maxPendingBytes`, and past it the stream errors
 * with a `ChunkError` (`pending-bytes`).
 */
export class BinaryStream extends ReadableStream<Uint8Array> {
  /** The result's size in bytes: what the stream delivers in all when it ends normally. */
  readonly size: number;

  /** @internal Made by the session; `source` enqueues views of the frames. */
  constructor(size: number, source: UnderlyingDefaultSource<Uint8Array>) {
    super(source, QUEUED_BYTES);
    this.size = size;
  }

  /** A stream of bytes that are already all here: one chunk (none when empty), then the end. */
  static of(bytes: Uint8Array): BinaryStream {
    return new BinaryStream(bytes.byteLength, {
      start(controller) {
        if (bytes.byteLength > 0) controller.enqueue(bytes);
        controller.close();
      },
    });
  }
}
