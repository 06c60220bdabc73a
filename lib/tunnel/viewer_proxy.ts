/**
 * Carries one viewer request through one tunnel stream, as websocktunnel's server does: plain HTTP
 * as HTTP/1.1 bytes, WebSocket upgrades as a WebSocket handshake inside the stream that is then
 * bridged message by message to the viewer's socket, subprotocol included.
 *
 * Guarantees: request and response bodies are streamed (the request body is sent while the answer
 * is awaited; the response body is read only as fast as the viewer takes it, so a slow viewer
 * holds back only its own stream); the stream is given up whenever the viewer or the client goes
 * away; a client that answers garbage gets the viewer a 502, never a hang or a crash.
 *
 * @module
 */
import { errorResponse, WstunError } from "../errors/mod.ts";
import {
  ByteReader,
  clientHandshake,
  encodeRequestHead,
  endToEndHeaders,
  HttpParseError,
  readResponseHead,
  responseBody,
  type ResponseHead,
  writeChunked,
  WsConnection,
} from "../ws/mod.ts";
import type { TunnelStream } from "./registry.ts";
import { Disconnects, withReason } from "../protocol.ts";

export interface ProxyLimits {
  /** Largest response head accepted from the client. */
  maxHeadBytes: number;
  /** Largest WebSocket message relayed through a bridged viewer socket. */
  maxWsMessageBytes: number;
  /** Viewer socket keepalive (Deno's idleTimeout), seconds. */
  viewerIdleTimeoutSeconds: number;
}

/** What to send the client: the path after `/<id>`, and headers to add or drop. */
export interface ForwardTarget {
  /** Request target for the client, e.g. `/api/x?y=1`. */
  target: string;
  /** Value of `x-websocktunnel-original-path`. */
  originalPath: string;
  /** Rewrites a header (lower-case name) before forwarding; null drops it. */
  editHeader?: (name: string, value: string) => string | null;
  /** Rewrites the headers of the client's answer before the viewer gets them. */
  editResponseHeaders?: (headers: Headers) => Headers;
}

const WS_HEADERS = new Set([
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
]);

/** Proxies a plain HTTP request; resolves to the client's answer or a 502. */
export async function proxyHttp(
  request: Request,
  stream: TunnelStream,
  forward: ForwardTarget,
  limits: ProxyLimits,
): Promise<Response> {
  const headers = forwardHeaders(request, forward, new Set(["content-length"]));
  headers.push(["Connection", "close"]);
  const length = request.headers.get("content-length");
  const body = request.body;
  if (body && length !== null) headers.push(["Content-Length", length]);
  else if (body) headers.push(["Transfer-Encoding", "chunked"]);
  await stream.write(encodeRequestHead(request.method, forward.target, headers));
  if (body) sendBody(body, length !== null, stream);

  const reader = new ByteReader(stream.readable);
  let head: ResponseHead;
  try {
    head = await readResponseHead(reader, limits.maxHeadBytes);
  } catch (error) {
    stream.abort();
    return badGateway(error);
  }
  if (head.status < 200 || head.status > 599) {
    stream.abort();
    return errorResponse(
      new WstunError("bad_gateway", `the tunnel client answered status ${head.status}`),
    );
  }
  try {
    const responseBodyStream = responseBody(reader, head, request.method, () => stream.abort());
    return new Response(responseBodyStream, {
      status: head.status,
      statusText: head.statusText,
      headers: responseHeaders(head, forward),
    });
  } catch (error) {
    stream.abort();
    return badGateway(error);
  }
}

/**
 * Proxies a WebSocket upgrade: handshakes with the client's target inside the stream first, so
 * the viewer's upgrade can carry the subprotocol the target chose; a target that refuses the
 * upgrade has its answer passed to the viewer.
 */
export async function proxyWebSocket(
  request: Request,
  stream: TunnelStream,
  forward: ForwardTarget,
  limits: ProxyLimits,
): Promise<Response> {
  const protocols = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((s) => s.trim()).filter(Boolean);
  const reader = new ByteReader(stream.readable);
  const writeBytes = (bytes: Uint8Array) => stream.write(bytes);
  const headers = forwardHeaders(request, forward, WS_HEADERS).filter(([n]) => n !== "Host");
  let handshake;
  try {
    handshake = await clientHandshake({
      reader,
      writeBytes,
      host: request.headers.get("host") ?? new URL(request.url).host,
      target: forward.target,
      headers,
      protocols,
      maxHeadBytes: limits.maxHeadBytes,
    });
  } catch (error) {
    stream.abort();
    return badGateway(error);
  }
  if (!handshake.accepted) {
    if (handshake.head.status === 101 || handshake.head.status < 200) {
      stream.abort();
      return errorResponse(
        new WstunError(
          "bad_gateway",
          "the tunnel target's WebSocket handshake is invalid",
        ),
      );
    }
    const body = responseBody(reader, handshake.head, "GET", () => stream.abort());
    return new Response(body, {
      status: handshake.head.status,
      headers: responseHeaders(handshake.head, forward),
    });
  }
  const { socket, response } = Deno.upgradeWebSocket(request, {
    protocol: handshake.protocol,
    idleTimeout: limits.viewerIdleTimeoutSeconds,
  });
  const tunnel = new WsConnection({
    reader,
    writeBytes,
    shutdown: () => stream.abort(),
    role: "client",
    maxMessageBytes: limits.maxWsMessageBytes,
  });
  bridge(socket, tunnel, 2 * limits.maxWsMessageBytes);
  return response;
}

