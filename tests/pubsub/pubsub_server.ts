/**
 * Starts a real server with the pub/sub routes on 127.0.0.1, port 0, configured from an env-like
 * record as a user would configure it.
 *
 * @module
 */
import { Hono } from "hono";
import {
  CHANNEL_BINARY_KIND,
  createPubSub,
  NativeChannels,
  parsePubSubConfig,
  type PubSub,
} from "../../lib/pubsub/mod.ts";
import { ChannelRequest, describeIssue } from "../../lib/protocol.ts";
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
  app.get("/_ws", (c) => interimNativeUpgrade(c.req.raw, pubsub));
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

let nextId = 0;

/** Stand-in for the hub's `/_ws` dispatch until the core lands: channel frames only. */
function interimNativeUpgrade(req: Request, pubsub: PubSub): Response {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  const channels = new NativeChannels({
    id: `c${++nextId}`,
    send: (frame) => socket.send(frame),
    close: (code, reason) => socket.close(code, reason),
  }, pubsub);
  socket.onmessage = (e) => {
    if (e.data instanceof ArrayBuffer) {
      const frame = new Uint8Array(e.data);
      if (frame[0] === CHANNEL_BINARY_KIND) channels.binary(frame);
      return;
    }
    const parsed = ChannelRequest.safeParse(JSON.parse(e.data));
    if (!parsed.success) {
      socket.send(JSON.stringify({
        type: "error",
        code: "invalid_message",
        message: describeIssue(parsed.error),
      }));
      return;
    }
    channels.request(parsed.data);
  };
  socket.onclose = () => channels.closed();
  return response;
}
