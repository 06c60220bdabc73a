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
