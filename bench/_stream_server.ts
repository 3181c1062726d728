// The server of the streaming benchmark (bench/stream.ts): the embedded server with the demo
// application, plus a trigger streaming files from disk and two reporting its own memory. Prints
// one JSON line `{url, runtime, version}` once it listens; closes when its standard input ends.
//   <runtime> bench/_stream_server.ts SIZE=PATH…
import process from "node:process";
import { startDemoServer } from "../src/cli/demo_app.ts";
import { openFile } from "../src/server/mod.ts";
import { memory, resetPeakMemory, serveUntilInputEnds } from "./_e2e_shared.ts";
import { STREAM_BENCH_TRIGGERS } from "./_stream_shared.ts";

const files = new Map<number, string>();
for (const argument of process.argv.slice(2)) {
  const [size, path] = argument.split("=");
  files.set(Number(size), path);
}
const server = await startDemoServer({ log: () => {} });
server.trigger(STREAM_BENCH_TRIGGERS.file, (args) => {
  const path = files.get(Number(args[0]));
  if (path === undefined) throw new RangeError(`no file of ${args[0]} bytes`);
  return openFile(path);
});
let base = memory().current;
server.trigger(STREAM_BENCH_TRIGGERS.resetMemory, () => (base = resetPeakMemory()));
server.trigger(STREAM_BENCH_TRIGGERS.memory, () => ({ peak: memory().peak, base }));
serveUntilInputEnds(server);
