// The `trame-wire` command, run as a subprocess of the runtime running this test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { Buffer } from "node:buffer";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoPattern, startDemoServer } from "../../src/cli/demo_app.ts";
import { EXIT_CODE_HELP } from "../../src/cli/failures.ts";
import { serve, type TrameServer } from "../../src/server/mod.ts";

const root = new URL("../../", import.meta.url).pathname;

// The exit codes as the README documents them, written out here rather than taken from the
// sources, so that the command, its help and the docs cannot drift apart unnoticed.
const README_EXIT_CODES = {
  ok: [0, "ok"],
  failure: [1, "other failure"],
  usage: [2, "usage"],
  badUrl: [3, "bad URL"],
  connectionRefused: [4, "connection refused or lost"],
  authenticationFailed: [5, "authentication failed"],
  serverError: [6, "server error"],
  timeout: [7, "timeout"],
  notFound: [8, "not found"],
} as const;
const EXIT = Object.fromEntries(
  Object.entries(README_EXIT_CODES).map(([name, [code]]) => [name, code]),
) as { [K in keyof typeof README_EXIT_CODES]: typeof README_EXIT_CODES[K][0] };
const isDeno = "Deno" in globalThis;

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  /** Standard output as it came, for binary output. */
  stdoutBytes: Uint8Array;
  stderr: string;
  /** From spawning the command to its exit, in milliseconds. */
  ms: number;
}

interface RunOptions {
  /** Kills the command (SIGKILL) after this many milliseconds; the test then fails. */
  timeout?: number;
  /** Called with each chunk of standard output as it arrives. */
  onStdout?: (text: string, signal: (name: "SIGINT") => void) => void;
}

// Runs the CLI with the same runtime that runs this test.
function runCli(args: string[], options: RunOptions = {}): Promise<Run> {
  const runtimeArgs = isDeno ? ["run", "-A", "src/cli/main.ts"] : ["src/cli/main.ts"];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...runtimeArgs, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    let signalled = false;
    // Each signal is sent once: a second SIGINT would kill the command mid-shutdown.
    const sendSignal = (name: "SIGINT") => {
      if (signalled) return;
      signalled = true;
      child.kill(name);
    };
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 30_000);
    const stdoutChunks: Uint8Array[] = [];
    const decoder = new TextDecoder();
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: Uint8Array) => {
      stdoutChunks.push(chunk);
      stdout += decoder.decode(chunk, { stream: true });
      options.onStdout?.(stdout, sendSignal);
    });
    child.stderr.on("data", (text: string) => (stderr += text));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = new Uint8Array(Buffer.concat(stdoutChunks));
      resolve({ code, signal, stdout, stdoutBytes, stderr, ms: performance.now() - started });
    });
  });
}

// Deno's node:child_process reports a child it sent a signal to as killed by that signal, even
// when the child handled it and exited 0; there the test checks the clean shutdown's effects.
function assertExitedAfterSignal(run: Run): void {
  if (isDeno && run.code === null && run.signal === "SIGINT") return;
  assert.equal(run.code, 0, `${run.signal} ${run.stderr}`);
}

// An expected failure is one line on standard error: no stack trace.
function assertOneLine(text: string): void {
  assert.equal(text.trim().split("\n").length, 1, text);
  assert.doesNotMatch(text, /^\s+at /m);
}

async function withDemoServer(
  body: (url: string, server: Awaited<ReturnType<typeof startDemoServer>>) => Promise<void>,
  options: Parameters<typeof startDemoServer>[0] = {},
): Promise<void> {
  const server = await startDemoServer({ log: () => {}, ...options });
  try {
    await body(server.url, server);
  } finally {
    await server.close();
  }
}

test("trame-wire --help lists the commands and the exit codes", async () => {
  const run = await runCli(["--help"]);
  assert.equal(run.code, 0);
  for (const command of ["demo", "serve", "state", "watch", "set", "call", "bench"]) {
    assert.match(run.stdout, new RegExp(`^  ${command}`, "m"));
  }
  assert.ok(run.stdout.includes(EXIT_CODE_HELP + "\n"), run.stdout);
});

