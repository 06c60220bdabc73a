/**
 * Keyed instance ids: `create_instance` with a `key` gets a uuid derived from the service and the
 * key, so a host that comes back after the host grace (or after a relay restart) gets the same
 * uuid again, and only a holder of the key can host under it (the key is the preimage; knowing the
 * uuid does not help). Used by UDP tunnels for stable Server IDs (docs/udp.md).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** `K` + 25 base64url characters (150 bits) of SHA-256 over the service and the key. */
export function keyedInstanceId(service: string, key: string): string {
  const digest = createHash("sha256").update(`wstun-instance-key-v1\u0000${service}\u0000${key}`)
    .digest("base64url");
  return `K${digest.slice(0, 25)}`;
}
