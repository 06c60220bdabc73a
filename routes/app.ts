/**
 * The WSTun server as a runtime-free fetch handler: `createServer(config)` builds the hub and the
 * HTTP app around it and returns both. main.ts hands `fetch` to `Deno.serve`; tests do the same
 * on port 0, so one process can run many servers.
 *
 * Routing order: public paths, then installed marketplace services' files (public like
 * libwstun.js, see routes/marketplace.ts; their pages still need the server token), then the
 * server-token guard, then the API, the socket, the admin page, the marketplace API, the pages
 * and the built-in files. Every error leaves through one `onError` as a JSON body.
 *
 * @module
 */
import { Hono } from "hono";
import { ulid } from "ulid";
import type { Config } from "../lib/config.ts";
import type { ClusterNode } from "../lib/cluster/mod.ts";
import type { Hub } from "../lib/hub/mod.ts";
import type { Lifecycle } from "../lib/lifecycle.ts";
import type { LiveSockets } from "../lib/live_sockets.ts";
import { CloseReason } from "../lib/protocol.ts";
import type { PubSub } from "../lib/pubsub/mod.ts";
import type { Marketplace } from "../lib/marketplace/mod.ts";
import { BUILTIN_SERVICES, type ServiceCatalog } from "../lib/service_catalog.ts";
import { buildServerParts, type ServerOptions } from "../lib/server_parts.ts";
import type { Stats } from "../lib/stats.ts";
import type { Logger } from "../lib/log.ts";
import {
  type IsolateSnapshot,
  observeServer,
  type ReadinessCheck,
  serverLogger,
} from "../lib/observability/mod.ts";
import { createTunnelService, type TunnelService } from "../lib/tunnel/mod.ts";
import { type MetricsRouteDeps, metricsRoutes } from "./metrics.ts";
import { apiRoutes } from "./api.ts";
import { type AssetTable, loadAssets } from "./assets.ts";
import { asWstunError, errorResponse, WstunError } from "../lib/errors/mod.ts";
import { errorJson } from "./error_json.ts";
import { PAGE_HEADERS } from "./page_headers.ts";
import { pageRoutes } from "./pages.ts";
import { createAdminRoutes } from "./admin.ts";
import { createMarketplaceFiles, createMarketplaceRoutes } from "./marketplace.ts";
import { ServerAuth } from "./server_auth.ts";
import { upgradeToUdp } from "./udp.ts";
import {
  answerHubUpgrade,
  countRefusedUpgrades,
  pathOf,
  type RefusedUpgrade,
  upgradeToHub,
} from "./ws.ts";
import { broadcastRoute, wsifyRoute } from "./wsify.ts";

export type { ServerOptions };

/** A running WSTun server, minus the listening socket. */
export interface WstunServer {
  fetch: (request: Request) => Response | Promise<Response>;
  hub: Hub;
  stats: Stats;
  catalog: ServiceCatalog;
  marketplace: Marketplace;
  config: Config;
  /** Pub/sub channels (docs/pubsub.md). */
  pubsub: PubSub;
  /** This isolate's part in the cluster; null when the bridge is off (docs/architecture.md). */
  cluster: ClusterNode | null;
  /** HTTP tunnels (websocktunnel-compatible); answers 404 on its routes when off. */
  tunnels: TunnelService;
  /** Serving or draining. */
  lifecycle: Lifecycle;
  /**
   * Drains until `deadline` (ms since the epoch): new sockets refused (503), instances handed
   * over in the directory, every socket told to reconnect now (1012), tunnel clients closed.
   * Then call {@link shutdown}.
   */
  drain(deadline: number): Promise<void>;
  /** This isolate's id: the `isolate` label of its metrics and the field of its log lines. */
  isolate: string;
  /** This server's logger (lines carry `isolate`). */
  log: Logger;
  /** This isolate's instruments now (what `/metrics` renders). */
  snapshot(): IsolateSnapshot;
  /** What `/_api/ready` checks, in order. */
  readiness: ReadinessCheck[];
  /** Stops timers and the KV watch, closes KV if the server opened it; after the listener. */
  shutdown(): Promise<void>;
}

