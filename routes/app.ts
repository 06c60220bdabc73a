/**
 * The WSTun server as a runtime-free fetch handler: `createServer(config)` builds the hub and the
 * HTTP app around it and returns both. main.ts hands `fetch` to `Deno.serve`; tests do the same
 * on port 0, so one process can run many servers.
 *
 * Routing order: public paths, then the server-token guard, then the API, the socket, the pages
 * and the built-in files. Every error leaves through one `onError` as a JSON body.
 *
 * @module
 */
import { Hono } from "hono";
import type { Config } from "../lib/config.ts";
import { Hub } from "../lib/hub/hub.ts";
import { BUILTIN_SERVICES, ServiceCatalog } from "../lib/service_catalog.ts";
import { Stats } from "../lib/stats.ts";
import { apiRoutes } from "./api.ts";
import { type AssetTable, loadAssets } from "./assets.ts";
import { errorBody, HttpError } from "./http_error.ts";
import { pageRoutes } from "./pages.ts";
import { requireServerToken } from "./server_auth.ts";
import { upgradeToHub } from "./ws.ts";

export interface ServerOptions {
  /** The clock; tests may pass their own. */
  now?: () => number;
}

/** A running WSTun server, minus the listening socket. */
export interface WstunServer {
  fetch: (request: Request) => Response | Promise<Response>;
  hub: Hub;
  stats: Stats;
  catalog: ServiceCatalog;
  config: Config;
  /** Stops timers; call after the listener has shut down. */
  shutdown(): void;
}

/** Builds a server: hub, catalog, stats and the HTTP app. */
export async function createServer(
  config: Config,
  options: ServerOptions = {},
): Promise<WstunServer> {
  const now = options.now ?? Date.now;
  const stats = new Stats(now());
  const catalog = new ServiceCatalog();
  const hub = new Hub({ config, catalog, stats, now });
  const assets = await loadAssets(BUILTIN_SERVICES.map((s) => s.name));
  const app = createApp({ config, hub, catalog, stats, now, assets });
  return {
    fetch: (request) => app.fetch(request),
    hub,
    stats,
    catalog,
    config,
    shutdown: () => hub.shutdown(),
  };
}

interface AppDeps {
  config: Config;
  hub: Hub;
  catalog: ServiceCatalog;
  stats: Stats;
  now: () => number;
  assets: AssetTable;
}

function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status);
    console.error("unexpected error:", err);
    return c.json(errorBody("internal", "internal server error"), 500);
  });
  app.notFound((c) => c.json(errorBody("not_found", `nothing at ${c.req.path}`), 404));

  app.use("*", requireServerToken(deps.config));
  app.route("/_api", apiRoutes(deps));
  app.get("/_ws", (c) => upgradeToHub(c, deps));
  app.route("/", pageRoutes(deps));
  app.get("*", (c) => {
    const asset = deps.assets.get(c.req.path);
    if (!asset) return c.notFound();
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    });
  });
  return app;
}
