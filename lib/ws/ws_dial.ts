/**
 * Opens a client WebSocket on Deno's own TCP or TLS connection: the tunnel client's link to its
 * server and the UDP tools' link to the relay. Deno's `WebSocket` serves neither: it hides the
 * upgrade response (the tunnel client reads `x-websocktunnel-client-url` from it, and both tools
 * want the refusal's status and body), and in Deno 2.9.6 it leaves Nagle's algorithm on and writes
 * a frame over 1,024 payload bytes in two writes, so a lone 1,100-byte message waits 44 ms for the
 * peer's delayed ACK (docs/udp.md, "Where datagrams were lost").
 *
 * Guarantees: `TCP_NODELAY` is on, for wss:// too (TLS is started on a TCP connection that has it,
 * rather than by `Deno.connectTls`, whose connection offers no `setNoDelay`); the connection is
 * closed whenever the result is not an open {@link WsConnection} (refusal or error); a refusal
 * carries the status and up to 4 KiB of the body as text; a network failure is thrown.
 *
 * @module
 */
import { ByteReader } from "./byte_reader.ts";
import { responseBody, type ResponseHead } from "./http1.ts";
import { clientHandshake, WsConnection } from "./ws_codec.ts";

/** What {@link dialWebSocket} got: an open connection (not yet started), or the server's no. */
export type DialResult =
  | { kind: "open"; ws: WsConnection; head: ResponseHead }
  | { kind: "refused"; head: ResponseHead; body: string };

export interface DialOptions {
  /** Extra request headers (Authorization, the tunnel id, …). */
  headers: [string, string][];
  /** Largest message accepted from the server. */
  maxMessageBytes: number;
  /** Largest response head accepted; 64 KiB unless set. */
  maxHeadBytes?: number;
  /** PEM certificates to trust for wss:// besides the system's (a private CA, tests). */
  caCerts?: string[];
}

/** How much of a refusal's body is kept: enough for any error message, bounded. */
const MAX_REFUSAL_BODY_CHARS = 4096;

/**
 * Connects to `url` (ws:, wss:, http: or https:) and performs the upgrade. The returned connection
 * has not started reading: set its handlers, then call `start()`.
 *
 * @example
 * ```ts
 * const dialed = await dialWebSocket(new URL("ws://127.0.0.1:8000/_udp"), {
 *   headers: [["Authorization", "Bearer s3cret"]],
 *   maxMessageBytes: 16 * 1024 * 1024,
 * });
 * if (dialed.kind === "refused") console.log(dialed.head.status, dialed.body);
 * else {
 *   dialed.ws.onMessage = (message) => console.log(message);
 *   dialed.ws.start();
 * }
 * ```
 */
export async function dialWebSocket(url: URL, options: DialOptions): Promise<DialResult> {
  const conn = await connect(url, options.caCerts);
  let closed = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    closeOnce(conn);
  };
  const reader = new ByteReader(chunksOf(conn));
  const writeBytes = (bytes: Uint8Array) => writeAll(conn, bytes);
  try {
    const handshake = await clientHandshake({
      reader,
      writeBytes,
      host: url.host,
      target: (url.pathname || "/") + url.search,
      headers: options.headers,
      protocols: [],
      maxHeadBytes: options.maxHeadBytes ?? 64 * 1024,
    });
    if (handshake.head.status === 101 && !handshake.accepted) {
      throw new Error("the server's Sec-WebSocket-Accept is wrong");
    }
    if (!handshake.accepted) {
      const body = await readRefusalBody(reader, handshake.head);
      closeConn();
      return { kind: "refused", head: handshake.head, body };
    }
    const ws = new WsConnection({
      reader,
      writeBytes,
      shutdown: closeConn,
      role: "client",
      maxMessageBytes: options.maxMessageBytes,
    });
    return { kind: "open", ws, head: handshake.head };
  } catch (error) {
    closeConn();
    throw error;
  }
}

async function connect(url: URL, caCerts: string[] | undefined): Promise<Deno.Conn> {
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  const port = Number(url.port) || (secure ? 443 : 80);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tcp = await Deno.connect({ hostname, port });
  // Frames are small and interleaved (ACKs, pings, datagrams): Nagle's algorithm would hold each
  // behind the previous one's ACK, ~40 ms with a delayed ACK.
  tcp.setNoDelay(true);
  if (!secure) return tcp;
  try {
    return await Deno.startTls(tcp, { hostname, caCerts });
  } catch (error) {
    closeOnce(tcp);
    throw error;
  }
}

/** The start of a refusal's body, as text; empty when there is none or it cannot be read. */
async function readRefusalBody(reader: ByteReader, head: ResponseHead): Promise<string> {
  const body = responseBody(reader, head, "GET", () => {});
  if (!body) return "";
  let text = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length >= MAX_REFUSAL_BODY_CHARS) break;
    }
  } catch {
    // A malformed or cut-off body: the status still says why; keep what arrived.
  }
  return text.slice(0, MAX_REFUSAL_BODY_CHARS);
}

/**
 * The next chunk of a connection, read into one scratch buffer and copied out at the size that
 * arrived (a fresh 64 KiB buffer per read would be mostly empty: frames often come a few bytes at
 * a time); null at end of stream, or once the connection has been closed here.
 */
function chunksOf(conn: Deno.Conn): () => Promise<Uint8Array | null> {
  const scratch = new Uint8Array(64 * 1024);
  return async () => {
    let n: number | null;
    try {
      n = await conn.read(scratch);
    } catch (error) {
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        return null;
      }
      throw error;
    }
    return n === null ? null : scratch.slice(0, n);
  };
}

/** Closes a connection whose `readable` may already have closed it (Deno does so at EOF). */
function closeOnce(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) offset += await conn.write(bytes.subarray(offset));
}
