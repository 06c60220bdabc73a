/**
 * RFC 6455 WebSocket framing over a byte stream, for the two places the tunnel speaks WebSocket
 * without a socket of its own: the server's bridge to a viewer's WebSocket inside a wsmux stream
 * (as websocktunnel does), and the TypeScript tunnel client, which needs the upgrade response's
 * `x-websocktunnel-client-url` header and status that the WebSocket API hides.
 *
 * `WsConnection` guarantees: messages are reassembled from fragments and bounded by
 * `maxMessageBytes`; pings are answered; writes go out in call order; the close handshake is
 * performed once; `closed` always settles (on a close frame, an error or end of stream).
 *
 * @module
 */
import { ByteReader } from "./byte_reader.ts";
import { encodeRequestHead, header, readResponseHead, type ResponseHead } from "./http1.ts";

export const Opcode = {
  Continuation: 0,
  Text: 1,
  Binary: 2,
  Close: 8,
  Ping: 9,
  Pong: 10,
} as const;

const encoder = new TextEncoder();
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Encodes one frame; clients mask (RFC 6455 §5.3), servers do not. */
export function encodeWsFrame(
  opcode: number,
  payload: Uint8Array,
  mask: boolean,
  fin = true,
): Uint8Array {
  const len = payload.byteLength;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const maskBytes = mask ? 4 : 0;
  const out = new Uint8Array(2 + extra + maskBytes + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  const view = new DataView(out.buffer);
  if (extra === 0) out[1] = len;
  else if (extra === 2) {
    out[1] = 126;
    view.setUint16(2, len);
  } else {
    out[1] = 127;
    view.setBigUint64(2, BigInt(len));
  }
  const at = 2 + extra;
  if (!mask) {
    out.set(payload, at);
    return out;
  }
  out[1] |= 0x80;
  const key = crypto.getRandomValues(new Uint8Array(4));
  out.set(key, at);
  for (let i = 0; i < len; i++) out[at + 4 + i] = payload[i] ^ key[i & 3];
  return out;
}

/** A message received on a {@link WsConnection}. */
export type WsMessage = string | Uint8Array;

export interface WsCloseInfo {
  code: number;
  reason: string;
}

/** A WebSocket endpoint over a byte stream whose handshake is already done. */
export class WsConnection {
  readonly closed: Promise<WsCloseInfo>;
  /** Called for each complete message. */
  onMessage: (message: WsMessage) => void | Promise<void> = () => {};
  /** Called for each pong (keepalive bookkeeping). */
  onPong: () => void = () => {};

  #reader: ByteReader;
  #writeBytes: (bytes: Uint8Array) => Promise<void>;
  #shutdown: () => void;
  #mask: boolean;
  #maxMessageBytes: number;
  #writes: Promise<void> = Promise.resolve();
  #closeSent = false;
  #done = false;
  #queuedBytes = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: (info: WsCloseInfo) => void;

  /**
   * @param reader bytes from the peer (may hold bytes that followed the handshake)
   * @param writeBytes writes bytes to the peer, in order
   * @param shutdown releases the underlying transport; called once, after `closed` settles
   */
  constructor(options: {
    reader: ByteReader;
    writeBytes: (bytes: Uint8Array) => Promise<void>;
    shutdown: () => void;
    role: "client" | "server";
    maxMessageBytes: number;
  }) {
    this.#reader = options.reader;
    this.#writeBytes = options.writeBytes;
    this.#shutdown = options.shutdown;
    this.#mask = options.role === "client";
    this.#maxMessageBytes = options.maxMessageBytes;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** Starts reading; call once after setting the handlers. */
  start(): void {
    this.#readLoop().then(
      () => this.#end({ code: 1006, reason: "stream ended without a close frame" }),
      (error) => this.#end({ code: 1006, reason: String(error?.message ?? error) }),
    );
  }

  /** Queues a text or binary message. */
  send(message: WsMessage): Promise<void> {
    const binary = typeof message !== "string";
    const payload = binary ? message : encoder.encode(message);
    return this.#write(encodeWsFrame(binary ? Opcode.Binary : Opcode.Text, payload, this.#mask));
  }

  /** Sends a ping. */
  ping(): Promise<void> {
    return this.#write(encodeWsFrame(Opcode.Ping, new Uint8Array(0), this.#mask));
  }

  /** Starts the close handshake (or, if the peer started it, completes it). */
  close(code = 1000, reason = ""): Promise<void> {
    if (this.#closeSent || this.#done) return this.#writes;
    this.#closeSent = true;
    const payload = new Uint8Array(2 + encoder.encode(reason).byteLength);
    new DataView(payload.buffer).setUint16(0, code);
    payload.set(encoder.encode(reason), 2);
    // A peer that never answers the close frame must not keep the transport open forever.
    this.#closeTimer = setTimeout(() => this.#end({ code, reason }), 2000);
    return this.#write(encodeWsFrame(Opcode.Close, payload, this.#mask));
  }

  /** Ends at once without a handshake (keepalive timeout, shutdown). */
  abort(reason: string): void {
    this.#end({ code: 1006, reason });
  }

  /** Bytes queued for writing and not yet written (for callers that bound their backlog). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  #write(bytes: Uint8Array): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#queuedBytes += bytes.byteLength;
    const next = this.#writes.then(() => this.#done ? undefined : this.#writeBytes(bytes))
      .finally(() => this.#queuedBytes -= bytes.byteLength);
    // A failed write ends the connection; later writes become no-ops.
    this.#writes = next.catch((error) => this.#end({ code: 1006, reason: String(error) }));
    return this.#writes;
  }

  async #readLoop(): Promise<void> {
    let fragments: Uint8Array[] = [];
    let fragmentOpcode = 0;
    let fragmentBytes = 0;
    while (!this.#done) {
      const frame = await this.#readFrame();
      if (frame === null) return;
      const { fin, opcode, payload } = frame;
      if (opcode === Opcode.Ping) {
        await this.#write(encodeWsFrame(Opcode.Pong, payload, this.#mask));
      } else if (opcode === Opcode.Pong) {
        this.onPong();
      } else if (opcode === Opcode.Close) {
        const info = parseClose(payload);
        if (!this.#closeSent) await this.close(info.code === 1005 ? 1000 : info.code, "");
        await this.#writes;
        this.#end(info);
        return;
      } else {
        if (opcode !== Opcode.Continuation) {
          fragments = [];
          fragmentOpcode = opcode;
          fragmentBytes = 0;
        }
        fragments.push(payload);
        fragmentBytes += payload.byteLength;
        if (fragmentBytes > this.#maxMessageBytes) {
          await this.close(1009, "message too big");
          await this.#writes;
          this.#end({ code: 1009, reason: "message too big" });
          return;
        }
        if (fin) {
          const whole = join(fragments, fragmentBytes);
          fragments = [];
          // Awaited so a slow consumer holds back reading (and the transport's flow control).
          await this.onMessage(
            fragmentOpcode === Opcode.Text ? new TextDecoder().decode(whole) : whole,
          );
        }
      }
    }
  }

  async #readFrame(): Promise<{ fin: boolean; opcode: number; payload: Uint8Array } | null> {
    const first = await this.#reader.readSome(2);
    if (first === null) return null;
    const head = first.byteLength === 2 ? first : concat2(first, await this.#reader.readExact(1));
    const fin = (head[0] & 0x80) !== 0;
    const opcode = head[0] & 0x0f;
    const masked = (head[1] & 0x80) !== 0;
    let len = head[1] & 0x7f;
    if (len === 126) {
      len = new DataView((await this.#reader.readExact(2)).buffer).getUint16(0);
    } else if (len === 127) {
      const big = new DataView((await this.#reader.readExact(8)).buffer).getBigUint64(0);
      if (big > BigInt(this.#maxMessageBytes)) throw new Error("frame too big");
      len = Number(big);
    }
    if (len > this.#maxMessageBytes) throw new Error("frame too big");
    const key = masked ? await this.#reader.readExact(4) : undefined;
    const payload = await this.#reader.readExact(len);
    if (key) { for (let i = 0; i < len; i++) payload[i] ^= key[i & 3]; }
    return { fin, opcode, payload };
  }

  #end(info: WsCloseInfo): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#closeTimer);
    this.#resolveClosed(info);
    this.#shutdown();
  }
}

export interface HandshakeResult {
  head: ResponseHead;
  /** Set when the server answered 101 with a valid accept key. */
  accepted: boolean;
  /** The subprotocol the server selected, if any. */
  protocol: string | undefined;
}

/**
 * Performs the client side of the opening handshake over raw bytes: writes the upgrade request and
 * reads the response head. The caller decides what to do with a non-101 answer.
 */
export async function clientHandshake(options: {
  reader: ByteReader;
  writeBytes: (bytes: Uint8Array) => Promise<void>;
  host: string;
  target: string;
  headers: [string, string][];
  protocols: string[];
  maxHeadBytes: number;
}): Promise<HandshakeResult> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const headers: [string, string][] = [
    ["Host", options.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", "13"],
    ...options.headers,
  ];
  if (options.protocols.length) {
    headers.push(["Sec-WebSocket-Protocol", options.protocols.join(", ")]);
  }
  await options.writeBytes(encodeRequestHead("GET", options.target, headers));
  const head = await readResponseHead(options.reader, options.maxHeadBytes);
  const expected = await acceptKey(key);
  const accepted = head.status === 101 &&
    header(head.headers, "sec-websocket-accept") === expected;
  return { head, accepted, protocol: header(head.headers, "sec-websocket-protocol") };
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + WS_GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

function parseClose(payload: Uint8Array): WsCloseInfo {
  if (payload.byteLength < 2) return { code: 1005, reason: "" };
  const code = new DataView(payload.buffer, payload.byteOffset).getUint16(0);
  return { code, reason: new TextDecoder().decode(payload.subarray(2)) };
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  return join([a, b], a.byteLength + b.byteLength);
}
