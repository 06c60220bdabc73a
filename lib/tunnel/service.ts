/**
 * The tunnel service: websocktunnel's server inside WSTun. It recognises three kinds of request
 * and answers everything else with `null` (not ours, let the app route it):
 *
 * - registration: `GET /` carrying `x-websocktunnel-id`, or `GET /_tunnel`, upgraded to a wsmux
 *   session after the checks, in upstream's order (id 400, Authorization 400, upgrade 404,
 *   token 401); the 101 carries `x-websocktunnel-client-url`; a new registration for an id closes
 *   the previous session (close code 4905);
 * - viewers: `<URL prefix path>/<id>/<path…>` (default prefix `<origin>/t`), or any path on
 *   `<id>.<tunnel host>` with a per-tunnel host prefix (lib/tunnel/viewer_urls.ts), proxied to the
 *   client with `/<id>` stripped, HTTP or WebSocket; no client → 504. On a shared origin every
 *   answer is sandboxed (lib/tunnel/shared_origin.ts), and WSTun's own credentials never reach
 *   the client, whichever way the viewer sent them;
 * - with tunnels off (secrets unset) the same routes answer 404 `tunnels_disabled`.
 *
 * State lives in the object returned by {@link createTunnelService}; sessions are kept in an
 * injected {@link TunnelRegistry} so a cross-isolate registry can replace the local one.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { ServerCredentials } from "../server_credentials.ts";
import { TunnelCounters } from "../stats.ts";
import { errorResponse, type TunnelErrorKey, wireCode, WstunError } from "../errors/mod.ts";
import { verifyTunnelToken } from "./jwt.ts";
import {
  createLocalRegistry,
  type TunnelEndpoint,
  type TunnelRegistry,
  type TunnelStream,
} from "./registry.ts";
import type { TunnelConfig } from "./tunnel_config.ts";
import { ownOriginHeaders } from "./own_origin.ts";
import { isServiceWorkerScript, sandboxedHeaders } from "./shared_origin.ts";
import { redirectTo, tokenlessDocumentUrl } from "./token_in_url.ts";
import { type ForwardTarget, proxyHttp, type ProxyLimits, proxyWebSocket } from "./viewer_proxy.ts";
import { type ViewerPath, viewerUrls } from "./viewer_urls.ts";
import { MuxCloseCode, MuxError, muxOverWebSocket, type MuxSession } from "./wsmux.ts";

/** Tunnel ids websocktunnel accepts. */
export const TUNNEL_ID = /^[a-zA-Z0-9_~.%-]+$/;
/** The registration path besides `/`. */
export const REGISTRATION_PATH = "/_tunnel";

export interface TunnelService {
  /** True when both secrets are configured. */
  readonly enabled: boolean;
  /** Answers a tunnel request, or returns null when the request is not one. */
  handle(request: Request): Promise<Response> | null;
  /** Disconnects every tunnel client (close code 4906). */
  close(): Promise<void>;
}

/** The server token check for viewers (routes/server_auth.ts implements it). */
export interface ViewerAuth {
  viewerCredential(request: Request, id: string): "token" | "session" | undefined;
  viewerCookie(request: Request, id: string, path: string): string;
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
   * With `requireViewerToken`: how a viewer of tunnel `id` presents the server token, and the
   * `Set-Cookie` that lets one who presented the token itself back in without it.
   */
  viewerAuth?: ViewerAuth;
  /**
   * WSTun's own credentials, removed from every viewer request before it reaches the tunnel
   * client (all of them, not only the one that authorized the viewer).
   */
  credentials?: ServerCredentials;
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
  const viewerAuth = config.requireViewerToken ? deps.viewerAuth : undefined;
  const credentials = deps.credentials;
  if (config.requireViewerToken && !viewerAuth) {
    throw new Error("requireViewerToken needs a viewerAuth check (a server token)");
  }
  const urls = viewerUrls(config.urlPrefix);
  const limits: ProxyLimits = {
    maxHeadBytes: config.maxHeadBytes,
    maxWsMessageBytes: config.maxWsMessageBytes,
    viewerIdleTimeoutSeconds: config.keepaliveSeconds * 3,
  };

  /** A registration, a viewer request (its id and path), or not ours. */
  function classify(request: Request, url: URL): "register" | ViewerPath | "no_id" | null {
    // On a tunnel's own host every path is the tunnel's, `/_tunnel` included.
    const viewer = urls.match(url);
    if (urls.ownOrigins && viewer) return viewer;
    if (url.pathname === REGISTRATION_PATH) return "register";
    if (url.pathname === "/" && request.headers.has("x-websocktunnel-id")) return "register";
    return viewer;
  }

