/**
 * Several WSTun servers in one test process, each on its own port, joined by a real
 * BroadcastChannel bridge (a fresh namespace per cluster) and one shared Deno KV directory: the
 * same thing as isolates of one deployment, minus the process boundary. And
 * {@link startServerOnRedis}: one server whose bridge and directory are a Redis, with its own
 * in-memory KV, as a server on a machine of its own.
 *
 * @module
 */
import { ulid } from "ulid";
import type { Bridge } from "../../../lib/bridge/bridge.ts";
import { BroadcastChannelBridge } from "../../../lib/bridge/broadcast_channel_bridge.ts";
import type { BridgeConfig } from "../../../lib/bridge/config.ts";
import { type Config, defaultConfig } from "../../../lib/config.ts";
import { createServer, type ServerOptions, type WstunServer } from "../../../routes/app.ts";
import { startServer, type TestServer } from "../server.ts";
import { RedisServer } from "../redis_server.ts";

export interface ClusterServer extends WstunServer {
  wsUrl: string;
  base: string;
  close(): Promise<void>;
}

export interface Cluster {
  servers: ClusterServer[];
  kv: Deno.Kv;
  namespace: string;
  /**
   * Starts one more server in this cluster (with `isolate` as its id on the bridge, and `options`
   * such as a logger of the test's own).
   */
  add(
    overrides?: Partial<Config>,
    bridge?: Bridge,
    isolate?: string,
    options?: ServerOptions,
  ): Promise<ClusterServer>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Heartbeats in tests: short, so a dead isolate is noticed in well under a second. */
export const TEST_HEARTBEAT_MS = 100;

/** Starts `size` servers; `kvPath` puts the directory in a file a worker can open too. */
export async function startCluster(
  size: number,
  overrides: Partial<Config> = {},
  kvPath = ":memory:",
): Promise<Cluster> {
  const kv = await Deno.openKv(kvPath);
  const namespace = `test-${ulid()}`;
  const servers: ClusterServer[] = [];
  const add = async (
    more: Partial<Config> = {},
    bridge?: Bridge,
    isolate?: string,
    options: ServerOptions = {},
  ) => {
    const base = defaultConfig({ hostname: "127.0.0.1", port: 0, ...overrides, ...more });
    const config = {
      ...base,
      bridge: {
        ...base.bridge,
        mode: "broadcast_channel" as const,
        namespace,
        heartbeatMs: TEST_HEARTBEAT_MS,
        timeoutMs: 1000,
      },
    };
    const server = await createServer(config, {
      ...options,
      kv,
      bridge: bridge ?? new BroadcastChannelBridge(namespace),
      isolate,
    });
    const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
    let closed = false;
    const s: ClusterServer = {
      ...server,
      base: `http://127.0.0.1:${http.addr.port}`,
      wsUrl: `ws://127.0.0.1:${http.addr.port}/_ws`,
      close: async () => {
        if (closed) return;
        closed = true;
        await http.shutdown();
        await server.shutdown();
      },
    };
    servers.push(s);
    return s;
  };
  for (let i = 0; i < size; i++) await add();
  const close = async () => {
    for (const s of servers) await s.close();
    kv.close();
  };
  return { servers, kv, namespace, add, close, [Symbol.asyncDispose]: close };
}

/**
 * A server bridged by the Redis at `redisUrl` under `namespace` and sharing nothing else with the
 * others (each opens its own `:memory:` KV), as `deno task start` with `WSTUN_REDIS_URL` on a
 * machine of its own.
 */
export function startServerOnRedis(
  redisUrl: string,
  namespace: string,
  overrides: Partial<Config> = {},
  bridge: Partial<BridgeConfig> = {},
  options: ServerOptions = {},
): Promise<TestServer> {
  const base = defaultConfig();
  return startServer(
    {
      ...overrides,
      bridge: {
        ...base.bridge,
        mode: "redis",
        redisUrl,
        namespace,
        heartbeatMs: TEST_HEARTBEAT_MS,
        timeoutMs: 1000,
        ...bridge,
      },
    },
    0,
    options,
  );
}

/** What a test needs of one server of {@link serversOn}. */
export interface BridgedServer {
  base: string;
  wsUrl: string;
  drain(deadline: number): Promise<void>;
}

/**
 * `count` servers of one deployment, in this process: on a BroadcastChannel and one KV (as
 * workers or Deploy isolates), or each on one Redis with a KV of its own (as machines).
 */
export async function serversOn(
  bridge: "broadcast_channel" | "redis",
  count: number,
  overrides: Partial<Config> = {},
): Promise<{ servers: BridgedServer[]; close(): Promise<void> }> {
  if (bridge === "broadcast_channel") {
    const cluster = await startCluster(count, overrides);
    return { servers: cluster.servers, close: () => cluster.close() };
  }
  const redis = await RedisServer.start();
  const servers: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    servers.push(await startServerOnRedis(redis.url, redis.namespace, overrides));
  }
  return {
    servers,
    close: async () => {
      for (const s of servers) await s.close();
      await redis[Symbol.asyncDispose]();
    },
  };
}
