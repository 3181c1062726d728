// The hello handshake's two halves: the hello a session sends, and the check of its reply.
import { generateChunks } from "../codec/chunker.ts";
import { MIN_FRAME_SIZE, PRE_AUTH_MAX_MESSAGE_SIZE } from "../protocol/defaults.ts";
import { HELLO_METHOD, isMap, requestEnvelope } from "../protocol/envelope.ts";
import type { FrameEncoder } from "../protocol/frames.ts";
import { HELLO_ID } from "../protocol/ids.ts";
import type { ResolvedSessionOptions } from "./_resolve_options.ts";
import { clientError } from "./errors.ts";

/** The hello's frames; throws when it would be over the server's pre-authentication limit. */
export function encodeHello(encoder: FrameEncoder, options: ResolvedSessionOptions): Uint8Array[] {
  const hello = encoder.encode(
    requestEnvelope(HELLO_ID, HELLO_METHOD, [{ secret: options.secret }], {}),
  );
  // The server limits the size the message declares in its chunk headers, header excluded.
  const limit = PRE_AUTH_MAX_MESSAGE_SIZE;
  if (hello.byteLength > limit) {
    throw clientError(
      "hello-too-large",
      `the hello would be a ${hello.byteLength}-byte message, over the ${limit} bytes the ` +
        "reference server accepts before authentication (WSLINK_AUTH_MSG_SIZE): " +
        "use a shorter secret",
      { size: hello.byteLength, limit },
    );
  }
  return [...generateChunks(hello, options.maxFrameSize)];
}

/** What a valid hello reply says. */
export interface HelloReply {
  readonly clientId: string;
  readonly maxMsgSize: number;
}

/** Checks the hello's result: a map with a string `clientID` and a usable `maxMsgSize`. */
export function checkHelloReply(result: unknown): HelloReply {
  const clientId = isMap(result) ? result.clientID : undefined;
  const maxMsgSize = isMap(result) ? Number(result.maxMsgSize) : NaN;
  if (
    typeof clientId !== "string" || !Number.isSafeInteger(maxMsgSize) || maxMsgSize < 0 ||
    (maxMsgSize > 0 && maxMsgSize < MIN_FRAME_SIZE)
  ) {
    throw clientError("protocol", "the hello reply lacks a valid clientID and maxMsgSize", {
      result,
    });
  }
  return { clientId, maxMsgSize };
}
