/**
 * WSTun's own credentials on a request, and how to take every one of them out of what WSTun
 * hands to an outside party (a tunnel client, the pub/sub authorizer webhook).
 *
 * A request can carry them four ways: `?token=` (the server or admin token), `Authorization:
 * Bearer <token>`, the session cookies (pages and tunnel viewers), and a `Referer` whose query
 * holds `?token=` (the page the viewer came from was opened with it). {@link ServerCredentials.scrubHeader} and
 * {@link ServerCredentials.scrubQuery} remove all of them, whichever one authenticated the
 * request, so a third party never receives something that works on WSTun. Tokens are compared in
 * constant time.
 *
 * @module
 */
import { secretEquals } from "./secret.ts";

/** The query parameter that carries the server (or admin) token. */
export const TOKEN_PARAM = "token";
/** The session cookie set when a page is opened with the right `?token=` over plain http. */
export const SESSION_COOKIE = "wstun_session";
/**
 * The same over https: the `__Host-` prefix makes the browser refuse any cookie of that name that
 * names a `Domain`, so a page on a sibling host (a tunnel at `{id}.tunnels.example.com`) can
 * neither set nor shadow it.
 */
export const SESSION_COOKIE_HTTPS = "__Host-wstun_session";
/** The cookie that lets a viewer back into one tunnel (`WSTUN_TUNNEL_VIEWER_TOKEN`). */
export const VIEWER_COOKIE = "wstun_viewer";

/** The bearer value of an `Authorization` header, if it is one. */
export function bearerValue(header: string | null | undefined): string | undefined {
  return header ? /^Bearer\s+(.+)$/i.exec(header)?.[1].trim() : undefined;
}

/**
 * Every value of the cookie `name` in a `Cookie` header. A browser sends several cookies of one
 * name when they differ in `Domain` or `Path` (a sibling host can plant one); a reader that took
 * the first would let such a cookie shadow the real one.
 */
export function cookieValues(header: string | null | undefined, name: string): string[] {
  if (!header) return [];
  const prefix = `${name}=`;
  const values: string[] = [];
  for (const part of header.split(";")) {
    const cookie = part.trim();
    if (cookie.startsWith(prefix)) values.push(cookie.slice(prefix.length));
  }
  return values;
}

/** The server's tokens (server and admin), and what removing them from a request means. */
export class ServerCredentials {
  readonly tokens: readonly string[];

  constructor(tokens: readonly (string | undefined)[]) {
    this.tokens = tokens.filter((t): t is string => t !== undefined);
  }

  /** Whether `value` is one of the server's tokens (constant time per token). */
  isToken(value: string | null | undefined): boolean {
    if (value === null || value === undefined) return false;
    let found = false;
    for (const token of this.tokens) found = secretEquals(value, token) || found;
    return found;
  }

  /**
   * A request header as an outside party may see it: an `Authorization` carrying a server token
   * and the session cookie are removed, and a `Referer` on `host` (a WSTun page, whose URL may
   * carry `?token=`) loses its query. Null drops the header.
   */
  scrubHeader(name: string, value: string, host: string | undefined): string | null {
    switch (name.toLowerCase()) {
      case "authorization":
        return this.isToken(bearerValue(value)) ? null : value;
      case "cookie":
        return withoutCookies(value, [SESSION_COOKIE, SESSION_COOKIE_HTTPS, VIEWER_COOKIE]);
      case "referer":
        return this.#scrubReferer(value, host);
      default:
        return value;
    }
  }

  /**
   * A Referer pointing at `host` (a WSTun page) or carrying a server token in its query keeps
   * only its origin and path; an unparsable one is dropped.
   */
  #scrubReferer(value: string, host: string | undefined): string | null {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return null;
    }
    const onWstun = host === undefined || url.host.toLowerCase() === host.toLowerCase();
    if (!onWstun && !url.searchParams.getAll(TOKEN_PARAM).some((t) => this.isToken(t))) {
      return value;
    }
    return `${url.origin}${url.pathname}`;
  }

  /** Removes `?token=` when it holds one of the server's tokens. */
  scrubQuery(params: URLSearchParams): void {
    for (const value of params.getAll(TOKEN_PARAM)) {
      if (this.isToken(value)) params.delete(TOKEN_PARAM, value);
    }
  }
}

/** A Cookie header without the named cookies; null when nothing is left. */
function withoutCookies(header: string, names: readonly string[]): string | null {
  const prefixes = names.map((name) => `${name}=`);
  const kept = header.split(";").map((c) => c.trim())
    .filter((c) => c && !prefixes.some((prefix) => c.startsWith(prefix)));
  return kept.length ? kept.join("; ") : null;
}
