/**
 * `GET /_ws`: the WebSocket upgrade. Checks what can only be checked before the socket opens
 * (origin, connection limit), upgrades, and hands the socket to a {@link Connection}. The server
 * token was already checked by the app's guard.
 *
 * @module
 */
import type { Context } from "hono";
import type { Config } from "../lib/config.ts";
import { type ChannelAccess, Connection } from "../lib/connection.ts";
import type { Hub } from "../lib/hub/hub.ts";
import { describeUpgrade, type PubSub } from "../lib/pubsub/mod.ts";
import type { Stats } from "../lib/stats.ts";
import { HttpError } from "./http_error.ts";
import { serverSecrets } from "./wsify.ts";

export interface WsDeps {
  config: Config;
  hub: Hub;
  stats: Stats;
  pubsub: PubSub;
}

/**
 * Whether a browser origin may open sockets here: no Origin (a non-browser client), the
 * server's own host, or one in `WSTUN_ALLOWED_ORIGINS` (`*` allows any). `Origin: null` — what a
 * sandboxed marketplace page sends — counts as no Origin unless `WSTUN_ALLOW_NULL_ORIGIN=false`:
 * the only ambient credential, the session cookie, is SameSite=Strict and never rides along with
 * a null-origin request, so such a page can do only what any non-browser client can
 * (docs/services.md).
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  config: Config,
) {
  if (origin === undefined) return true;
  if (origin === "null") return config.allowNullOrigin;
  if (config.allowedOrigins.includes("*") || config.allowedOrigins.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Handles the upgrade request; `connect` wraps the socket (a plain {@link Connection} unless a
 * route such as `/_udp` needs other delivery rules).
 */
export function upgradeToHub(
  c: Context,
  deps: WsDeps,
  connect: (socket: WebSocket, channels: ChannelAccess) => void = (socket, channels) =>
    new Connection(socket, deps.hub, deps.config, deps.stats, channels),
): Response {
  const { config, stats } = deps;
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new HttpError(426, "upgrade_required", `GET ${c.req.path} needs a WebSocket upgrade`);
  }
  if (!originAllowed(c.req.header("origin"), c.req.header("host"), config)) {
    throw new HttpError(403, "forbidden_origin", "this origin may not open sockets here");
  }
  if (config.maxConnections && stats.connections >= config.maxConnections) {
    throw new HttpError(503, "limit_reached", "too many connections; try again later");
  }
  const { pubsub } = deps;
  // The authorizer identifies a /_ws client by its upgrade (read before upgrading:
  // the request is gone after); kept only when there is one to ask.
  const client = pubsub.authorizer.configured
    ? describeUpgrade(c.req.raw, serverSecrets(config))
    : undefined;
  const { socket, response } = Deno.upgradeWebSocket(c.req.raw, {
    idleTimeout: config.idleTimeoutS,
  });
  connect(socket, { pubsub, client });
  return response;
}