test("the README lists the same exit codes as --help", () => {
  const readme = readFileSync(new URL("README.md", `file://${root}`), "utf8");
  const normalize = (text: string) => text.replace(/\s+/g, " ").trim();
  assert.ok(normalize(readme).includes(normalize(EXIT_CODE_HELP)), "README exit codes");
  // And they are the numbers this file asserts.
  for (const [code, meaning] of Object.values(README_EXIT_CODES)) {
    assert.match(normalize(EXIT_CODE_HELP), new RegExp(`[:,] ${code} ${meaning}\\b`));
  }
});

test("trame-wire with an unknown command or option exits 2 with one line", async () => {
  const unknownCommand = await runCli(["frobnicate"]);
  assert.equal(unknownCommand.code, EXIT.usage);
  assert.match(unknownCommand.stderr, /^trame-wire: unknown command "frobnicate"/);
  const unknownOption = await runCli(["state", "ws://127.0.0.1:1/ws", "--colour"]);
  assert.equal(unknownOption.code, EXIT.usage);
  assert.match(unknownOption.stderr, /unknown option --colour/);
});

test("trame-wire call --help shows that command's usage", async () => {
  const run = await runCli(["call", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /Usage: trame-wire call URL NAME/);
});

test("trame-wire state prints the server's state, as a table or as JSON", async () => {
  await withDemoServer(async (url) => {
    const table = await runCli(["state", url, "counter", "greeting"]);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout, 'counter   0\ngreeting  "hello from the server"\n');
    const json = await runCli(["state", url, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const state = JSON.parse(json.stdout);
    assert.equal(state.resolution, 6);
    assert.deepEqual(state.trame__client_only, ["trame__busy"]);
  });
});

test("trame-wire set changes keys on the server, parsing JSON values", async () => {
  await withDemoServer(async (url, server) => {
    const run = await runCli(["set", url, "counter=41", "greeting=plain words", 'shape={"a":[1]}']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "set counter, greeting, shape\n");
    assert.equal(server.state.get("counter"), 41);
    assert.equal(server.state.get("greeting"), "plain words");
    assert.deepEqual(server.state.get("shape"), { a: [1] });
  });
});

test("trame-wire call runs a trigger and prints its result as JSON", async () => {
  await withDemoServer(async (url) => {
    const run = await runCli(["call", url, "add", "[1, 2, 39]"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout), 42);
    const echo = await runCli(["call", url, "echo", '["x"]', '{"k": true}']);
    assert.deepEqual(JSON.parse(echo.stdout), { args: ["x"], kwargs: { k: true } });
  });
});

test("trame-wire call --out streams a binary result to a file, or to standard output", async () => {
  const directory = mkdtempSync(join(tmpdir(), "trame-wire-cli-"));
  try {
    await withDemoServer(async (url) => {
      const path = join(directory, "blob.bin");
      const run = await runCli(["call", url, "blob", "[3000000]", "--out", path]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(new Uint8Array(readFileSync(path)), demoPattern(3_000_000));
      assert.match(run.stdout, /^wrote 2\.9 MiB \(3000000 bytes\) to .*blob\.bin in /);
      // Not a terminal: the progress is a few lines on standard error, ending at 100%.
      assert.match(run.stderr, /trigger blob: 100% \(2\.9 MiB of 2\.9 MiB\)\n$/);
      const piped = await runCli(["call", url, "blob", "[70000]", "--out", "-"]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.deepEqual(piped.stdoutBytes, demoPattern(70_000));
      assert.match(piped.stderr, /wrote 68\.4 KiB \(70000 bytes\) to standard output/);
      // A result that is not binary: one line, exit 1, and no file left behind.
      const notBinary = await runCli(["call", url, "add", "[1, 2]", "--out", path]);
      assert.equal(notBinary.code, EXIT.failure);
      assertOneLine(notBinary.stderr);
      assert.match(notBinary.stderr, /trigger "add" returned a number, not binary/);
      assert.throws(() => readFileSync(path), /ENOENT/);
      const usage = await runCli(["call", url, "blob", "[1]", "--out"]);
      assert.equal(usage.code, EXIT.usage);
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("trame-wire call --rpc calls a raw wslink method", async () => {
  await withDemoServer(async (url) => {
    const run = await runCli(["call", url, "trame.state.get", "--rpc"]);
    assert.equal(run.code, 0, run.stderr);
    const reply = JSON.parse(run.stdout);
    assert.equal(reply.name, "trame-wire-demo");
    assert.equal(reply.state.counter, 0);
  });
});

test("trame-wire watch prints the state, then each change live, until interrupted", async () => {
  await withDemoServer(async (url, server) => {
    const phases: string[] = [];
    server.on("lifecycle", (phase) => phases.push(phase));
    let changed = false;
    const run = await runCli(["watch", url, "counter"], {
      onStdout: (output, signal) => {
        if (!changed && output.includes("counter  0")) {
          changed = true;
          server.state.set("counter", 7);
          server.state.set("greeting", "not watched");
        }
        if (/counter = 7\n/.test(output)) signal("SIGINT");
      },
    });
    assertExitedAfterSignal(run);
    assert.match(run.stdout, /^counter {2}0\n\d\d:\d\d:\d\d\.\d{3} counter = 7\n$/);
    // Interrupted cleanly: it told the server it was leaving.
    assert.deepEqual(phases, ["client_connected", "client_exited"]);
  });
});

test("trame-wire serve prints its URL, serves clients, and stops on SIGINT", async () => {
  let served: Promise<Run> | undefined;
  const run = await runCli(["serve", "--port", "0", "--secret", "s3"], {
    onStdout: (output, signal) => {
      const url = output.match(/listening on (ws:\/\/\S+)/)?.[1];
      if (url === undefined || served !== undefined) return;
      served = runCli(["call", url, "add", "[2, 3]", "--secret", "s3"]).finally(() =>
        signal("SIGINT")
      );
    },
  });
  assertExitedAfterSignal(run);
  assert.match(run.stdout, /server stopped\n$/);
  const call = await served!;
  assert.equal(call.code, 0, call.stderr);
  assert.equal(JSON.parse(call.stdout), 5);
});

test("trame-wire serve on a port in use reports it in one line (exit 1, other failure)", async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const run = await runCli(["serve", "--port", String(port)]);
    assert.equal(run.code, EXIT.failure, run.stderr);
    // In each runtime's words: "listen EADDRINUSE" (Node), "Address already in use" (Deno),
    // "Is port N in use?" (Bun).
    assert.match(run.stderr, /^trame-wire: .*(EADDRINUSE|Address already in use|port \d+ in use)/);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test("trame-wire refuses a URL that is not ws:// or wss:// (exit 3)", async () => {
  const run = await runCli(["state", "http://127.0.0.1:1/ws"]);
  assert.equal(run.code, EXIT.badUrl);
  assert.match(run.stderr, /^trame-wire: bad URL "http:\/\/127\.0\.0\.1:1\/ws": .*ws:\/\//);
  assert.equal(run.stderr.trim().split("\n").length, 1);
});

test("trame-wire reports a refused connection (exit 4)", async () => {
  // A port that was free a moment ago: nothing listens there now.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const run = await runCli(["state", `ws://127.0.0.1:${port}/ws`]);
  assert.equal(run.code, EXIT.connectionRefused, run.stderr);
  assertOneLine(run.stderr);
  // Each runtime's own words: only Node's name the refusal.
  const why = isDeno ? /tcp connect error/ : "Bun" in globalThis ? /Failed to connect/ : /refused/;
  assert.match(run.stderr, /^trame-wire: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/ws: /);
  assert.match(run.stderr, why);
});

test("trame-wire reports a server that answers the upgrade with 404 (exit 4)", async () => {
  const server = createHttpServer((_, response) => {
    response.writeHead(404, { connection: "close" });
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const run = await runCli(["state", `ws://127.0.0.1:${port}/nope`]);
    assert.equal(run.code, EXIT.connectionRefused, run.stderr);
    assert.match(
      run.stderr,
      /^trame-wire: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/nope: the server answered HTTP 404\b.*, not a WebSocket upgrade\n$/,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("trame-wire reports a wrong secret (exit 5)", async () => {
  await withDemoServer(async (url) => {
    const run = await runCli(["state", url, "--secret", "wrong"]);
    assert.equal(run.code, EXIT.authenticationFailed);
    assert.match(run.stderr, /^trame-wire: authentication failed: Authentication failed/);
  });
});

test("trame-wire reports a server error with its exception (exit 6)", async () => {
  await withDemoServer(async (url) => {
    const run = await runCli(["call", url, "fail", '["no luck"]']);
    assert.equal(run.code, EXIT.serverError);
    assert.equal(
      run.stderr,
      "trame-wire: server error -32001: Exception raised: Error('no luck')\n",
    );
  });
});

test("trame-wire reports a server that never answers (exit 7)", async () => {
  // Accepts TCP connections and never says a word.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    const run = await runCli(["state", `ws://127.0.0.1:${port}/ws`, "--timeout", "500"]);
    assert.equal(run.code, EXIT.timeout, run.stderr);
    assert.match(run.stderr, /within 500 ms/);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test("trame-wire demo runs every step to completion on its own", async () => {
  const run = await runCli(["demo"], { timeout: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  const steps = [
    /^trame-wire demo on (Node|Bun|Deno) \d+\.\d+\.\d+\n/,
    /counter = 0\n\s+greeting = "hello from the server"\n\s+resolution = 6/,
    /the server now has resolution = 12/,
    /onChange saw greeting = "hello from the server, changed"/,
    /trigger add\(1, 2, 3\) returned 6/,
    /demo\.news -> \{"headline":1\}[\s\S]*demo\.news -> \{"headline":3\}/,
    /WslinkError code -32001: Exception raised \(Error\('the server refused on purpose'\)\)/,
    /the connection is still connected/,
    /receiving: 100% \(64\.0 MiB of 64\.0 MiB\)/,
    /received 64\.0 MiB intact in \d+ ms: [\d.]+ (MiB|GiB)\/s/,
    /demo finished: every step worked\n$/,
  ];
  for (const step of steps) assert.match(run.stdout, step);
});

test("trame-wire bench measures publishes, round trips and a large message", async () => {
  const run = await runCli(["bench", "--publishes", "3000", "--calls", "300", "--size", "24"], {
    timeout: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  for (
    const figure of [
      /publishes consumed\s+[\d,.]+ publishes\/s/,
      /RPC round trips, sequential\s+[\d,.]+ calls\/s/,
      /RPC round trips, 100 in flight\s+[\d,.]+ calls\/s/,
      /large message\s+[\d,.]+ MiB\/s/,
    ]
  ) assert.match(run.stdout, figure);
  // Off a terminal: a few lines, in the units of what they count, percentages that match.
  assert.match(run.stdout, /^publishes: 100% \(3,000 of 3,000 publishes\)$/m);
  // 24 MiB arrive in three frames of at most 10 MB: a line per quarter passed, the last at 100%.
  assert.match(run.stdout, /^24\.0 MiB message: 100% \(24\.0 MiB of 24\.0 MiB\)$/m);
  assert.doesNotMatch(run.stdout, /GB|KiB\/s.*publishes|publishes.*B of/);
  const lines = [...run.stdout.matchAll(/: +(\d+)% \(([\d.]+) MiB of ([\d.]+) MiB\)/g)];
  assert.ok(lines.length >= 2, run.stdout);
  for (const line of lines) {
    const [, percent, received, total] = line.map(Number);
    // The amounts are rounded to 0.1 MiB: the percentage is within what that rounding allows.
    assert.ok(Math.abs(percent - (100 * received) / total) <= 1, line[0]);
  }
});

/** A trame server of its own: the demo's `add`, no bench triggers, plus `extra` triggers. */
type CounterServer = TrameServer<{ counter: number }>;

async function withPlainServer(
  body: (url: string, server: CounterServer) => Promise<void>,
  extra: Record<string, (args: unknown[]) => unknown> = {},
): Promise<void> {
  const server = await serve({ port: 0, state: { counter: 1 }, log: () => {} });
  server.trigger("add", (args) => (args as number[]).reduce((sum, value) => sum + value, 0));
  for (const [name, handler] of Object.entries(extra)) server.trigger(name, handler);
  try {
    await body(server.url, server);
  } finally {
    await server.close();
  }
}

test("trame-wire bench against a server without its triggers exits 8 and says what to do", async () => {
  // As against a trame app: `add` exists, the bench trigger answers null (trame's missing trigger).
  await withPlainServer(async (url) => {
    const run = await runCli(["bench", url, "--timeout", "5000"]);
    assert.equal(run.code, EXIT.notFound, run.stderr);
    assert.match(run.stderr, /lacks the bench triggers of trame-wire serve/);
    assert.match(run.stderr, /answered null/);
    assert.match(run.stderr, /--calls-only/);
    assertOneLine(run.stderr);
  });
});

test("trame-wire bench --calls-only measures round trips against any trame server", async () => {
  await withPlainServer(async (url) => {
    const run = await runCli(["bench", url, "--calls-only", "--calls", "200"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /RPC round trips, sequential\s+[\d,.]+ calls\/s/);
    assert.match(run.stdout, /RPC round trips, 100 in flight\s+[\d,.]+ calls\/s/);
    assert.doesNotMatch(run.stdout, /publishes consumed|large message/);
  });
});

test("trame-wire bench gives up when the publishes stop coming (exit 7)", async () => {
  // Its publish trigger accepts the work and then sends nothing.
  await withPlainServer(async (url) => {
    const run = await runCli([
      "bench",
      url,
      ...["--publishes", "50", "--calls", "0", "--size", "0", "--timeout", "400"],
    ]);
    assert.equal(run.code, EXIT.timeout, run.stderr);
    assert.match(run.stderr, /^trame-wire: the publishes: nothing arrived for 400 ms\n$/);
  }, { "trame_wire.bench.publish": (args) => args[0] });
});

test("trame-wire call exits 7 when its timeout fires, not when the server finishes", async () => {
  let finish = () => {};
  const slow = () => new Promise((resolve) => (finish = () => resolve("late")));
  await withPlainServer(async (url) => {
    try {
      const run = await runCli(["call", url, "sleep", "[60]", "--timeout", "300"]);
      assert.equal(run.code, EXIT.timeout, run.stderr);
      assert.equal(
        run.stderr,
        'trame-wire: trigger "sleep" got no answer within 300 ms (raise --timeout to wait longer)\n',
      );
      // The trigger is still running: the command did not wait for it (nor for its goodbye).
      assert.ok(run.ms < 20_000, `took ${run.ms} ms`);
    } finally {
      finish();
    }
  }, { sleep: slow });
});

test("trame-wire call of a trigger that answers null says what null can mean", async () => {
  await withPlainServer(async (url) => {
    const run = await runCli(["call", url, "nope"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "null\n");
    assert.match(run.stderr, /trigger "nope" answered null: .*no such trigger/);
    assertOneLine(run.stderr);
  });
});

test("trame-wire state with a key the state does not have exits 8", async () => {
  await withPlainServer(async (url) => {
    const run = await runCli(["state", url, "counter", "nope"]);
    assert.equal(run.code, EXIT.notFound, run.stderr);
    assert.equal(run.stdout, "counter  1\n");
    assert.equal(run.stderr, 'trame-wire: the state has no key "nope"\n');
    const none = await runCli(["state", url, "nope", "neither"]);
    assert.equal(none.code, EXIT.notFound);
    assert.equal(none.stdout, "");
    assert.equal(none.stderr, 'trame-wire: the state has no keys "nope", "neither"\n');
  });
});

test("trame-wire watch says so when the server goes away and exits 4", async () => {
  await withPlainServer(async (url, server) => {
    let closing: Promise<void> | undefined;
    const run = await runCli(["watch", url, "counter"], {
      onStdout: (output) => {
        if (closing === undefined && output.includes("counter  1")) closing = server.close();
      },
    });
    await closing;
    assert.equal(run.code, EXIT.connectionRefused, run.stderr);
    assert.equal(run.stdout, "counter  1\n");
    assert.match(
      run.stderr,
      /^trame-wire: lost the connection to ws:.*: the server closed the connection \(1001/,
    );
    assertOneLine(run.stderr);
  });
});

test("trame-wire watch --reconnect follows a server that comes back", async () => {
  const first = await serve({ port: 0, state: { counter: 1 }, log: () => {} });
  const port = first.port;
  let second: CounterServer | undefined;
  let phase = "first";
  const run = await runCli(["watch", first.url, "counter", "--reconnect"], {
    onStdout: (output, signal) => {
      if (phase === "first" && output.includes("counter  1")) {
        phase = "restarting";
        // The same port, a new server whose counter differs: the watcher prints the difference.
        void first.close().then(async () => {
          second = await serve({ port, state: { counter: 5 }, log: () => {} });
          phase = "second";
        });
      }
      if (/counter = 5\n/.test(output) && phase === "second") {
        phase = "changing";
        second!.state.set("counter", 6);
      }
      if (/counter = 6\n/.test(output)) signal("SIGINT");
    },
  });
  await second?.close();
  assertExitedAfterSignal(run);
  assert.match(run.stdout, /^counter {2}1\n\S+ counter = 5\n\S+ counter = 6\n$/);
  assert.match(run.stderr, /connection lost .*reconnecting in \d+ ms/);
  assert.match(run.stderr, /reconnected after \d+ attempt/);
});
