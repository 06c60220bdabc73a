/**
 * The tunnel client: connects to a WSTun (or websocktunnel) server as `wst-client` does, and
 * forwards every stream the server opens to a local TCP port, byte for byte (HTTP and WebSocket
 * alike, since the server speaks HTTP/1.1 inside the stream).
 *
 * Guarantees: it never gives up silently. Each attempt and each failure is logged with its
 * reason; network errors and 5xx answers are retried with exponential backoff and jitter
 * (0.5 s × 1.5, ±50 %, capped at 60 s, reset when a session ends normally); a 401 ends the
 * client when the token is fixed, or waits for the next token when tokens come from a stream
 * (stdin rotation); any other 4xx ends it with the server's message. Pings the server every
 * keepalive interval and reconnects when a ping goes unanswered. A session closed because another
 * client registered the same id (4905) is retried with backoff, so two clients sharing an id do
 * not evict each other in a tight loop as upstream's do.
 *
 * @module
 */
import { dialWebSocket, header, type ResponseHead } from "../ws/mod.ts";
import { MuxCloseCode, MuxSession, type MuxStream } from "./wsmux.ts";

/** Where registration tokens come from. */
export interface TokenSource {
  /** True when a refused token can be replaced by a later one (stdin). */
  readonly rotates: boolean;
  /** The newest token, waiting for the first one if needed. */
  current(signal: AbortSignal): Promise<string>;
  /** Waits for a token different from `refused`. */
  next(refused: string, signal: AbortSignal): Promise<string>;
}

/** A token given once (`--token`). */
export function fixedToken(token: string): TokenSource {
  return {
    rotates: false,
    current: () => Promise.resolve(token),
    next: () => Promise.reject(new Error("the token is fixed")),
  };
}

/** Tokens from lines (stdin): each non-empty line replaces the previous token. */
export function lineTokens(lines: AsyncIterable<string>, log: (line: string) => void): TokenSource {
  let latest: string | undefined;
  const waiters = new Set<() => void>();
  (async () => {
    for await (const line of lines) {
      const token = line.trim();
      if (!token) continue;
      latest = token;
      log("received a new token on stdin");
      for (const wake of [...waiters]) wake();
    }
    log("stdin closed: no more tokens will be read");
  })();
  const waitFor = async (ok: (t: string | undefined) => boolean, signal: AbortSignal) => {
    while (!ok(latest)) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = () => {
          waiters.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        waiters.add(wake);
        signal.addEventListener("abort", wake);
      });
    }
    return latest!;
  };
  return {
    rotates: true,
    current: (signal) => waitFor((t) => t !== undefined, signal),
    next: (refused, signal) => waitFor((t) => t !== undefined && t !== refused, signal),
  };
}

export interface TunnelClientOptions {
  /** Server URL: http(s):// or ws(s)://, path used as given (default `/`). */
  server: string;
  id: string;
  targetPort: number;
  targetHost?: string;
  tokens: TokenSource;
  log?: (line: string) => void;
  /** Called with the public URL after each successful registration. */
  onUrl?: (url: string) => void;
  initialDelayMs?: number;
  maxDelayMs?: number;
  keepaliveMs?: number;
  windowBytes?: number;
  maxStreams?: number;
  /** Random numbers in [0, 1) for jitter (injectable for tests). */
  random?: () => number;
}

/** Why the client stopped. */
export interface TunnelClientExit {
  code: "closed" | "auth_failed" | "refused";
  message: string;
}

export interface TunnelClient {
  /** Settles when the client stops for good. */
  readonly done: Promise<TunnelClientExit>;
  /** Stops reconnecting and disconnects. */
  close(): Promise<TunnelClientExit>;
}

type Attempt =
  | { kind: "connected"; session: MuxSession; url: string; stop: () => Promise<void> }
  | { kind: "http"; status: number; message: string }
  | { kind: "network"; message: string };

