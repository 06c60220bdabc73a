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
import { type Config, ConfigError } from "../lib/config.ts";
import { Hub } from "../lib/hub/hub.ts";
import { InstanceKeys } from "../lib/hub/instance_key.ts";
import type { Bridge } from "../lib/bridge/bridge.ts";
import { BroadcastChannelBridge } from "../lib/bridge/broadcast_channel_bridge.ts";
import { FederatedChannelBridge } from "../lib/bridge/channel_federation.ts";
import { BridgeMode } from "../lib/bridge/config.ts";
import type { Directory } from "../lib/bridge/directory.ts";
import { BridgeFederation } from "../lib/bridge/federation.ts";
import { KvDirectory } from "../lib/bridge/kv_directory.ts";
import { RedisBridge } from "../lib/bridge/redis_bridge.ts";
import { RedisDirectory } from "../lib/bridge/redis_directory.ts";
import { CloseReason } from "../lib/protocol.ts";
import { createPubSub, type PubSub } from "../lib/pubsub/mod.ts";
import { Marketplace, type ResolveHost } from "../lib/marketplace/mod.ts";
import { BUILTIN_SERVICES, ServiceCatalog } from "../lib/service_catalog.ts";
import { Stats } from "../lib/stats.ts";
import { apiRoutes } from "./api.ts";
import { type AssetTable, loadAssets } from "./assets.ts";
import { errorBody, HttpError } from "./http_error.ts";
import { PAGE_HEADERS } from "./page_headers.ts";
import { pageRoutes } from "./pages.ts";
import { createAdminRoutes } from "./admin.ts";
import { createMarketplaceFiles, createMarketplaceRoutes } from "./marketplace.ts";
import { ServerAuth } from "./server_auth.ts";
import { upgradeToUdp } from "./udp.ts";
import { createBridgedRegistry } from "../lib/tunnel/bridged_registry.ts";
import { createTunnelService, type TunnelService } from "../lib/tunnel/service.ts";
import { answerHubUpgrade, upgradeToHub } from "./ws.ts";
import { broadcastRoute, wsifyRoute } from "./wsify.ts";

export interface ServerOptions {
  /** The clock; tests may pass their own. */
  now?: () => number;
  /** Deno KV for installed services; default: `Deno.openKv(config.kvPath)`, closed on shutdown. */
  kv?: Deno.Kv;
  /** `fetch` for marketplace downloads and the pub/sub authorizer webhook. */
  fetch?: typeof fetch;
  /** DNS resolution for the marketplace's private-address rule. */
  resolveHost?: ResolveHost;
  /** The bridge to other isolates; default from `config.bridge.mode`. */
  bridge?: Bridge;
  /** The instance directory; default a {@link KvDirectory} on the server's KV. */
  directory?: Directory;
  /** This isolate's id on the bridge; a fresh ulid by default. */
  isolate?: string;
}

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
  /** This isolate's link to the others; null when the bridge is off (docs/architecture.md). */
  federation: BridgeFederation | null;
  /** HTTP tunnels (websocktunnel-compatible); answers 404 on its routes when off. */
  tunnels: TunnelService;
  /** Stops timers and the KV watch, closes KV if the server opened it; after the listener. */
  shutdown(): Promise<void>;
}

