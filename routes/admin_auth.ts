/**
 * The admin guard: `Authorization: Bearer $WSTUN_ADMIN_TOKEN`, compared in constant time. With no
 * admin token configured every admin operation is refused (403 `admin_disabled`), so a server is
 * never administrable by accident. The token is never logged or echoed.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { secretEquals } from "../lib/secret.ts";
import { WstunError } from "../lib/errors/mod.ts";
import { errorJson } from "./error_json.ts";
import { bearerToken } from "./server_auth.ts";

/** Middleware refusing every request that does not carry the admin token. */
export function requireAdmin(adminToken: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (adminToken === undefined || adminToken === "") {
      const message = "admin operations are disabled on this server: WSTUN_ADMIN_TOKEN is not set";
      return errorJson(c, new WstunError("admin_disabled", message));
    }
    const presented = bearerToken(c);
    if (presented === undefined) {
      c.header("WWW-Authenticate", 'Bearer realm="wstun-admin"');
      return errorJson(
        c,
        new WstunError("unauthorized", "missing Authorization: Bearer <admin token>"),
      );
    }
    if (!secretEquals(presented, adminToken)) {
      c.header("WWW-Authenticate", 'Bearer realm="wstun-admin", error="invalid_token"');
      return errorJson(c, new WstunError("unauthorized", "wrong admin token"));
    }
    await next();
  };
}