/** Starts a tunnel client; it runs until `close()` or a permanent refusal. */
export function startTunnelClient(options: TunnelClientOptions): TunnelClient {
  const log = options.log ?? (() => {});
  const stop = new AbortController();
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 60_000;
  const random = options.random ?? Math.random;
  let live: { session: MuxSession } | undefined;
  const nextDelay = (delay: number) => Math.min(max, Math.round(delay * 1.5 * (0.5 + random())));

  async function run(): Promise<TunnelClientExit> {
    let delay = initial;
    let attempt = 0;
    while (!stop.signal.aborted) {
      const token = await options.tokens.current(stop.signal);
      attempt++;
      log(`connecting to ${options.server} as ${options.id} (attempt ${attempt})`);
      const result = await connectOnce(options, token, log);
      if (result.kind === "connected") {
        attempt = 0;
        live = result;
        log(`connected; public URL ${result.url}`);
        options.onUrl?.(result.url);
        const info = await result.session.closed;
        await result.stop();
        live = undefined;
        if (stop.signal.aborted) break;
        const why = `${info.code}${info.reason ? ` ${info.reason}` : ""}`;
        if (info.code !== MuxCloseCode.Replaced) {
          log(`session closed (${why}); reconnecting`);
          delay = initial;
          continue;
        }
        // Another client registered the same id. Reconnecting at once would evict it, and it us,
        // in a tight loop (upstream's behaviour): back off as after a failure.
        log(`session closed (${why}): another client uses this id; retrying in ${delay} ms`);
        await sleep(delay, stop.signal);
        delay = nextDelay(delay);
        continue;
      }
      if (result.kind === "http" && result.status === 401) {
        if (!options.tokens.rotates) {
          return { code: "auth_failed", message: `auth failed: ${result.message}` };
        }
        log(`token refused (401: ${result.message}); waiting for a new token on stdin`);
        await options.tokens.next(token, stop.signal);
        continue;
      }
      if (result.kind === "http" && result.status >= 400 && result.status < 500) {
        return { code: "refused", message: `server refused (${result.status}): ${result.message}` };
      }
      const reason = result.kind === "http"
        ? `HTTP ${result.status}: ${result.message}`
        : result.message;
      log(`connection failed (${reason}); retrying in ${delay} ms`);
      await sleep(delay, stop.signal);
      delay = nextDelay(delay);
    }
    return { code: "closed", message: "closed" };
  }

  const done = run().catch((error) => {
    if (stop.signal.aborted) return { code: "closed" as const, message: "closed" };
    throw error;
  });
  return {
    done,
    close() {
      stop.abort();
      live?.session.close(MuxCloseCode.Normal, "client closing");
      return done;
    },
  };
}

async function connectOnce(
  options: TunnelClientOptions,
  token: string,
  log: (line: string) => void,
): Promise<Attempt> {
  let dialed;
  try {
    dialed = await dialWebSocket(new URL(options.server), {
      headers: [["Authorization", `Bearer ${token}`], ["x-websocktunnel-id", options.id]],
      maxMessageBytes: 16 * 1024 * 1024,
    });
  } catch (error) {
    return { kind: "network", message: errorMessage(error) };
  }
  if (dialed.kind === "refused") {
    return { kind: "http", status: dialed.head.status, message: refusalMessage(dialed) };
  }
  const { ws, head } = dialed;
  const publicUrl = header(head.headers, "x-websocktunnel-client-url") ?? "";
  const targetHost = options.targetHost ?? "127.0.0.1";
  const session = new MuxSession({
    send: (message) => void ws.send(message),
    close: (code, reason) => void ws.close(code, reason),
  }, {
    role: "client",
    windowBytes: options.windowBytes,
    maxStreams: options.maxStreams,
    maxFramePayloadBytes: 16 * 1024 * 1024,
    onStream: (stream) => void forwardStream(stream, targetHost, options.targetPort, log),
  });
  let heard = true;
  ws.onMessage = (message) => {
    heard = true;
    session.receive(message);
  };
  ws.onPong = () => heard = true;
  ws.closed.then((info) => session.transportClosed(info.code, info.reason));
  const keepalive = setInterval(() => {
    if (!heard) {
      session.close(MuxCloseCode.KeepaliveTimeout, "no pong from the server");
      ws.abort("keepalive timeout");
      return;
    }
    heard = false;
    ws.ping();
  }, options.keepaliveMs ?? 20_000);
  ws.start();
  return {
    kind: "connected",
    session,
    url: publicUrl,
    // The session has ended; its close frame is out. Wait for the server's answer (bounded by
    // the connection's close timer) so the socket is released before the client moves on.
    stop: async () => {
      clearInterval(keepalive);
      await ws.closed;
    },
  };
}

/** Pipes one stream to a fresh TCP connection to the target, both ways. */
async function forwardStream(
  stream: MuxStream,
  hostname: string,
  port: number,
  log: (line: string) => void,
): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
  } catch (error) {
    log(`stream ${stream.id}: cannot reach ${hostname}:${port} (${errorMessage(error)})`);
    stream.abort();
    return;
  }
  let closed = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    conn.close();
  };
  const toTarget = (async () => {
    for await (const chunk of stream.readable) await writeAll(conn, chunk);
    if (!closed) await conn.closeWrite();
  })();
  const fromTarget = (async () => {
    const buffer = new Uint8Array(32 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      await stream.write(buffer.slice(0, n));
    }
    stream.closeWrite();
  })();
  // Either direction failing (the viewer went away, the target reset) ends both at once.
  const fail = () => {
    stream.abort();
    closeConn();
  };
  await Promise.all([toTarget.catch(fail), fromTarget.catch(fail)]);
  closeConn();
}

/** The message of a refused registration: the server's JSON `message`, else its text. */
function refusalMessage(refused: { head: ResponseHead; body: string }): string {
  const fallback = `${refused.head.status} ${refused.head.statusText}`.trim();
  try {
    const parsed = JSON.parse(refused.body);
    if (typeof parsed?.message === "string") return parsed.message;
  } catch {
    // Not JSON (an upstream websocktunnel answers plain text): fall through to the raw text.
  }
  return refused.body.trim().slice(0, 200) || fallback;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) offset += await conn.write(bytes.subarray(offset));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      if (signal.aborted) reject(signal.reason);
      else resolve();
    }
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
