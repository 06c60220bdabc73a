/**
 * A WebSocket client for tests: frames are queued in arrival order and awaited with a time-out,
 * so tests wait on events instead of sleeping.
 *
 * @module
 */
// deno-lint-ignore no-explicit-any
export type Frame = Record<string, any>;

const DEFAULT_TIMEOUT_MS = 3000;

export class TestSocket {
  readonly frames: (Frame | Uint8Array)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];
  #ref = 1000;
  /** Every text frame received, as sent on the wire (before parsing), in arrival order. */
  readonly texts: string[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      if (typeof e.data === "string") this.texts.push(e.data);
      this.frames.push(typeof e.data === "string" ? JSON.parse(e.data) : new Uint8Array(e.data));
      this.#wake();
    };
    this.closed = new Promise((resolve) => {
      ws.onclose = (e) => {
        resolve({ code: e.code, reason: e.reason });
        this.#wake();
      };
    });
  }

  /** Opens a socket and waits until it is open (or fails). */
  static open(url: string, protocols?: string | string[]): Promise<TestSocket> {
    const ws = new WebSocket(url, protocols);
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(socket);
      ws.onerror = (e) => reject(new Error(`cannot open ${url}: ${(e as ErrorEvent).message}`));
    });
  }

  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Uint8Array<ArrayBuffer>): void {
    this.ws.send(data);
  }

  /** The next frame in arrival order (JSON parsed, or bytes). */
  async nextAny(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame | Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
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
    return this.frames.shift()!;
  }

  /** The next frame, which must be JSON. */
  async next(timeoutMs?: number): Promise<Frame> {
    const frame = await this.nextAny(timeoutMs);
    if (frame instanceof Uint8Array) throw new Error("expected a JSON frame, got binary");
    return frame;
  }

  /** The next frame, which must be binary. */
  async nextBinary(timeoutMs?: number): Promise<Uint8Array> {
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

  async close(): Promise<void> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    await this.closed;
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
