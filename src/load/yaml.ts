/**
 * The YAML subset that scenario files may use, parsed without a dependency:
 *
 * - block mappings (`key: value`) and block sequences (`- item`, `- key: value`), nested by
 *   indentation with spaces;
 * - flow collections on one line: `[1, 2]`, `{ key: value }`, nested;
 * - scalars: plain (`null`/`~`, `true`/`false`, integers, decimals, otherwise a string),
 *   single-quoted (`''` is a quote) and double-quoted (JSON escapes);
 * - comments (`# …`) and one leading `---`.
 *
 * Anything else (anchors and aliases, tags, `|` and `>` block scalars, multi-line scalars or
 * flow collections, several documents, `?` keys) is refused with a {@link YamlError} naming the
 * line, never guessed at. Plain scalars may not start with `{` or `[`: quote templates such as
 * `"{{user}}"`, as YAML requires.
 * @module
 */

/** A YAML text outside the supported subset, or malformed; `line` is 1-based. */
export class YamlError extends Error {
  /** The line where the problem is. */
  readonly line: number;

  constructor(line: number, detail: string) {
    super(`line ${line}: ${detail}`);
    this.name = "YamlError";
    this.line = line;
  }
}

interface Line {
  readonly number: number;
  indent: number;
  text: string;
}

/** Parses `source` (the subset above) into plain values. */
export function parseYaml(source: string): unknown {
  const lines = significantLines(source);
  if (lines.length === 0) return null;
  const parser = new BlockParser(lines);
  const value = parser.parseBlock(lines[0].indent);
  if (parser.position < lines.length) {
    const line = lines[parser.position];
    throw new YamlError(line.number, "unexpected indentation");
  }
  return value;
}

function significantLines(source: string): Line[] {
  const lines: Line[] = [];
  const raw = source.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let index = 0; index < raw.length; index++) {
    const number = index + 1;
    const text = stripComment(raw[index], number).trimEnd();
    if (text.trim() === "") continue;
    const indent = text.length - text.trimStart().length;
    if (text.slice(0, indent).includes("\t")) {
      throw new YamlError(number, "tabs cannot indent YAML: use spaces");
    }
    const content = text.slice(indent);
    if (content === "---" || content.startsWith("--- ")) {
      if (lines.length > 0) throw new YamlError(number, "only one YAML document is supported");
      if (content.slice(3).trim() !== "") {
        throw new YamlError(number, "put the document on the lines after ---");
      }
      continue;
    }
    if (content === "..." || content.startsWith("%")) {
      throw new YamlError(number, `"${content}" (directives, document end) is not supported`);
    }
    lines.push({ number, indent, text: content });
  }
  return lines;
}

// Drops a `#` comment that starts the line or follows a space, outside quotes.
function stripComment(text: string, number: number): string {
  let quote: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quote !== undefined) {
      if (quote === '"' && char === "\\") index++;
      else if (char === quote) {
        if (quote === "'" && text[index + 1] === "'") index++;
        else quote = undefined;
      }
    } else if (char === '"' || char === "'") {
      const before = text.slice(0, index).trimEnd();
      // A quote only opens a scalar where a scalar can start.
      if (before === "" || /[:,[{-]$/.test(before)) quote = char;
    } else if (char === "#" && (index === 0 || text[index - 1] === " ")) {
      return text.slice(0, index);
    }
  }
  if (quote !== undefined) throw new YamlError(number, `unterminated ${quote} string`);
  return text;
}

class BlockParser {
  position = 0;
  readonly #lines: Line[];

  constructor(lines: Line[]) {
    this.#lines = lines;
  }

  /** Parses the block starting at the current line, which is indented `indent`. */
  parseBlock(indent: number): unknown {
    const line = this.#lines[this.position];
    if (isSequenceItem(line.text)) return this.#parseSequence(indent);
    if (findMappingColon(line.text) !== -1) return this.#parseMapping(indent);
    // A lone scalar or flow collection.
    this.position++;
    return parseInline(line.text, line.number);
  }

