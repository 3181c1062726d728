// The chunk codec against its limits and against the reference client, the msgpack pre-scan
// against bare decoding, in one process:
//   deno run -A bench/codec.bench.ts        bun bench/codec.bench.ts
// Prints mitata's report, then each case's median as a ratio to its limit (bench/RESULTS.md).
// `--filter REGEX` times only the cases whose name matches (the inputs are built all the same).
import process from "node:process";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { Decoder, encode } from "@msgpack/msgpack";
import { UnChunker as ReferenceUnChunker } from "../node_modules/wslink/src/WebsocketConnection/chunking.js";
import { createUnChunker, generateChunks } from "../mod.ts";
import { checkMsgpackLengths } from "../src/protocol/msgpack_check.ts";
import { createMessageCodec } from "../src/protocol/msgpack.ts";
import { createReplyDecoder } from "../src/protocol/_reply_decoder.ts";

const MiB = 1024 * 1024;

// (a) A trame state publish, 99 bytes of msgpack, in one frame.
function publishMessage(): Uint8Array {
  for (let padding = 0; padding < 100; padding++) {
    const bytes = encode({
      wslink: "1.0",
      id: "publish:trame.state.topic:0",
      result: { counter: 42, busy: false, resolution: 24, label: "x".repeat(padding) },
    });
    // A copy with its own ArrayBuffer: encode() returns a view of the encoder's buffer.
    if (bytes.byteLength === 99) return bytes.slice();
  }
  throw new Error("no padding gives a 99-byte publish message");
}
const publish = publishMessage();
const [publishFrame] = generateChunks(publish, 0);
const publishBlob = new Blob([publishFrame as Uint8Array<ArrayBuffer>]);

const decoder = new Decoder();
const referenceDecoder = () => decoder;
const identityDecoder = () => ({ decode: (bytes: Uint8Array) => bytes });
const engines = {
  js: await createUnChunker({ engine: "js" }),
  wasm: await createUnChunker({ engine: "wasm" }),
};
const reference = new ReferenceUnChunker();

// Every case must produce the right result before it is timed.
for (const unchunker of Object.values(engines)) {
  if (unchunker.push(publishFrame)?.byteLength !== 99) throw new Error("publish frame");
}
const fromReference = await reference.processChunk(publishBlob, referenceDecoder);
if ((fromReference as { id?: string }).id !== "publish:trame.state.topic:0") {
  throw new Error("reference: publish frame");
}

// Warm the decoder up on both kinds of input first, so no case pays for the JIT's tier-up of
// Decoder.decode (on Bun the first case timed otherwise measured up to 2x slower).
for (let round = 0; round < 100_000; round++) {
  decoder.decode(publish);
  for (const unchunker of Object.values(engines)) decoder.decode(unchunker.push(publishFrame)!);
}

const PUBLISH_LIMIT = "publish: bare Decoder.decode (limit)";
const LARGE_LIMIT = "64 MiB: Uint8Array.set into a fresh buffer (limit)";

group("99-byte publish message in one frame: push + decode", () => {
  summary(() => {
    bench(PUBLISH_LIMIT, () => do_not_optimize(decoder.decode(publish))).baseline(true);
    for (const [name, unchunker] of Object.entries(engines)) {
      bench(`publish: ${name} engine push + decode`, () => {
        do_not_optimize(decoder.decode(unchunker.push(publishFrame)!));
      });
    }
    bench("publish: reference processChunk(Blob) + decode", async () => {
      do_not_optimize(await reference.processChunk(publishBlob, referenceDecoder));
    });
  });
});

