// The `trame-wire` command, run as a subprocess of the runtime running this test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { startDemoServer } from "../../src/cli/demo_app.ts";
import { EXIT_CODES } from "../../src/cli/failures.ts";

const root = new URL("../../", import.meta.url).pathname;
const isDeno = "Deno" in globalThis;

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
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
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      stdout += text;
      options.onStdout?.(stdout, sendSignal);
    });
    child.stderr.on("data", (text: string) => (stderr += text));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Deno's node:child_process reports a child it sent a signal to as killed by that signal, even
// when the child handled it and exited 0; there the test checks the clean shutdown's effects.
function assertExitedAfterSignal(run: Run): void {
  if (isDeno && run.code === null && run.signal === "SIGINT") return;
  assert.equal(run.code, 0, `${run.signal} ${run.stderr}`);
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
  assert.match(run.stdout, /5 authentication failed/);
});

test("trame-wire with an unknown command or option exits 2 with one line", async () => {
  const unknownCommand = await runCli(["frobnicate"]);
  assert.equal(unknownCommand.code, EXIT_CODES.usage);
  assert.match(unknownCommand.stderr, /^trame-wire: unknown command "frobnicate"/);
  const unknownOption = await runCli(["state", "ws://127.0.0.1:1/ws", "--colour"]);
  assert.equal(unknownOption.code, EXIT_CODES.usage);
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

test("trame-wire refuses a URL that is not ws:// or wss:// (exit 3)", async () => {
  const run = await runCli(["state", "http://127.0.0.1:1/ws"]);
  assert.equal(run.code, EXIT_CODES.badUrl);
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
  assert.equal(run.code, EXIT_CODES.connectionRefused, run.stderr);
  assert.match(run.stderr, /^trame-wire: cannot connect to ws:\/\/127\.0\.0\.1/);
});

test("trame-wire reports a wrong secret (exit 5)", async () => {
  await withDemoServer(async (url) => {
    const run = await runCli(["state", url, "--secret", "wrong"]);
    assert.equal(run.code, EXIT_CODES.authenticationFailed);
    assert.match(run.stderr, /^trame-wire: authentication failed: Authentication failed/);
  });
});

test("trame-wire reports a server error with its exception (exit 6)", async () => {
  await withDemoServer(async (url) => {
    const run = await runCli(["call", url, "fail", '["no luck"]']);
    assert.equal(run.code, EXIT_CODES.serverError);
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
    assert.equal(run.code, EXIT_CODES.timeout, run.stderr);
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
  const run = await runCli(["bench", "--publishes", "3000", "--calls", "300", "--size", "4"], {
    timeout: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  for (
    const figure of [
      /publishes consumed\s+[\d,.]+ msg\/s/,
      /RPC round trips, sequential\s+[\d,.]+ calls\/s/,
      /RPC round trips, 100 in flight\s+[\d,.]+ calls\/s/,
      /large message\s+[\d,.]+ GB\/s/,
    ]
  ) assert.match(run.stdout, figure);
});
