// The long attack run of issue 13: every attack of the issue thrown at one embedded server at
// once, for a bounded time, while a well-behaved client in a process of its own calls
// `trame.state.get` every 100 ms and must get each reply within 2 s. The server runs in a process
// of its own (bench/_attack_server.ts), which watches its event loop and memory and records every
// connection it closes. All traffic stays on 127.0.0.1.
//   deno run -A bench/attack.ts [--server deno|bun|node] [--seconds 90] [--only NAME,…] [--write]
// (--only runs some of the attacks, named as in `attacks` below, to see what each costs.)
// With --write, the server runtime's part of the "Attack run" section of bench/RESULTS.md is
// rewritten. Exits 1 when the well-behaved client missed a reply or the server died.
import { spawn, spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { encode } from "@msgpack/msgpack";
import { encodeHeader, HEADER_LENGTH } from "../src/codec/header.ts";
import {
  callOver,
  envelopeOf,
  framed,
  helloEnvelope,
  OPCODES,
  RawSocket,
  wslinkFrames,
} from "../test/server/_raw_socket.ts";
import {
  envelopeEndingWith,
  FOUR_HUGE_ARRAYS,
  helloBomb,
  nestedArray32,
} from "../test/reliability/_bombs.ts";
import type { Runtime } from "./_e2e_shared.ts";
import {
  option,
  root,
  runJsonProcess,
  runtimeCommand,
  table,
  writeResultsSection,
} from "./_runner.ts";
import type { AttackReport } from "./_attack_server.ts";
import type { ProbeReport } from "./_attack_probe.ts";

const MiB = 1024 * 1024;
const MB = 1_000_000;
const serverRuntime = option("server", "deno") as Runtime;
const seconds = Number(option("seconds", "90"));
const write = process.argv.includes("--write");
// The server's options for the run: a heartbeat short enough to act within it, and an incoming
// budget the partial-message attack reaches (the defaults: 30 s and 2 GiB).
const SERVER_OPTIONS = { heartbeat: 10, maxIncompleteBytes: 256 * MiB };

// ---- processes ----

interface Child {
  readonly lines: AsyncIterator<string>;
  send(line: string): void;
  end(): void;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function start(command: string[]): Child {
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => (stderr = (stderr + text).slice(-4000)));
  child.stdout.setEncoding("utf8");
  const queue: string[] = [];
  const waiters: ((line: IteratorResult<string>) => void)[] = [];
  let buffered = "";
  let done = false;
  child.stdout.on("data", (text: string) => {
    buffered += text;
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const waiter = waiters.shift();
      if (waiter) waiter({ value: line, done: false });
      else queue.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      done = true;
      for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true });
      resolve(code);
    })
  );
  return {
    lines: {
      next: () =>
        queue.length > 0
          ? Promise.resolve({ value: queue.shift()!, done: false })
          : done
          ? Promise.resolve({ value: undefined, done: true })
          : new Promise((resolve) => waiters.push(resolve)),
    },
    send: (line) => child.stdin.write(`${line}\n`),
    end: () => child.stdin.end(),
    exited,
    stderr: () => stderr,
  };
}

async function nextLine<T>(child: Child, what: string, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    const line = await Promise.race([child.lines.next(), timeout]);
    if (line.done) throw new Error(`the process ended before ${what}: ${child.stderr()}`);
    return JSON.parse(line.value) as T;
  } finally {
    clearTimeout(timer);
  }
}

// ---- attacks ----

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
let running = true;
const counts = new Map<string, number>();
const count = (name: string, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by);
const sockets = new Set<RawSocket>();
let url = "";

async function open(): Promise<RawSocket> {
  const socket = await RawSocket.open(url);
  sockets.add(socket);
  socket.keepMessages = false;
  socket.ended.then(() => sockets.delete(socket));
  return socket;
}

async function authenticated(): Promise<RawSocket> {
  const socket = await open();
  socket.keepMessages = true;
  for (const frame of wslinkFrames(helloEnvelope("wslink-secret"))) socket.send(frame);
  await replies(socket, 0, 1);
  const reply = envelopeOf(socket.messages[0]);
  if (reply.error !== undefined) throw new Error(`hello refused: ${JSON.stringify(reply)}`);
  socket.messages.length = 0;
  socket.keepMessages = false;
  return socket;
}

