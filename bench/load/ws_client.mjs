/**
 * A lean WebSocket client on `node:net` for the load generator: it does its own framing so that the
 * client side costs far less CPU than the server it measures.
 *
 * Why not `WebSocket` or the `ws` client: both saturate a core before a Deno server does on a
 * 2-core machine. This client does only what a benchmark needs:
 * - one HTTP/1.1 upgrade per socket (the accept key is not checked: the peer is our own server);
 * - frames are masked as RFC 6455 requires (a random key per connection); binary frames that are
 *   sent again and again are built and masked once (`buildFrame`) and written as they are;
 * - incoming frames (unmasked, from the server) are reassembled without quadratic copying, pings
 *   are answered, a close frame ends the socket.
 *
 * Plain JavaScript on purpose: the same file runs under Node (preferred, libuv sockets with no
 * compatibility layer) and under Deno (`node:net` compatibility) when Node is absent.
 *
 * @module
 */
import net from "node:net";
import { randomBytes } from "node:crypto";

export const Opcode = Object.freeze({
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
});

const HEADER_END = Buffer.from("\r\n\r\n");

/** Length of a client frame header (with the 4-byte mask key) for a payload of `len` bytes. */
function headerLength(len) {
  if (len < 126) return 6;
  if (len < 65536) return 8;
  return 14;
}

/** Writes the frame header for `len` payload bytes and returns the offset of the payload. */
function writeHeader(frame, opcode, len, mask) {
  frame[0] = 0x80 | opcode;
  let at;
  if (len < 126) {
    frame[1] = 0x80 | len;
    at = 2;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
    at = 4;
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(len, 6);
    at = 10;
  }
  frame[at] = mask[0];
  frame[at + 1] = mask[1];
  frame[at + 2] = mask[2];
  frame[at + 3] = mask[3];
  return at + 4;
}

function maskInPlace(frame, from, mask) {
  for (let i = from, j = 0; i < frame.length; i++, j++) frame[i] ^= mask[j & 3];
}

/**
 * One client connection. Set `onText(string)`, `onBinary(Buffer)` and `onClose(code)` before data
 * arrives; `connectWebSocket` resolves once the upgrade succeeded.
 */
export class WsClient {
  constructor(socket, mask) {
    this.socket = socket;
    this.mask = mask;
    this.onText = () => {};
    this.onBinary = () => {};
    this.onClose = () => {};
    this.closed = false;
    this.closeCode = 0;
    this.chunks = [];
    this.pendingLen = 0;
    this.need = 0;
    this.fragments = null;
    this.fragmentOpcode = 0;
  }

  /** Sends one masked text frame. */
  sendText(text) {
    if (this.closed) return;
    const len = Buffer.byteLength(text);
    const frame = Buffer.allocUnsafe(headerLength(len) + len);
    const at = writeHeader(frame, Opcode.Text, len, this.mask);
    frame.write(text, at, "utf8");
    maskInPlace(frame, at, this.mask);
    this.socket.write(frame);
  }

