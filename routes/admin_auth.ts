/**
 * The admin guard: `Authorization: Bearer $WSTUN_ADMIN_TOKEN`, compared in constant time. With no
 * admin token configured every admin operation is refused (403 `admin_disabled`), so a server is
 * never administrable by accident. The token is never logged or echoed.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { secretEquals } from "../lib/secret.ts";
import { bearerToken } from "./server_auth.ts";

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
      return c.json(
        { error: "unauthorized", message: "missing Authorization: Bearer <admin token>" },
        401,
      );
    }
    if (!secretEquals(presented, adminToken)) {
      c.header("WWW-Authenticate", 'Bearer realm="wstun-admin", error="invalid_token"');
      return c.json({ error: "unauthorized", message: "wrong admin token" }, 401);
    }
    await next();
  };
}