// (c) The msgpack pre-scan (src/protocol/msgpack_check.ts) in front of decoding, on three kinds of
// message; its limit is decoding alone.
const prescanMessages = {
  "RPC call": encode({
    wslink: "1.0",
    id: "rpc:client:42",
    method: "trame.trigger",
    args: ["add", [1, 2]],
    kwargs: {},
  }).slice(),
  "1 MiB bin": encode({
    wslink: "1.0",
    id: "rpc:client:7",
    result: new Uint8Array(1024 * 1024).fill(7),
  }).slice(),
  "state of 2,000 keys": encode({
    wslink: "1.0",
    id: "publish:trame.state.topic:0",
    result: Object.fromEntries(
      Array.from({ length: 2000 }, (_, index) => [
        `key_${index}`,
        index % 3 === 0 ? index : index % 3 === 1 ? `value ${index}` : [index, index / 7, true],
      ]),
    ),
  }).slice(),
};
for (const [name, bytes] of Object.entries(prescanMessages)) {
  checkMsgpackLengths(bytes);
  for (let round = 0; round < 200; round++) decoder.decode(bytes);
  if (decoder.decode(bytes) === undefined) throw new Error(`pre-scan: ${name}`);
}

const PRESCAN_LIMIT = (name: string) => `${name}: bare Decoder.decode (limit)`;
for (const [name, bytes] of Object.entries(prescanMessages)) {
  group(`${name} (${bytes.byteLength} bytes): pre-scan + decode`, () => {
    summary(() => {
      bench(PRESCAN_LIMIT(name), () => do_not_optimize(decoder.decode(bytes))).baseline(true);
      bench(`${name}: checkMsgpackLengths + decode`, () => {
        checkMsgpackLengths(bytes);
        do_not_optimize(decoder.decode(bytes));
      });
      bench(`${name}: checkMsgpackLengths alone`, () => {
        do_not_optimize(checkMsgpackLengths(bytes));
      });
    });
  });
}

// (e) The decode path both ends use, as it is wired (src/protocol/msgpack.ts): the server's
// decode (createMessageCodec().decode) and the session's (the reply fast path in front of it), on
// the publish message and the messages of (c). Run on a tree without the pre-scan wired in, the
// same cases give the "before" figures of bench/RESULTS.md.
const wiredCodec = createMessageCodec();
const wiredReplies = createReplyDecoder(createMessageCodec());
const wiredMessages = { publish, ...prescanMessages };
for (const bytes of Object.values(wiredMessages)) {
  for (let round = 0; round < 200; round++) {
    wiredCodec.decode(bytes);
    wiredReplies(bytes);
  }
}
group("the decode path of both ends, as wired", () => {
  for (const [name, bytes] of Object.entries(wiredMessages)) {
    bench(`wired ${name}: server decode`, () => do_not_optimize(wiredCodec.decode(bytes)));
    bench(`wired ${name}: session decode`, () => do_not_optimize(wiredReplies(bytes)));
  }
});

// (d) The range bookkeeping's worst case (issue 13, item 8): 1-byte chunks of a 40,000-byte
// message, every even byte backwards, then every odd byte: 40,000 frames, 20,000 disjoint ranges.
const BACKWARDS_PIECES = 20_000;
const backwardsFrames = (() => {
  const message = new Uint8Array(2 * BACKWARDS_PIECES);
  const frames: Uint8Array[] = [];
  const oneByte = (offset: number) => {
    const frame = new Uint8Array(13);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 99, true);
    view.setUint32(4, offset, true);
    view.setUint32(8, message.byteLength, true);
    frames.push(frame);
  };
  for (let piece = BACKWARDS_PIECES - 1; piece >= 0; piece--) oneByte(2 * piece);
  for (let piece = 0; piece < BACKWARDS_PIECES; piece++) oneByte(2 * piece + 1);
  return frames;
})();
for (const unchunker of Object.values(engines)) {
  let whole: Uint8Array | undefined;
  for (const frame of backwardsFrames) whole = unchunker.push(frame);
  if (whole?.byteLength !== 2 * BACKWARDS_PIECES) throw new Error("1-byte chunks backwards");
}
group("40,000 1-byte chunks, every other byte backwards", () => {
  for (const [name, unchunker] of Object.entries(engines)) {
    bench(`backwards: ${name} engine push`, () => {
      let whole: Uint8Array | undefined;
      for (const frame of backwardsFrames) whole = unchunker.push(frame);
      do_not_optimize(whole);
    });
  }
});

