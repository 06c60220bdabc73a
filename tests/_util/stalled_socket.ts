/**
 * A WebSocket client over a raw TCP connection that can stop reading: the only way to make the
 * relay's outgoing backlog towards a socket grow, which a well-behaved WebSocket never allows.
 *
 * @module
 */
export class StalledSocket {
  #buffer = new Uint8Array(0);
  private constructor(readonly conn: Deno.TcpConn) {}

  /** Opens `ws://127.0.0.1:<port><path>` and completes the handshake. */
  static async open(port: number, path: string): Promise<StalledSocket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const socket = new StalledSocket(conn);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await socket.#write(new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const head = await socket.#readUntil("\r\n\r\n");
    if (!head.startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${head}`);
    return socket;
  }

  /** Sends one masked text frame. */
  async sendText(text: string): Promise<void> {
    const payload = new TextEncoder().encode(text);
    if (payload.length > 125) throw new Error("keep test frames short");
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const frame = new Uint8Array(6 + payload.length);
    frame[0] = 0x81;
    frame[1] = 0x80 | payload.length;
    frame.set(mask, 2);
    for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i % 4];
    await this.#write(frame);
  }

  /** Reads one unfragmented text frame sent by the server (short frames only). */
  async readText(): Promise<string> {
    while (this.#buffer.length < 2) await this.#fill();
    let len = this.#buffer[1] & 0x7f, at = 2;
    if (len === 126) {
      while (this.#buffer.length < 4) await this.#fill();
      len = (this.#buffer[2] << 8) | this.#buffer[3];
      at = 4;
    }
    while (this.#buffer.length < at + len) await this.#fill();
    const text = new TextDecoder().decode(this.#buffer.subarray(at, at + len));
    this.#buffer = this.#buffer.slice(at + len);
    return text;
  }

  close(): void {
    this.conn.close();
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += await this.conn.write(bytes.subarray(done));
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(this.#buffer.length + n);
    next.set(this.#buffer);
    next.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = next;
  }

  async #readUntil(marker: string): Promise<string> {
    for (;;) {
      const text = new TextDecoder().decode(this.#buffer);
      const end = text.indexOf(marker);
      if (end >= 0) {
        this.#buffer = this.#buffer.slice(end + marker.length);
        return text.slice(0, end);
      }
      await this.#fill();
    }
  }
}
