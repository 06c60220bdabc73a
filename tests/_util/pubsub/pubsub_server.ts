/**
 * Starts the real WSTun server (tests/_util/server.ts) with pub/sub configured from an env-like
 * record, as a user would configure it, and names the URLs pub/sub tests use.
 *
 * @module
 */
import type { Config } from "../../../lib/config.ts";
import { parsePubSubConfig, type PubSub } from "../../../lib/pubsub/mod.ts";
import { startServer, type TestServer } from "../server.ts";

export interface RunningServer {
  server: TestServer;
  pubsub: PubSub;
  /** `http://127.0.0.1:port` */
  http: string;
  /** `ws://127.0.0.1:port` */
  ws: string;
  close(): Promise<void>;
}

export async function startPubSubServer(
  env: Record<string, string> = {},
  overrides: Partial<Config> = {},
): Promise<RunningServer> {
  const server = await startServer({ pubsub: parsePubSubConfig(env), ...overrides });
  return {
    server,
    pubsub: server.pubsub,
    http: server.base,
    ws: server.base.replace(/^http/, "ws"),
    close: () => server.close(),
  };
}
