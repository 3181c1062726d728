// The server of `startServerProcess`: prints one JSON line (its URL and memory, a
// `ServerReport`) once listening and another for each line read on standard input, logs errors on
// standard error, and closes when standard input ends.
import process from "node:process";
import { serve } from "../../src/server/mod.ts";
import type { ServerReport } from "./_server_process.ts";

const server = await serve({
  heartbeat: 0,
  log: (level, message, detail) => {
    if (level === "error") console.error(message, detail ?? "");
  },
});
const report = () => {
  const line: ServerReport = {
    url: server.url,
    rss: process.memoryUsage().rss,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
report();
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  for (const character of text) if (character === "\n") report();
});
process.stdin.on("end", async () => {
  await server.close();
  process.exit(0);
});
