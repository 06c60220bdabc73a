/**
 * A minimal WebSocket client (RFC 6455) on Deno's own TCP and TLS connections, for the UDP tools'
 * link to the relay: the HTTP upgrade with the caller's headers, unfragmented binary and text
 * messages out, every kind of frame in, ping answered with pong, the close handshake.
 *
 * Why not Deno's `WebSocket`: in Deno 2.9 (2.9.6 measured again) its client leaves Nagle's
 * algorithm on and writes a frame with more than 1,024 payload bytes in two writes, so a lone
 * 1,100-byte message waits 44 ms for the relay's delayed ACK. Why not npm's `ws`: it runs on
 * Deno's Node compatibility layer (streams, `Buffer`s, a JavaScript mask per frame), which cost
 * 33–35 µs of client CPU per 1,200-byte round trip where this client costs about 20 (a loopback
 * echo with 16 in flight; docs/performance.md, "udp: issue 18's targets").
 *
 * Guarantees: `TCP_NODELAY` is on, and each send is one frame handed to the kernel in one write
 * (with whatever else is queued behind the write in flight, in order); every frame is masked with
 * a key from `crypto.getRandomValues`, as the RFC requires of clients; `bufferedAmount` counts the
 * bytes handed to {@link WsClient.send} and not yet written, so a caller can bound its backlog; a
 * received binary message is a fresh `Uint8Array` the caller may keep. `closed` resolves once,
 * when the connection has ended for whatever reason, with the close code (1006 when there was no
 * close frame).
 *
 * @module
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Largest message accepted from the server: the relay's frames are far below it. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export const ReadyState = { Open: 1, Closing: 2, Closed: 3 } as const;

/** The server answered the upgrade with something other than 101. */
export interface UpgradeRefused {
  status: number;
  body: string;
}

/** Mask keys drawn from the system's generator a block at a time (one call per 1,024 frames). */
class MaskKeys {
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

export class WsClient {
  /** A text message. */
  onText: (text: string) => void = () => {};
  /** A binary message; the bytes are the caller's to keep. */
  onBinary: (bytes: Uint8Array) => void = () => {};
  readonly closed: Promise<{ code: number; reason: string }>;
  #state: number = ReadyState.Open;
  #conn: Deno.Conn;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #keys = new MaskKeys();
  #closeCode = 1006;
  #closeReason = "";
  #resolveClosed!: (value: { code: number; reason: string }) => void;
  #fragments: Uint8Array[] = [];
  #fragmentOp = 0;

  private constructor(conn: Deno.Conn, rest: Uint8Array) {
    this.#conn = conn;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#read(rest).finally(() => this.#ended());
  }

