// A small, strict command-line parser: `--name value`, `--name=value`, boolean flags, positionals.

/** What the user typed wrong on the command line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The flags a command accepts: those with a value and those without. */
export interface FlagSpec {
  readonly values?: readonly string[];
  readonly booleans?: readonly string[];
}

/** Parsed arguments. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly values: Map<string, string>;
  readonly booleans: Set<string>;
}

/** Parses `argv` against `spec`; unknown flags and missing values are {@link UsageError}s. */
export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const valueFlags = new Set(spec.values ?? []);
  const booleanFlags = new Set([...(spec.booleans ?? []), "help"]);
  const parsed: ParsedArgs = { positionals: [], values: new Map(), booleans: new Set() };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === "--") {
      parsed.positionals.push(...argv.slice(index + 1));
      break;
    }
    if (argument === "-h") {
      parsed.booleans.add("help");
      continue;
    }
    if (!argument.startsWith("--") || argument === "--") {
      parsed.positionals.push(argument);
      continue;
    }
    const equals = argument.indexOf("=");
    const name = argument.slice(2, equals === -1 ? undefined : equals);
    if (booleanFlags.has(name)) {
      if (equals !== -1) throw new UsageError(`--${name} takes no value`);
      parsed.booleans.add(name);
    } else if (valueFlags.has(name)) {
      const value = equals === -1 ? argv[++index] : argument.slice(equals + 1);
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      parsed.values.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return parsed;
}

/** Reads a non-negative integer flag. */
export function integerFlag(args: ParsedArgs, name: string, fallback: number): number {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  }
  return value;
}