// Waits for `count` more messages on `socket` than it had when `since` was taken; a socket that
// ends first fails with the close code and reason it got.
async function replies(socket: RawSocket, since: number, count: number, ms = 30_000) {
  try {
    await socket.received(since + count, ms);
  } catch (error) {
    const end = await Promise.race([socket.ended, sleep(100)]);
    const how = end === undefined
      ? ""
      : ` (${
        end.closeCode === undefined ? "no close frame" : `${end.closeCode} ${end.closeReason}`
      })`;
    throw new Error(`${(error as Error).message}${how}`);
  }
}

// How a socket the server closed ended, as the attacker saw it.
async function seenEnd(socket: RawSocket, name: string, ms = 30_000): Promise<void> {
  const ended = await Promise.race([socket.ended, sleep(ms).then(() => undefined)]);
  if (ended === undefined) {
    count(`${name}: still open after ${ms / 1000} s`);
    socket.destroy();
  } else count(`${name}: ended ${ended.closeCode ?? "without a close frame"}`);
}

function chunk(id: number, offset: number, total: number, content = 1): Uint8Array {
  const frame = new Uint8Array(HEADER_LENGTH + content);
  encodeHeader(id, offset, total, frame);
  return frame;
}

const oneFrame = (bytes: Uint8Array) => {
  const frame = chunk(1, 0, bytes.byteLength, bytes.byteLength);
  frame.set(bytes, HEADER_LENGTH);
  return frame;
};

