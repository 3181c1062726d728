// Long-run load (issue 8): the embedded server publishes --count values (default 1,000,000) to one
// WslinkSession over 127.0.0.1; the client's count and running checksum must match the server's.
//   deno run -A bench/load_publish.ts [--count 1000000]
import { WslinkSession } from "../mod.ts";
import { serve } from "../src/server/mod.ts";

const args = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
const at = args.indexOf("--count");
const total = at >= 0 ? Number(args[at + 1]) : 1_000_000;
if (!Number.isSafeInteger(total) || total < 1) throw new RangeError("--count must be > 0");
const step = (sum: number, value: number) => (Math.imul(sum, 31) + value) >>> 0;

const server = await serve({ log: () => {} });
let serverSum = 0;
server.register("blast", ([count]) => {
  for (let index = 0; index < (count as number); index++) {
    const value = (index * 2654435761) >>> 0;
    serverSum = step(serverSum, value);
    server.publish("load.topic", value);
  }
  return count;
});
const session = await WslinkSession.connect(server.url);
let count = 0;
let sum = 0;
session.subscribe("load.topic", (value) => {
  count++;
  sum = step(sum, value as number);
});
const started = performance.now();
for (let sent = 0; sent < total; sent += 10_000) {
  await session.call("blast", [Math.min(10_000, total - sent)]);
}
while (count < total) await new Promise((resolve) => setTimeout(resolve, 5));
const seconds = (performance.now() - started) / 1000;
await session.close();
await server.close();
const ok = count === total && sum === serverSum;
console.log(
  `publishes: ${count} of ${total} consumed in ${seconds.toFixed(1)} s ` +
    `(${Math.round(count / seconds)}/s); checksum client ${sum} server ${serverSum}: ` +
    (ok ? "match" : "MISMATCH"),
);
if (!ok) (globalThis as { process?: { exit(code: number): void } }).process?.exit(1);
