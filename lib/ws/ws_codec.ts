/**
 * RFC 6455 WebSocket framing over a byte stream: the one WebSocket codec of the tree. It serves the
 * three places WSTun speaks WebSocket without Deno's `WebSocket`: the tunnel server's bridge to a
 * viewer's WebSocket inside a wsmux stream (as websocktunnel does), the tunnel client, which needs
 * the upgrade response's `x-websocktunnel-client-url` header and status that the WebSocket API
 * hides, and the UDP tools' link to the relay, for which Deno's client is too slow (it waits 44 ms
 * on lone frames over 1,024 bytes; docs/udp.md). ws_dial.ts opens such a connection over TCP or TLS.
 *
 * `WsConnection` guarantees: messages are reassembled from fragments and bounded by
 * `maxMessageBytes`; a received binary message is a fresh `Uint8Array` the caller may keep; pings
 * are answered; each frame is handed to `writeBytes` whole, in call order, frames queued behind a
 * write in flight going out together in the next write; `queuedBytes` counts what is queued and
 * not yet written, so a caller can bound its backlog; a client masks every frame with a key from
 * `crypto.getRandomValues`; the close handshake is performed once; a protocol error (an unknown
 * opcode, a continuation with nothing to continue) closes with 1002; `closed` always settles (on a
 * close frame, an error or end of stream), with the peer's close code, or 1006 when there was none.
 *
 * @module
 */
import { ByteReader, ByteReaderError } from "./byte_reader.ts";
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
const decoder = new TextDecoder();
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Mask keys drawn from the system's generator a block at a time (one call per 1,024 frames). */
export class MaskKeys {
  #block = new Uint32Array(1024);
  #next = this.#block.length;

  take(): number {
    if (this.#next === this.#block.length) {
      crypto.getRandomValues(this.#block);
      this.#next = 0;
    }
    return this.#block[this.#next++];
  }
}

/**
 * Encodes one frame; clients mask (RFC 6455 §5.3) with a key from `maskKeys`, servers pass none.
 *
 * @example
 * ```ts
 * const frame = encodeWsFrame(Opcode.Binary, bytes, new MaskKeys()); // a client's frame
 * ```
 */
export function encodeWsFrame(
  opcode: number,
  payload: Uint8Array,
  maskKeys: MaskKeys | null,
  fin = true,
): Uint8Array {
  const len = payload.byteLength;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const maskBytes = maskKeys ? 4 : 0;
  // A masked payload starts 4-byte aligned in its buffer, so the mask runs a word at a time.
  const pad = maskKeys ? (4 - ((head + 4) % 4)) % 4 : 0;
  const start = pad + head + maskBytes;
  const buffer = new ArrayBuffer(start + len + (maskKeys ? 3 : 0));
  const out = new Uint8Array(buffer, 0, start + len);
  const view = new DataView(buffer);
  out[pad] = (fin ? 0x80 : 0) | opcode;
  const maskBit = maskKeys ? 0x80 : 0;
  if (head === 2) out[pad + 1] = maskBit | len;
  else if (head === 4) {
    out[pad + 1] = maskBit | 126;
    view.setUint16(pad + 2, len);
  } else {
    out[pad + 1] = maskBit | 127;
    view.setBigUint64(pad + 2, BigInt(len));
  }
  out.set(payload, start);
  if (!maskKeys) return out;
  const key = maskKeys.take();
  // The key in memory order is the key on the wire: bytes k0..k3 mask payload bytes 4i..4i+3.
  new Uint32Array(buffer, pad + head, 1)[0] = key;
  const words = new Uint32Array(buffer, start, (len + 3) >>> 2);
  for (let i = 0; i < words.length; i++) words[i] ^= key;
  return out.subarray(pad);
}

/** A message received on a {@link WsConnection}. */
export type WsMessage = string | Uint8Array;

export interface WsCloseInfo {
  code: number;
  reason: string;
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** A protocol error found while reading; the connection closes with its code. */
class WsProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
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
  #maskKeys: MaskKeys | null;
  #maxMessageBytes: number;
  /** Frames waiting for the write in flight, and the promise their write will settle. */
  #queue: Uint8Array[] = [];
  #queueWritten: PromiseWithResolvers<void> | undefined;
  /** Settles when everything queued so far has been written (or the connection ended). */
  #lastWrite: Promise<void> = Promise.resolve();
  #writing = false;
  #closeSent = false;
  #done = false;
  #queuedBytes = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: (info: WsCloseInfo) => void;