  #parseSequence(indent: number): unknown[] {
    const items: unknown[] = [];
    while (this.position < this.#lines.length) {
      const line = this.#lines[this.position];
      if (line.indent < indent) break;
      if (line.indent > indent) throw new YamlError(line.number, "unexpected indentation");
      if (!isSequenceItem(line.text)) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        this.position++;
        items.push(this.#nestedOrNull(indent));
        continue;
      }
      // `- key: value` or `- - x`: the item is a block starting at the text after the dash.
      line.indent = indent + (line.text.length - rest.length);
      line.text = rest;
      items.push(this.parseBlock(line.indent));
    }
    return items;
  }

  #parseMapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    while (this.position < this.#lines.length) {
      const line = this.#lines[this.position];
      if (line.indent < indent) break;
      if (line.indent > indent) throw new YamlError(line.number, "unexpected indentation");
      if (isSequenceItem(line.text)) break;
      const colon = findMappingColon(line.text);
      if (colon === -1) {
        throw new YamlError(line.number, `expected "key: value", got ${JSON.stringify(line.text)}`);
      }
      const key = parseKey(line.text.slice(0, colon).trim(), line.number);
      if (Object.hasOwn(map, key)) {
        throw new YamlError(line.number, `duplicate key ${JSON.stringify(key)}`);
      }
      const rest = line.text.slice(colon + 1).trim();
      this.position++;
      if (rest !== "") {
        map[key] = parseInline(rest, line.number);
        continue;
      }
      // `key:` then a block indented more, or a sequence at the same indentation (YAML allows it).
      const next = this.#lines[this.position];
      if (next !== undefined && next.indent === indent && isSequenceItem(next.text)) {
        map[key] = this.#parseSequence(indent);
      } else {
        map[key] = this.#nestedOrNull(indent);
      }
    }
    return map;
  }

  #nestedOrNull(parentIndent: number): unknown {
    const next = this.#lines[this.position];
    if (next === undefined || next.indent <= parentIndent) return null;
    return this.parseBlock(next.indent);
  }
}

function isSequenceItem(text: string): boolean {
  return text === "-" || text.startsWith("- ");
}

// The colon of `key: value` (followed by a space or the end), outside quotes and brackets.
function findMappingColon(text: string): number {
  if (text.startsWith("[") || text.startsWith("{")) return -1;
  let quote: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quote !== undefined) {
      if (quote === '"' && char === "\\") index++;
      else if (char === quote) quote = undefined;
    } else if ((char === '"' || char === "'") && index === 0) {
      quote = char;
    } else if (char === ":" && (index + 1 === text.length || text[index + 1] === " ")) {
      return index;
    }
  }
  return -1;
}

function parseKey(text: string, line: number): string {
  if (text === "") throw new YamlError(line, "empty key");
  if (text.startsWith("?")) throw new YamlError(line, "complex keys (?) are not supported");
  if (text.startsWith('"') || text.startsWith("'")) {
    const reader = new InlineReader(text, line);
    const key = reader.quoted();
    if (!reader.atEnd()) throw new YamlError(line, `unexpected text after the key ${text}`);
    return key;
  }
  checkPlainStart(text, line);
  return text;
}

function parseInline(text: string, line: number): unknown {
  const reader = new InlineReader(text, line);
  const value = reader.value(false);
  reader.skipSpaces();
  if (!reader.atEnd()) {
    throw new YamlError(line, `unexpected ${JSON.stringify(reader.rest())} after a value`);
  }
  return value;
}

function checkPlainStart(text: string, line: number): void {
  const first = text[0];
  if (first === "&" || first === "*") {
    throw new YamlError(line, "anchors and aliases (& and *) are not supported");
  }
  if (first === "!") throw new YamlError(line, "tags (!) are not supported");
  if (first === "|" || first === ">") {
    throw new YamlError(line, "block scalars (| and >) are not supported: use a quoted string");
  }
  if (first === "@" || first === "`" || first === "%") {
    throw new YamlError(line, `a plain value cannot start with ${first}: quote it`);
  }
}

/** Reads one line's inline value: a scalar or a flow collection. */
class InlineReader {
  #text: string;
  #line: number;
  #at = 0;

  constructor(text: string, line: number) {
    this.#text = text;
    this.#line = line;
  }

