/**
 * Test fixtures for the tunnel: a WSTun-like server running only the tunnel service, a loopback
 * target HTTP server, tokens, and a started TypeScript tunnel client. Everything listens on
 * 127.0.0.1 port 0 and is closed by `close()`.
 *
 * @module
 */
import { fixedToken, startTunnelClient, type TunnelClient } from "../../../lib/tunnel/client.ts";
import { ByteReader } from "../../../lib/ws/byte_reader.ts";
import { signTunnelToken } from "../../../lib/tunnel/jwt.ts";
import {
  createTunnelService,
  type TunnelService,
  type TunnelServiceDeps,
} from "../../../lib/tunnel/service.ts";
import { TUNNEL_DEFAULTS, type TunnelConfig } from "../../../lib/tunnel/tunnel_config.ts";

/** 32 bytes or more each: the server refuses shorter HS256 secrets (lib/tunnel/tunnel_config.ts). */
export const SECRET_A = "secret-a-for-tests-0123456789abcdef";
export const SECRET_B = "secret-b-for-tests-0123456789abcdef";

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

/** What the target's `/origin-wide` answers with besides its body. */
export const ORIGIN_WIDE_RESPONSE_HEADERS: [string, string][] = [
  ["set-cookie", "wstun_session=planted; Path=/"],
  ["set-cookie", "app=1; Path=/"],
  ["service-worker-allowed", "/"],
  ["clear-site-data", '"cookies"'],
  ["alt-svc", 'h2="evil.example:443"'],
  ["strict-transport-security", "max-age=31536000; includeSubDomains"],
  ["nel", '{"report_to":"x","max_age":86400}'],
  ["report-to", '{"group":"x","max_age":86400,"endpoints":[{"url":"https://evil.example/r"}]}'],
  ["reporting-endpoints", 'x="https://evil.example/r"'],
  ["content-security-policy", "img-src 'self'"],
  ["x-app", "kept"],
];

/** What a tunnel on a host of its own sends to reach its sibling hosts (and WSTun's). */
export const DOMAIN_WIDE_RESPONSE_HEADERS: [string, string][] = [
  ["set-cookie", "wstun_session=planted; Path=/_api; Domain=tunnels.test"],
  ["set-cookie", "__Host-wstun_session=planted; Path=/; Secure"],
  ["set-cookie", "shared=1; path=/; DOMAIN = .tunnels.test"],
  ["set-cookie", "app=1; Path=/; HttpOnly"],
  ["clear-site-data", '"cache", "cookies", "*", "storage"'],
];

/**
 * A GET over a raw TCP connection with the `Host` header of our choosing (fetch sends the URL's),
 * to reach a per-tunnel host like `box.tunnels.test` on a loopback port.
 */
export async function getWithHost(
  port: number,
  host: string,
  path: string,
): Promise<{ status: number; headers: Headers; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
  );
  const raw = new TextDecoder().decode(
    await new Response(conn.readable).arrayBuffer(),
  );
  const [head, ...rest] = raw.split("\r\n\r\n");
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const body = rest.join("\r\n\r\n");
  const chunked = headers.get("transfer-encoding") === "chunked";
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: chunked ? dechunk(body) : body,
  };
}

/** The payload of a chunked body (test bodies are text). */
function dechunk(body: string): string {
  let out = "";
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf("\r\n", at);
    const size = parseInt(body.slice(at, lineEnd), 16);
    if (!size) break;
    out += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
  return out;
}

export interface Target {
  port: number;
  close(): Promise<void>;
}

/**
 * A loopback target: `/hello`, `/echo` (streams the request body back), `/chunked?n=&size=`
 * (n chunks), `/bytes?n=` (n bytes, Content-Length), `/request` (method, url, headers as JSON),
 * `/origin-wide` (headers that would change the state of the whole origin, and two that would not),
 * `/ws` (WebSocket echo choosing the first offered subprotocol), `/port` (its own port, to tell
 * two targets apart).
 */
