/**
 * `GET /_ws`: the WebSocket upgrade. Checks what can only be checked before the socket opens
 * (origin, connection limit), upgrades, and hands the socket to a {@link Connection}.
 *
 * Upgrades to `/_ws` and `/_udp` are answered by {@link answerHubUpgrade} before the Hono app:
 * measured, going through the router left about 3 KiB of garbage per connection that idle
 * sockets kept alive until the next major GC (docs/performance.md). The fast path makes the same
 * checks in the same order (server token, upgrade, origin, connection limit) with the same JSON
 * errors; anything that is not an upgrade to those paths goes on to the app.
 *
 * @module
 */
import type { Config } from "../lib/config.ts";
import { type ChannelAccess, Connection } from "../lib/connection.ts";
import type { Hub } from "../lib/hub/mod.ts";
import { describeUpgrade, type PubSub } from "../lib/pubsub/mod.ts";
import type { LiveSockets } from "../lib/live_sockets.ts";
import type { Logger } from "../lib/log.ts";
import type { Stats } from "../lib/stats.ts";
import { errorResponse, errorStatus, wireCode, WstunError } from "../lib/errors/mod.ts";
import type { ServerAuth } from "./server_auth.ts";

export interface WsDeps {
  config: Config;
  hub: Hub;
  stats: Stats;
  pubsub: PubSub;
  auth: ServerAuth;
  /** Open sockets, which a drain asks to reconnect elsewhere. */
  sockets: LiveSockets;
  /** The server's clock, handed to every connection (rate windows, drain deadlines). */
  now: () => number;
}

/** Told about every upgrade answered with an HTTP error (`err`) instead of a socket. */
export type RefusedUpgrade = (request: Request, path: string, err: WstunError) => void;

/**
 * Counts a refused upgrade by its error code and logs it (the logger's per-event limit keeps a
 * flood of bad clients from flooding the log). The Origin is logged, cut short; never a token.
 */
export function countRefusedUpgrades(stats: Stats, log: Logger): RefusedUpgrade {
  return (request, path, err) => {
    const status = errorStatus(err), code = wireCode(err.code);
    stats.upgradesRefused.add(code);
    const origin = request.headers.get("origin")?.slice(0, 200) ?? undefined;
    log.warn("upgrade.refused", { path, status, reason: code, origin });
  };
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
  request: Request,
  deps: WsDeps,
  connect: (socket: WebSocket, channels: ChannelAccess) => Connection = (socket, channels) =>
    new Connection(socket, deps.hub, deps.config, deps.stats, channels, { now: deps.now }),
): Response {
  const { config, stats } = deps;
  const headers = request.headers;
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    const path = new URL(request.url).pathname;
    throw new WstunError("upgrade_required", `GET ${path} needs a WebSocket upgrade`);
  }
  if (
    !originAllowed(headers.get("origin") ?? undefined, headers.get("host") ?? undefined, config)
  ) {
    throw new WstunError("forbidden_origin", "this origin may not open sockets here");
  }
  if (config.maxConnections && stats.connections >= config.maxConnections) {
    throw new WstunError("connection_limit", "too many connections; try again later");
  }
  const { pubsub } = deps;
  // The authorizer identifies a /_ws client by its upgrade (read before upgrading:
  // the request is gone after); kept only when there is one to ask.
  const client = pubsub.authorizer.configured
    ? describeUpgrade(request, deps.auth.credentials)
    : undefined;
  const { socket, response } = Deno.upgradeWebSocket(request, {
    idleTimeout: config.idleTimeoutS,
  });
  const connection = connect(socket, { pubsub, client });
  deps.sockets.add(connection);
  socket.addEventListener("close", () => deps.sockets.delete(connection));
  return response;
}

/** The path of a request URL, read without parsing the whole URL. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/**
 * Answers a WebSocket upgrade to one of `routes` (path → upgrade) before the HTTP app, or returns
 * null for every other request.
 */
export function answerHubUpgrade(
  request: Request,
  auth: ServerAuth,
  routes: ReadonlyMap<string, (request: Request) => Response>,
  refused: RefusedUpgrade = () => {},
): Response | null {
  if (request.method !== "GET" || request.headers.get("upgrade") === null) return null;
  const path = pathOf(request.url);
  const upgrade = routes.get(path);
  if (!upgrade) return null;
  try {
    if (auth.required && !auth.credentialOf(request)) {
      throw new WstunError("unauthorized", "this server needs its token (?token= or Bearer)");
    }
    return upgrade(request);
  } catch (err) {
    if (!(err instanceof WstunError)) throw err;
    refused(request, path, err);
    return errorResponse(err);
  }
}