  /**
   * @param reader bytes from the peer (may hold bytes that followed the handshake)
   * @param writeBytes writes bytes to the peer, all of them, in order
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
    this.#maskKeys = options.role === "client" ? new MaskKeys() : null;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** Starts reading; call once after setting the handlers. */
  start(): void {
    this.#readLoop().then(
      () => this.#end({ code: 1006, reason: "stream ended without a close frame" }),
      (error) => this.#readFailed(error),
    );
  }

  /** True until a close frame has been sent or received, or the connection has ended. */
  get open(): boolean {
    return !this.#closeSent && !this.#done;
  }

  /** Queues a text or binary message; settles once it is written (or the connection ended). */
  send(message: WsMessage): Promise<void> {
    const binary = typeof message !== "string";
    const payload = binary ? message : encoder.encode(message);
    return this.#write(
      encodeWsFrame(binary ? Opcode.Binary : Opcode.Text, payload, this.#maskKeys),
    );
  }

  /** Sends a ping. */
  ping(): Promise<void> {
    return this.#write(encodeWsFrame(Opcode.Ping, new Uint8Array(0), this.#maskKeys));
  }

  /**
   * Starts the close handshake (or, if the peer started it, completes it). A peer that does not
   * answer within 2 s is dropped, so `closed` settles regardless.
   */
  close(code = 1000, reason = ""): Promise<void> {
    if (this.#closeSent || this.#done) return this.#lastWrite;
    this.#closeSent = true;
    const payload = new Uint8Array(2 + encoder.encode(reason).byteLength);
    new DataView(payload.buffer).setUint16(0, code);
    payload.set(encoder.encode(reason), 2);
    // A peer that never answers the close frame must not keep the transport open forever.
    this.#closeTimer = setTimeout(() => this.#end({ code, reason }), 2000);
    return this.#write(encodeWsFrame(Opcode.Close, payload, this.#maskKeys));
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
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.byteLength;
    this.#queueWritten ??= Promise.withResolvers<void>();
    this.#lastWrite = this.#queueWritten.promise;
    if (!this.#writing) this.#drain();
    return this.#lastWrite;
  }

  /** Writes the queue in order, one write in flight; what queued behind it goes in one write. */
  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0 && !this.#done) {
      const frames = this.#queue;
      const written = this.#queueWritten!;
      this.#queue = [];
      this.#queueWritten = undefined;
      const chunk = frames.length === 1 ? frames[0] : join(frames);
      try {
        await this.#writeBytes(chunk);
      } catch (error) {
        // A failed write ends the connection; later writes become no-ops.
        this.#end({ code: 1006, reason: String(error) });
      } finally {
        // The connection may have ended (and the count been reset) while this write ran.
        this.#queuedBytes = Math.max(0, this.#queuedBytes - chunk.byteLength);
        written.resolve();
      }
    }
    this.#writing = false;
  }

