/**
 * Session cookies: what a page opened with the right `?token=` receives so that its own scripts,
 * styles and API calls need not repeat the token.
 *
 * A value is `<random id>.<expiry>.<MAC>`: 128 random bits per session, an expiry (seconds since
 * the epoch, base 36) and an HMAC-SHA256 over both and the session's scope (the server's pages,
 * or one tunnel's viewer URLs) under a key derived from the server token. So
 * every session has its own value, every value expires (`WSTUN_SESSION_TTL_S`), any isolate that
 * knows the token can check one without shared state, and changing the token ends every session.
 * The value is not the token and does not reveal it; it is compared in constant time.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { deriveSecret, randomSecret, secretEquals } from "./secret.ts";

/** What a presented cookie is worth. */
export type SessionVerdict = "valid" | "renew" | "invalid";

/** What a session opens: the server's pages, or one tunnel's viewer URLs. */
export type SessionScope = "pages" | `tunnel:${string}`;

/** Mints and checks session cookies; a cookie of one scope never opens another. */
export class SessionCookies {
  readonly #key: string;
  readonly #ttlSeconds: number;

  /**
   * @param token the server token the sessions stand for
   * @param ttlSeconds how long a session lasts; it is renewed once past half of that
   */
  constructor(token: string, ttlSeconds: number) {
    this.#key = deriveSecret(token, "wstun-session-v2");
    this.#ttlSeconds = ttlSeconds;
  }

  /** Seconds a fresh session lasts (the cookie's Max-Age). */
  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  /** A new session's cookie value. */
  mint(nowMs: number, scope: SessionScope = "pages"): string {
    const id = randomSecret(16);
    const expiry = (Math.floor(nowMs / 1000) + this.#ttlSeconds).toString(36);
    return `${id}.${expiry}.${this.#mac(scope, id, expiry)}`;
  }

  /** Whether `value` is a live session of `scope`; `renew` once past half of its life. */
  verify(value: string | undefined, nowMs: number, scope: SessionScope = "pages"): SessionVerdict {
    const parts = value?.split(".");
    if (!parts || parts.length !== 3) return "invalid";
    const [id, expiry, mac] = parts;
    if (!secretEquals(mac, this.#mac(scope, id, expiry))) return "invalid";
    const left = parseInt(expiry, 36) - nowMs / 1000;
    if (!(left > 0)) return "invalid";
    return left < this.#ttlSeconds / 2 ? "renew" : "valid";
  }

  #mac(scope: SessionScope, id: string, expiry: string): string {
    return createHmac("sha256", this.#key).update(`${scope}\u0000${id}.${expiry}`)
      .digest("base64url");
  }
}
