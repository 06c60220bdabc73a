/**
 * The tunnel service: websocktunnel's server inside WSTun. It recognises three kinds of request
 * and answers everything else with `null` (not ours, let the app route it):
 *
 * - registration: `GET /` carrying `x-websocktunnel-id`, or `GET /_tunnel`, upgraded to a wsmux
 *   session after the checks, in upstream's order (id 400, Authorization 400, upgrade 404,
 *   token 401); the 101 carries `x-websocktunnel-client-url`; a new registration for an id closes
 *   the previous session (close code 4905);
 * - viewers: `<URL prefix path>/<id>/<path…>` (default prefix `<origin>/t`) proxied to the client
 *   with `/<id>` stripped, HTTP or WebSocket; no client → 504;
 * - with tunnels off (secrets unset) the same routes answer 404 `tunnels_disabled`.
 *
 * State lives in the object returned by {@link createTunnelService}; sessions are kept in an
 * injected {@link TunnelRegistry} so a cross-isolate registry can replace the local one.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { TunnelCounters } from "../stats.ts";
import { type TunnelErrorCode, tunnelErrorResponse } from "./errors.ts";
import { verifyTunnelToken } from "./jwt.ts";
import {
  createLocalRegistry,
  type TunnelEndpoint,
  type TunnelRegistry,
  type TunnelStream,
} from "./registry.ts";
import type { TunnelConfig } from "./tunnel_config.ts";
import { type ForwardTarget, proxyHttp, type ProxyLimits, proxyWebSocket } from "./viewer_proxy.ts";
import { MuxCloseCode, MuxError, muxOverWebSocket, type MuxSession } from "./wsmux.ts";

/** Tunnel ids websocktunnel accepts. */
export const TUNNEL_ID = /^[a-zA-Z0-9_~.%-]+$/;
/** The registration path besides `/`. */
export const REGISTRATION_PATH = "/_tunnel";
/** Viewer path prefix when no URL prefix is configured. */
export const DEFAULT_PREFIX_PATH = "/t";

/** How a viewer presented the server token (checked by the app, see `authorizeViewer`). */
export type ViewerCredential = "query" | "bearer" | "cookie";

export interface TunnelService {
  /** True when both secrets are configured. */
  readonly enabled: boolean;
  /** Answers a tunnel request, or returns null when the request is not one. */
  handle(request: Request): Promise<Response> | null;
  /** Disconnects every tunnel client (close code 4906). */
  close(): Promise<void>;
}

export interface TunnelServiceDeps {
  /** Where sessions are found; defaults to this isolate's. */
  registry?: TunnelRegistry;
  /** Milliseconds since the epoch; injected for token-expiry tests. */
  now?: () => number;
  /** Registrations, refusals, evictions and closes; never given a token or secret. */
  log?: Logger;
  /** Sessions, streams, bytes, refusals and evictions (the server's `Stats.tunnels`). */
  counters?: TunnelCounters;
  /**
   * With `requireViewerToken`: which server credential the viewer request carries, if any. The
   * credential is removed before the request reaches the tunnel client, so a tunnel never sees
   * the server's token.
   */
  authorizeViewer?: (request: Request) => ViewerCredential | undefined;
  /** Query parameter and cookie that carry the server credential (WSTun's `token`, session). */
  credentialNames?: { query: string; cookie: string };
}

/**
 * Creates the tunnel service.
 *
 * @example
 * ```ts
 * const tunnels = createTunnelService(tunnelConfigFromEnv(Deno.env.toObject()));
 * app.all("*", (c, next) => tunnels.handle(c.req.raw) ?? next());
 * ```
 */
