// Preloaded by test/run.ts under Deno (`deno test --preload`): a per-test time limit, which
// Deno's node:test lacks (Node has --test-timeout, Bun --timeout). node:test's test() registers
// each test through the global Deno.test, so wrapping Deno.test gives every test, in every file,
// the limit in TRAME_WIRE_TEST_TIME_LIMIT (milliseconds). A test over it fails with its name and
// the limit; what it left pending is abandoned and the run goes on with the next test.

const limit = Number(Deno.env.get("TRAME_WIRE_TEST_TIME_LIMIT") ?? "120000");
if (!Number.isInteger(limit) || limit < 1) {
  throw new RangeError(`TRAME_WIRE_TEST_TIME_LIMIT must be a positive integer, got ${limit}`);
}

type TestFunction = (context: Deno.TestContext) => void | Promise<void>;

function limited(name: string, fn: TestFunction): TestFunction {
  return async (context) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`test "${name}" exceeded its time limit of ${limit} ms`)),
        limit,
      );
    });
    try {
      await Promise.race([fn(context), overrun]);
    } finally {
      clearTimeout(timer);
    }
  };
}

// Rewrites the arguments of one Deno.test call, giving its function the time limit.
function withLimit(args: unknown[]): unknown[] {
  const [first, second] = args;
  if (typeof first === "object" && first !== null && typeof second !== "function") {
    // Deno.test({ name, fn, ... }): the form node:test uses.
    const definition = first as Deno.TestDefinition;
    if (typeof definition.fn === "function") {
      return [{ ...definition, fn: limited(definition.name, definition.fn) }, ...args.slice(1)];
    }
  } else if (typeof first === "string" && typeof second === "function") {
    return [first, limited(first, second as TestFunction), ...args.slice(2)];
  }
  return args;
}

// Deno records as a test's location the first frame of the registering call stack that is in a
// file: module, so a wrapper written here would become every test's location. The wrapper that
// calls Deno.test therefore lives in a data: module, which Deno skips; `withLimit` has returned
// before it registers.
const trampoline = "export const wrap = (register, rewrite) => " +
  "function (...args) { return register.apply(this, rewrite(args)); };";
const { wrap } = await import(`data:text/javascript;base64,${btoa(trampoline)}`) as {
  wrap(register: typeof Deno.test, rewrite: typeof withLimit): typeof Deno.test;
};
const register = Deno.test;
const wrapped = wrap(register, withLimit);
Object.assign(wrapped, register);
(Deno as { test: unknown }).test = wrapped;