/** Relays messages both ways and carries each side's close to the other. */
function bridge(viewer: WebSocket, tunnel: WsConnection, maxBacklogBytes: number): void {
  viewer.binaryType = "arraybuffer";
  const early: (string | Uint8Array)[] = [];
  tunnel.onMessage = async (message) => {
    if (viewer.readyState === WebSocket.CONNECTING) {
      early.push(message);
      return;
    }
    if (viewer.readyState !== WebSocket.OPEN) return;
    viewer.send(message as string | Uint8Array<ArrayBuffer>);
    // The viewer's socket has no backpressure signal but bufferedAmount: hold the stream (and so
    // the client's credit) while the viewer is behind.
    while (viewer.readyState === WebSocket.OPEN && viewer.bufferedAmount > 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  viewer.onopen = () => {
    for (const message of early.splice(0)) viewer.send(message as string | Uint8Array<ArrayBuffer>);
  };
  viewer.onmessage = (event) => {
    const data = event.data;
    tunnel.send(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
    // Deno's server socket cannot pause reading, so a viewer that outpaces the tunnel's credit
    // is cut off once its backlog passes the limit rather than growing memory without bound.
    if (tunnel.queuedBytes > maxBacklogBytes) {
      const slow = withReason(
        Disconnects.SlowConsumer,
        "the tunnel is slower than this viewer: backlog over limit",
      );
      viewer.close(slow.code, slow.reason);
      tunnel.close(Disconnects.PeerGone.code, "viewer backlog over limit");
    }
  };
  viewer.onclose = (event) => {
    tunnel.close(sendableCode(event.code), event.reason);
  };
  tunnel.closed.then((info) => {
    if (viewer.readyState === WebSocket.OPEN || viewer.readyState === WebSocket.CONNECTING) {
      viewer.close(sendableCode(info.code), info.reason);
    }
  });
  tunnel.start();
}

function sendBody(body: ReadableStream<Uint8Array>, sized: boolean, stream: TunnelStream): void {
  const write = (bytes: Uint8Array) => stream.write(bytes);
  const done = sized
    ? (async () => {
      for await (const chunk of body) await write(chunk);
    })()
    : writeChunked(body, write);
  // An upload that fails (viewer gone, or the client closed the stream after answering early)
  // ends the stream; the response side reports what the viewer sees.
  done.catch(() => stream.abort());
}

function forwardHeaders(
  request: Request,
  forward: ForwardTarget,
  alsoDrop: Set<string>,
): [string, string][] {
  const host = request.headers.get("host") ?? new URL(request.url).host;
  const out: [string, string][] = [["Host", host]];
  for (const [name, value] of endToEndHeaders(request.headers)) {
    if (name === "host" || name === "x-websocktunnel-original-path") continue;
    if (alsoDrop.has(name)) continue;
    const edited = forward.editHeader ? forward.editHeader(name, value) : value;
    if (edited !== null) out.push([name, edited]);
  }
  out.push(["X-Websocktunnel-Original-Path", forward.originalPath]);
  return out;
}

function responseHeaders(head: ResponseHead, forward: ForwardTarget): Headers {
  const out = new Headers();
  const source = new Headers();
  for (const [name, value] of head.headers) source.append(name, value);
  for (const [name, value] of endToEndHeaders(source)) out.append(name, value);
  return forward.editResponseHeaders ? forward.editResponseHeaders(out) : out;
}

function badGateway(error: unknown): Response {
  const message = error instanceof HttpParseError
    ? error.message
    : `the tunnel stream failed: ${error instanceof Error ? error.message : String(error)}`;
  return errorResponse(new WstunError("bad_gateway", message));
}

/** Close codes that may be sent on the wire (RFC 6455 §7.4): reserved ones become 1000. */
function sendableCode(code: number): number {
  const reserved = code === 1004 || code === 1005 || code === 1006 || code === 1015;
  return code < 1000 || code > 4999 || reserved || (code > 1015 && code < 3000) ? 1000 : code;
}
