/**
 * Builds everything a server is made of except HTTP: the KV store, Redis, the directory, the hub,
 * the cluster (when there is a bridge), pub/sub, the marketplace and the tunnel registry, wired to
 * each other once, in one place. routes/app.ts puts the HTTP routes on top.
 *
 * Every failure to reach a store at start-up is a {@link ConfigError} naming the variable.
 *
 * @module
 */
import { retryWhenBusy } from "./kv_busy_retry.ts";
import type { Bridge } from "./bridge/bridge.ts";
import { BroadcastChannelBridge } from "./bridge/broadcast_channel_bridge.ts";
import { BridgeMode } from "./bridge/config.ts";
import type { Directory } from "./bridge/directory.ts";
import { KvDirectory } from "./bridge/kv_directory.ts";
import { LoneBridge } from "./bridge/lone_bridge.ts";
import { RedisBridge } from "./bridge/redis_bridge.ts";
import { RedisDirectory } from "./bridge/redis_directory.ts";
import { withoutCredentials } from "./bridge/redis_connection.ts";
import { ulid } from "ulid";
import { ChannelRelay } from "./cluster/channel_relay.ts";
import { ClusterNode } from "./cluster/node.ts";
import { type Config, ConfigError } from "./config.ts";
import { Hub } from "./hub/hub.ts";
import { InstanceSecrets } from "./hub/instance_secrets.ts";
import { Marketplace, type ResolveHost } from "./marketplace/mod.ts";
import { createPubSub, type PubSub } from "./pubsub/mod.ts";
import { ServiceCatalog } from "./service_catalog.ts";
import { Lifecycle } from "./lifecycle.ts";
import { LiveSockets } from "./live_sockets.ts";
import { Stats } from "./stats.ts";
import type { Logger } from "./log.ts";
import {
  type ObservabilityOptions,
  reportMarketplace,
  serverLogger,
} from "./observability/server_observability.ts";
import { createBridgedRegistry, type CrossIsolateRegistry } from "./tunnel/bridged_registry.ts";

export interface ServerOptions extends ObservabilityOptions {
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
  /** This isolate's id on the bridge, in metrics and logs; a fresh ulid by default. */
  isolate?: string;
}

/** A server's parts, built and wired. */
export interface ServerParts {
  config: Config;
  now: () => number;
  stats: Stats;
  catalog: ServiceCatalog;
  hub: Hub;
  /** This isolate's part in the cluster; null when the bridge is off (docs/architecture.md). */
  cluster: ClusterNode | null;
  pubsub: PubSub;
  marketplace: Marketplace;
  /** Tunnel clients on every isolate (undefined: this isolate's only). */
  tunnelRegistry?: CrossIsolateRegistry;
  /** Serving or draining. */
  lifecycle: Lifecycle;
  /** Client sockets open on this isolate. */
  sockets: LiveSockets;
  /**
   * Drains (docs/protocol.md, "Draining and moving rooms"): refuses new sockets, hands the
   * instances over in the directory, tells every socket to reconnect now, and waits for them to
   * close until `deadline` (ms since the epoch). Call {@link close} after.
   */
  drain(deadline: number): Promise<void>;
  /** Stops what the parts started, in order; closes KV if it was opened here. */
  close(): Promise<void>;
}

