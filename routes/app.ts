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
import { type Config, ConfigError } from "../lib/config.ts";
import { Hub } from "../lib/hub/hub.ts";
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
import { defaultLogFormat, Logger } from "../lib/log.ts";
import {
  type BridgeHealthSource,
  connectionLimitCheck,
  exportToOpenTelemetry,
  type IsolateSnapshot,
  phaseCheck,
  type ReadinessCheck,
  type ServerPhase,
  takeSnapshot,
} from "../lib/observability/mod.ts";
import { describeConfig } from "../lib/observability/config_summary.ts";
import { type MetricsRouteDeps, metricsRoutes } from "./metrics.ts";
import { apiRoutes } from "./api.ts";
import { type AssetTable, loadAssets } from "./assets.ts";
import { errorBody, HttpError } from "./http_error.ts";
import { pageRoutes } from "./pages.ts";
import { createAdminRoutes } from "./admin.ts";
import { createMarketplaceFiles, createMarketplaceRoutes } from "./marketplace.ts";
import { requireServerToken, serverCredential } from "./server_auth.ts";
import { upgradeToUdp } from "./udp.ts";
import { createBridgedRegistry } from "../lib/tunnel/bridged_registry.ts";
import { createTunnelService, type TunnelService } from "../lib/tunnel/service.ts";
import { answerHubUpgrade, countRefusedUpgrades, type RefusedUpgrade, upgradeToHub } from "./ws.ts";
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
  /** This isolate's id (on the bridge, in metrics and logs); a fresh ulid by default. */
  isolate?: string;
  /** The logger; default one from `WSTUN_LOG_LEVEL` and `WSTUN_LOG_FORMAT` on the console. */
  log?: Logger;
  /** Readiness checks besides the server's own (phase, connection limit): the cluster's. */
  readiness?: ReadinessCheck[];
  /** Bridge health per isolate for the admin page (docs/operations.md); none: "bridge off". */
  bridgeHealth?: BridgeHealthSource;
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

/** Builds a server: hub, catalog, stats and the HTTP app. */
export async function createServer(
  config: Config,
  options: ServerOptions = {},
): Promise<WstunServer> {
  const now = options.now ?? Date.now;
  const isolate = options.isolate ?? ulid();
  const log = (options.log ??
    new Logger({ level: config.logLevel, format: config.logFormat ?? defaultLogFormat(), now }))
    .with({ isolate });
  let phase: ServerPhase = "starting";
  const stats = new Stats(now());
  const catalog = new ServiceCatalog();
  const hub = new Hub({ config, catalog, stats, now });
  const channelBridge = new FederatedChannelBridge();
  const pubsub = createPubSub(config.pubsub, { now, fetch: options.fetch, bridge: channelBridge });
  const assets = await loadAssets(BUILTIN_SERVICES.filter((s) => !s.headless).map((s) => s.name));
  const kv = options.kv ?? await openKv(config.kvPath);
  const marketplace = new Marketplace({
    kv,
    catalog,
    limits: config.marketplace,
    fetch: options.fetch,
    resolveHost: options.resolveHost,
    now,
    closeInstancesOfService: (name, reason) => hub.closeInstancesOfService(name, reason),
    onOperation: (op) => {
      stats.marketplace.add(`${op.operation} ${op.ok ? "ok" : "failed"}`);
      const fields = { name: op.name, version: op.version, code: op.code };
      if (op.ok) log.info(`marketplace.${op.operation}`, fields);
      else log.warn(`marketplace.${op.operation}_failed`, fields);
    },
  });
  await marketplace.load();
  const federated = await federate(hub, config, kv, { ...options, isolate }, now);
  const federation = federated?.federation ?? null;
  if (federation) channelBridge.connect(federation);
  // Installs and uninstalls made by other isolates sharing this KV reach this catalog too.
  const watcher = marketplace.watch();
  const sources = {
    stats,
    instances: hub.instances,
    pubsub,
    channelMessagesLost: () => federation?.channelMessagesLost ?? 0,
  };
  const snapshot = () => takeSnapshot(isolate, sources, now);
  const otel = exportToOpenTelemetry(isolate, sources);
  const readiness = [
    phaseCheck(() => phase),
    connectionLimitCheck(() => stats.connections, config.maxConnections),
    ...(options.readiness ?? []),
  ];
  const refusedUpgrade = countRefusedUpgrades(stats, log);
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
    log,
    refusedUpgrade,
    metrics: {
      adminToken: config.adminToken,
      metricsToken: config.metricsToken,
      snapshots: () => [snapshot()],
      bridgeHealth: options.bridgeHealth ?? null,
      isolate,
      readiness,
    },
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
    authorizeViewer: (request) => serverCredential(request, config),
    log,
    counters: stats.tunnels,
  });
  const wsDeps = { config, hub, stats, pubsub };
  const hubUpgrades = new Map<string, (request: Request) => Response>([
    ["/_ws", (request) => upgradeToHub(request, wsDeps)],
    ["/_udp", (request) => upgradeToUdp(request, wsDeps)],
  ]);
  const server: WstunServer = {
    fetch: (request) =>
      tunnels.handle(request) ??
        answerHubUpgrade(request, config, hubUpgrades, refusedUpgrade) ??
        app.fetch(request),
    hub,
    stats,
    catalog,
    marketplace,
    config,
    tunnels,
    pubsub,
    federation,
    isolate,
    log,
    snapshot,
    readiness,
    shutdown: async () => {
      // Once: a second call (a test closing a server it already shut down) does nothing.
      if (phase === "stopping") return;
      phase = "stopping";
      // Tunnels first: their sessions' closes release records in the directory's store, and
      // relayed streams are aborted over the bridge, both of which the federation closes.
      await tunnels.close();
      await tunnelRegistry?.close();
      await federation?.stop();
      hub.shutdown();
      pubsub.shutdown();
      await watcher.stop();
      if (!options.kv) kv.close();
      otel.stop();
      log.info("server.stopped");
      log.flush();
    },
  };
  phase = "serving";
  log.info("server.config", describeConfig(config));
  return server;
}

/**
 * Joins the other isolates when the bridge is on (an injected bridge turns it on); returns the
 * federation and its directory, whose store also keeps the tunnel records.
 */
async function federate(
  hub: Hub,
  config: Config,
  kv: Deno.Kv,
  options: ServerOptions,
  now: () => number,
): Promise<{ federation: BridgeFederation; directory: Directory } | null> {
  const { mode, namespace, heartbeatMs, timeoutMs } = config.bridge;
  if (!options.bridge && mode === BridgeMode.Off) return null;
  const redis = mode === BridgeMode.Redis && !options.bridge
    ? await connectRedisPair(config)
    : undefined;
  const directory = options.directory ?? redis?.directory ?? new KvDirectory(kv, namespace, now);
  const federation = await BridgeFederation.start(hub, {
    bridge: options.bridge ?? redis?.bridge ?? new BroadcastChannelBridge(namespace),
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
  log: Logger;
  refusedUpgrade: RefusedUpgrade;
  metrics: MetricsRouteDeps;
}

function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status);
    deps.log.error("http.unexpected_error", { path: c.req.path, error: String(err) });
    return c.json(errorBody("internal", "internal server error"), 500);
  });
  app.notFound((c) => c.json(errorBody("not_found", `nothing at ${c.req.path}`), 404));

  const serverToken = requireServerToken(deps.config);
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