export function createTunnelService(
  config: TunnelConfig,
  deps: TunnelServiceDeps = {},
): TunnelService {
  const registry = deps.registry ?? createLocalRegistry();
  const locate = locateWith(registry);
  const now = deps.now ?? Date.now;
  const log = deps.log;
  const counters = deps.counters ?? new TunnelCounters();
  const sessions = new Set<MuxSession>();
  const authorizeViewer = deps.authorizeViewer;
  const credentialNames = deps.credentialNames ?? { query: "token", cookie: "wstun_session" };
  if (config.requireViewerToken && !authorizeViewer) {
    throw new Error("requireViewerToken needs an authorizeViewer check (a server token)");
  }
  const prefixUrl = config.urlPrefix ? new URL(config.urlPrefix) : undefined;
  const prefixPath = prefixUrl ? prefixUrl.pathname.replace(/\/+$/, "") : DEFAULT_PREFIX_PATH;
  const limits: ProxyLimits = {
    maxHeadBytes: config.maxHeadBytes,
    maxWsMessageBytes: config.maxWsMessageBytes,
    viewerIdleTimeoutSeconds: config.keepaliveSeconds * 3,
  };

  function classify(request: Request, url: URL): "register" | "viewer" | null {
    if (url.pathname === REGISTRATION_PATH) return "register";
    if (url.pathname === "/" && request.headers.has("x-websocktunnel-id")) return "register";
    if (prefixPath === "") {
      // The prefix is a host of its own: every path on that host is a viewer path.
      return url.host === prefixUrl!.host && url.pathname !== "/" ? "viewer" : null;
    }
    if (url.pathname === prefixPath || url.pathname.startsWith(prefixPath + "/")) return "viewer";
    return null;
  }

  function clientUrl(url: URL, id: string): string {
    return `${config.urlPrefix ?? url.origin + DEFAULT_PREFIX_PATH}/${id}`;
  }

  /** A refused registration: counted, logged (the id only once it is a valid one), answered. */
  function refuse(
    id: string | undefined,
    code: TunnelErrorCode,
    message: string,
    detail?: string,
  ): Response {
    counters.refusedRegistrations.add(code);
    log?.warn("tunnel.registration_refused", { id, reason: code, detail });
    return tunnelErrorResponse(code, message);
  }

  function register(request: Request, url: URL): Response {
    const secrets = config.secrets!;
    const id = request.headers.get("x-websocktunnel-id");
    if (!id) return refuse(undefined, "missing_tunnel_id", "x-websocktunnel-id header is required");
    if (!TUNNEL_ID.test(id)) {
      return refuse(undefined, "invalid_tunnel_id", "tunnel id must match ^[a-zA-Z0-9_~.%-]+$");
    }
    const token = /^Bearer ([\w.-]+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (!token) return refuse(id, "missing_token", "Authorization: Bearer <JWT> is required");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return refuse(id, "upgrade_required", "registration must be a WebSocket upgrade");
    }
    const verdict = verifyTunnelToken(token, {
      id,
      secretA: secrets.a,
      secretB: secrets.b,
      audience: config.audience,
      nowSeconds: now() / 1000,
    });
    if (!verdict.ok) return refuse(id, "invalid_token", verdict.message, verdict.code);
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: config.keepaliveSeconds,
    });
    response.headers.set("x-websocktunnel-client-url", clientUrl(url, id));
    const session = muxOverWebSocket(socket, {
      role: "server",
      windowBytes: config.windowBytes,
      maxFramePayloadBytes: config.maxFramePayloadBytes,
      maxStreams: config.maxStreamsPerSession,
      openTimeoutMs: config.openTimeoutMs,
      onClose: (info) => {
        if (sessions.delete(session)) counters.sessionsOpen--;
        registry.detach(id, endpoint);
        log?.info("tunnel.closed", { id, code: info.code, reason: info.reason || undefined });
      },
    });
    const endpoint: TunnelEndpoint = {
      open: () => session.open(),
      close: (code, reason) => session.close(code, reason),
    };
    socket.addEventListener("open", () => {
      if (session.closeInfo) return;
      sessions.add(session);
      counters.sessionsOpen++;
      counters.sessionsOpened++;
      const displaced = registry.attach(id, endpoint);
      if (displaced) {
        counters.evictions++;
        log?.info("tunnel.evicted", { id, why: "replaced by a newer registration" });
        displaced.close(MuxCloseCode.Replaced, "replaced by a newer registration for this id");
      }
      log?.info("tunnel.registered", { id, replaced: displaced !== undefined });
    });
    return response;
  }

  async function serveViewer(request: Request, url: URL): Promise<Response> {
    const rest = url.pathname.slice(prefixPath.length);
    const slash = rest.indexOf("/", 1);
    const id = slash < 0 ? rest.slice(1) : rest.slice(1, slash);
    if (!id) return tunnelErrorResponse("not_a_tunnel_url", `viewer URLs are ${prefixPath}/<id>/…`);
    const credential = authorizeViewer?.(request);
    if (config.requireViewerToken && !credential) {
      return tunnelErrorResponse(
        "viewer_token_required",
        "this server requires its token from tunnel viewers (?token=, Bearer or session cookie)",
      );
    }
    const endpoint = registry.find(id) ?? await locate(id);
    if (!endpoint) {
      return tunnelErrorResponse("tunnel_not_connected", "No client is connected with that id");
    }
    const search = new URLSearchParams(url.search);
    if (credential === "query") search.delete(credentialNames.query);
    const query = search.size ? `?${search}` : "";
    const forward: ForwardTarget = {
      target: (slash < 0 ? "/" : rest.slice(slash)) + query,
      originalPath: url.pathname,
      editHeader: (name, value) => {
        if (credential === "bearer" && name === "authorization") return null;
        if (credential === "cookie" && name === "cookie") {
          return withoutCookie(value, credentialNames.cookie);
        }
        return value;
      },
    };
    let stream;
    try {
      stream = counted(await endpoint.open(), counters);
    } catch (error) {
      return openFailure(error);
    }
    counters.streamsOpened++;
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    try {
      return upgrade
        ? await proxyWebSocket(request, stream, forward, limits)
        : await proxyHttp(request, stream, forward, limits);
    } catch (error) {
      stream.abort();
      return tunnelErrorResponse("bad_gateway", `the tunnel stream failed: ${String(error)}`);
    }
  }

  return {
    enabled: config.secrets !== undefined,
    handle(request) {
      const url = new URL(request.url);
      const kind = classify(request, url);
      if (kind === null) return null;
      if (!config.secrets) {
        return Promise.resolve(tunnelErrorResponse(
          "tunnels_disabled",
          "tunnels are off on this server: set WSTUN_TUNNEL_SECRET_A and WSTUN_TUNNEL_SECRET_B",
        ));
      }
      return kind === "register"
        ? Promise.resolve(register(request, url))
        : serveViewer(request, url);
    },
    async close() {
      const closing = [...sessions].map((s) => {
        s.close(MuxCloseCode.GoingAway, "server shutting down");
        return s.closed;
      });
      await Promise.all(closing);
    },
  };
}

