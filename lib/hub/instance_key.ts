/**
 * Keyed instance ids: `create_instance` with a `key` gets a uuid derived from the service and the
 * key, so a host that comes back after the host grace (or after a relay restart) gets the same
 * uuid again, and only a holder of the key can host under it (the key is the preimage; knowing the
 * uuid does not help). Used by UDP tunnels for stable Server IDs (docs/udp.md).
 *
 * The uuid is an HMAC under the server secret (`Directory.serverSecret`: random, one per store),
 * not a plain hash: instance uuids are listed to everyone with the server token, and an unsalted
 * hash would let anyone test guessed keys offline. Keys themselves must look random ({@link acceptableKey}), since
 * presenting a key takes its instance over.
 *
 * @module
 */
import { createHmac } from "node:crypto";

/** The shortest instance key: 22 base64url characters carry 128 random bits. */
export const MIN_KEY_LENGTH = 22;
/** The fewest different characters in an instance key. */
export const MIN_KEY_DISTINCT = 10;

/** The derivation of keyed uuids under one server secret. */
export class InstanceKeys {
  readonly #secret: string;

  constructor(serverSecret: string) {
    this.#secret = serverSecret;
  }

  /** `K` + 25 base64url characters (150 bits) of HMAC-SHA256 over the service and the key. */
  idFor(service: string, key: string): string {
    const digest = createHmac("sha256", this.#secret)
      .update(`wstun-instance-key-v2\u0000${service}\u0000${key}`).digest("base64url");
    return `K${digest.slice(0, 25)}`;
  }
}

/**
 * Whether `key` is acceptable as an instance key: at least {@link MIN_KEY_LENGTH} characters
 * (16 random bytes in base64url) and {@link MIN_KEY_DISTINCT} different ones. No rule can tell a
 * random key from a memorable one; this one refuses keys that are short or repeat a few
 * characters, and the protocol asks for random ones.
 */
export function acceptableKey(key: string): boolean {
  return key.length >= MIN_KEY_LENGTH && new Set(key).size >= MIN_KEY_DISTINCT;
}
