/**
 * A WebSocket client for tests that queues what it receives, so a test awaits the next frame (with
 * a time-out) instead of sleeping; plus a raw upgrade request to read the HTTP status a refused
 * upgrade gets. Unlike tests/_util/test_socket.ts it keeps frames as they arrived: wsify
 * deliveries are compared as raw text, byte for byte.
 *
 * @module
 */

export type Frame = string | ArrayBuffer;

export class TestSocket {
  readonly ws: WebSocket;
  readonly closed: Promise<CloseEvent>;
  #frames: Frame[] = [];
  #waiting?: () => void;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      this.#frames.push(e.data);
      this.#waiting?.();
    };
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        resolve(e);
        this.#waiting?.();
      });
    });
  }

  /** Opens a socket; rejects when the upgrade is refused. */
  static open(url: string): Promise<TestSocket> {
    const socket = new TestSocket(new WebSocket(url));
    return new Promise((resolve, reject) => {
      socket.ws.onopen = () => resolve(socket);
      socket.ws.onerror = () => reject(new Error(`could not open ${url}`));
    });
  }

  send(data: string | Uint8Array<ArrayBuffer> | object): void {
    this.ws.send(
      typeof data === "string" || data instanceof Uint8Array ? data : JSON.stringify(data),
    );
  }

  /** The next frame, or an error after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(
          this.ws.readyState === WebSocket.CLOSED ? "socket closed" : "no frame in time",
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#frames.shift()!;
  }

  /** The next frame, parsed as JSON (it must be text). */
  async nextJson(timeoutMs?: number): Promise<Record<string, unknown>> {
    const frame = await this.next(timeoutMs);
    if (typeof frame !== "string") throw new Error("expected a text frame, got binary");
    return JSON.parse(frame);
  }

  /** How many frames arrived and were not read yet. */
  get pending(): number {
    return this.#frames.length;
  }

  /** Closes and waits for the close to finish. */
  async close(): Promise<CloseEvent> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    return await this.closed;
  }
}

/**
 * Sends a WebSocket upgrade by hand and returns the status line's code and the body, to see what a
 * refused upgrade is answered (a browser WebSocket only reports "error").
 */
export async function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      "",
      "",
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n")));
    let text = "";
    const buf = new Uint8Array(4096);
    const decoder = new TextDecoder();
    // Read until the headers and the announced body are in (or the server closes).
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const length = Number(/content-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.startsWith("HTTP/1.1 101") || text.length >= end + 4 + length) break;
    }
    const status = Number(text.split(" ")[1]);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}
