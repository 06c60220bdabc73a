/**
 * One WebSocket from a tunnel tool to the relay's `/_udp` route: JSON requests answered by `ref`,
 * server notifications and binary frames handed to callbacks, and a binary send that refuses
 * (and lets the caller count) a datagram when the socket's unsent backlog is over a bound, so a
 * slow relay costs datagrams, never unbounded memory.
 *
 * The socket is the tree's one WebSocket codec ({@link WsConnection}, opened by
 * {@link dialWebSocket} from lib/ws/), not Deno's built-in `WebSocket` nor npm's `ws`: Deno 2.9's
 * client turns Nagle's algorithm on (TCP_NODELAY 0) and writes a frame with more than 1,024
 * payload bytes as two writes (head, then payload), so the payload waits for the relay's delayed
 * ACK: 44 ms for every lone datagram over about 990 bytes (docs/udp.md, "Where datagrams were
 * lost"); `ws` does not have that fault but runs on the Node compatibility layer, which cost
 * 13–15 µs more CPU per frame sent and received. The codec sets TCP_NODELAY, hands each frame to
 * the kernel whole, answers the relay's pings and counts its unsent bytes (`queuedBytes`).
 *
 * Failures are values ({@link LinkError}) with a code and a message a person can act on; when the
 * upgrade is refused, the relay's answer says why (401 wrong token, 404 no relay there) instead of
 * a bare "WebSocket error".
 *
 * @module
 */
import { dialWebSocket, type WsConnection } from "../ws/mod.ts";

/** Largest message accepted from the relay: its frames are far below it. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

// deno-lint-ignore no-explicit-any
export type ServerMessage = Record<string, any>;

/** Why a link could not be opened or a request failed. */
export interface LinkError {
  code:
    | "unauthorized"
    | "not_found"
    | "unreachable"
    | "closed"
    | "timeout"
    | "bad_url"
    | string;
  message: string;
}

export interface RelayLinkOptions {
  /** Relay address: ws(s):// or http(s)://; an empty path means `/_udp`. */
  url: string;
  /** The relay's server token (WSTUN_TOKEN), sent as a Bearer header, never in the URL. */
  token?: string;
  /** Unsent bytes above which {@link RelayLink.sendBinary} refuses a frame. */
  maxBufferedBytes: number;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
}

/** Normalises a relay address to the WebSocket URL of its `/_udp` route. */
export function relaySocketUrl(address: string): URL | LinkError {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(address) ? address : `ws://${address}`);
  } catch {
    return { code: "bad_url", message: `relay address ${address} is not a URL` };
  }
  const schemes: Record<string, string> = {
    "http:": "ws:",
    "https:": "wss:",
    "ws:": "ws:",
    "wss:": "wss:",
  };
  const scheme = schemes[url.protocol];
  if (!scheme) return { code: "bad_url", message: `relay address must be ws(s):// or http(s)://` };
  url.protocol = scheme;
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/_udp";
  return url;
}

/** What the UDP tools are started with that a link needs. */
export interface ToolLinkOptions {
  relayUrl: string;
  token?: string;
  maxBufferedBytes: number;
}

/** What a tool does with the frames of its link. */
export interface LinkHandlers {
  onMessage(msg: ServerMessage): void;
  onBinary(bytes: Uint8Array): void;
}

/** Opens a tool's link to the relay with its handlers in place, or says why not. */
export async function openToolLink(
  options: ToolLinkOptions,
  handlers: LinkHandlers,
): Promise<RelayLink | LinkError> {
  const { relayUrl: url, token, maxBufferedBytes } = options;
  const link = await RelayLink.open({ url, token, maxBufferedBytes });
  if (isLinkError(link)) return link;
  link.onMessage = (msg) => handlers.onMessage(msg);
  link.onBinary = (bytes) => handlers.onBinary(bytes);
  return link;
}