  async #readLoop(): Promise<void> {
    let fragments: Uint8Array[] = [];
    let fragmentOpcode = 0;
    let fragmentBytes = 0;
    while (!this.#done) {
      const frame = this.#parseBuffered() ?? await this.#nextFrame();
      if (frame === null) return;
      const { fin, opcode, payload } = frame;
      if (opcode === Opcode.Ping) {
        await this.#write(encodeWsFrame(Opcode.Pong, payload, this.#maskKeys));
      } else if (opcode === Opcode.Pong) {
        this.onPong();
      } else if (opcode === Opcode.Close) {
        const info = parseClose(payload);
        if (!this.#closeSent) await this.close(info.code === 1005 ? 1000 : info.code, "");
        await this.#lastWrite;
        this.#end(info);
        return;
      } else if (opcode > Opcode.Binary) {
        throw new WsProtocolError(1002, `unknown opcode ${opcode}`);
      } else {
        if (opcode !== Opcode.Continuation) {
          fragments = [];
          fragmentOpcode = opcode;
          fragmentBytes = 0;
        } else if (fragmentOpcode === 0) {
          throw new WsProtocolError(1002, "continuation frame with nothing to continue");
        }
        fragments.push(payload);
        fragmentBytes += payload.byteLength;
        if (fragmentBytes > this.#maxMessageBytes) {
          throw new WsProtocolError(1009, "message too big");
        }
        if (fin) {
          const whole = fragments.length === 1 ? fragments[0] : join(fragments);
          fragments = [];
          const type = fragmentOpcode;
          fragmentOpcode = 0;
          // Awaited so a slow consumer holds back reading (and the transport's flow control);
          // a handler that returns nothing costs no extra turn.
          const pending = this.onMessage(type === Opcode.Text ? decoder.decode(whole) : whole);
          if (pending) await pending;
        }
      }
    }
  }

  /** The next frame if all of it is already buffered (the usual case), without waiting. */
  #parseBuffered(): Frame | null {
    const bytes = this.#reader.peek();
    const have = bytes.byteLength;
    if (have < 2) return null;
    let len = bytes[1] & 0x7f;
    let head = 2;
    if (len === 126) {
      if (have < 4) return null;
      len = (bytes[2] << 8) | bytes[3];
      head = 4;
    } else if (len === 127) {
      return null; // 64-bit lengths are rare and large: the slow path checks them
    }
    const masked = (bytes[1] & 0x80) !== 0;
    const start = head + (masked ? 4 : 0);
    if (len > this.#maxMessageBytes || have < start + len) return null;
    const payload = bytes.slice(start, start + len);
    if (masked) unmask(payload, bytes.subarray(head, head + 4));
    this.#reader.skip(start + len);
    return { fin: (bytes[0] & 0x80) !== 0, opcode: bytes[0] & 0x0f, payload };
  }

  /** Reads one more chunk and parses from it; a frame split across chunks takes the long way. */
  async #nextFrame(): Promise<Frame | null> {
    if (this.#reader.buffered === 0 && !(await this.#reader.fill())) return null;
    return this.#parseBuffered() ?? await this.#readFrame();
  }

  async #readFrame(): Promise<Frame | null> {
    const first = await this.#reader.readSome(2);
    if (first === null) return null;
    const head = first.byteLength === 2 ? first : join([first, await this.#reader.readExact(1)]);
    const fin = (head[0] & 0x80) !== 0;
    const opcode = head[0] & 0x0f;
    const masked = (head[1] & 0x80) !== 0;
    let len = head[1] & 0x7f;
    if (len === 126) {
      len = new DataView((await this.#reader.readExact(2)).buffer).getUint16(0);
    } else if (len === 127) {
      const big = new DataView((await this.#reader.readExact(8)).buffer).getBigUint64(0);
      if (big > BigInt(this.#maxMessageBytes)) throw new WsProtocolError(1009, "frame too big");
      len = Number(big);
    }
    if (len > this.#maxMessageBytes) throw new WsProtocolError(1009, "frame too big");
    const key = masked ? await this.#reader.readExact(4) : undefined;
    const payload = await this.#reader.readExact(len);
    if (key) unmask(payload, key);
    return { fin, opcode, payload };
  }

  /** A protocol error is answered with a close frame carrying its code; anything else is 1006. */
  async #readFailed(error: unknown): Promise<void> {
    if (!(error instanceof WsProtocolError)) {
      const eof = error instanceof ByteReaderError && error.code === "unexpected_eof";
      const reason = eof ? "stream ended mid-frame" : String((error as Error)?.message ?? error);
      return this.#end({ code: 1006, reason });
    }
    await this.close(error.code, error.message);
    this.#end({ code: error.code, reason: error.message });
  }

  #end(info: WsCloseInfo): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#closeTimer);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#queueWritten?.resolve();
    this.#queueWritten = undefined;
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
  return { code, reason: decoder.decode(payload.subarray(2)) };
}

function unmask(payload: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < payload.byteLength; i++) payload[i] ^= key[i & 3];
}

function join(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