export function startTarget(): Target {
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, (request): Response => {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/hello":
        return new Response("hello from the target");
      case "/port":
        return new Response(String(server.addr.port));
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
      case "/origin-wide":
        return new Response("origin-wide", { headers: ORIGIN_WIDE_RESPONSE_HEADERS });
      case "/domain-wide":
        return new Response("domain-wide", { headers: DOMAIN_WIDE_RESPONSE_HEADERS });
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

/**
 * GETs `url` until its body is `expected`, at most `attempts` times over `withinMs`, and returns
 * the last body. Across isolates a registration's record is written just after the client learns
 * its URL (and rewritten after a store restart), so the first viewer may still miss it.
 */
export async function untilText(
  url: string,
  expected: string,
  { attempts = 200, withinMs = 5000 } = {},
): Promise<string> {
  const deadline = Date.now() + withinMs;
  let text = "";
  for (let i = 0; i < attempts && Date.now() < deadline; i++) {
    text = await (await fetch(url)).text();
    if (text === expected) return text;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return text;
}

/** `promise`, or a rejection naming `what` after `ms`: a broken behaviour fails, never hangs. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a WebSocket to `url`, sends `text`, and resolves the echo once the socket closed. */
export async function wsEcho(url: string, text: string): Promise<string> {
  const ws = new WebSocket(url.replace(/^http/, "ws"));
  const closed = new Promise((resolve) => ws.onclose = resolve);
  try {
    return await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send(text);
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error(`websocket to ${url} failed`));
    });
  } finally {
    ws.close();
    await closed;
  }
}

/** A started TS client with ways to wait on what it does. */
export interface StartedClient {
  client: TunnelClient;
  /** The first public URL. */
  url: string;
  /** Waits for the n-th registration and returns its URL. */
  registered(n: number): Promise<string>;
  /** Waits for a log line matching `pattern`, including lines already logged. */
  logged(pattern: RegExp): Promise<string>;
}

/** Starts the TS client against a server (or any origin) and waits for its public URL. */
export async function startClient(
  server: TunnelServer | string,
  id: string,
  targetPort: number,
  extra: { keepaliveMs?: number } = {},
): Promise<StartedClient> {
  const urls: string[] = [];
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const client = startTunnelClient({
    server: typeof server === "string" ? server : server.origin,
    id,
    targetPort,
    tokens: fixedToken(await token(id)),
    keepaliveMs: extra.keepaliveMs,
    onUrl: (url) => {
      urls.push(url);
      wake();
    },
    log: (line) => {
      lines.push(line);
      wake();
    },
  });
  const stopped = client.done.then((exit) => {
    throw new Error(`client stopped: ${exit.message}`);
  });
  async function until<T>(found: () => T | undefined): Promise<T> {
    while (true) {
      const value = found();
      if (value !== undefined) return value;
      await Promise.race([
        new Promise<void>((resolve) => {
          const w = () => {
            waiters.delete(w);
            resolve();
          };
          waiters.add(w);
        }),
        stopped,
      ]);
    }
  }
  const registered = (n: number) => until(() => urls[n - 1]);
  const logged = (pattern: RegExp) => until(() => lines.find((l) => pattern.test(l)));
  return { client, url: await registered(1), registered, logged };
}

/**
 * A fake tunnel server that completes the WebSocket handshake and then never says anything again
 * (no pongs, no pings), as a dead peer behind a NAT looks. Each connection is held until the
 * client closes it.
 */
export function startSilentServer(): { origin: string; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(holdSilently(conn, port));
  })();
  return {
    origin: `http://127.0.0.1:${port}`,
    async close() {
      listener.close();
      await accepting;
      await Promise.all(held);
    },
  };
}

async function holdSilently(conn: Deno.Conn, port: number): Promise<void> {
  const reader = new ByteReader(conn.readable);
  const head = await reader.readUntil(new TextEncoder().encode("\r\n\r\n"), 65536);
  const key = /sec-websocket-key: *(\S+)/i.exec(new TextDecoder().decode(head!))![1];
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  await conn.write(new TextEncoder().encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\nX-Websocktunnel-Client-Url: http://127.0.0.1:${port}/t/x\r\n\r\n`,
  ));
  // Drain whatever the client sends (pings, its close frame) until it hangs up; the readable
  // closes the connection itself at end of stream.
  while ((await reader.readSome()) !== null) { /* silence */ }
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
