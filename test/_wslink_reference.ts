// The reference JavaScript client (wslink 2.5.0's WebsocketConnection), typed with the members
// the tests and benchmarks use. Its source uses directory imports and Blob frames, so it loads
// only in Bun.

/** A session of the reference client. */
export interface ReferenceSession {
  call(method: string, args?: unknown[], kwargs?: Record<string, unknown>): Promise<unknown>;
  subscribe(
    topic: string,
    callback: (data: unknown[]) => void,
  ): { promise: Promise<unknown> };
  unsubscribe(subscription: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** A connection of the reference client. */
export interface ReferenceConnection {
  connect(): ReferenceSession | null;
  onConnectionReady(callback: () => void): void;
  onConnectionError(callback: (error: unknown) => void): void;
  onConnectionClose(callback: () => void): void;
  getSession(): ReferenceSession;
  destroy(): void;
}

interface ReferenceModule {
  newInstance(model: { urls: string; secret: string }): ReferenceConnection;
}

/** Whether this runtime can load the reference client. */
export const referenceClientLoads = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/**
 * Opens a reference connection to `url` and resolves once it is ready; the connection is
 * destroyed when it fails instead.
 */
export async function connectReference(
  url: string,
  secret: string,
): Promise<{ connection: ReferenceConnection; session: ReferenceSession }> {
  const path = new URL(
    "../node_modules/wslink/src/WebsocketConnection/index.js",
    import.meta.url,
  ).href;
  const module = (await import(path)) as { default: ReferenceModule };
  const connection = module.default.newInstance({ urls: url, secret });
  const ready = new Promise<void>((resolve, reject) => {
    connection.onConnectionReady(() => resolve());
    connection.onConnectionError((error) => reject(new Error(`connection error ${error}`)));
  });
  connection.connect();
  try {
    await ready;
  } catch (error) {
    connection.destroy();
    throw error;
  }
  return { connection, session: connection.getSession() };
}
