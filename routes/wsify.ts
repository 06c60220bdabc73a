/**
 * wsify-compatible HTTP endpoints: `GET /ws` (the WebSocket) and `POST /broadcast?key=` (publish
 * from a backend). A wsify client or backend works against these unchanged; docs/pubsub.md lists
 * what WSTun does differently.
 *
 * `GET /ws`: the server token (when set) is checked first (401, JSON); then the authorizer gets
 * `{"command":"connect","args":{"headers","query"}}` with headers and query as wsify sends them
 * (Go's canonical header names, every value an array); a denial or an outage is answered 403
 * before any WebSocket opens. The server token itself is never forwarded to the authorizer.
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
import type { PubSub } from "../lib/pubsub/mod.ts";
import {
  bearerIs,
  checkChannelName,
  checkPublishSize,
  describeUpgrade,
  sameSecret,
  utf8Length,
  WsifySession,
} from "../lib/pubsub/mod.ts";

export interface WsifyRoutesOptions {
  pubsub: PubSub;
  /** The server-wide token (`WSTUN_TOKEN`); when set, `/ws` requires it like `/_ws` does. */
  serverToken?: string;
  /** Largest incoming `/ws` frame (`WSTUN_MAX_FRAME_BYTES`); 0 = no limit. */
  maxFrameBytes?: number;
}

/**
 * The `/ws` and `/broadcast` routes, to be mounted at the root of the server's app:
 *
 * @example
 * ```ts
 * app.route("/", wsifyRoutes({ pubsub, serverToken: config.token }));
 * ```
 */
export function wsifyRoutes(options: WsifyRoutesOptions): Hono {
  const app = new Hono();
  app.get("/ws", (c) => upgradeWsify(c, options));
  app.post("/broadcast", (c) => broadcast(c, options.pubsub));
  return app;
}

function jsonError(
  c: Context,
  status: 400 | 401 | 403 | 413 | 415 | 426,
  error: string,
  message: string,
) {
  return c.json({ error, message }, status);
}

async function upgradeWsify(c: Context, options: WsifyRoutesOptions): Promise<Response> {
  const req = c.req.raw;
  const url = new URL(req.url);
  if (options.serverToken !== undefined && !presentsToken(req, url, options.serverToken)) {
    return jsonError(c, 401, "unauthorized", "missing or wrong server token (?token= or Bearer)");
  }
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return jsonError(c, 426, "upgrade_required", "GET /ws expects a WebSocket upgrade");
  }
  const { pubsub } = options;
  const verdict = await pubsub.authorizer.check({
    command: "connect",
    args: describeUpgrade(req, options.serverToken),
  });
  if (verdict === "unavailable") {
    return jsonError(c, 403, "authorizer_unavailable", "the authorizer is down; retry later");
  }
  if (verdict === "denied") {
    return jsonError(c, 403, "unauthorized", "the authorizer refused the connection");
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  const session = new WsifySession(socket, {
    registry: pubsub.registry,
    authorizer: pubsub.authorizer,
    config: pubsub.config,
    maxFrameBytes: options.maxFrameBytes,
    now: pubsub.now,
  });
  socket.onmessage = (event) => session.receive(event.data);
  socket.onclose = () => session.closed();
  socket.onerror = () => session.closed();
  return response;
}

async function broadcast(c: Context, pubsub: PubSub): Promise<Response> {
  const { config } = pubsub;
  if (config.broadcastKey === undefined) {
    return jsonError(
      c,
      403,
      "broadcast_disabled",
      "POST /broadcast is off until WSTUN_BROADCAST_KEY is set",
    );
  }
  if (!sameSecret(c.req.query("key") ?? "", config.broadcastKey)) {
    return jsonError(c, 403, "forbidden", "wrong or missing ?key=");
  }
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") {
    return jsonError(c, 415, "unsupported_media_type", "the body must be application/json");
  }
  // Room for the envelope around the largest allowed content.
  const bodyLimit = config.maxPublishBytes === 0 ? Infinity : config.maxPublishBytes + 4096;
  const text = await readText(c.req.raw, bodyLimit);
  if (text === undefined) {
    return jsonError(c, 413, "publish_too_large", `body larger than ${bodyLimit} bytes`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return jsonError(c, 400, "bad_json", "the body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return jsonError(c, 400, "invalid_message", "the body must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  if (typeof fields.channel !== "string" || fields.channel.trim() === "") {
    return jsonError(c, 400, "invalid_channel", "channel: must be a non-empty string");
  }
  const channel = fields.channel.trim();
  const invalid = checkChannelName(channel, config.channelNameMax);
  if (invalid) return jsonError(c, 400, invalid.code, invalid.message);
  const json = JSON.stringify(contentOf(fields) ?? null);
  const tooBig = checkPublishSize(utf8Length(json), config.maxPublishBytes);
  if (tooBig) return jsonError(c, 413, tooBig.code, tooBig.message);
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

/** The server token as `?token=` or `Authorization: Bearer <token>`, as on `/_ws`. */
function presentsToken(req: Request, url: URL, token: string): boolean {
  const query = url.searchParams.get("token");
  if (query !== null) return sameSecret(query, token);
  const header = req.headers.get("authorization");
  return header !== null && bearerIs(header, token);
}
