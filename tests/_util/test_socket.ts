/**
 * The one WebSocket client of the tests: every frame is queued in arrival order, exactly as it
 * came (text as sent on the wire, binary as bytes), and awaited with a time-out, so tests wait on
 * events instead of sleeping. Read the queue as parsed JSON (`next`), as bytes (`nextBinary`),
 * either (`nextAny`), or raw (`nextRaw`: wsify deliveries are compared as text, byte for byte).
 *
 * @example
 * ```ts
 * await using host = await TestSocket.open(server.wsUrl);
 * const room = await createRoom(host);
 * const answer = await host.request({ type: "ping" });
 * ```
 *
 * @module
 */
// deno-lint-ignore no-explicit-any
export type Frame = Record<string, any>;

/** A frame as it arrived: text as sent on the wire, binary as bytes. */
export type RawFrame = string | Uint8Array<ArrayBuffer>;

/** How a socket closed. */
export interface Closed {
  code: number;
  reason: string;
}

const DEFAULT_TIMEOUT_MS = 3000;

export class TestSocket {
  /** Resolves once the socket closed, with the close code and reason. */
  readonly closed: Promise<Closed>;
  /** Every text frame received, as sent on the wire (before parsing), in arrival order. */
  readonly texts: string[] = [];
  #queue: RawFrame[] = [];
  #waiters: (() => void)[] = [];
  #ref = 1000;

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      if (typeof e.data === "string") this.texts.push(e.data);
      this.#queue.push(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
      this.#wake();
    };
    this.closed = new Promise((resolve) => {
      ws.onclose = (e) => {
        resolve({ code: e.code, reason: e.reason });
        this.#wake();
      };
    });
  }

  /** Opens a socket and waits until it is open; rejects when it cannot (a refused upgrade). */
  static open(url: string, protocols?: string | string[]): Promise<TestSocket> {
    const ws = new WebSocket(url, protocols);
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(socket);
      ws.onerror = (e) => reject(new Error(`cannot open ${url}: ${(e as ErrorEvent).message}`));
    });
  }

  /** Sends `frame` as JSON text. */
  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends text or bytes as they are. */
  sendRaw(data: string | Uint8Array<ArrayBuffer>): void {
    this.ws.send(data);
  }

  /** How many frames arrived and were not read yet. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The frames not read yet (JSON parsed, or bytes), without taking them. */
  unread(): (Frame | Uint8Array<ArrayBuffer>)[] {
    return this.#queue.map(parse);
  }

  /** The next frame as it arrived: text as sent on the wire, or bytes. */
  async nextRaw(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("socket closed, no frame");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#queue.shift()!;
  }

  /** The next frame in arrival order (JSON parsed, or bytes). */
  async nextAny(timeoutMs?: number): Promise<Frame | Uint8Array<ArrayBuffer>> {
    return parse(await this.nextRaw(timeoutMs));
  }

  /** The next frame, which must be JSON. */
  async next(timeoutMs?: number): Promise<Frame> {
    const frame = await this.nextAny(timeoutMs);
    if (frame instanceof Uint8Array) throw new Error("expected a JSON frame, got binary");
    return frame;
  }

  /** The next frame, which must be binary. */
  async nextBinary(timeoutMs?: number): Promise<Uint8Array<ArrayBuffer>> {
    const frame = await this.nextAny(timeoutMs);
    if (!(frame instanceof Uint8Array)) {
      throw new Error(`expected binary, got ${JSON.stringify(frame)}`);
    }
    return frame;
  }

  /** Sends a request with a fresh ref and returns the next frame (its answer). */
  async request(frame: Frame): Promise<Frame> {
    const ref = this.#ref++;
    this.send({ ...frame, ref });
    const answer = await this.next();
    if (answer.ref !== ref) {
      throw new Error(`expected the answer to ref ${ref}, got ${JSON.stringify(answer)}`);
    }
    return answer;
  }

  /**
   * Proves nothing else is queued for this socket: a ping's pong must be the very next frame.
   * (Frames to one socket leave the hub in order, so anything routed earlier arrives first.)
   */
  async expectNothingPending(): Promise<void> {
    const ref = `quiet-${this.#ref++}`;
    this.send({ type: "ping", ref });
    const frame = await this.nextAny();
    if (frame instanceof Uint8Array || frame.type !== "pong" || frame.ref !== ref) {
      throw new Error(`expected nothing pending, got ${JSON.stringify(frame)}`);
    }
  }

  /** Closes (if still open) and waits for the close to finish. */
  async close(): Promise<Closed> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    return await this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

function parse(frame: RawFrame): Frame | Uint8Array<ArrayBuffer> {
  return typeof frame === "string" ? JSON.parse(frame) : frame;
}

/** Creates an instance from `host` and returns the `instance_created` frame. */
export async function createRoom(host: TestSocket, extra: Frame = {}): Promise<Frame> {
  const created = await host.request({
    type: "create_instance",
    service: "chat",
    name: "Room",
    ...extra,
  });
  if (created.type !== "instance_created") throw new Error(JSON.stringify(created));
  return created;
}

/** Joins `member` to `uuid` as `userId`, consuming the host's `client_connected`. */
export async function joinRoom(
  host: TestSocket,
  member: TestSocket,
  uuid: string,
  userId: string,
  extra: Frame = {},
): Promise<Frame> {
  const ack = await member.request({ type: "join_instance", uuid, userId, ...extra });
  if (ack.success !== true) throw new Error(JSON.stringify(ack));
  const note = await host.next();
  if (note.type !== "client_connected" || note.userId !== userId) {
    throw new Error(`expected client_connected for ${userId}, got ${JSON.stringify(note)}`);
  }
  return ack;
}
