/**
 * One WebSocket from a tunnel tool to the relay's `/_udp` route: JSON requests answered by `ref`,
 * server notifications and binary frames handed to callbacks, and a binary send that refuses
 * (and lets the caller count) a datagram when the socket's unsent backlog is over a bound, so a
 * slow relay costs datagrams, never unbounded memory.
 *
 * The socket is this package's own client ({@link WsClient}), not Deno's built-in `WebSocket`
 * nor npm's `ws`: Deno 2.9's client turns Nagle's algorithm on (TCP_NODELAY 0) and writes a
 * frame with more than 1,024 payload bytes as two writes (head, then payload), so the payload
 * waits for the relay's delayed ACK: 44 ms for every lone datagram over about 990 bytes
 * (docs/udp.md, "Where the time went"); `ws` does not have that fault but runs on the Node
 * compatibility layer, which cost 13–15 µs more CPU per frame sent and received. Both the client
 * and `ws` set TCP_NODELAY and write each frame at once.
 *
 * Failures are values ({@link LinkError}) with a code and a message a person can act on; when the
 * upgrade is refused, the relay's answer says why (401 wrong token, 404 no relay there) instead of
 * a bare "WebSocket error".
 *
 * @module
 */
import { ReadyState, WsClient } from "./ws_client.ts";

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

/** How long {@link RelayLink.close} waits for the relay's close frame. */
const CLOSE_WAIT_MS = 2000;

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

  private constructor(readonly socket: WsClient, readonly options: RelayLinkOptions) {
    socket.onBinary = (bytes) => this.onBinary(bytes);
    socket.onText = (text) => this.#text(text);
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
    const headers: Record<string, string> = {};
    // In a header, never in a URL that proxies might log.
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let socket: Awaited<ReturnType<typeof WsClient.connect>>;
    try {
      socket = await WsClient.connect(url, headers);
    } catch (err) {
      const http = `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`;
      return { code: "unreachable", message: `cannot reach the relay at ${http}: ${err}` };
    }
    if (socket instanceof WsClient) return new RelayLink(socket, options);
    return refusal(url, socket.status, socket.body);
  }

  /** Sends a control request and waits for the frame carrying its `ref`. */
  request(frame: ServerMessage): Promise<ServerMessage | LinkError> {
    if (this.socket.readyState !== ReadyState.Open) {
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
      this.socket.send(JSON.stringify({ ...frame, ref }));
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
    if (this.socket.readyState !== ReadyState.Open) return false;
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) return false;
    this.socket.send(bytes);
    return true;
  }

  get open(): boolean {
    return this.socket.readyState === ReadyState.Open;
  }

  /** Unsent bytes queued on the socket. */
  get buffered(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Closes with a close handshake, or drops the connection when the relay has not answered
   * within {@link CLOSE_WAIT_MS} (a stalled link must not hold a tool that is stopping).
   */
  async close(): Promise<void> {
    this.socket.close(1000, "bye");
    const timer = setTimeout(() => this.socket.terminate(), CLOSE_WAIT_MS);
    await this.closed;
    clearTimeout(timer);
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
