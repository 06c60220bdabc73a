/**
 * wsify-compatible HTTP endpoints: `GET /ws` (the WebSocket) and `POST /broadcast?key=` (publish
 * from a backend). A wsify client or backend works against these unchanged; docs/pubsub.md lists
 * what WSTun does differently.
 *
 * `GET /ws` sits behind the app's server-token guard (401, JSON, when the token is set and missing);
 * then the authorizer gets `{"command":"connect","args":{"headers","query"}}` with headers and
 * query as wsify sends them (Go's canonical header names, every value an array); a denial or an
 * outage is answered 403 before any WebSocket opens. The server's tokens and session cookie are
 * never forwarded to the authorizer. No origin check: wsify clients live on other origins, and the
 * authorizer sees `Origin`.
 *
 * `POST /broadcast`: refused (403 `broadcast_disabled`) until `WSTUN_BROADCAST_KEY` is set; wrong
 * key 403; a content type other than `application/json` (parameters such as `charset` allowed)
 * 415; a body that is not a JSON object with a string `channel` 400; success 201, empty, as wsify.
 * The content is read from `content`, or from `args.content` as wsify's README shows it.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Config } from "../lib/config.ts";
import {
  checkChannelName,
  checkPublishSize,
  describeUpgrade,
  type PubSub,
  utf8Length,
  WsifySession,
} from "../lib/pubsub/mod.ts";
import { secretEquals } from "../lib/secret.ts";
import type { LiveSockets } from "../lib/live_sockets.ts";
import { Disconnects } from "../lib/protocol.ts";
import type { Stats } from "../lib/stats.ts";
import { type ErrorKey, WstunError } from "../lib/errors/mod.ts";
import { errorJson } from "./error_json.ts";
import type { ServerAuth } from "./server_auth.ts";
import type { RefusedUpgrade } from "./ws.ts";

export interface WsifyDeps {
  pubsub: PubSub;
  config: Config;
  stats: Stats;
  auth: ServerAuth;
  /** Open sockets, which a drain closes (1012: reconnect now). */
  sockets: LiveSockets;
  /** Counts and logs upgrades refused with an HTTP error. */
  refusedUpgrade?: RefusedUpgrade;
}

/**
 * `POST /broadcast`, mounted before the server-token guard: its own key guards it, so a wsify
 * backend works with `?key=` alone.
 *
 * @example
 * ```ts
 * app.route("/", broadcastRoute(pubsub)); // before app.use("*", requireServerToken(config))
 * ```
 */
export function broadcastRoute(pubsub: PubSub): Hono {
  const app = new Hono();
  app.post("/broadcast", (c) => broadcast(c, pubsub));
  return app;
}

/**
 * `GET /ws`, mounted behind the server-token guard (so the token, when set, guards it too).
 *
 * @example
 * ```ts
 * app.route("/", wsifyRoute({ pubsub, config, stats })); // after the guard
 * ```
 */
export function wsifyRoute(deps: WsifyDeps): Hono {
  const app = new Hono();
  app.get("/ws", (c) => upgradeWsify(c, deps));
  return app;
}

/** The JSON refusal of `key` (a row of lib/errors/error_table.ts, which gives its status). */
function jsonError(c: Context, key: ErrorKey, message: string): Response {
  return errorJson(c, new WstunError(key, message));
}

async function upgradeWsify(c: Context, deps: WsifyDeps): Promise<Response> {
  const { pubsub, config, stats } = deps;
  const req = c.req.raw;
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return jsonError(c, "upgrade_required", "GET /ws expects a WebSocket upgrade");
  }
  const refuse = (key: ErrorKey, message: string) => {
    const err = new WstunError(key, message);
    deps.refusedUpgrade?.(req, "/ws", err);
    return errorJson(c, err);
  };
  if (config.maxConnections && stats.connections >= config.maxConnections) {
    return refuse("connection_limit", "too many connections; try again later");
  }
  if (pubsub.authorizer.asks("connect")) {
    const verdict = await pubsub.authorizer.check({
      command: "connect",
      args: describeUpgrade(req, deps.auth.credentials),
    });
    if (verdict === "unavailable") {
      return refuse("authorizer_unavailable", "the authorizer is down; retry later");
    }
    if (verdict === "denied") {
      return refuse("authorizer_refused", "the authorizer refused the connection");
    }
  }
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: config.idleTimeoutS });
  socket.binaryType = "arraybuffer";
  const session = new WsifySession(socket, {
    registry: pubsub.registry,
    authorizer: pubsub.authorizer,
    config: pubsub.config,
    maxFrameBytes: config.maxFrameBytes,
    maxBufferedBytes: config.maxBufferedBytes,
    now: pubsub.now,
    counters: stats,
  });
  stats.opened();
  socket.onmessage = (event) => {
    const data = event.data as string | ArrayBuffer;
    stats.channelFramesIn++;
    stats.channelBytesIn += typeof data === "string" ? data.length : data.byteLength;
    session.receive(data);
  };
  // wsify's protocol has no goodbye: a drain closes with 1012 and the client reconnects.
  const drainable = {
    drain: () => socket.close(Disconnects.Restarting.code, Disconnects.Restarting.reason),
  };
  deps.sockets.add(drainable);
  // Deno may fire `close` twice for a peer that drops without a close frame: count it once.
  let closed = false;
  socket.onclose = (event) => {
    if (closed) return;
    closed = true;
    stats.closed(event.code, socket.bufferedAmount);
    deps.sockets.delete(drainable);
    session.closed();
  };
  // An error is always followed by a close, which does the cleanup.
  socket.onerror = () => {};
  return response;
}

async function broadcast(c: Context, pubsub: PubSub): Promise<Response> {
  const { config } = pubsub;
  if (config.broadcastKey === undefined) {
    return jsonError(
      c,
      "broadcast_disabled",
      "POST /broadcast is off until WSTUN_BROADCAST_KEY is set",
    );
  }
  if (!secretEquals(c.req.query("key"), config.broadcastKey)) {
    return jsonError(c, "forbidden", "wrong or missing ?key=");
  }
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") {
    return jsonError(c, "unsupported_media_type", "the body must be application/json");
  }
  // Room for the envelope around the largest allowed content.
  const bodyLimit = config.maxPublishBytes === 0 ? Infinity : config.maxPublishBytes + 4096;
  const text = await readText(c.req.raw, bodyLimit);
  if (text === undefined) {
    return jsonError(c, "publish_too_large", `body larger than ${bodyLimit} bytes`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return jsonError(c, "bad_json", "the body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return jsonError(c, "invalid_message", "the body must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  if (typeof fields.channel !== "string" || fields.channel.trim() === "") {
    return jsonError(c, "invalid_channel", "channel: must be a non-empty string");
  }
  const channel = fields.channel.trim();
  const invalid = checkChannelName(channel, config.channelNameMax);
  if (invalid) return errorJson(c, invalid);
  const json = JSON.stringify(contentOf(fields) ?? null);
  const tooBig = checkPublishSize(utf8Length(json), config.maxPublishBytes);
  if (tooBig) return errorJson(c, tooBig);
  pubsub.registry.publish({ channel, payload: { kind: "json", json } });
  return c.body(null, 201);
}

/** wsify's code reads top-level `content`; its README shows `args.content`. Both work. */
function contentOf(fields: Record<string, unknown>): unknown {
  if ("content" in fields) return fields.content;
  const args = fields.args;
  if (typeof args === "object" && args !== null) return (args as Record<string, unknown>).content;
  return undefined;
}

/** Reads the body as text, or undefined as soon as it exceeds `limit` bytes. */
async function readText(req: Request, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) return undefined;
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}
