/**
 * The /admin page and the admin-only instance route it uses.
 *
 * `GET /admin` and `GET /admin/admin.js` serve static/admin/: a plain HTML+JS page, styled by the
 * shared /static/wstun.css (same origin, so the CSP below allows it), that asks for the admin
 * token, keeps it in sessionStorage (this tab only) and drives the JSON APIs.
 * The page itself holds no secret, so it is served without the admin token; every call it makes
 * carries the token. Its CSP allows only its own scripts and styles and forbids framing, so a
 * marketplace page (opaque origin, see routes/marketplace.ts) can neither read nor frame it.
 *
 * `DELETE /_api/instances/{uuid}` (admin token) closes an instance through the injected
 * `closeInstance`; 204, or 404 `unknown_instance`.
 *
 * @module
 */
import { Hono } from "hono";
import { WstunError } from "../lib/errors/mod.ts";
import { requireAdmin } from "./admin_auth.ts";
import { errorJson } from "./error_json.ts";

export interface AdminRoutesOptions {
  adminToken: string | undefined;
  /** Closes a running instance; false when there is none with that uuid. The hub's close. */
  closeInstance: (uuid: string) => boolean | Promise<boolean>;
  /** Folder of the page's files; default static/admin/ next to this module. */
  pageDir?: URL;
}

/** The page's files and their types. A Map, because the file name comes from the request path and
 * `name in {…}` would also find `toString`, `constructor` and the rest of Object.prototype. */
const PAGE_FILES: ReadonlyMap<string, string> = new Map([
  ["index.html", "text/html; charset=utf-8"],
  ["admin.js", "text/javascript; charset=utf-8"],
]);

export const ADMIN_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/** Builds the sub-app; mount it with `app.route("/", createAdminRoutes(…))`. */
export function createAdminRoutes(options: AdminRoutesOptions): Hono {
  const pageDir = options.pageDir ?? new URL("../static/admin/", import.meta.url);
  const app = new Hono();

  const serve = async (file: string, contentType: string): Promise<Response> => {
    const bytes = await Deno.readFile(new URL(file, pageDir));
    return new Response(bytes, {
      headers: {
        "Content-Type": contentType,
        "Content-Security-Policy": ADMIN_CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
      },
    });
  };

  const html = PAGE_FILES.get("index.html")!;
  app.get("/admin", () => serve("index.html", html));
  app.get("/admin/", () => serve("index.html", html));
  app.get("/admin/:file", (c, next) => {
    const file = c.req.param("file");
    const contentType = PAGE_FILES.get(file);
    return contentType !== undefined && file !== "index.html" ? serve(file, contentType) : next();
  });

  app.delete("/_api/instances/:uuid", requireAdmin(options.adminToken), async (c) => {
    const uuid = c.req.param("uuid");
    if (await options.closeInstance(uuid)) return c.body(null, 204);
    const message = `no running instance has uuid ${uuid}`;
    return errorJson(c, new WstunError("unknown_instance", message));
  });

  return app;
}
