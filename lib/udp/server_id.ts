/**
 * Server IDs: what an exposer prints and a connector needs, `<instance uuid>.<join secret>`.
 *
 * The uuid alone is not a secret (a relay lists its instances to anyone with the server token), so
 * the ID carries the instance's join token too: 16 random bytes (128 bits), or, for a stable ID
 * (`--id <key>`), a keyed digest of the exposer's key. Knowing a Server ID lets you connect; only
 * the key (or the resume secret) lets you expose under it.
 *
 * @module
 */
import { deriveSecret, randomSecret } from "../secret.ts";

/** The hub service UDP tunnels are instances of. */
export const UDP_SERVICE_NAME = "udp";

/**
 * Shortest `--id` key accepted: the relay's own rule for instance keys (22 characters with 10
 * different ones, lib/hub/instance_secrets.ts), so a key the tool takes is one the relay takes.
 */
export { acceptableKey, MIN_KEY_LENGTH } from "../hub/instance_secrets.ts";

export interface ServerId {
  uuid: string;
  secret: string;
}

const PATTERN = /^([0-9A-Za-z_-]{1,64})\.([0-9A-Za-z_-]{16,128})$/;

/** `<uuid>.<secret>` */
export function formatServerId(id: ServerId): string {
  return `${id.uuid}.${id.secret}`;
}

/** Parses a Server ID, or returns a message saying what is wrong with it. */
export function parseServerId(text: string): ServerId | string {
  const match = PATTERN.exec(text.trim());
  if (!match) {
    return "a Server ID looks like <uuid>.<secret> (as printed by udp-expose); check the copy";
  }
  return { uuid: match[1], secret: match[2] };
}

/** A fresh join secret for an exposer without `--id`. */
export function newJoinSecret(): string {
  return randomSecret(16);
}

/** The join secret of a stable ID, derived from the exposer's key. */
export function joinSecretFromKey(key: string): string {
  return deriveSecret(key, "wstun-udp-join-v1").slice(0, 32);
}
