/**
 * The values both ends must agree on, as the reference Python server has them.
 * @module
 */
import { HEADER_LENGTH } from "../codec/header.ts";

/**
 * The largest message (as its chunk headers declare it, header excluded) the reference server
 * accepts before authentication (`WSLINK_AUTH_MSG_SIZE`): the hello must fit in it.
 */
export const PRE_AUTH_MAX_MESSAGE_SIZE = 512;

/** The largest message a client may declare once authenticated: 4 GiB - 1. */
export const AUTHENTICATED_MAX_MESSAGE_SIZE = 0xffff_ffff;

/** The secret of the reference server when none is configured. */
export const DEFAULT_SECRET = "wslink-secret";

/** The frame size trame servers announce by default (`TRAME_WS_MAX_MSG_SIZE`), header included. */
export const DEFAULT_MAX_MSG_SIZE = 10_000_000;

/** Added to `maxMsgSize` to get the largest frame a server accepts (`WSLINK_MSG_OVERHEAD`). */
export const MESSAGE_OVERHEAD = 4096;

/** The smallest frame limit that still carries content: a header and one byte. */
export const MIN_FRAME_SIZE = HEADER_LENGTH + 1;

/**
 * The deepest value an incoming message may hold, the message itself at depth 1: 512, the deepest
 * the reference server's msgpack (msgpack-python, whose packer stops 511 levels below the root)
 * can send. Every message @msgpack/msgpack packs (at most 100 deep) is well within it. A deeper
 * message is refused as undecodable.
 */
export const MAX_MESSAGE_DEPTH = 512;
