// A program for close_test.ts, run as a child process by each runtime: it connects to the URL it
// is given (a server that never answers the close), leaves a call waiting, ends the connection,
// prints what it measured as one JSON line, and then has nothing left to do: the process must
// exit by itself.
//   RUNTIME test/session/_close_program.ts session|trame URL CLOSE_TIMEOUT_MS
import process from "node:process";
import { TrameClient, WslinkSession } from "../../mod.ts";

const [mode, url, closeTimeoutText] = process.argv.slice(-3);
const closeTimeout = Number(closeTimeoutText);

if (mode === "session") {
  const session = await WslinkSession.connect(url, { closeTimeout });
  let rejectedAt = -1;
  const started = performance.now();
  const call = session.call("never").catch(() => (rejectedAt = performance.now() - started));
  await session.close();
  const closeMs = performance.now() - started;
  await call;
  console.log(JSON.stringify({ closeMs, rejectedMs: rejectedAt }));
} else {
  let disposeStarted = 0;
  {
    await using client = new TrameClient(url, { session: { closeTimeout } });
    await client.connect();
    // The server is now busy in this trigger, for good.
    await client.trigger("sleep", [3600], {}, { timeout: 100 }).catch(() => {});
    disposeStarted = performance.now();
  }
  console.log(JSON.stringify({ disposeMs: performance.now() - disposeStarted }));
}