  /** A refused registration: counted, logged (the id only once it is a valid one), answered. */
  function refuse(
    id: string | undefined,
    code: TunnelErrorKey,
    message: string,
    detail?: string,
  ): Response {
    counters.refusedRegistrations.add(wireCode(code));
    log?.warn("tunnel.registration_refused", { id, reason: wireCode(code), detail });
    return errorResponse(new WstunError(code, message));
  }

  async function register(request: Request, url: URL): Promise<Response> {
    const secrets = config.secrets!;
    const id = request.headers.get("x-websocktunnel-id");
    if (!id) return refuse(undefined, "missing_tunnel_id", "x-websocktunnel-id header is required");
    if (!TUNNEL_ID.test(id)) {
      return refuse(undefined, "invalid_tunnel_id", "tunnel id must match ^[a-zA-Z0-9_~.%-]+$");
    }
    const idProblem = urls.idProblem(id);
    if (idProblem) return refuse(undefined, "invalid_tunnel_id", idProblem);
    const token = /^Bearer ([\w.-]+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (!token) return refuse(id, "missing_token", "Authorization: Bearer <JWT> is required");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return refuse(id, "tunnel_upgrade_required", "registration must be a WebSocket upgrade");
    }
    const verdict = await verifyTunnelToken(token, {
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
    response.headers.set("x-websocktunnel-client-url", urls.clientUrl(url, id));
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

  async function serveViewer(request: Request, url: URL, viewer: ViewerPath): Promise<Response> {
    const credential = viewerAuth?.viewerCredential(request, viewer.id);
    if (viewerAuth && !credential) {
      return errorResponse(
        new WstunError(
          "viewer_token_required",
          "this server requires its token from tunnel viewers (?token=, Bearer or session cookie)",
        ),
      );
    }
    const clean = credentials && tokenlessDocumentUrl(request, url, credentials);
    const response = clean ? redirectTo(request, clean) : await proxyViewer(request, url, viewer);
    if (credential === "token") {
      const cookie = viewerAuth!.viewerCookie(request, viewer.id, urls.cookiePath(viewer.id));
      // A 101's headers are fixed once the socket is upgraded; its viewer keeps presenting.
      if (response.status !== 101) response.headers.append("set-cookie", cookie);
    }
    return response;
  }

  async function proxyViewer(request: Request, url: URL, viewer: ViewerPath): Promise<Response> {
    if (!urls.ownOrigins && isServiceWorkerScript(request)) {
      return errorResponse(
        new WstunError(
          "service_worker_refused",
          "tunnels share this origin, so they may not install service workers",
        ),
      );
    }
    const endpoint = registry.find(viewer.id) ?? await locate(viewer.id);
    if (!endpoint) {
      return errorResponse(
        new WstunError("tunnel_not_connected", "No client is connected with that id"),
      );
    }
    const forward = forwardTarget(request, url, viewer);
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
      return errorResponse(
        new WstunError("bad_gateway", `the tunnel stream failed: ${String(error)}`),
      );
    }
  }

  /** What the client gets: the path and query without WSTun's credentials; what it may answer. */
  function forwardTarget(request: Request, url: URL, viewer: ViewerPath): ForwardTarget {
    const search = new URLSearchParams(url.search);
    credentials?.scrubQuery(search);
    const host = request.headers.get("host") ?? url.host;
    return {
      target: viewer.path + (search.size ? `?${search}` : ""),
      originalPath: url.pathname,
      editHeader: credentials && ((name, value) => credentials.scrubHeader(name, value, host)),
      editResponseHeaders: urls.ownOrigins ? ownOriginHeaders : sandboxedHeaders,
    };
  }

  return {
    enabled: config.secrets !== undefined,
    handle(request) {
      const url = new URL(request.url);
      const kind = classify(request, url);
      if (kind === null) return null;
      if (!config.secrets) {
        return Promise.resolve(errorResponse(
          new WstunError(
            "tunnels_disabled",
            "tunnels are off on this server: set WSTUN_TUNNEL_SECRET_A and WSTUN_TUNNEL_SECRET_B",
          ),
        ));
      }
      if (kind === "no_id") {
        return Promise.resolve(
          errorResponse(
            new WstunError("not_a_tunnel_url", `viewer URLs are ${urls.description}/<id>/…`),
          ),
        );
      }
      return kind === "register" ? register(request, url) : serveViewer(request, url, kind);
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
      return errorResponse(new WstunError("tunnel_busy", error.message));
    case "open_timeout":
      return errorResponse(new WstunError("tunnel_timeout", error.message));
    case "refused":
      return errorResponse(new WstunError("tunnel_refused", error.message));
    case "session_closed":
    case "stream_closed":
      return errorResponse(
        new WstunError("tunnel_not_connected", "No client is connected with that id"),
      );
  }
}
