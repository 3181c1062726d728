/**
 * Key namespacing like trame-server's translator: one client can work on a child app's keys.
 * Reserved `trame__*` keys are never translated.
 * @module
 */
import { RESERVED_KEY_PREFIX } from "./protocol.ts";

/** How local key names map to the server's. */
export type TranslatorOptions = Readonly<
  Partial<{
    /** Prepended to every key that has no explicit translation (`"child_"`: `a` ↔ `child_a`). */
    prefix: string;
    /** Explicit translations, local name → server name; they win over the prefix. */
    translations: Readonly<Record<string, string>>;
  }>
>;

/** Translates key names between this client (local) and the server. */
export class KeyTranslator {
  readonly #prefix: string;
  readonly #toServer: ReadonlyMap<string, string>;
  readonly #toLocal: ReadonlyMap<string, string>;

  constructor(options: TranslatorOptions = {}) {
    this.#prefix = options.prefix ?? "";
    const translations = Object.entries(options.translations ?? {});
    this.#toServer = new Map(translations);
    this.#toLocal = new Map(translations.map(([local, server]) => [server, local]));
  }

  /** Whether any translation applies at all. */
  get active(): boolean {
    return this.#prefix !== "" || this.#toServer.size > 0;
  }

  /** The server's name for a local key. */
  toServer(key: string): string {
    if (key.startsWith(RESERVED_KEY_PREFIX)) return key;
    return this.#toServer.get(key) ?? this.#prefix + key;
  }

  /** The local name for a server key. */
  toLocal(key: string): string {
    if (key.startsWith(RESERVED_KEY_PREFIX)) return key;
    const translated = this.#toLocal.get(key);
    if (translated !== undefined) return translated;
    if (this.#prefix !== "" && key.startsWith(this.#prefix)) return key.slice(this.#prefix.length);
    return key;
  }

  /**
   * Renames every key of `values` to its local name, leaving out the server keys no local key
   * stands for (with prefix `child_`, the parent's `a` next to `child_a`), which would otherwise
   * overwrite this client's keys.
   */
  recordToLocal(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
    if (!this.active) return { ...values };
    const renamed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      const local = this.toLocal(key);
      if (this.toServer(local) === key) renamed[local] = value;
    }
    return renamed;
  }
}