/** Builds and wires a server's parts. */
export async function buildServerParts(
  config: Config,
  options: ServerOptions = {},
): Promise<ServerParts> {
  const now = options.now ?? Date.now;
  const isolate = options.isolate ?? ulid();
  const log = options.log ?? serverLogger(config, isolate);
  const stats = new Stats(now());
  const catalog = new ServiceCatalog();
  const kv = options.kv ?? await openKv(config.kvPath, config.deploymentId !== undefined);
  const redis = config.bridge.mode === BridgeMode.Redis && !options.bridge
    ? await connectRedisPair(config, log)
    : undefined;
  const directory = options.directory ?? redis?.directory ??
    new KvDirectory(kv, config.bridge.namespace, now);
  const instanceSecrets = new InstanceSecrets(await directory.serverSecret());
  const hub = new Hub({ config, catalog, stats, now, instanceSecrets, log });
  const channels = new ChannelRelay();
  const pubsub = createPubSub(config.pubsub, { now, fetch: options.fetch, bridge: channels });
  const marketplace = new Marketplace({
    kv,
    catalog,
    limits: config.marketplace,
    fetch: options.fetch,
    resolveHost: options.resolveHost,
    now,
    closeInstancesOfService: (name, reason) => hub.closeInstancesOfService(name, reason),
    onOperation: reportMarketplace(stats, log),
  });
  await marketplace.load();
  const bridge = options.bridge ?? redis?.bridge ??
    (config.bridge.mode === BridgeMode.Off
      ? undefined
      : new BroadcastChannelBridge(config.bridge.namespace));
  // Alone but on a store that outlives the process: keep the records, so rooms survive a restart.
  const alone = !bridge && keepsRecords(config, options);
  const cluster = bridge || alone
    ? await ClusterNode.start(hub, {
      bridge: bridge ?? new LoneBridge(),
      alone,
      directory,
      heartbeatMs: config.bridge.heartbeatMs,
      timeoutMs: config.bridge.timeoutMs,
      graceMs: config.hostGraceMs,
      secrets: instanceSecrets,
      now,
      isolate,
      refused: (code) => hub.countRefusal(code),
      counters: stats.bridge,
      log,
    })
    : null;
  if (cluster) channels.connect(cluster);
  // Tunnel records live beside the instance directory's (KV, or Redis across machines).
  const tunnelRegistry = cluster
    ? createBridgedRegistry({
      port: cluster,
      records: directory.tunnels(),
      counters: stats.tunnels,
      log,
    })
    : undefined;
  // Installs and uninstalls made by other isolates sharing this KV reach this catalog too.
  const watcher = marketplace.watch();
  const lifecycle = new Lifecycle();
  const sockets = new LiveSockets();
  return {
    config,
    now,
    stats,
    catalog,
    hub,
    cluster,
    pubsub,
    marketplace,
    tunnelRegistry,
    lifecycle,
    sockets,
    drain: async (deadline) => {
      if (lifecycle.draining) return;
      lifecycle.drainingSince = now();
      hub.drain();
      await cluster?.drain(deadline);
      await sockets.drainAll(deadline);
    },
    close: async () => {
      // The tunnel registry first: its closes release records in the directory's store and
      // abort relayed streams over the bridge, both of which the cluster closes.
      await tunnelRegistry?.close();
      await cluster?.stop();
      hub.shutdown();
      pubsub.shutdown();
      await watcher.stop();
      if (!options.kv) kv.close();
    },
  };
}

/**
 * Whether the store outlives this process, so a server without a bridge should still keep its
 * instance records in it: a `WSTUN_KV_PATH` file, Deploy's managed KV, or an injected directory.
 */
function keepsRecords(config: Config, options: ServerOptions): boolean {
  if (options.directory) return true;
  if (options.kv) return false;
  return (config.kvPath !== undefined && config.kvPath !== ":memory:") ||
    (config.kvPath === undefined && config.deploymentId !== undefined);
}

/** Redis bridge and directory, or the one-line start-up error naming the variable. */
async function connectRedisPair(config: Config, log: Logger) {
  const { redisUrl, namespace, outboxBytes, timeoutMs } = config.bridge;
  if (!redisUrl) throw new ConfigError("WSTUN_REDIS_URL: must be set when WSTUN_BRIDGE=redis");
  try {
    const bridge = await RedisBridge.connect(redisUrl, namespace, {
      maxBytes: outboxBytes,
      maxAgeMs: timeoutMs,
    }, log);
    try {
      return { bridge, directory: await RedisDirectory.connect(redisUrl, namespace, log) };
    } catch (err) {
      await bridge.close();
      throw err;
    }
  } catch (err) {
    const why = withoutCredentials((err as Error).message, redisUrl);
    throw new ConfigError(`WSTUN_REDIS_URL: cannot connect to Redis: ${why}`);
  }
}

/**
 * Opens the KV store, turning a failure into the one-line start-up error that names the variable.
 * Without `WSTUN_KV_PATH` the server writes nothing to disk: it uses the managed KV on Deno Deploy
 * and an in-memory store anywhere else.
 */
async function openKv(configured: string | undefined, onDeploy: boolean): Promise<Deno.Kv> {
  const path = configured ?? (onDeploy ? undefined : ":memory:");
  try {
    const kv = await Deno.openKv(path);
    // A file may be shared by this server's workers: retry what finds it locked.
    return path === undefined || path === ":memory:" ? kv : retryWhenBusy(kv);
  } catch (err) {
    const where = path === undefined ? "the managed Deno KV" : path;
    throw new ConfigError(`WSTUN_KV_PATH: cannot open ${where}: ${(err as Error).message}`);
  }
}
