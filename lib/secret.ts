/**
 * Secrets: constant-time comparison and generation.
 *
 * Comparison hashes both sides first so that neither the content nor the length of the expected
 * secret leaks through timing; callers never need to pre-check lengths.
 *
 * @module
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Compares a presented secret with the expected one in constant time.
 *
 * @example
 * ```ts
 * if (!secretEquals(req.token, config.token)) throw new WstunError("unauthorized", "wrong token");
 * ```
 */
export function secretEquals(presented: string | undefined | null, expected: string): boolean {
  const a = createHash("sha256").update(presented ?? "").digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && presented !== undefined && presented !== null;
}

/** A fresh random secret: 32 bytes, base64url (43 characters). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** A keyed digest of a secret, for storing a proof of it (say in a cookie) instead of the secret. */
export function deriveSecret(secret: string, purpose: string): string {
  return createHmac("sha256", secret).update(purpose).digest("base64url");
}
