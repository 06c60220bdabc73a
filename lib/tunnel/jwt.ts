/**
 * Tunnel registration tokens: HS256 JWTs as websocktunnel issues them, verified more strictly.
 *
 * `jose` verifies the signature, `exp`, `nbf` and `aud`; WSTun's own rules sit on top. A token is
 * accepted when:
 * 1. it has exactly three non-empty base64url segments and is at most {@link MAX_TOKEN_BYTES} long;
 * 2. its header is a JSON object whose `alg` is exactly `HS256` (no `none`, RS*, HS384, …) and
 *    that lists no `crit` extensions;
 * 3. its signature matches secret A, or else secret B (rotation without downtime); both are
 *    always tried, so the time taken does not say which one matched;
 * 4. (jose) its claims are a JSON object with numeric `exp` and `nbf`; when an audience is
 *    configured, `aud` is present and equals it (a string, or an array containing it); then
 *    `nbf ≤ now < exp`;
 * 5. `exp` and `nbf` are finite, `tid` equals the tunnel id exactly;
 * 6. `exp − nbf` is at most 31 days (upstream means to check this but never does);
 * 7. when no audience is configured, a token carrying `aud` is refused (upstream's check is loose;
 *    this is the strict reading).
 *
 * A token with several faults is refused for the first in this order. Verification resolves to a
 * value (`{ ok: false, code, message }`), never rejects for a bad token, and never puts the token
 * or a secret into a message.
 *
 * @module
 */
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";

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
const utf8 = new TextEncoder();

/**
 * Verifies a registration token.
 *
 * @example
 * ```ts
 * const r = await verifyTunnelToken(token, { id: "demo", secretA, secretB, nowSeconds: Date.now() / 1000 });
 * if (!r.ok) return json(401, r.code, r.message);
 * ```
 */
export async function verifyTunnelToken(
  token: string,
  options: VerifyOptions,
): Promise<TokenResult> {
  const shape = shapeProblem(token);
  if (shape) return shape;
  // Both secrets are always tried so the time taken does not say which one matched.
  const [a, b] = await Promise.all([
    verifyWith(token, options.secretA, options),
    verifyWith(token, options.secretB, options),
  ]);
  const verdict = a.ok || a.code !== "token_bad_signature" ? a : b;
  return verdict.ok ? ownRules(verdict.claims, options) : verdict;
}

/** Steps 1 and 2: what is refused before any key is used. */
function shapeProblem(token: string): TokenResult | undefined {
  if (token.length > MAX_TOKEN_BYTES) {
    return refuse("token_too_large", `token longer than ${MAX_TOKEN_BYTES} bytes`);
  }
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) {
    return refuse("token_malformed", "token is not three base64url segments");
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refuse("token_malformed", "token header is not a JSON object");
  }
  if (header.alg !== "HS256") return refuse("token_bad_alg", "token must be signed with HS256");
  if ("crit" in header) return refuse("token_bad_alg", "token header lists crit extensions");
  return undefined;
}

/** Steps 3 and 4, by jose, with one secret. */
async function verifyWith(token: string, secret: string, options: VerifyOptions) {
  try {
    const { payload } = await jwtVerify(token, utf8.encode(secret), {
      algorithms: ["HS256"],
      requiredClaims: ["exp", "nbf"],
      audience: options.audience,
      currentDate: new Date(options.nowSeconds * 1000),
    });
    return { ok: true, claims: payload as Record<string, unknown> } as const;
  } catch (err) {
    return joseRefusal(err);
  }
}

/** jose's error as our code and message (jose's messages are not part of our contract). */
function joseRefusal(err: unknown): TokenResult & { ok: false } {
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return refuse("token_bad_signature", "token signature matches neither tunnel secret");
  }
  if (err instanceof errors.JWTExpired) return refuse("token_expired", "token has expired");
  if (err instanceof errors.JWTClaimValidationFailed) return claimRefusal(err.claim, err.reason);
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return refuse("token_bad_alg", "token must be signed with HS256");
  }
  if (err instanceof errors.JOSEError) {
    return refuse("token_malformed", "token claims are not a JSON object");
  }
  throw err; // not a verdict on the token: a bug, and it must not read as a refusal
}

function claimRefusal(claim: string, reason: string): TokenResult & { ok: false } {
  if ((claim === "exp" || claim === "nbf") && reason !== "check_failed") {
    return refuse("token_missing_claim", `token has no numeric ${claim} claim`);
  }
  if (claim === "nbf") return refuse("token_not_yet_valid", "token is not valid yet");
  if (claim === "aud") {
    return refuse(
      "token_audience",
      reason === "missing" ? "token has no aud claim" : "token aud does not match",
    );
  }
  return refuse("token_malformed", `token ${claim} claim is not valid`);
}

/** Steps 5 to 7: WSTun's rules on claims jose has verified. */
function ownRules(claims: Record<string, unknown>, options: VerifyOptions): TokenResult {
  const exp = claims.exp as number;
  const nbf = claims.nbf as number;
  // JSON's 1e400 parses to Infinity: a number to jose, a token that never expires to us.
  if (!Number.isFinite(exp)) return refuse("token_missing_claim", "token has no numeric exp claim");
  if (!Number.isFinite(nbf)) return refuse("token_missing_claim", "token has no numeric nbf claim");
  if (claims.tid !== options.id) {
    return refuse("token_wrong_tid", "token tid does not match x-websocktunnel-id");
  }
  if (exp - nbf > MAX_LIFETIME_SECONDS) {
    return refuse("token_lifetime", "token is valid for more than 31 days (exp − nbf)");
  }
  if (options.audience === undefined && claims.aud !== undefined) {
    return refuse("token_audience", "token carries aud but no audience is configured");
  }
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
 * `aud` when given), the same shape websocktunnel's tooling issues; signed by jose.
 */
export function signTunnelToken(options: SignOptions): Promise<string> {
  const now = Math.floor(options.nowSeconds);
  const claims: Record<string, unknown> = {
    tid: options.id,
    iat: now,
    nbf: now - NBF_SKEW_SECONDS,
    exp: now + Math.floor(options.ttlSeconds),
  };
  if (options.audience !== undefined) claims.aud = options.audience;
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(utf8.encode(options.secret));
}

function refuse(code: TokenErrorCode, message: string): TokenResult & { ok: false } {
  return { ok: false, code, message };
}
