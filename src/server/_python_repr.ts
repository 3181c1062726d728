// How the reference Python server renders some values: `repr()` of an exception and of a string,
// and the truthiness test it applies before attaching `data` to an error.

/** Python's `repr(str)`: single quotes unless the text holds `'` and no `"`, escapes. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let body = "";
  for (const character of text) {
    const code = character.codePointAt(0)!;
    if (character === "\\") body += "\\\\";
    else if (character === quote) body += `\\${quote}`;
    else if (character === "\n") body += "\\n";
    else if (character === "\r") body += "\\r";
    else if (character === "\t") body += "\\t";
    else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, "0")}`;
    else body += character;
  }
  return `${quote}${body}${quote}`;
}

/**
 * `repr()` of a raised error as Python prints an exception: `RuntimeError('bad input')`, using
 * the error's `name` as the class name; `Name()` when there is no message.
 */
export function pythonExceptionRepr(error: unknown): string {
  if (error instanceof Error) {
    return error.message === ""
      ? `${error.name}()`
      : `${error.name}(${pythonStringRepr(error.message)})`;
  }
  return `Error(${pythonStringRepr(String(error))})`;
}

/** The stack trace text of a raised value, ending with a newline like Python's. */
export function traceOf(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(
    error,
  );
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** Python truthiness for decoded msgpack values: `None`, `False`, `0`, `""`, `[]`, `{}` are false. */
export function pythonTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "bigint") return value !== 0n;
  if (typeof value === "string") return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (ArrayBuffer.isView(value)) return value.byteLength > 0;
  if (value instanceof ArrayBuffer) return value.byteLength > 0;
  if (typeof value === "object") {
    const prototype = Object.getPrototypeOf(value);
    if (prototype === Object.prototype || prototype === null) return Object.keys(value).length > 0;
  }
  return true;
}
