// The reference captures in test/fixtures, decoded: frames as bytes, `{"$bin"}` as Uint8Array.
import { readFileSync } from "node:fs";
import { createMessageCodec } from "../../src/protocol/msgpack.ts";

export interface TranscriptFrame {
  seq: number;
  dir: "c2s" | "s2c";
  bytes: Uint8Array;
}

export interface RecordedMessage {
  seq: number;
  dir: "c2s" | "s2c";
  step: string;
  message: Record<string, unknown>;
}

function lines(name: string): unknown[] {
  const text = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

export function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** Replaces every `{"$bin": base64}` with the bytes it stands for. */
export function reviveBinaries(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveBinaries);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === "$bin") return base64Bytes(record.$bin as string);
    return Object.fromEntries(keys.map((key) => [key, reviveBinaries(record[key])]));
  }
  return value;
}

export const transcript: TranscriptFrame[] = lines("transcript.jsonl").map((line) => {
  const { seq, dir, b64 } = line as { seq: number; dir: "c2s" | "s2c"; b64: string };
  return { seq, dir, bytes: base64Bytes(b64) };
});

export const messages: RecordedMessage[] = lines("messages.jsonl").map((line) => {
  const recorded = line as RecordedMessage;
  return { ...recorded, message: reviveBinaries(recorded.message) as Record<string, unknown> };
});

/** The recorded messages of one step and direction. */
export function recorded(step: string, dir: "c2s" | "s2c"): Record<string, unknown>[] {
  return messages.filter((entry) => entry.step === step && entry.dir === dir).map((entry) =>
    entry.message
  );
}

const helloCodec = createMessageCodec();

/** The size of the hello message (chunk header excluded) the session sends with `secret`. */
export function helloMessageSize(secret: string): number {
  return helloCodec.encode({
    wslink: "1.0",
    id: "system:c0:0",
    method: "wslink.hello",
    args: [{ secret }],
    kwargs: {},
  }).byteLength;
}

/** The longest secret whose hello message is at most `limit` bytes. */
export function longestSecretWithin(limit: number): string {
  let secret = "s";
  while (helloMessageSize(secret + "s") <= limit) secret += "s";
  return secret;
}