// Runs `attack` again and again (at most `parallel` at a time, `pause` ms apart) until the end.
async function repeat(
  name: string,
  parallel: number,
  pause: number,
  attack: () => Promise<void>,
): Promise<void> {
  const one = async () => {
    while (running) {
      try {
        await attack();
        count(`${name}: rounds`);
      } catch (error) {
        count(`${name}: failed (${(error as Error).message.slice(0, 60)})`);
      }
      await sleep(pause);
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
}

const call = (id: string, method: string, args: unknown[]) =>
  encode({ wslink: "1.0", id, method, args, kwargs: {} });

const attacks: Record<string, () => Promise<void>> = {
  // Item 1: the issue's bombs before the hello, and a bomb in a call after it.
  "msgpack bombs": () => {
    let round = 0;
    return repeat("msgpack bombs", 2, 200, async () => {
      const socket = await open();
      socket.send(oneFrame(round++ % 2 === 0 ? helloBomb() : FOUR_HUGE_ARRAYS));
      await seenEnd(socket, "msgpack bombs");
      const after = await authenticated();
      after.send(oneFrame(envelopeEndingWith(
        { wslink: "1.0", id: "rpc:c:1", method: "trame.state.get" },
        "args",
        nestedArray32(20),
      )));
      await seenEnd(after, "msgpack bombs after the hello");
    });
  },
  // Items 3-5: updates the state must refuse.
  "state updates": () =>
    repeat("state updates", 1, 500, async () => {
      const socket = await authenticated();
      const proto = envelopeEndingWith(
        { wslink: "1.0", id: "rpc:c:1", method: "trame.state.update" },
        "args",
        new Uint8Array([
          0x91,
          0x91,
          0x82,
          ...encode("key"),
          ...encode("__proto__"),
          ...encode("value"),
          1,
        ]),
      );
      let deep: unknown = 0;
      for (let level = 0; level < 120; level++) deep = [deep];
      const manyKeys = Array.from(
        { length: 20_000 },
        (_, index) => ({ key: `k${index}`, value: index }),
      );
      const messages = [
        proto,
        encode({
          wslink: "1.0",
          id: "rpc:c:2",
          method: "trame.state.update",
          args: [[{ key: "deep", value: deep }]],
          kwargs: {},
        }, { maxDepth: 1000 }),
        call("rpc:c:3", "trame.state.update", [manyKeys]),
      ];
      socket.keepMessages = true;
      const since = socket.messageCount;
      for (const bytes of messages) for (const frame of wslinkChunks(bytes)) socket.send(frame);
      await replies(socket, since, 3);
      for (const frame of socket.messages) {
        count(`state updates: ${envelopeOf(frame).error === undefined ? "accepted" : "refused"}`);
      }
      await socket.close();
    }),
  "half a million keys": () =>
    repeat("half a million keys", 1, 10_000, async () => {
      const socket = await authenticated();
      const keys = Array.from(
        { length: 500_000 },
        (_, index) => ({ key: `k${index}`, value: index }),
      );
      socket.keepMessages = true;
      const since = socket.messageCount;
      await socket.write(framed(wslinkChunks(call("rpc:c:1", "trame.state.update", [keys]))));
      await replies(socket, since, 1);
      count(
        `half a million keys: ${
          envelopeOf(socket.messages[0]).error === undefined ? "accepted" : "refused"
        }`,
      );
      await socket.close();
    }),
  // Item 6: clients that stop reading while asking for 1 MiB replies.
  "slow readers": () =>
    repeat("slow readers", 3, 1_000, async () => {
      const socket = await authenticated();
      socket.pause();
      const calls = Array.from({ length: 2_000 }, (_, index) =>
        wslinkChunks(call(`rpc:c:${index}`, "trame.state.get", []))).flat();
      socket.sendRaw(framed(calls));
      // Paused, it cannot see its connection end: it reads again after 25 s (the server closed it
      // long before) to see how.
      await Promise.race([socket.ended, sleep(25_000)]);
      socket.resume();
      await seenEnd(socket, "slow readers", 10_000);
    }),
  // Item 7: a paused client sending pongs nobody asked for, with something queued for it.
  "unsolicited pongs": () =>
    repeat("unsolicited pongs", 2, 1_000, async () => {
      const socket = await authenticated();
      socket.pause();
      socket.autoPong = false;
      // Two heartbeats (10 s each) are enough for the server; then it reads again, to see how its
      // connection ended.
      const end = socket.ended.then(() => "ended");
      for (let beat = 0; beat < 250 && running && !socket.isEnded; beat++) {
        socket.pong(new Uint8Array([1, 2, 3]));
        callOver(socket, "trame.state.get");
        await Promise.race([end, sleep(100)]);
      }
      socket.resume();
      await seenEnd(socket, "unsolicited pongs", 10_000);
    }),
  // Item 8: a 100,000-byte message in 1-byte chunks, every even byte backwards, then the odd ones.
  "descending 1-byte chunks": () =>
    repeat("descending 1-byte chunks", 1, 100, async () => {
      const socket = await authenticated();
      const message = call("rpc:c:1", "trame.trigger", [
        "none",
        [new Uint8Array(100_000 - 60)],
        {},
      ]);
      const frames: Uint8Array[] = [];
      const pieces = Math.floor(message.byteLength / 2);
      const at = (offset: number) => {
        const frame = chunk(77, offset, message.byteLength);
        frame[HEADER_LENGTH] = message[offset];
        frames.push(frame);
      };
      for (let piece = pieces - 1; piece >= 0; piece--) at(2 * piece);
      for (let offset = 1; offset < message.byteLength; offset += 2) at(offset);
      const since = socket.messageCount;
      for (let from = 0; from < frames.length; from += 20_000) {
        await socket.write(framed(frames.slice(from, from + 20_000)));
      }
      await replies(socket, since, 1, 60_000);
      await socket.close();
    }),
  // Item 9: floods of partial messages before the hello, text frames, failed hellos.
  "pre-auth floods": () =>
    repeat("pre-auth floods", 4, 100, async () => {
      const socket = await open();
      socket.sendRaw(framed(Array.from({ length: 1_024 }, (_, id) => chunk(id + 1, 0, 512, 4))));
      await seenEnd(socket, "pre-auth floods");
    }),
  "text frames before the hello": () =>
    repeat("text frames before the hello", 1, 200, async () => {
      const socket = await open();
      for (let index = 0; index < 100; index++) {
        socket.sendFrame(OPCODES.text, new TextEncoder().encode("hello?"));
      }
      await seenEnd(socket, "text frames before the hello");
    }),
  "failed hellos": () =>
    repeat("failed hellos", 1, 200, async () => {
      const socket = await open();
      for (let index = 0; index < 10; index++) {
        for (const frame of wslinkFrames(helloEnvelope("wrong"))) socket.send(frame);
      }
      await seenEnd(socket, "failed hellos");
    }),
  // Item 10: a call in 1-byte chunks, again and again, after the hello.
  "1-byte frames": () =>
    repeat("1-byte frames", 1, 0, async () => {
      const socket = await authenticated();
      const frames = wslinkFrames(
        { wslink: "1.0", id: "rpc:c:1", method: "no.such", args: [], kwargs: {} },
        HEADER_LENGTH + 1,
      );
      const batch = framed(Array.from({ length: 200 }, () => frames).flat());
      const since = socket.messageCount;
      let rounds = 0;
      for (; rounds < 50 && running && !socket.isEnded; rounds++) {
        await socket.write(batch);
        count("1-byte frames: frames", 200 * frames.length);
      }
      await replies(socket, since, rounds * 200, 60_000);
      await socket.close();
    }),
  // Item 11: large unfinished messages, held 10 s, more than the incoming budget together.
  "partial messages": () =>
    repeat("partial messages", 3, 500, async () => {
      const socket = await authenticated();
      const frames = Array.from({ length: 40 }, (_, part) => chunk(5, part * MiB, 100 * MiB, MiB));
      for (let at = 0; at < frames.length && !socket.isEnded; at += 4) {
        await socket.write(framed(frames.slice(at, at + 4)));
      }
      await Promise.race([socket.ended, sleep(10_000)]);
      if (socket.isEnded) await seenEnd(socket, "partial messages");
      else {
        count("partial messages: held 10 s");
        await socket.close();
      }
    }),
  // Many sockets that never say hello (the hello timeout closes them).
  "many idle sockets": () =>
    repeat("many idle sockets", 300, 0, async () => {
      const socket = await open();
      await seenEnd(socket, "many idle sockets", 20_000);
    }),
  // Item 13: exits scheduled far away (16 at most wait).
  "exit.later": () =>
    repeat("exit.later", 1, 5_000, async () => {
      const socket = await authenticated();
      socket.keepMessages = true;
      const since = socket.messageCount;
      for (let index = 0; index < 20; index++) {
        for (
          const frame of wslinkChunks(call(`rpc:c:${index}`, "application.exit.later", [3_000_000]))
        ) {
          socket.send(frame);
        }
      }
      await replies(socket, since, 20);
      for (const frame of socket.messages) {
        count(`exit.later: ${envelopeOf(frame).error === undefined ? "accepted" : "refused"}`);
      }
      await socket.close();
    }),
};

// A message's frames at the server's default frame size.
function wslinkChunks(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const size = 10_000_000 - HEADER_LENGTH;
  const id = Math.floor(Math.random() * 2 ** 32);
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    const content = bytes.subarray(offset, offset + size);
    const frame = chunk(id, offset, bytes.byteLength, content.byteLength);
    frame.set(content, HEADER_LENGTH);
    frames.push(frame);
  }
  return frames;
}

// ---- the run ----

const server = start(
  runtimeCommand(serverRuntime, "_attack_server.ts").concat(JSON.stringify(SERVER_OPTIONS)),
);
url = (await nextLine<{ url: string }>(server, "the server's URL")).url;
const report = () => {
  server.send("report");
  return nextLine<AttackReport>(server, "a report");
};
// A state of 1 MiB, so that each `trame.state.get` is a large reply.
const setup = await authenticated();
setup.keepMessages = true;
for (
  const frame of wslinkChunks(
    call("rpc:c:1", "trame.state.update", [[{ key: "blob", value: new Uint8Array(MiB) }]]),
  )
) {
  setup.send(frame);
}
await setup.received(2);
await setup.close();
await sleep(1_000);
const before = await report();
const probing = runJsonProcess<ProbeReport>(
  [...runtimeCommand(serverRuntime, "_attack_probe.ts"), url, String(seconds)],
  seconds * 1000 + 30_000,
  "the well-behaved client",
);
console.error(`attacking the ${serverRuntime} server at ${url} for ${seconds} s…`);
const started = performance.now();
const only = option("only", "");
const chosen = Object.entries(attacks).filter(([name]) =>
  only === "" || only.split(",").includes(name)
);
if (chosen.length === 0) throw new Error(`--only names no attack: ${only}`);
const attacking = chosen.map(([, attack]) => attack());
const samples: AttackReport[] = [];
while (performance.now() - started < seconds * 1000) {
  await sleep(5_000);
  const sample = await report();
  samples.push(sample);
  console.error(
    `  ${Math.round((performance.now() - started) / 1000)} s: rss ${
      (sample.rss / MB).toFixed(0)
    } MB, ` +
      `peak ${
        (sample.peakRss / MB).toFixed(0)
      } MB, worst loop delay ${sample.loop.maxLateMs} ms, ` +
      `${sample.clients} clients`,
  );
}
running = false;
const probed = await probing;
for (const socket of sockets) socket.destroy();
await Promise.race([Promise.all(attacking), sleep(30_000)]);
await sleep(5_000);
const after = await report();
await sleep(25_000);
const later = await report();
server.end();
const serverExit = await Promise.race([server.exited, sleep(10_000).then(() => "still running")]);

// ---- the report ----

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
const peak = Math.max(...samples.map((sample) => sample.peakRss));
const worstLoop = Math.max(...samples.map((sample) => sample.loop.maxLateMs));
const driver = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node";
const loads = loadavg().map((load) => load.toFixed(1)).join(" / ");
const { loop } = later;
const logged = Object.entries(later.logLines).map(([level, n]) => `${level} ${n}`).join(", ");
const missed = probed.failures.length;
const closedProbe = probed.closed === undefined ? "" : `; closed by the server: ${probed.closed}`;
const lines = [
  `- Date: ${new Date().toISOString()}; server: ${runtimeVersion(serverRuntime)}, options ` +
  `\`${JSON.stringify(SERVER_OPTIONS)}\` (the rest default); attackers in one ${driver} process; ` +
  `${seconds} s; load average (1/5/15 min) at the end ${loads}.`,
  `- Well-behaved client (\`trame.state.get\` of a 1 MiB state every 100 ms, in its own process): ` +
  `${probed.calls} calls, ${missed} without a reply within 2 s; median ${probed.medianMs} ms, ` +
  `p99 ${probed.p99Ms} ms, worst ${probed.maxMs} ms${closedProbe}.`,
  `- Server memory: ${mb(before.rss)} before, peak ${mb(peak)} during (sampled every 20 ms), ` +
  `${mb(after.rss)} 5 s and ${
    mb(later.rss)
  } 30 s after the attackers left (then: JavaScript heap ` +
  `${mb(later.heapUsed)} in use, ArrayBuffers ${mb(later.arrayBuffers)}; before: ` +
  `${mb(before.heapUsed)}, ${mb(before.arrayBuffers)}).`,
  `- Server event loop (a 10 ms timer): worst delay ${worstLoop} ms; ${loop.stallsOver100Ms} ` +
  `delays over 100 ms and ${loop.stallsOver500Ms} over 500 ms in ${loop.ticks} ticks.`,
  `- Afterwards: ${later.clients} clients left, exits asked for ${later.exitRequests}, log lines ` +
  `${logged}; the server process ${
    serverExit === 0 ? "exited 0 when told" : `ended: ${serverExit}`
  }.`,
  "",
  "Connections the server closed (seconds from its start; code 0 or 1006: dropped by the attacker " +
  "at the end):",
  "",
  table(
    ["code and reason", "count", "first", "last"],
    Object.entries(later.closes).sort((a, b) => b[1].count - a[1].count).map(([key, entry]) => [
      `\`${key.trim()}\``,
      entry.count.toLocaleString("en-US"),
      `${entry.firstS} s`,
      `${entry.lastS} s`,
    ]),
  ),
  "",
  "What the attackers did and saw:",
  "",
  table(
    ["attack: outcome", "count"],
    [...counts.entries()].sort().map(([key, value]) => [key, value.toLocaleString("en-US")]),
  ),
];
if (missed > 0) lines.push("", "Missed replies:", "", ...probed.failures.map((f) => `- ${f}`));
const section = lines.join("\n");
console.log(section);
if (write) {
  writeResultsSection(
    join(root, "bench", "RESULTS.md"),
    {
      begin: `<!-- attack:${serverRuntime}:begin (written by bench/attack.ts --write) -->`,
      end: `<!-- attack:${serverRuntime}:end -->`,
    },
    `### Attack run, ${serverRuntime} server`,
    `### ${serverRuntime[0].toUpperCase()}${serverRuntime.slice(1)} server\n\n${section}`,
  );
}
process.exit(missed === 0 && serverExit === 0 ? 0 : 1);

// The first line of `runtime --version`.
function runtimeVersion(runtime: Runtime): string {
  const [command] = runtimeCommand(runtime, "");
  const output = spawnSync(command, ["--version"], { encoding: "utf8" }).stdout ?? "";
  const line = output.split("\n")[0].trim();
  return line.startsWith(runtime) ? line : `${runtime} ${line}`;
}
