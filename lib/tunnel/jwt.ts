/**
 * Tunnel registration tokens: HS256 JWTs as websocktunnel issues them, verified more strictly.
 *
 * A token is accepted when, in this order:
 * 1. it has exactly three non-empty base64url segments and is at most {@link MAX_TOKEN_BYTES} long;
 * 2. its header is a JSON object whose `alg` is exactly `HS256` (no `none`, RS*, HS384, …) and
 *    that lists no `crit` extensions;
 * 3. its signature matches secret A, or else secret B (rotation without downtime); both compares
 *    are constant-time;
 * 4. its claims are a JSON object with numeric `exp` and `nbf`, `nbf ≤ now ≤ exp`;
 * 5. `tid` equals the tunnel id exactly;
 * 6. `exp − nbf` is at most 31 days (upstream means to check this but never does);
 * 7. `aud`: when an audience is configured it must be present and equal it (a string, or an array
 *    containing it); when none is configured a token carrying `aud` is refused. Upstream's check
 *    is loose; this is the strict reading.
 *
 * Verification returns a value (`{ ok: false, code, message }`), never throws, and never puts the
 * token or a secret into a message.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** Longest token accepted; real ones are a few hundred bytes. */
export const MAX_TOKEN_BYTES = 8 * 1024;
/** Longest validity (`exp − nbf`) accepted, in seconds. */
export const MAX_LIFETIME_SECONDS = 31 * 24 * 3600;
/** How far before "now" a minted token's `nbf` lies, to absorb clock skew (seconds). */
export const NBF_SKEW_SECONDS = 60;

/** Why a token was refused. */
export type TokenErrorCode =
  | "token_malformed"
  | "token_too_large"
  | "token_bad_alg"
  | "token_bad_signature"
  | "token_missing_claim"
  | "token_expired"
  | "token_not_yet_valid"
  | "token_wrong_tid"
  | "token_lifetime"
  | "token_audience";

export type TokenResult =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; code: TokenErrorCode; message: string };

export interface VerifyOptions {
  /** The tunnel id the client registers with (`x-websocktunnel-id`). */
  id: string;
  secretA: string;
  secretB: string;
  /** Required `aud`; undefined means tokens must carry none. */
  audience?: string;
  /** Current time in seconds since the epoch. */
  nowSeconds: number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Verifies a registration token.
 *
 * @example
 * ```ts
 * const r = verifyTunnelToken(token, { id: "demo", secretA, secretB, nowSeconds: Date.now() / 1000 });
 * if (!r.ok) return json(401, r.code, r.message);
 * ```
 */
export function verifyTunnelToken(token: string, options: VerifyOptions): TokenResult {
  if (token.length > MAX_TOKEN_BYTES) {
    return refuse("token_too_large", `token longer than ${MAX_TOKEN_BYTES} bytes`);
  }
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) {
    return refuse("token_malformed", "token is not three base64url segments");
  }
  const [headerPart, claimsPart, signaturePart] = parts;
  const header = decodeJsonObject(headerPart);
  if (!header) return refuse("token_malformed", "token header is not a JSON object");
  if (header.alg !== "HS256") return refuse("token_bad_alg", "token must be signed with HS256");
  if ("crit" in header) return refuse("token_bad_alg", "token header lists crit extensions");

  const signature = decodeBase64Url(signaturePart);
  const signingInput = `${headerPart}.${claimsPart}`;
  // Both secrets are always tried so the time taken does not say which one matched.
  const matchA = signatureMatches(signingInput, options.secretA, signature);
  const matchB = signatureMatches(signingInput, options.secretB, signature);
  if (!matchA && !matchB) {
    return refuse("token_bad_signature", "token signature matches neither tunnel secret");
  }

  const claims = decodeJsonObject(claimsPart);
  if (!claims) return refuse("token_malformed", "token claims are not a JSON object");
  const { exp, nbf } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return refuse("token_missing_claim", "token has no numeric exp claim");
  }
  if (typeof nbf !== "number" || !Number.isFinite(nbf)) {
    return refuse("token_missing_claim", "token has no numeric nbf claim");
  }
  if (options.nowSeconds > exp) return refuse("token_expired", "token has expired");
  if (options.nowSeconds < nbf) return refuse("token_not_yet_valid", "token is not valid yet");
  if (claims.tid !== options.id) {
    return refuse("token_wrong_tid", "token tid does not match x-websocktunnel-id");
  }
  if (exp - nbf > MAX_LIFETIME_SECONDS) {
    return refuse("token_lifetime", "token is valid for more than 31 days (exp − nbf)");
  }
  const audience = checkAudience(claims.aud, options.audience);
  if (audience) return refuse("token_audience", audience);
  return { ok: true, claims };
}

export interface SignOptions {
  id: string;
  secret: string;
  ttlSeconds: number;
  nowSeconds: number;
  audience?: string;
}

/**
 * Mints a registration token (claims `tid`, `iat`, `nbf` = now − 60 s, `exp` = now + ttl, and
 * `aud` when given), the same shape websocktunnel's tooling issues.
 */
export function signTunnelToken(options: SignOptions): string {
  const now = Math.floor(options.nowSeconds);
  const claims: Record<string, unknown> = {
    tid: options.id,
    iat: now,
    nbf: now - NBF_SKEW_SECONDS,
    exp: now + Math.floor(options.ttlSeconds),
  };
  if (options.audience !== undefined) claims.aud = options.audience;
  const input = `${encodeJson({ alg: "HS256", typ: "JWT" })}.${encodeJson(claims)}`;
  return `${input}.${hmac(input, options.secret).toString("base64url")}`;
}

function checkAudience(aud: unknown, audience: string | undefined): string | undefined {
  if (audience === undefined) {
    return aud === undefined ? undefined : "token carries aud but no audience is configured";
  }
  if (aud === audience) return undefined;
  if (Array.isArray(aud) && aud.includes(audience)) return undefined;
  return aud === undefined ? "token has no aud claim" : "token aud does not match";
}

function signatureMatches(input: string, secret: string, signature: Uint8Array | null): boolean {
  const expected = hmac(input, secret);
  if (!signature || signature.byteLength !== expected.byteLength) return false;
  return timingSafeEqual(expected, signature);
}

function hmac(input: string, secret: string) {
  return createHmac("sha256", secret).update(input).digest();
}

function decodeJsonObject(segment: string): Record<string, unknown> | null {
  const bytes = decodeBase64Url(segment);
  if (!bytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null; // not UTF-8 or not JSON: the caller reports "malformed"
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return value as Record<string, unknown>;
}

function decodeBase64Url(segment: string): Uint8Array | null {
  // A segment of length 4k+1 cannot come from any byte string.
  if (segment.length % 4 === 1) return null;
  return new Uint8Array(Buffer.from(segment, "base64url"));
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function refuse(code: TokenErrorCode, message: string): TokenResult {
  return { ok: false, code, message };
}
