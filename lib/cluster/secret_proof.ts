/**
 * Proving a secret across isolates without sending it: the isolate where the client presented a
 * join token or resume secret sends HMAC-SHA256(secret, nonce) with a fresh nonce; the owner of the
 * instance computes the same from the secret it holds and compares in constant time. Neither the
 * bridge nor the directory ever carries a token in clear.
 *
 * @module
 */
import { createHmac, randomBytes } from "node:crypto";
import { secretEquals } from "../secret.ts";
import type { SecretProof } from "./envelope.ts";

/** Makes a proof of `presented` (null mac when nothing was presented). */
export function proveSecret(presented: string | undefined): SecretProof {
  const nonce = randomBytes(16).toString("base64url");
  return { nonce, mac: presented === undefined ? null : mac(presented, nonce) };
}

/** Whether `proof` was made from `expected`. */
export function proofMatches(proof: SecretProof, expected: string): boolean {
  return proof.mac !== null && secretEquals(proof.mac, mac(expected, proof.nonce));
}

function mac(secret: string, nonce: string): string {
  return createHmac("sha256", secret).update(`wstun-proof:${nonce}`).digest("base64url");
}