  /**
   * Connects to `url` (ws: or wss:) and upgrades with `headers`; the server's refusal comes back
   * as its status and body, a network failure as the thrown error.
   */
  static async connect(
    url: URL,
    headers: Record<string, string>,
  ): Promise<WsClient | UpgradeRefused> {
    const secure = url.protocol === "wss:";
    const port = Number(url.port) || (secure ? 443 : 80);
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const conn = secure
      ? await Deno.connectTls({ hostname, port })
      : await Deno.connect({ hostname, port });
    try {
      // TCP_NODELAY: a frame leaves at once instead of waiting for the previous one's ACK.
      (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      const lines = [
        `GET ${url.pathname}${url.search} HTTP/1.1`,
        `Host: ${url.host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      await writeAll(conn, new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
      const { head, rest } = await readHead(conn);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status !== 101) {
        const body = new TextDecoder().decode(rest).slice(0, 200);
        conn.close();
        return { status, body };
      }
      const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
      if (accept !== await acceptFor(key)) {
        throw new Error("the server's Sec-WebSocket-Accept is wrong");
      }
      return new WsClient(conn, rest);
    } catch (err) {
      try {
        conn.close();
      } catch { /* already closed */ }
      throw err;
    }
  }

  get readyState(): number {
    return this.#state;
  }

  /** Bytes handed to {@link send} and not yet written to the connection. */
  get bufferedAmount(): number {
    return this.#queued;
  }

  /** Sends one message (a string as text, bytes as binary); false when the socket is not open. */
  send(data: Uint8Array | string): boolean {
    if (this.#state !== ReadyState.Open) return false;
    if (typeof data === "string") this.#enqueue(Op.Text, new TextEncoder().encode(data));
    else this.#enqueue(Op.Binary, data);
    return true;
  }

  /** Starts the close handshake; the connection ends when the server answers (or fails). */
  close(code = 1000, reason = ""): void {
    if (this.#state !== ReadyState.Open) return;
    const text = new TextEncoder().encode(reason);
    const payload = new Uint8Array(2 + text.length);
    new DataView(payload.buffer).setUint16(0, code);
    payload.set(text, 2);
    this.#enqueue(Op.Close, payload);
    this.#state = ReadyState.Closing;
  }

  /** Ends the connection now, without a close handshake. */
  terminate(): void {
    if (this.#state === ReadyState.Closed) return;
    this.#state = ReadyState.Closed;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #enqueue(op: number, payload: Uint8Array): void {
    const frame = this.#frame(op, payload);
    this.#queue.push(frame);
    this.#queued += frame.length;
    if (!this.#writing) this.#drain();
  }

  /** One masked frame, its payload 4-byte aligned in memory so the mask runs a word at a time. */
  #frame(op: number, payload: Uint8Array): Uint8Array {
    const length = payload.length;
    const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const pad = (4 - ((head + 4) % 4)) % 4;
    const start = pad + head + 4;
    const buffer = new ArrayBuffer(start + length + 3);
    const out = new Uint8Array(buffer, 0, start + length);
    const view = new DataView(buffer);
    out[pad] = 0x80 | op;
    if (head === 2) out[pad + 1] = 0x80 | length;
    else if (head === 4) {
      out[pad + 1] = 0x80 | 126;
      view.setUint16(pad + 2, length);
    } else {
      out[pad + 1] = 0x80 | 127;
      view.setUint32(pad + 2, Math.floor(length / 2 ** 32));
      view.setUint32(pad + 6, length >>> 0);
    }
    const key = this.#keys.take();
    // The key in memory order is the key on the wire: bytes k0..k3 mask payload bytes 4i..4i+3.
    new Uint32Array(buffer, pad + head, 1)[0] = key;
    out.set(payload, start);
    const words = new Uint32Array(buffer, start, (length + 3) >>> 2);
    for (let i = 0; i < words.length; i++) words[i] ^= key;
    return out.subarray(pad);
  }

  /** Writes the queue in order, one write in flight; what queued behind it goes in one write. */
  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && this.#state !== ReadyState.Closed) {
        const chunk = this.#queue.length === 1 ? this.#queue[0] : concat(this.#queue);
        this.#queue = [];
        await writeAll(this.#conn, chunk);
        // The connection may have ended (and the count been reset) while this write ran.
        this.#queued = Math.max(0, this.#queued - chunk.length);
      }
    } catch {
      this.terminate();
    } finally {
      this.#writing = false;
    }
  }

  async #read(rest: Uint8Array): Promise<void> {
    let buffer = new Uint8Array(Math.max(64 * 1024, rest.length));
    buffer.set(rest);
    let have = rest.length;
    for (;;) {
      let at = 0;
      for (;;) {
        const frame = parseFrame(buffer, at, have);
        if (frame === null) break;
        if (frame === "too_big") {
          this.#fail(1009, "message too big");
          return;
        }
        at = frame.end;
        if (!this.#onFrame(frame.fin, frame.op, buffer.subarray(frame.start, frame.end))) return;
      }
      if (at > 0) {
        buffer.copyWithin(0, at, have);
        have -= at;
      }
      const needed = frameLength(buffer, have);
      if (needed > buffer.length) {
        const bigger = new Uint8Array(Math.max(needed, buffer.length * 2));
        bigger.set(buffer.subarray(0, have));
        buffer = bigger;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(buffer.subarray(have));
      } catch {
        return;
      }
      if (n === null) return;
      have += n;
    }
  }

  /** Handles one frame; false when the connection is done. */
  #onFrame(fin: boolean, op: number, payload: Uint8Array): boolean {
    switch (op) {
      case Op.Ping:
        if (this.#state === ReadyState.Open) this.#enqueue(Op.Pong, payload.slice());
        return true;
      case Op.Pong:
        return true;
      case Op.Close: {
        if (payload.length >= 2) {
          this.#closeCode = new DataView(payload.buffer, payload.byteOffset).getUint16(0);
          this.#closeReason = new TextDecoder().decode(payload.subarray(2));
        } else this.#closeCode = 1005;
        if (this.#state === ReadyState.Open) {
          this.close(this.#closeCode === 1005 ? 1000 : this.#closeCode);
        }
        // The server ends the TCP connection after its close frame; ours is queued before that.
        return true;
      }
      case Op.Text:
      case Op.Binary:
        if (fin && this.#fragments.length === 0) {
          this.#deliver(op, payload.slice());
          return true;
        }
        this.#fragmentOp = op;
        this.#fragments = [payload.slice()];
        return true;
      case Op.Continuation:
        if (this.#fragments.length === 0) return this.#fail(1002, "continuation without a start");
        this.#fragments.push(payload.slice());
        if (!fin) return true;
        this.#deliver(this.#fragmentOp, concat(this.#fragments));
        this.#fragments = [];
        return true;
      default:
        return this.#fail(1002, `unknown opcode ${op}`);
    }
  }

  #deliver(op: number, bytes: Uint8Array): void {
    if (op === Op.Binary) this.onBinary(bytes);
    else this.onText(new TextDecoder().decode(bytes));
  }

  #fail(code: number, reason: string): false {
    this.#closeCode = code;
    this.#closeReason = reason;
    this.terminate();
    return false;
  }

  #ended(): void {
    this.terminate();
    this.#queue = [];
    this.#queued = 0;
    this.#resolveClosed({ code: this.#closeCode, reason: this.#closeReason });
  }
}

interface Frame {
  fin: boolean;
  op: number;
  start: number;
  end: number;
}

/** The frame at `at`, if all of it is in `buffer[at, have)`; unmasks a masked payload in place. */
function parseFrame(buffer: Uint8Array, at: number, have: number): Frame | null | "too_big" {
  if (have - at < 2) return null;
  const first = buffer[at], second = buffer[at + 1];
  let length = second & 0x7f;
  let head = 2;
  if (length === 126) {
    if (have - at < 4) return null;
    length = (buffer[at + 2] << 8) | buffer[at + 3];
    head = 4;
  } else if (length === 127) {
    if (have - at < 10) return null;
    const view = new DataView(buffer.buffer, buffer.byteOffset + at + 2, 8);
    length = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    head = 10;
  }
  if (length > MAX_MESSAGE_BYTES) return "too_big";
  const masked = (second & 0x80) !== 0;
  const start = at + head + (masked ? 4 : 0);
  if (have < start + length) return null;
  if (masked) {
    for (let i = 0; i < length; i++) buffer[start + i] ^= buffer[start - 4 + (i & 3)];
  }
  return { fin: (first & 0x80) !== 0, op: first & 0x0f, start, end: start + length };
}

/** Bytes the frame starting at 0 needs in all, once its header is in (else 0). */
function frameLength(buffer: Uint8Array, have: number): number {
  if (have < 2) return 0;
  const second = buffer[1];
  let length = second & 0x7f, head = 2;
  if (length === 126) {
    if (have < 4) return 0;
    length = (buffer[2] << 8) | buffer[3];
    head = 4;
  } else if (length === 127) {
    if (have < 10) return 0;
    const view = new DataView(buffer.buffer, buffer.byteOffset + 2, 8);
    length = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    head = 10;
  }
  return Math.min(head + ((second & 0x80) ? 4 : 0) + length, MAX_MESSAGE_BYTES + 14);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** The response head (up to the blank line) and the bytes after it. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let buffer = new Uint8Array(4096);
  let have = 0;
  for (;;) {
    if (have === buffer.length) {
      if (buffer.length >= 64 * 1024) throw new Error("the server's response head is too long");
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = await conn.read(buffer.subarray(have));
    if (n === null) throw new Error("the server closed the connection during the upgrade");
    have += n;
    const text = new TextDecoder("latin1").decode(buffer.subarray(0, have));
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) return { head: text.slice(0, end), rest: buffer.slice(end + 4, have) };
  }
}

async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}