// The small case runs before the 64 MiB data exists: on Bun, hundreds of MiB of live typed
// arrays make every typed-array view allocation (such as a frame's subarray) ~10x slower, which
// would measure the heap rather than the codec (see bench/RESULTS.md).
const filterAt = process.argv.indexOf("--filter");
const filter = filterAt < 0 ? /.*/ : new RegExp(process.argv[filterAt + 1]);
const { benchmarks: smallTrials } = await run({ filter });

// (b) A 64 MiB message in frames of at most 4 MiB (the reference server's default frame limit).
const large = new Uint8Array(64 * MiB);
for (let index = 0; index < large.length; index += 4096) large[index] = index >>> 12;
const largeFrames = [...generateChunks(large, 4 * MiB)];
const largeBlobs = largeFrames.map((frame) => new Blob([frame as Uint8Array<ArrayBuffer>]));

for (const unchunker of Object.values(engines)) {
  let whole: Uint8Array | undefined;
  for (const frame of largeFrames) whole = unchunker.push(frame);
  if (whole?.byteLength !== large.byteLength || whole[4096 * 255] !== 255) {
    throw new Error(`${unchunker.engine}: 64 MiB message`);
  }
}

group("64 MiB message in 4 MiB frames", () => {
  summary(() => {
    bench(LARGE_LIMIT, () => {
      const copy = new Uint8Array(large.byteLength);
      copy.set(large);
      do_not_optimize(copy);
    }).baseline(true);
    for (const [name, unchunker] of Object.entries(engines)) {
      bench(`64 MiB: ${name} engine push`, () => {
        let whole: Uint8Array | undefined;
        for (const frame of largeFrames) whole = unchunker.push(frame);
        do_not_optimize(whole);
      });
    }
    bench("64 MiB: reference processChunk(Blob)", async () => {
      let whole: unknown;
      for (const blob of largeBlobs) whole = await reference.processChunk(blob, identityDecoder);
      do_not_optimize(whole);
    });
  });
});

const { benchmarks: largeTrials } = await run({ filter });
const benchmarks = [...smallTrials, ...largeTrials];

// Medians resist the noise of a shared machine better than means; minimums show the cost with the
// least interference from other processes.
const medians = new Map<string, number>();
const minimums = new Map<string, number>();
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats === undefined) continue;
  medians.set(trial.alias, stats.p50);
  minimums.set(trial.alias, stats.min);
}
const rows = [
  "",
  "| case | median | per second | vs limit | min | vs limit (min) |",
  "|---|---:|---:|---:|---:|---:|",
];
const time = (nanoseconds: number) =>
  nanoseconds >= 1e6 ? `${(nanoseconds / 1e6).toFixed(2)} ms` : `${nanoseconds.toFixed(1)} ns`;
for (const [name, median] of medians) {
  const min = minimums.get(name)!;
  const wired = name.startsWith("wired ") ? name.slice(6) : name;
  const prescan = Object.keys(prescanMessages).find((message) => wired.startsWith(`${message}:`));
  let perSecond = `${(1e9 / median / 1e6).toFixed(2)} M ops/s`;
  let limit: string | undefined = PUBLISH_LIMIT;
  if (name.startsWith("64 MiB")) {
    perSecond = `${(large.byteLength / median).toFixed(2)} GB/s`;
    limit = LARGE_LIMIT;
  } else if (prescan !== undefined) {
    limit = PRESCAN_LIMIT(prescan);
  } else if (name.startsWith("backwards")) {
    perSecond = `${(median / backwardsFrames.length).toFixed(1)} ns/frame`;
    limit = undefined;
  }
  const ratio = (times: Map<string, number>, own: number) =>
    limit === undefined || !times.has(limit) ? "" : (times.get(limit)! / own).toFixed(3);
  rows.push(
    `| ${name} | ${time(median)} | ${perSecond} | ${ratio(medians, median)} | ${time(min)} | ${
      ratio(minimums, min)
    } |`,
  );
}
const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : "Bun" in globalThis
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `Node ${(globalThis as unknown as { process: { version: string } }).process.version}`;
console.log(`\n${runtime}${rows.join("\n")}`);