export class RelayLink {
  /** Server frames that do not answer a request (notifications, errors for data). */
  onMessage: (msg: ServerMessage) => void = () => {};
  /** A binary frame; the bytes are the caller's to keep. */
  onBinary: (bytes: Uint8Array) => void = () => {};
  /** Resolves once, when the socket has closed for whatever reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #pending = new Map<number, (msg: ServerMessage | LinkError) => void>();
  #nextRef = 1;

  private constructor(readonly socket: WsConnection, readonly options: RelayLinkOptions) {
    socket.onMessage = (message) => {
      if (typeof message === "string") this.#text(message);
      else this.onBinary(message);
    };
    socket.start();
    this.closed = socket.closed.then(({ code, reason }) => {
      for (const answer of this.#pending.values()) {
        answer({ code: "closed", message: `relay closed the socket (${code} ${reason})` });
      }
      this.#pending.clear();
      return { code, reason };
    });
  }

  /** Opens a link, or explains why the relay would not have one. */
  static async open(options: RelayLinkOptions): Promise<RelayLink | LinkError> {
    const url = relaySocketUrl(options.url);
    if (!(url instanceof URL)) return url;
    const headers: [string, string][] = [];
    // In a header, never in a URL that proxies might log.
    if (options.token !== undefined) headers.push(["Authorization", `Bearer ${options.token}`]);
    let dialed: Awaited<ReturnType<typeof dialWebSocket>>;
    try {
      dialed = await dialWebSocket(url, { headers, maxMessageBytes: MAX_MESSAGE_BYTES });
    } catch (err) {
      const http = `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`;
      return { code: "unreachable", message: `cannot reach the relay at ${http}: ${err}` };
    }
    if (dialed.kind === "open") return new RelayLink(dialed.ws, options);
    return refusal(url, dialed.head.status, dialed.body);
  }

  /** Sends a control request and waits for the frame carrying its `ref`. */
  request(frame: ServerMessage): Promise<ServerMessage | LinkError> {
    if (!this.socket.open) {
      return Promise.resolve({ code: "closed", message: "not connected to the relay" });
    }
    const ref = this.#nextRef++;
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        resolve({ code: "timeout", message: `the relay did not answer ${frame.type} in time` });
      }, timeoutMs);
      this.#pending.set(ref, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      void this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  /** Round-trip time to the relay in ms (a `ping` control frame), or why it could not be had. */
  async ping(): Promise<number | LinkError> {
    const start = performance.now();
    const answer = await this.request({ type: "ping" });
    return isLinkError(answer) ? answer : performance.now() - start;
  }

  /** Sends one frame unless the backlog is over the bound; false means dropped (count it). */
  sendBinary(bytes: Uint8Array): boolean {
    if (!this.socket.open) return false;
    if (this.socket.queuedBytes > this.options.maxBufferedBytes) return false;
    void this.socket.send(bytes);
    return true;
  }

  get open(): boolean {
    return this.socket.open;
  }

  /** Unsent bytes queued on the socket. */
  get buffered(): number {
    return this.socket.queuedBytes;
  }

  /**
   * Closes with a close handshake, or drops the connection when the relay has not answered
   * within the codec's close wait (2 s: a stalled link must not hold a tool that is stopping).
   */
  async close(): Promise<void> {
    void this.socket.close(1000, "bye");
    await this.closed;
  }

  #text(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const answer = typeof msg.ref === "number" ? this.#pending.get(msg.ref) : undefined;
    if (!answer) return this.onMessage(msg);
    this.#pending.delete(msg.ref);
    answer(msg);
  }
}

/** Turns the relay's refusal of the upgrade into a cause a person can act on. */
function refusal(url: URL, status: number, body: string): LinkError {
  const http = new URL(url);
  http.protocol = url.protocol === "wss:" ? "https:" : "http:";
  if (status === 401) {
    return {
      code: "unauthorized",
      message:
        `the relay refused the server token (401): pass the relay's WSTUN_TOKEN with --token`,
    };
  }
  if (status === 404) {
    return { code: "not_found", message: `no UDP relay at ${http} (404): is this a WSTun server?` };
  }
  return {
    code: "unreachable",
    message: `the relay refused the WebSocket (${status}): ${body.slice(0, 200)}`,
  };
}

/** Whether a value is a {@link LinkError} rather than a server frame or link. */
export function isLinkError(value: unknown): value is LinkError {
  return typeof value === "object" && value !== null && "code" in value && "message" in value &&
    !("type" in value);
}