  atEnd(): boolean {
    return this.#at >= this.#text.length;
  }

  rest(): string {
    return this.#text.slice(this.#at);
  }

  skipSpaces(): void {
    while (this.#text[this.#at] === " ") this.#at++;
  }

  /** A value; inside a flow collection, plain scalars end at `,`, `]`, `}`. */
  value(inFlow: boolean): unknown {
    this.skipSpaces();
    const char = this.#text[this.#at];
    if (char === "[") return this.#sequence();
    if (char === "{") return this.#mapping();
    if (char === '"' || char === "'") return this.quoted();
    return this.#plain(inFlow);
  }

  quoted(): string {
    const quote = this.#text[this.#at++];
    let result = "";
    while (this.#at < this.#text.length) {
      const char = this.#text[this.#at++];
      if (char === quote) {
        if (quote === "'" && this.#text[this.#at] === "'") {
          result += "'";
          this.#at++;
          continue;
        }
        return quote === '"' ? this.#unescape(result) : result;
      }
      if (quote === '"' && char === "\\") {
        result += char + (this.#text[this.#at++] ?? "");
        continue;
      }
      result += char;
    }
    throw new YamlError(this.#line, `unterminated ${quote} string`);
  }

  #unescape(body: string): string {
    try {
      return JSON.parse(`"${body}"`);
    } catch {
      throw new YamlError(this.#line, `bad escape in "${body}"`);
    }
  }

  #plain(inFlow: boolean): unknown {
    const start = this.#at;
    while (this.#at < this.#text.length) {
      const char = this.#text[this.#at];
      if (inFlow && (char === "," || char === "]" || char === "}")) break;
      if (inFlow && char === ":" && this.#text[this.#at + 1] === " ") break;
      this.#at++;
    }
    const text = this.#text.slice(start, this.#at).trim();
    if (text === "" && inFlow) throw new YamlError(this.#line, "missing value in a [ ] or { }");
    if (text !== "") checkPlainStart(text, this.#line);
    if (text.endsWith(":") && !inFlow) {
      throw new YamlError(this.#line, `a nested "key:" must go on its own line: ${text}`);
    }
    return plainScalar(text);
  }

  #sequence(): unknown[] {
    this.#at++; // [
    const items: unknown[] = [];
    this.skipSpaces();
    if (this.atEnd()) this.#unclosed("]");
    if (this.#text[this.#at] === "]") {
      this.#at++;
      return items;
    }
    for (;;) {
      items.push(this.value(true));
      this.skipSpaces();
      const char = this.#text[this.#at++];
      if (char === "]") return items;
      if (char !== ",") this.#unclosed("]");
    }
  }

  #mapping(): Record<string, unknown> {
    this.#at++; // {
    const map: Record<string, unknown> = {};
    this.skipSpaces();
    if (this.atEnd()) this.#unclosed("}");
    if (this.#text[this.#at] === "}") {
      this.#at++;
      return map;
    }
    for (;;) {
      this.skipSpaces();
      const keyValue = this.value(true);
      const key = typeof keyValue === "string" ? keyValue : JSON.stringify(keyValue);
      this.skipSpaces();
      if (this.#text[this.#at] !== ":") {
        throw new YamlError(this.#line, `expected ":" after the key ${JSON.stringify(key)}`);
      }
      this.#at++;
      if (Object.hasOwn(map, key)) {
        throw new YamlError(this.#line, `duplicate key ${JSON.stringify(key)}`);
      }
      map[key] = this.value(true);
      this.skipSpaces();
      const char = this.#text[this.#at++];
      if (char === "}") return map;
      if (char !== ",") this.#unclosed("}");
    }
  }

  #unclosed(closer: string): never {
    throw new YamlError(
      this.#line,
      `expected "," or "${closer}" (flow collections must fit on one line)`,
    );
  }
}

function plainScalar(text: string): unknown {
  if (text === "" || text === "~" || text === "null" || text === "Null" || text === "NULL") {
    return null;
  }
  if (text === "true" || text === "True" || text === "TRUE") return true;
  if (text === "false" || text === "False" || text === "FALSE") return false;
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(text)) return Number(text);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  return text;
}