/** Builds a server: hub, catalog, stats and the HTTP app. */
export async function createServer(
  config: Config,
  options: ServerOptions = {},
): Promise<WstunServer> {
  const now = options.now ?? Date.now;
  const stats = new Stats(now());
  const auth = new ServerAuth(config, now);
  const catalog = new ServiceCatalog();
  const kv = options.kv ?? await openKv(config.kvPath);
  const redis = config.bridge.mode === BridgeMode.Redis && !options.bridge
    ? await connectRedisPair(config)
    : undefined;
  const directory = options.directory ?? redis?.directory ??
    new KvDirectory(kv, config.bridge.namespace, now);
  const instanceKeys = new InstanceKeys(await directory.serverSecret());
  const hub = new Hub({ config, catalog, stats, now, instanceKeys });
  const channelBridge = new FederatedChannelBridge();
  const pubsub = createPubSub(config.pubsub, { now, fetch: options.fetch, bridge: channelBridge });
  const assets = await loadAssets(BUILTIN_SERVICES.filter((s) => !s.headless).map((s) => s.name));
  const marketplace = new Marketplace({
    kv,
    catalog,
    limits: config.marketplace,
    fetch: options.fetch,
    resolveHost: options.resolveHost,
    now,
    closeInstancesOfService: (name, reason) => hub.closeInstancesOfService(name, reason),
  });
  await marketplace.load();
  const federated = await federate(hub, config, {
    ...options,
    directory,
    bridge: options.bridge ?? redis?.bridge,
  }, now);
  const federation = federated?.federation ?? null;
  if (federation) channelBridge.connect(federation);
  // Installs and uninstalls made by other isolates sharing this KV reach this catalog too.
  const watcher = marketplace.watch();
  const app = createApp({
    config,
    hub,
    catalog,
    stats,
    now,
    assets,
    marketplace,
    pubsub,
    federation,
    auth,
  });
  // Tunnel routes come before the app: clients authenticate with their JWT, viewers are open
  // unless WSTUN_TUNNEL_VIEWER_TOKEN asks for the server token (checked by the tunnel service).
  // With a bridge, a viewer here reaches a tunnel client on another isolate (docs/tunnels.md).
  // Its records live beside the instance directory's (KV, or Redis across machines).
  const tunnelRegistry = federated
    ? createBridgedRegistry({
      port: federated.federation,
      records: federated.directory.tunnels(),
    })
    : undefined;
  const tunnels = createTunnelService(config.tunnel, {
    registry: tunnelRegistry,
    now,
    viewerAuth: auth,
    credentials: auth.credentials,
    log: (line) => console.log(line),
  });
  const wsDeps = { config, hub, stats, pubsub, auth };
  const hubUpgrades = new Map<string, (request: Request) => Response>([
    ["/_ws", (request) => upgradeToHub(request, wsDeps)],
    ["/_udp", (request) => upgradeToUdp(request, wsDeps)],
  ]);
  return {
    fetch: (request) =>
      tunnels.handle(request) ?? answerHubUpgrade(request, auth, hubUpgrades) ??
        app.fetch(request),
    hub,
    stats,
    catalog,
    marketplace,
    config,
    tunnels,
    pubsub,
    federation,
    shutdown: async () => {
      // Tunnels first: their sessions' closes release records in the directory's store, and
      // relayed streams are aborted over the bridge, both of which the federation closes.
      await tunnels.close();
      await tunnelRegistry?.close();
      await federation?.stop();
      hub.shutdown();
      pubsub.shutdown();
      await watcher.stop();
      if (!options.kv) kv.close();
    },
  };
}

/**
 * Joins the other isolates when the bridge is on (an injected bridge turns it on); returns the
 * federation and its directory, whose store also keeps the tunnel records.
 */
async function federate(
  hub: Hub,
  config: Config,
  options: ServerOptions & { directory: Directory },
  now: () => number,
): Promise<{ federation: BridgeFederation; directory: Directory } | null> {
  const { mode, namespace, heartbeatMs, timeoutMs } = config.bridge;
  if (!options.bridge && mode === BridgeMode.Off) return null;
  const directory = options.directory;
  const federation = await BridgeFederation.start(hub, {
    bridge: options.bridge ?? new BroadcastChannelBridge(namespace),
    directory,
    heartbeatMs,
    timeoutMs,
    now,
    isolate: options.isolate,
  });
  return { federation, directory };
}

/** Redis bridge and directory, or the one-line start-up error naming the variable. */
async function connectRedisPair(config: Config) {
  const { redisUrl, namespace } = config.bridge;
  if (!redisUrl) throw new ConfigError("WSTUN_REDIS_URL: must be set when WSTUN_BRIDGE=redis");
  try {
    const bridge = await RedisBridge.connect(redisUrl, namespace);
    try {
      return { bridge, directory: await RedisDirectory.connect(redisUrl, namespace) };
    } catch (err) {
      await bridge.close();
      throw err;
    }
  } catch (err) {
    throw new ConfigError(`WSTUN_REDIS_URL: cannot connect to Redis: ${(err as Error).message}`);
  }
}

/**
 * Opens the KV store, turning a failure into the one-line start-up error that names the variable.
 * Without `WSTUN_KV_PATH` the server writes nothing to disk: it uses the managed KV on Deno Deploy
 * and an in-memory store anywhere else.
 */
async function openKv(configured: string | undefined): Promise<Deno.Kv> {
  const onDeploy = Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
  const path = configured ?? (onDeploy ? undefined : ":memory:");
  try {
    return await Deno.openKv(path);
  } catch (err) {
    const where = path === undefined ? "the managed Deno KV" : path;
    throw new ConfigError(`WSTUN_KV_PATH: cannot open ${where}: ${(err as Error).message}`);
  }
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
  federation: BridgeFederation | null;
  auth: ServerAuth;
}

function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status);
    console.error("unexpected error:", err);
    return c.json(errorBody("internal", "internal server error"), 500);
  });
  app.notFound((c) => c.json(errorBody("not_found", `nothing at ${c.req.path}`), 404));

  const serverToken = deps.auth.guard();
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
