/**
 * Hono's side of lib/errors/error_edges.ts: the JSON error response built through the request's
 * context, so headers a middleware set on it (`WWW-Authenticate`, a session cookie) stay on it.
 * Body and status come from the one edge (`errorBody`, `errorStatus`).
 *
 * @module
 */
import type { Context } from "hono";
import { errorBody, errorStatus, type WstunError } from "../lib/errors/mod.ts";

/**
 * The HTTP answer of `err` through `c`.
 *
 * @example
 * ```ts
 * return errorJson(c, new WstunError("not_found", `nothing at ${c.req.path}`));
 * ```
 */
export function errorJson(c: Context, err: WstunError): Response {
  return c.json(errorBody(err), errorStatus(err));
}
