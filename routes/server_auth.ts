/**
 * The server token guard. When `WSTUN_TOKEN` is set, every request but the public ones must
 * present it as `?token=`, `Authorization: Bearer <token>`, or the session cookie a page load with
 * the right `?token=` sets (so a page's own scripts and styles load without repeating it). The
 * admin token is accepted wherever the server token is. Comparisons are constant time; the token
 * is never logged or echoed.
 *
 * The session cookie (lib/session_cookie.ts) is HttpOnly, SameSite=Strict, `Secure` behind https,
 * random per session and expires. It counts only on requests a WSTun page made itself: one whose
 * `Origin` (when present) is this server's and whose `Sec-Fetch-Site` (when present) is
 * `same-origin` or `none`. So a page of another origin — a sandboxed tunnel page (`Origin:
 * null`), a marketplace page, another site — never acts with the visitor's session, whatever the
 * browser sends along (docs/security.md).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { setCookie } from "hono/cookie";
import type { Config } from "../lib/config.ts";
import {
  bearerValue,
  cookieValues,
  ServerCredentials,
  SESSION_COOKIE,
  SESSION_COOKIE_HTTPS,
  TOKEN_PARAM,
  VIEWER_COOKIE,
} from "../lib/server_credentials.ts";
import { SessionCookies, type SessionScope, type SessionVerdict } from "../lib/session_cookie.ts";
import { WstunError } from "../lib/errors/mod.ts";

export { SESSION_COOKIE };

/** Paths that never need the token: the client library and the load balancer's health checks. */
const PUBLIC_PATHS = new Set(["/libwstun.js", "/_api/health"]);

/** How a request presented the server token. */
export type Credential = "query" | "bearer" | "cookie";

/** The bearer token of a request, if it has one. */
export function bearerToken(c: Context): string | undefined {
  return bearerValue(c.req.header("authorization"));
}

/** Checks requests for the server token and hands out session cookies; one per server. */
export class ServerAuth {
  readonly credentials: ServerCredentials;
  readonly #sessions: SessionCookies | undefined;
  readonly #now: () => number;

  constructor(config: Config, now: () => number) {
    this.credentials = new ServerCredentials([config.token, config.adminToken]);
    this.#sessions = config.token === undefined
      ? undefined
      : new SessionCookies(config.token, config.sessionTtlS);
    this.#now = now;
  }

  /** Whether the server has a token at all (otherwise every request is let in). */
  get required(): boolean {
    return this.#sessions !== undefined;
  }

  /** How `request` presents the server token, if it does. */
  credentialOf(request: Request): Credential | undefined {
    const found = this.#presented(request);
    return found === "renew" ? "cookie" : found;
  }

  /**
   * How a viewer of tunnel `id` presents the server token (`WSTUN_TUNNEL_VIEWER_TOKEN`): the
   * token itself (`?token=`, Bearer), or a viewer session for that tunnel ({@link viewerCookie}).
   * A page session counts only from WSTun's own pages, as everywhere.
   */
  viewerCredential(request: Request, id: string): "token" | "session" | undefined {
    const found = this.#presented(request);
    if (found === "query" || found === "bearer") return "token";
    if (found) return "session";
    if (!this.#sessions) return undefined;
    const values = cookieValues(request.headers.get("cookie"), VIEWER_COOKIE);
    return bestVerdict(this.#sessions, values, this.#now(), `tunnel:${id}`) === "invalid"
      ? undefined
      : "session";
  }

  /**
   * A `Set-Cookie` value giving the viewer a session for tunnel `id` under `path`, so its pages'
   * own requests need no token: HttpOnly, SameSite=Lax (a link from elsewhere opens the tunnel),
   * `Secure` behind https, opening that one tunnel and nothing else.
   */
  viewerCookie(request: Request, id: string, path: string): string {
    const sessions = this.#sessions!;
    const value = sessions.mint(this.#now(), `tunnel:${id}`);
    const secure = servedOverHttps(request) ? "; Secure" : "";
    return `${VIEWER_COOKIE}=${value}; Max-Age=${sessions.ttlSeconds}; Path=${path}; HttpOnly; ` +
      `SameSite=Lax${secure}`;
  }

  /** Middleware: refuses with 401 and a JSON body unless the request carries the server token. */
  guard(): MiddlewareHandler {
    return (c, next) => {
      if (!this.#sessions || PUBLIC_PATHS.has(c.req.path)) return next();
      const found = this.#presented(c.req.raw);
      if (found === "query" || found === "renew") this.#startSession(c);
      if (found) return next();
      throw new WstunError("unauthorized", "this server needs its token (?token= or Bearer)");
    };
  }

  /** The credential `request` presents; `renew` is a session cookie past half of its life. */
  #presented(request: Request): Credential | "renew" | undefined {
    if (!this.#sessions) return undefined;
    const query = new URL(request.url).searchParams.get(TOKEN_PARAM);
    if (this.credentials.isToken(query)) return "query";
    if (this.credentials.isToken(bearerValue(request.headers.get("authorization")))) {
      return "bearer";
    }
    const header = request.headers.get("cookie");
    const values = [
      ...cookieValues(header, SESSION_COOKIE_HTTPS),
      ...cookieValues(header, SESSION_COOKIE),
    ];
    if (values.length === 0 || !madeByOwnPage(request)) return undefined;
    const verdict = bestVerdict(this.#sessions, values, this.#now());
    return verdict === "invalid" ? undefined : verdict === "renew" ? "renew" : "cookie";
  }

  #startSession(c: Context): void {
    const sessions = this.#sessions!;
    const https = servedOverHttps(c.req.raw);
    setCookie(c, https ? SESSION_COOKIE_HTTPS : SESSION_COOKIE, sessions.mint(this.#now()), {
      httpOnly: true,
      sameSite: "Strict",
      secure: https,
      path: "/",
      maxAge: sessions.ttlSeconds,
    });
  }
}

/** The best verdict over every value presented: one planted beside the real one changes nothing. */
function bestVerdict(
  sessions: SessionCookies,
  values: readonly string[],
  now: number,
  scope?: SessionScope,
): SessionVerdict {
  let best: SessionVerdict = "invalid";
  for (const value of values) {
    const verdict = sessions.verify(value, now, scope);
    if (verdict === "valid") return verdict;
    if (verdict === "renew") best = verdict;
  }
  return best;
}

/**
 * Whether a request comes from one of this server's own pages (or from no page at all, like a
 * command-line client): its `Origin`, if any, is this host, and its `Sec-Fetch-Site`, if any, is
 * `same-origin` (or `none`: typed in the address bar).
 */
function madeByOwnPage(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return false;
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  try {
    return new URL(origin).host === (request.headers.get("host") ?? new URL(request.url).host);
  } catch {
    return false; // `null` and anything else that is not an origin
  }
}

/** https directly, or behind a proxy that says so (then the cookie is only sent over https). */
function servedOverHttps(request: Request): boolean {
  return request.url.startsWith("https:") ||
    request.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
}
