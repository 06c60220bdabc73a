/**
 * The server token guard. When `WSTUN_TOKEN` is set, every request but the public ones must
 * present it as `?token=`, `Authorization: Bearer <token>`, or the session cookie a page load with
 * the right `?token=` sets (so a page's own scripts and styles load without repeating it). The
 * cookie holds an HMAC of the token, never the token. The admin token is accepted wherever the
 * server token is. Comparisons are constant time; the token is never logged or echoed.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Config } from "../lib/config.ts";
import { deriveSecret, secretEquals } from "../lib/secret.ts";
import { HttpError } from "./http_error.ts";

export const SESSION_COOKIE = "wstun_session";
const COOKIE_PURPOSE = "wstun-cookie-v1";

/** Paths that never need the token: the client library and the load balancer's health check. */
const PUBLIC_PATHS = new Set(["/libwstun.js", "/_api/health"]);

/** The bearer token of a request, if it has one. */
export function bearerToken(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(.+)$/i);
  return match?.[1].trim();
}

/** Whether `presented` is the server token or the admin token. */
function accepted(presented: string | undefined, config: Config): boolean {
  if (presented === undefined) return false;
  const server = config.token !== undefined && secretEquals(presented, config.token);
  const admin = config.adminToken !== undefined && secretEquals(presented, config.adminToken);
  return server || admin;
}

/**
 * Which server credential a raw request carries (`?token=`, Bearer, or the session cookie), for
 * routes outside Hono such as tunnel viewers (WSTUN_TUNNEL_VIEWER_TOKEN).
 */
export function serverCredential(
  request: Request,
  config: Config,
): "query" | "bearer" | "cookie" | undefined {
  if (config.token === undefined) return undefined;
  if (accepted(new URL(request.url).searchParams.get("token") ?? undefined, config)) return "query";
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1].trim();
  if (accepted(bearer, config)) return "bearer";
  const cookie = (request.headers.get("cookie") ?? "").split(";").map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))?.slice(SESSION_COOKIE.length + 1);
  if (secretEquals(cookie, deriveSecret(config.token, COOKIE_PURPOSE))) return "cookie";
  return undefined;
}

/** Middleware: refuses with 401 and a JSON body unless the request carries the server token. */
export function requireServerToken(config: Config): MiddlewareHandler {
  const token = config.token;
  if (token === undefined) return (_c, next) => next();
  const cookieValue = deriveSecret(token, COOKIE_PURPOSE);
  return (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return next();
    const fromQuery = c.req.query("token");
    if (accepted(fromQuery, config)) {
      setCookie(c, SESSION_COOKIE, cookieValue, {
        httpOnly: true,
        sameSite: "Strict",
        path: "/",
      });
      return next();
    }
    if (accepted(bearerToken(c), config)) return next();
    if (secretEquals(getCookie(c, SESSION_COOKIE), cookieValue)) return next();
    throw new HttpError(401, "unauthorized", "this server needs its token (?token= or Bearer)");
  };
}