/** Builds a server: its parts (lib/server_parts.ts) and the HTTP app on top. */
export async function createServer(
  config: Config,
  options: ServerOptions = {},
): Promise<WstunServer> {
  const isolate = options.isolate ?? ulid();
  const log = serverLogger(config, isolate, options.log);
  const parts = await buildServerParts(config, { ...options, isolate, log });
  const { hub, stats, catalog, marketplace, pubsub, cluster, now, lifecycle, sockets } = parts;
  const observed = observeServer(parts, isolate, log, options);
  const auth = new ServerAuth(config, now);
  const refusedUpgrade = countRefusedUpgrades(stats, log);
  const assets = await loadAssets(BUILTIN_SERVICES.filter((s) => !s.headless).map((s) => s.name));
  const app = createApp({
    config,
    hub,
    catalog,
    stats,
    now,
    assets,
    marketplace,
    pubsub,
    cluster,
    auth,
    lifecycle,
    sockets,
    log,
    refusedUpgrade,
    metrics: {
      adminToken: config.adminToken,
      metricsToken: config.metricsToken,
      scrape: observed.scrape,
      bridgeHealth: observed.bridgeHealth,
      isolate,
      readiness: observed.readiness,
    },
  });
  // Tunnel routes come before the app: clients authenticate with their JWT, viewers are open
  // unless WSTUN_TUNNEL_VIEWER_TOKEN asks for the server token (checked by the tunnel service).
  // With a bridge, a viewer here reaches a tunnel client on another isolate (docs/tunnels.md).
  const tunnels = createTunnelService(config.tunnel, {
    registry: parts.tunnelRegistry,
    now,
    viewerAuth: auth,
    credentials: auth.credentials,
    log,
    counters: stats.tunnels,
  });
  const wsDeps = { config, hub, stats, pubsub, auth, sockets, now };
  const hubUpgrades = new Map<string, (request: Request) => Response>([
    ["/_ws", (request) => upgradeToHub(request, wsDeps)],
    ["/_udp", (request) => upgradeToUdp(request, wsDeps)],
  ]);
  const server: WstunServer = {
    fetch: (request) =>
      refuseWhileDraining(request, lifecycle, refusedUpgrade) ?? tunnels.handle(request) ??
        answerHubUpgrade(request, auth, hubUpgrades, refusedUpgrade) ?? app.fetch(request),
    hub,
    stats,
    catalog,
    marketplace,
    config,
    tunnels,
    pubsub,
    cluster,
    lifecycle,
    drain: async (deadline) => {
      await parts.drain(deadline);
      await tunnels.close();
    },
    isolate,
    log,
    snapshot: observed.snapshot,
    readiness: observed.readiness,
    shutdown: async () => {
      // Once: a second call (a test closing a server it already shut down) does nothing.
      if (!observed.stopping()) return;
      // Tunnel sessions first: their closes release records the cluster's stores keep.
      await tunnels.close();
      await parts.close();
      observed.stopped();
    },
  };
  observed.serving();
  return server;
}

/** While draining, every new socket (hub, pub/sub, tunnel registration) is refused: 503. */
function refuseWhileDraining(
  request: Request,
  lifecycle: Lifecycle,
  refused: RefusedUpgrade,
): Response | null {
  if (!lifecycle.draining || !isUpgrade(request)) return null;
  const message = "this server is restarting; connect again (another isolate takes you)";
  const err = new WstunError("draining", message);
  refused(request, pathOf(request.url), err);
  return errorResponse(err, { "retry-after": "1" });
}

function isUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

interface AppDeps {
  config: Config;
  hub: Hub;
  catalog: ServiceCatalog;
  stats: Stats;
  now: () => number;
  assets: AssetTable;
  marketplace: Marketplace;
  pubsub: PubSub;
  cluster: ClusterNode | null;
  auth: ServerAuth;
  lifecycle: Lifecycle;
  sockets: LiveSockets;
  log: Logger;
  refusedUpgrade: RefusedUpgrade;
  metrics: MetricsRouteDeps;
}

function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const answer = asWstunError(err, (fault) => {
      deps.log.error("http.unexpected_error", { path: c.req.path, error: String(fault) });
    });
    // An upgrade refused on its way through the app (the server-token guard before `/ws`).
    if (isUpgrade(c.req.raw)) deps.refusedUpgrade(c.req.raw, c.req.path, answer);
    return errorJson(c, answer);
  });
  app.notFound((c) => errorJson(c, new WstunError("not_found", `nothing at ${c.req.path}`)));

  const serverToken = deps.auth.guard();
  // Scrapers and probes carry their own token (or none, for readiness): before the guard.
  app.route("/", metricsRoutes(deps.metrics));
  app.route("/", createMarketplaceFiles({ marketplace: deps.marketplace, pageGuard: serverToken }));
  // wsify's backend publish has its own key, so it sits before the server-token guard.
  app.route("/", broadcastRoute(deps.pubsub));
  app.use("*", serverToken);
  app.route("/_api", apiRoutes(deps));
  // Real upgrades never get here (answerHubUpgrade takes them); these answer the rest, e.g. 426.
  app.get("/_ws", (c) => upgradeToHub(c.req.raw, deps));
  app.get("/_udp", (c) => upgradeToUdp(c.req.raw, deps));
  app.route("/", wsifyRoute(deps));
  app.route(
    "/",
    createAdminRoutes({
      adminToken: deps.config.adminToken,
      closeInstance: (uuid) => deps.hub.closeInstanceByUuid(uuid, CloseReason.Closed),
    }),
  );
  app.route(
    "/",
    createMarketplaceRoutes({
      marketplace: deps.marketplace,
      adminToken: deps.config.adminToken,
      marketplaceUrls: deps.config.marketplaceUrls,
    }),
  );
  app.route("/", pageRoutes(deps));
  app.get("*", (c) => {
    const asset = deps.assets.get(c.req.path);
    if (!asset) return c.notFound();
    return c.body(asset.body, 200, {
      ...(asset.type.startsWith("text/html") ? PAGE_HEADERS : {}),
      "content-type": asset.type,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
      // Sandboxed marketplace pages have an opaque origin: their `import "/libwstun.js"` is a
      // cross-origin module load and needs this. The library is public anyway.
      ...(c.req.path === "/libwstun.js" ? { "access-control-allow-origin": "*" } : {}),
    });
  });
  return app;
}
