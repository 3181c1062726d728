// `call --out`: a binary result streamed to a file or to standard output as it arrives, through
// one buffer (so memory stays flat whatever the size), with a progress bar on standard error.
import { open, rm } from "node:fs/promises";
import type { BinaryStream } from "../session/binary_stream.ts";
import type { CallOptions } from "../session/options.ts";
import { Watchdog } from "./deadline.ts";
import type { CliOutput } from "./output.ts";
import { formatBytes, formatRate, ProgressReporter } from "./progress.ts";

/** What `--out -` names: standard output. */
export const STANDARD_OUTPUT = "-";

// Bytes read and written at a time.
const BUFFER_BYTES = 1024 * 1024;

/**
 * Starts the call with `start` (given the options that bound it), then writes its result to
 * `destination` (a path, or `-` for standard output) as it arrives. `timeout` bounds each silence
 * of the stream as well. A file left incomplete by a failure is removed. Resolves with the bytes
 * written.
 */
export async function download(
  start: (options: CallOptions) => Promise<BinaryStream>,
  destination: string,
  timeout: number,
  output: CliOutput,
  label: string,
): Promise<number> {
  const toStandardOutput = destination === STANDARD_OUTPUT;
  const file = toStandardOutput ? undefined : await open(destination, "w");
  const write = file === undefined
    ? (bytes: Uint8Array) => output.outBytes(bytes)
    : async (bytes: Uint8Array) => void await file.write(bytes);
  const watchdog = new Watchdog(timeout, `the result of ${label}`);
  let written = 0;
  try {
    const stream = await watchdog.guard(start({ signal: watchdog.signal }));
    const progress = new ProgressReporter(
      { out: output.error, isTerminal: output.errorIsTerminal },
      label,
    );
    const reader = stream.getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(BUFFER_BYTES);
    for (;;) {
      const { done, value } = await watchdog.guard(reader.read(new Uint8Array(buffer)));
      if (done) break;
      watchdog.touch();
      await write(value);
      written += value.byteLength;
      progress.update(written, stream.size);
      buffer = value.buffer as ArrayBuffer;
    }
    const ms = progress.finish();
    const where = toStandardOutput ? "standard output" : destination;
    const summary = `wrote ${formatBytes(written)} (${written} bytes) to ${where} in ` +
      `${(ms / 1000).toFixed(1)} s, ${formatRate(written, ms)}\n`;
    if (toStandardOutput) output.error(summary);
    else output.out(summary);
    await file?.close();
    return written;
  } catch (error) {
    if (file !== undefined) {
      await file.close().catch(() => {});
      await rm(destination, { force: true }).catch(() => {});
    }
    throw error;
  } finally {
    watchdog.stop();
  }
}
