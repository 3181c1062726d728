// The server of the end-to-end matrix (bench/e2e.ts): the embedded server with the demo
// application, in a process of its own. Prints one JSON line `{url, runtime, version}` once it
// listens, and closes when its standard input ends (the runner closes it, or dies).
import { startDemoServer } from "../src/cli/demo_app.ts";
import { serveUntilInputEnds } from "./_e2e_shared.ts";

serveUntilInputEnds(await startDemoServer({ log: () => {} }));
