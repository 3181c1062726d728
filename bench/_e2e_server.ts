// The server of the end-to-end matrix (bench/e2e.ts): the embedded server with the demo
// application, in a process of its own. Prints one JSON line `{url, runtime, version}` once it
// listens, and closes when its standard input ends (the runner closes it, or dies).
import process from "node:process";
import { startDemoServer } from "../src/cli/demo_app.ts";
import { runtimeInfo } from "./_e2e_shared.ts";

const server = await startDemoServer({ log: () => {} });
const { runtime, version } = runtimeInfo();
process.stdout.write(`${JSON.stringify({ url: server.url, runtime, version })}\n`);
process.stdin.resume();
process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await server.close();
  process.exit(0);
});
