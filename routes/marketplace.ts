/**
 * HTTP for the marketplace: the admin API under `/_api/marketplace/*` and the pages and files of
 * installed services at `/{name}/service`, `/{name}/main` and `/{name}/{path}`.
 *
 * Installed services are someone else's HTML and JS on our origin, so every file is served with a
 * `Content-Security-Policy` whose `sandbox` directive (without `allow-same-origin`) gives the page
 * an opaque origin: it cannot read our origin's storage (the admin token in /admin's
 * sessionStorage), cookies or same-origin responses, and cannot script /admin. The policy also
 * keeps its scripts, styles and connections on this server, forbids inline scripts, and
 * `nosniff` plus extension-based types stop a file from being run as something else. Names that
 * are not installed fall through (`next()`), so built-in pages and the server's routes are never
 * shadowed — install refuses their names anyway.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import {
  type Marketplace,
  type ServedFile,
  ServiceNameRules,
  UpdateRequest,
} from "../lib/marketplace/mod.ts";
import { WstunError } from "../lib/errors/mod.ts";
import { requireAdmin } from "./admin_auth.ts";
import { errorJson } from "./error_json.ts";

export interface MarketplaceRoutesOptions {
  marketplace: Marketplace;
  /** `WSTUN_ADMIN_TOKEN`; undefined = admin operations refused. */
  adminToken: string | undefined;
  /** `WSTUN_MARKETPLACE_URLS`, offered by /admin. */
  marketplaceUrls?: readonly string[];
  reservedNames?: readonly string[];
}

/**
 * The policy for marketplace pages. `sandbox` without `allow-same-origin` is what makes the origin
 * opaque; `allow-scripts` lets the service run, `allow-forms`/`allow-modals`/`allow-downloads` let
 * it be an ordinary app. No `allow-popups` or `allow-top-navigation`: it cannot open /admin.
 */
export const MARKETPLACE_CSP = [
  "sandbox allow-scripts allow-forms allow-modals allow-downloads",
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
].join("; ");

/** The admin API; mount it with `app.route("/", createMarketplaceRoutes(…))`. */
export function createMarketplaceRoutes(options: MarketplaceRoutesOptions): Hono {
  const { marketplace } = options;
  const names = new ServiceNameRules(options.reservedNames);
  const app = new Hono();

  app.use("/_api/marketplace/*", requireAdmin(options.adminToken));

  app.get(
    "/_api/marketplace/config",
    (c) =>
      c.json({
        urls: options.marketplaceUrls ?? [],
        limits: marketplace.limits,
        reservedNames: names.reserved(),
      }),
  );

  app.get("/_api/marketplace/browse", async (c) => {
    const url = c.req.query("url");
    if (!url) {
      return errorJson(
        c,
        new WstunError("invalid_request", "query parameter url (an index URL) is required"),
      );
    }
    const result = await marketplace.browse(url);
    return result.ok ? c.json(result.value) : errorJson(c, result.error);
  });

  app.post("/_api/marketplace/install", async (c) => {
    const body = await readJson(c);
    if (body === undefined) return errorJson(c, badBody());
    const result = await marketplace.install(body);
    return result.ok ? c.json(result.value, 201) : errorJson(c, result.error);
  });

  app.get("/_api/marketplace/installed", async (c) => c.json(await marketplace.installed()));

  app.post("/_api/marketplace/update", async (c) => {
    const parsed = UpdateRequest.safeParse(await readJson(c));
    if (!parsed.success) {
      const message = 'body must be {"name": <installed service>}';
      return errorJson(c, new WstunError("invalid_request", message));
    }
    const result = await marketplace.update(parsed.data.name);
    return result.ok ? c.json(result.value) : errorJson(c, result.error);
  });

  app.delete("/_api/marketplace/services/:name", async (c) => {
    const result = await marketplace.uninstall(c.req.param("name"));
    return result.ok ? c.body(null, 204) : errorJson(c, result.error);
  });

  return app;
}

export interface MarketplaceFilesOptions {
  marketplace: Marketplace;
  /**
   * The server-token guard. Installed services' pages (and misses) pass through it like every
   * other route; their other files are public like /libwstun.js, because a sandboxed page's
   * requests never carry the server's SameSite session cookie.
   */
  pageGuard?: MiddlewareHandler;
  reservedNames?: readonly string[];
}

/**
 * Serves installed services at `/{name}/service`, `/{name}/main` and `/{name}/{path}`. Mount it
 * before the server-token guard; names that are not installed fall through untouched.
 */
export function createMarketplaceFiles(options: MarketplaceFilesOptions): Hono {
  const { marketplace } = options;
  const names = new ServiceNameRules(options.reservedNames);
  const guard: MiddlewareHandler = options.pageGuard ?? ((_c, next) => next());
  const app = new Hono();

  app.get("/:name/*", async (c, next) => {
    const name = c.req.param("name");
    if (names.problem(name) !== undefined) return next();
    const path = c.req.path.slice(name.length + 2);
    const file = await marketplace.file(
      name,
      decodeURIComponentSafe(path),
      etagHashes(c.req.header("if-none-match")),
    );
    // An unknown name is someone else's route.
    if (file === "no_service") return next();
    if (file === "no_file" || file.page) {
      let admitted = false;
      // Throws the guard's 401 when the server token is missing.
      await guard(c, () => {
        admitted = true;
        return Promise.resolve();
      });
      if (!admitted) {
        return errorJson(c, new WstunError("unauthorized", "this server needs its token"));
      }
    }
    if (file === "no_file") {
      return errorJson(c, new WstunError("not_found", `${name} has no file ${path}`));
    }
    return serveFile(c, file);
  });

  return app;
}

function serveFile(c: Context, file: ServedFile): Response {
  const etag = `"${file.sha256}"`;
  const headers: Record<string, string> = {
    "Content-Security-Policy": MARKETPLACE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    // The page's origin is opaque, so even its own module scripts are cross-origin requests.
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-cache",
    "ETag": etag,
  };
  // Through `c` so headers the guard set (the session cookie of a `?token=` page load) are kept.
  if (file.bytes === null) return c.body(null, 304, headers);
  return c.body(file.bytes, 200, {
    ...headers,
    "Content-Type": file.contentType,
    "Content-Length": String(file.bytes.byteLength),
  });
}

function badBody(): WstunError {
  return new WstunError("invalid_request", "the body must be JSON");
}

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    return undefined;
  }
}

/** The hashes named by an `If-None-Match` header (our ETags are the quoted SHA-256). */
function etagHashes(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(",").map((tag) => tag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1"))
    .filter((hash) => /^[0-9a-f]{64}$/.test(hash));
}

function decodeURIComponentSafe(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
