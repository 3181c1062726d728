// One client of the streaming benchmark (bench/stream.ts), run under Deno, Bun or Node 24:
//   <runtime> bench/_stream_client.ts URL KIND SIZE [--trigger NAME] [--warmup SIZE]
//     [--server-memory] [--timeout-ms N]
// KIND is trame-wire (`callStream`, read with a BYOB reader into one 1 MiB buffer),
// trame-wire-views (`callStream`, read with a default reader: views of the frames) or bare (the
// runtime's WebSocket counting frame bytes: the limit). The trigger (default: the benchmark
// server's file trigger) is called with [SIZE]: once with [--warmup] untimed, then timed. With
// --server-memory, the server's peak memory is reset before the timed transfer and read after.
// Prints one JSON StreamReport.
import process from "node:process";
import { WslinkSession } from "../src/session/session.ts";
import { TRAME_METHODS } from "../src/trame/protocol.ts";
import { bareClient } from "./_bench_clients.ts";
import { memory, reportAndExit, resetPeakMemory, runtimeInfo } from "./_e2e_shared.ts";
import {
  STREAM_BENCH_TRIGGERS,
  type StreamClientKind,
  type StreamReport,
} from "./_stream_shared.ts";

const SECRET = "wslink-secret";

interface StreamClient {
  /** Receives the result of `trigger(size)` whole; resolves with its byte count. */
  receive(trigger: string, size: number): Promise<number>;
  close(): Promise<void>;
}

// Reads with a BYOB reader into one buffer of this size (each frame freed once copied), or with
// a default reader (views of the frames, freed by the garbage collector).
const BYOB_BUFFER_BYTES = 1024 * 1024;

async function trameWireClient(url: string, byob: boolean): Promise<StreamClient> {
  const session = await WslinkSession.connect(url, { secret: SECRET });
  const trigger = (name: string, args: unknown[]) => [name, args, {}];
  return {
    async receive(name, size) {
      const stream = await session.callStream(TRAME_METHODS.trigger, trigger(name, [size]));
      let received = 0;
      if (byob) {
        const reader = stream.getReader({ mode: "byob" });
        let buffer = new ArrayBuffer(BYOB_BUFFER_BYTES);
        for (;;) {
          const chunk = await reader.read(new Uint8Array(buffer));
          if (chunk.done) break;
          received += chunk.value.byteLength;
          buffer = chunk.value.buffer as ArrayBuffer;
        }
        return received;
      }
      const reader = stream.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        received += chunk.value.byteLength;
      }
      return received;
    },
    close: () => session.close(),
  };
}

function option(argv: string[], name: string): string | undefined {
  const index = argv.indexOf(`--${name}`);
  return index < 0 ? undefined : argv[index + 1];
}

async function run(argv: string[]): Promise<StreamReport> {
  const [url, kind, sizeText] = argv;
  if (!["trame-wire", "trame-wire-views", "bare"].includes(kind)) throw new Error(`kind ${kind}?`);
  const size = Number(sizeText);
  const name = option(argv, "trigger") ?? STREAM_BENCH_TRIGGERS.file;
  const warmUp = Number(option(argv, "warmup") ?? 0);
  const serverMemory = argv.includes("--server-memory");
  const client = kind === "bare"
    ? await bareStreamClient(url)
    : await trameWireClient(url, kind === "trame-wire");
  // The server's memory is asked for on a connection of its own, idle during the transfer.
  const control = serverMemory ? await WslinkSession.connect(url, { secret: SECRET }) : undefined;
  const triggerOnControl = (name: string) => control!.call(TRAME_METHODS.trigger, [name, [], {}]);
  try {
    if (warmUp > 0) await client.receive(name, warmUp);
    if (serverMemory) await triggerOnControl(STREAM_BENCH_TRIGGERS.resetMemory);
    const base = resetPeakMemory();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const received = await client.receive(name, size);
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const clientGrowth = memory().peak - base;
    if (received < size) throw new Error(`received ${received} bytes, expected ${size}`);
    let serverGrowth: number | undefined;
    if (serverMemory) {
      const { peak, base } = await triggerOnControl(STREAM_BENCH_TRIGGERS.memory) as {
        peak: number;
        base: number;
      };
      serverGrowth = peak - base;
    }
    return {
      ...runtimeInfo(),
      kind: kind as StreamClientKind,
      size,
      ms,
      cpuMs: (used.user + used.system) / 1000,
      clientGrowth,
      serverGrowth,
    };
  } finally {
    await client.close();
    await control?.close();
  }
}

// The limit: the benchmarks' bare WebSocket, counting the bytes of the result's frames.
async function bareStreamClient(url: string): Promise<StreamClient> {
  const client = await bareClient(url);
  return {
    async receive(name, size) {
      await client.result(name, size);
      return size;
    },
    close: () => client.close(),
  };
}

const timeoutMs = Number(option(process.argv.slice(2), "timeout-ms") ?? 300_000);
await reportAndExit(() => run(process.argv.slice(2)), timeoutMs);
