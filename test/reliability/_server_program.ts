// The server of `startServerProcess`: prints one JSON line (its URL and memory, a
// `ServerReport`) once listening and another for each line read on standard input, logs errors on
// standard error, and closes when standard input ends. Arguments: `--max-msg-size N`,
// `--stream-file PATH`, which registers the method `test.file` returning that file, streamed, and
// `--options JSON`, more `serve()` options.
import process from "node:process";
import { openFile, serve } from "../../src/server/mod.ts";
import type { ServerReport } from "./_server_process.ts";

const argument = (name: string) => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : process.argv[index + 1];
};
const maxMsgSize = argument("max-msg-size");
const server = await serve({
  ...(maxMsgSize === undefined ? {} : { maxMsgSize: Number(maxMsgSize) }),
  heartbeat: 0,
  ...JSON.parse(argument("options") ?? "{}"),
  log: (level, message, detail) => {
    if (level === "error") console.error(message, detail ?? "");
  },
});
const streamFile = argument("stream-file");
if (streamFile !== undefined) server.register("test.file", () => openFile(streamFile));
// The process's peak since it started includes its own start-up (which, run from some test
// runners, peaks far above what it holds afterwards): resident memory is also sampled, and the
// largest sample since the previous report is reported.
let peakRss = 0;
const sample = () => {
  try {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  } catch {
    // Reading it takes a file descriptor (Node): out of them, a sample is skipped.
  }
};
const sampler = setInterval(sample, 20);
const report = () => {
  sample();
  const line: ServerReport = {
    url: server.url,
    rss: process.memoryUsage().rss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    peakRss,
  };
  peakRss = 0;
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
report();
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  for (const character of text) if (character === "\n") report();
});
process.stdin.on("end", async () => {
  clearInterval(sampler);
  await server.close();
  process.exit(0);
});
