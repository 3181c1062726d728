/**
 * The error codes of the wslink protocol, each defined here once: the ones the reference server
 * sends and the one this client uses for failures it detects itself.
 * @module
 */

/** `-32000`: a hello with a wrong or missing secret, or any call before a successful hello. */
export const UNAUTHORIZED: -32000 = -32000;
/** `-32001`: the server method raised; `data` is `{ method, exception, trace }`. */
export const EXCEPTION_RAISED: -32001 = -32001;
/** `-32002`: the method's result could not be serialized; `data` is the method name. */
export const RESULT_NOT_SERIALIZABLE: -32002 = -32002;
/** `-32601`: an unknown method (`data` is its name) or an unknown `system:` method. */
export const METHOD_NOT_FOUND: -32601 = -32601;
/**
 * `-32700`: sent by the embedded server (not the reference, which drops the connection) in reply
 * to a message it cannot decode, when the message's id can be read; it then closes the
 * connection (1007). `data` says what is wrong with the message.
 */
export const PARSE_ERROR: -32700 = -32700;
/** `-32099`: raised by this client: not connected, closed, timed out, aborted, refused locally. */
export const CLIENT_ERROR: -32099 = -32099;
