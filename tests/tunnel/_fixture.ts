/**
 * Test fixtures for the tunnel: a WSTun-like server running only the tunnel service, a loopback
 * target HTTP server, tokens, and a started TypeScript tunnel client. Everything listens on
 * 127.0.0.1 port 0 and is closed by `close()`.
 *
 * @module
 */
import { fixedToken, startTunnelClient, type TunnelClient } from "../../lib/tunnel/client.ts";
import { signTunnelToken } from "../../lib/tunnel/jwt.ts";
import {
  createTunnelService,
  type TunnelService,
  type TunnelServiceDeps,
} from "../../lib/tunnel/service.ts";
import { TUNNEL_DEFAULTS, type TunnelConfig } from "../../lib/tunnel/tunnel_config.ts";

export const SECRET_A = "secret-a-for-tests";
export const SECRET_B = "secret-b-for-tests";

export interface TunnelServer {
  origin: string;
  port: number;
  service: TunnelService;
  close(): Promise<void>;
}

/** The tunnel service behind Deno.serve; non-tunnel requests get 200 "app". */
export function startTunnelServer(
  overrides: Partial<TunnelConfig> = {},
  deps: TunnelServiceDeps = {},
): TunnelServer {
  const service = createTunnelService({
    ...TUNNEL_DEFAULTS,
    secrets: { a: SECRET_A, b: SECRET_B },
    ...overrides,
  }, deps);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => service.handle(request) ?? new Response("app"),
  );
  const port = server.addr.port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    service,
    async close() {
      await service.close();
      await server.shutdown();
    },
  };
}

export function token(id: string, extra: { secret?: string; ttl?: number; aud?: string } = {}) {
  return signTunnelToken({
    id,
    secret: extra.secret ?? SECRET_A,
    ttlSeconds: extra.ttl ?? 3600,
    nowSeconds: Date.now() / 1000,
    audience: extra.aud,
  });
}

export interface Target {
  port: number;
  close(): Promise<void>;
}

/**
 * A loopback target: `/hello`, `/echo` (streams the request body back), `/chunked?n=&size=`
 * (n chunks), `/bytes?n=` (n bytes, Content-Length), `/request` (method, url, headers as JSON),
 * `/ws` (WebSocket echo choosing the first offered subprotocol).
 */
export function startTarget(): Target {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/hello":
        return new Response("hello from the target");
      case "/echo":
        return new Response(request.body, { headers: { "x-echo": "1" } });
      case "/chunked": {
        const n = Number(url.searchParams.get("n") ?? 5);
        const size = Number(url.searchParams.get("size") ?? 10);
        let i = 0;
        return new Response(
          new ReadableStream({
            pull(controller) {
              if (i++ >= n) return controller.close();
              controller.enqueue(new Uint8Array(size).fill(65 + (i % 26)));
            },
          }),
        );
      }
      case "/bytes": {
        const n = Number(url.searchParams.get("n") ?? 0);
        return new Response(new Uint8Array(n).fill(120));
      }
      case "/request":
        return Response.json({
          method: request.method,
          url: url.pathname + url.search,
          headers: Object.fromEntries(request.headers),
        });
      case "/ws": {
        const offered = (request.headers.get("sec-websocket-protocol") ?? "")
          .split(",").map((s) => s.trim()).filter(Boolean);
        const { socket, response } = Deno.upgradeWebSocket(request, { protocol: offered[0] });
        socket.onmessage = (event) => socket.send(event.data);
        return response;
      }
      default:
        return new Response("not found", { status: 404 });
    }
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** Starts the TS client and waits for its public URL; `registered(n)` waits for the n-th. */
export async function startClient(
  server: TunnelServer,
  id: string,
  targetPort: number,
  extra: { log?: string[] } = {},
): Promise<{ client: TunnelClient; url: string; registered(n: number): Promise<string> }> {
  const urls: string[] = [];
  const waiters: (() => void)[] = [];
  const client = startTunnelClient({
    server: server.origin,
    id,
    targetPort,
    tokens: fixedToken(token(id)),
    onUrl: (url) => {
      urls.push(url);
      for (const wake of waiters.splice(0)) wake();
    },
    log: (line) => extra.log?.push(line),
  });
  const stopped = client.done.then((exit) => {
    throw new Error(`client stopped: ${exit.message}`);
  });
  async function registered(n: number): Promise<string> {
    while (urls.length < n) {
      await Promise.race([new Promise<void>((r) => waiters.push(r)), stopped]);
    }
    return urls[n - 1];
  }
  return { client, url: await registered(1), registered };
}

/**
 * A raw registration socket. Deno's WebSocket accepts `{ headers }` as its second argument; the
 * DOM typings in deno.json do not know it, hence the cast.
 */
export function registrationSocket(
  origin: string,
  headers: Record<string, string>,
  path = "/",
): WebSocket {
  const options = { headers } as unknown as string[];
  return new WebSocket(origin.replace(/^http/, "ws") + path, options);
}