/** `stream` with the bytes that pass through it counted in `counters`. */
function counted(stream: TunnelStream, counters: TunnelCounters): TunnelStream {
  const readable = stream.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        counters.bytesFromClients += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  return {
    readable,
    write(bytes) {
      counters.bytesToClients += bytes.byteLength;
      return stream.write(bytes);
    },
    closeWrite: () => stream.closeWrite(),
    abort: () => stream.abort(),
  };
}

/** A cross-isolate look-up that fails (the directory is unreachable) reads as "not connected". */
function locateWith(registry: TunnelRegistry) {
  return async (id: string): Promise<TunnelEndpoint | undefined> => {
    if (!registry.locate) return undefined;
    try {
      return await registry.locate(id);
    } catch {
      return undefined;
    }
  };
}

function openFailure(error: unknown): Response {
  if (!(error instanceof MuxError)) throw error;
  switch (error.code) {
    case "too_many_streams":
      return tunnelErrorResponse("tunnel_busy", error.message);
    case "open_timeout":
      return tunnelErrorResponse("tunnel_timeout", error.message);
    case "refused":
      return tunnelErrorResponse("tunnel_refused", error.message);
    case "session_closed":
    case "stream_closed":
      return tunnelErrorResponse("tunnel_not_connected", "No client is connected with that id");
  }
}

/** A Cookie header without the named cookie; null when nothing is left. */
function withoutCookie(header: string, name: string): string | null {
  const kept = header.split(";").map((c) => c.trim()).filter((c) => c && !c.startsWith(`${name}=`));
  return kept.length ? kept.join("; ") : null;
}
