/**
 * Starts a real server with the pub/sub routes on 127.0.0.1, port 0, configured from an env-like
 * record as a user would configure it.
 *
 * @module
 */
import { Hono } from "hono";
import { createPubSub, parsePubSubConfig, type PubSub } from "../../lib/pubsub/mod.ts";
import { wsifyRoutes } from "../../routes/wsify.ts";

export interface RunningServer {
  pubsub: PubSub;
  /** `http://127.0.0.1:port` */
  http: string;
  /** `ws://127.0.0.1:port` */
  ws: string;
  close(): Promise<void>;
}

export function startPubSubServer(
  env: Record<string, string> = {},
  options: { serverToken?: string } = {},
): RunningServer {
  const pubsub = createPubSub(parsePubSubConfig(env));
  const app = new Hono();
  app.route("/", wsifyRoutes({ pubsub, serverToken: options.serverToken }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const port = server.addr.port;
  return {
    pubsub,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    close: async () => {
      pubsub.shutdown();
      await server.shutdown();
    },
  };
}