  /**
   * Sends several text frames in one write (one syscall): a load generator that wrote each frame
   * on its own would spend as much CPU per message as the server it measures.
   */
  sendTexts(texts) {
    if (this.closed || texts.length === 0) return;
    let total = 0;
    const lengths = texts.map((t) => {
      const len = Buffer.byteLength(t);
      total += headerLength(len) + len;
      return len;
    });
    const buf = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < texts.length; i++) {
      const frame = buf.subarray(at, at + headerLength(lengths[i]) + lengths[i]);
      const payloadAt = writeHeader(frame, Opcode.Text, lengths[i], this.mask);
      frame.write(texts[i], payloadAt, "utf8");
      maskInPlace(frame, payloadAt, this.mask);
      at += frame.length;
    }
    this.socket.write(buf);
  }

  /** Builds a masked frame once, for payloads sent many times (binary chunks). */
  buildFrame(opcode, payload) {
    const frame = Buffer.allocUnsafe(headerLength(payload.length) + payload.length);
    const at = writeHeader(frame, opcode, payload.length, this.mask);
    payload.copy(frame, at);
    maskInPlace(frame, at, this.mask);
    return frame;
  }

  /** Writes a frame made by `buildFrame`; returns false when the kernel buffer is full. */
  sendFrame(frame) {
    if (this.closed) return false;
    return this.socket.write(frame);
  }

  /** Closes at once: benchmarks tear down thousands of sockets and need no closing handshake. */
  destroy() {
    this.closed = true;
    this.socket.destroy();
  }

  /** Feeds bytes that arrived after the upgrade response. */
  receive(chunk) {
    let buf;
    if (this.pendingLen === 0) {
      buf = chunk;
    } else {
      this.chunks.push(chunk);
      this.pendingLen += chunk.length;
      if (this.pendingLen < this.need) return;
      buf = Buffer.concat(this.chunks, this.pendingLen);
      this.chunks = [];
      this.pendingLen = 0;
    }
    let at = 0;
    // Bytes needed before parsing again: 0 (any) while a header is incomplete.
    this.need = 0;
    while (!this.closed) {
      const left = buf.length - at;
      if (left < 2) break;
      const b1 = buf[at + 1] & 0x7f;
      let header = 2;
      let len = b1;
      if (b1 === 126) {
        header = 4;
        if (left < header) break;
        len = buf.readUInt16BE(at + 2);
      } else if (b1 === 127) {
        header = 10;
        if (left < header) break;
        len = buf.readUInt32BE(at + 2) * 4294967296 + buf.readUInt32BE(at + 6);
      }
      if (left < header + len) {
        this.need = header + len;
        break;
      }
      const b0 = buf[at];
      this.dispatch(b0 & 0x0f, (b0 & 0x80) !== 0, buf.subarray(at + header, at + header + len));
      at += header + len;
    }
    if (at < buf.length && !this.closed) {
      const rest = buf.subarray(at);
      this.chunks = [rest];
      this.pendingLen = rest.length;
    }
  }

  dispatch(opcode, fin, payload) {
    if (opcode === Opcode.Continuation || !fin) {
      this.collectFragment(opcode, fin, payload);
      return;
    }
    this.deliver(opcode, payload);
  }

  collectFragment(opcode, fin, payload) {
    if (opcode !== Opcode.Continuation) {
      this.fragments = [];
      this.fragmentOpcode = opcode;
    }
    if (this.fragments === null) return;
    this.fragments.push(Buffer.from(payload));
    if (!fin) return;
    const whole = Buffer.concat(this.fragments);
    this.fragments = null;
    this.deliver(this.fragmentOpcode, whole);
  }

  deliver(opcode, payload) {
    switch (opcode) {
      case Opcode.Text:
        this.onText(payload.toString("utf8"));
        return;
      case Opcode.Binary:
        this.onBinary(payload);
        return;
      case Opcode.Ping:
        this.sendFrame(this.buildFrame(Opcode.Pong, payload));
        return;
      case Opcode.Close:
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closed = true;
        this.socket.destroy();
        return;
      default:
        return;
    }
  }
}

/**
 * Opens a WebSocket to ws://host:port/path. Resolves with the client once the server answered 101;
 * rejects on a refused connection, another status, or after `timeoutMs`. `init(client)` runs before
 * any frame is read, so handlers it sets see frames that came with the 101 response.
 */
export function connectWebSocket({ host, port, path, timeoutMs = 10000, init = () => {} }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const client = new WsClient(socket, randomBytes(4));
    init(client);
    let head = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`upgrade timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    socket.on("data", (chunk) => {
      if (upgraded) {
        client.receive(chunk);
        return;
      }
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf(HEADER_END);
      if (end < 0) return;
      const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      if (!status.startsWith("HTTP/1.1 101")) {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`upgrade refused: ${status}`));
        return;
      }
      upgraded = true;
      clearTimeout(timer);
      const rest = head.subarray(end + HEADER_END.length);
      head = Buffer.alloc(0);
      resolve(client);
      if (rest.length) client.receive(rest);
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      if (!upgraded) reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const wasOpen = !client.closed;
      client.closed = true;
      if (upgraded && wasOpen) client.onClose(client.closeCode || 1006);
      else if (upgraded) client.onClose(client.closeCode);
    });
  });
}
