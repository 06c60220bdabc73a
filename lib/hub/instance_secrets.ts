/**
 * What an instance's secrets become under the server secret (`Directory.serverSecret`: random,
 * one per store, the same for every isolate sharing it):
 *
 * - **Keyed instance ids**: `create_instance` with a `key` gets a uuid derived from the service and
 *   the key, so a host that comes back after the host grace (or after a relay restart) gets the
 *   same uuid again, and only a holder of the key can host under it (the key is the preimage;
 *   knowing the uuid does not help). Used by UDP tunnels for stable Server IDs (docs/udp.md).
 * - **Verifiers** of the join token, the resume secret and each member's own secret: what an instance keeps and what its
 *   directory record carries, so that another isolate can adopt the instance (docs/protocol.md,
 *   "Draining and moving rooms") without the secrets ever being stored. Checks compare verifiers in
 *   constant time; across isolates a client's secret crosses as a proof over its verifier
 *   (lib/cluster/secret_proof.ts).
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

/** Keyed uuids and secret verifiers under one server secret. */
export class InstanceSecrets {
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

  /** The verifier of an instance's join token. */
  tokenVerifier(uuid: string, token: string): string {
    return this.#mac(`wstun-join-token-v1\u0000${uuid}\u0000${token}`);
  }

  /** The verifier of an instance's resume secret. */
  resumeVerifier(uuid: string, resume: string): string {
    return this.#mac(`wstun-resume-v1\u0000${uuid}\u0000${resume}`);
  }

  /** The verifier of a member's own secret (the `resume` of its join `ack`). */
  memberVerifier(uuid: string, resume: string): string {
    return this.#mac(`wstun-member-v1\u0000${uuid}\u0000${resume}`);
  }

  #mac(text: string): string {
    return createHmac("sha256", this.#secret).update(text).digest("base64url");
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
