/**
 * The admin guard: `Authorization: Bearer $WSTUN_ADMIN_TOKEN`, compared in constant time. With no
 * admin token configured every admin operation is refused (403 `admin_disabled`), so a server is
 * never administrable by accident. The token is never logged or echoed.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";

/** Whether `presented` equals `expected`, in time independent of where they differ (or their lengths). */
export function tokensMatch(presented: string, expected: string): boolean {
  // Hashing first gives equal-length inputs, so neither content nor length leaks through timing.
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of a request, or `undefined`. */
export function bearerToken(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** Whether the request carries the admin token (false when none is configured). */
export function isAdmin(c: Context, adminToken: string | undefined): boolean {
  const presented = bearerToken(c);
  return adminToken !== undefined && adminToken !== "" && presented !== undefined &&
    tokensMatch(presented, adminToken);
}

/** Middleware refusing every request that does not carry the admin token. */
export function requireAdmin(adminToken: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (adminToken === undefined || adminToken === "") {
      return c.json({
        error: "admin_disabled",
        message: "admin operations are disabled on this server: WSTUN_ADMIN_TOKEN is not set",
      }, 403);
    }
    const presented = bearerToken(c);
    if (presented === undefined) {
      c.header("WWW-Authenticate", 'Bearer realm="wstun-admin"');
      return c.json({
        error: "unauthorized",
        message: "missing Authorization: Bearer <admin token>",
      }, 401);
    }
    if (!tokensMatch(presented, adminToken)) {
      c.header("WWW-Authenticate", 'Bearer realm="wstun-admin", error="invalid_token"');
      return c.json({ error: "unauthorized", message: "wrong admin token" }, 401);
    }
    await next();
  };
}
