/**
 * wsmux sessions: many bidirectional byte streams over one WebSocket, wire-compatible with
 * taskcluster websocktunnel's `wsmux` package (frames in ./wsmux_frame.ts).
 *
 * What a session guarantees:
 * - **Per-stream credit.** A side may have at most as many unacknowledged DATA bytes in flight on
 *   a stream as the peer granted with ACK frames. Bytes are acknowledged when the reader of
 *   `stream.readable` takes them, not when they arrive, so a slow consumer slows only its own
 *   stream; memory per stream is bounded by the window.
 * - **Upstream's window rule.** The acceptor answers a SYN with ACK(n) and assumes the opener may
 *   receive n bytes too (upstream's servers buffer 4096 bytes a stream, so n ≤ 4096). Each side
 *   then grants the rest of its own window in a second ACK, which upstream peers add to their
 *   credit; both directions end up with `windowBytes` in flight without overrunning a Go peer.
 * - **Half close.** FIN ends one direction; a stream leaves the session once both sides sent FIN.
 * - **Strict input.** Any malformed or out-of-protocol frame closes the whole session with one of
 *   the {@link MuxCloseCode}s (a peer that breaks framing cannot be trusted with its other streams).
 *   Late ACK and FIN frames for streams already gone are ignored: they are legitimate races.
 *
 * The session does no I/O of its own: it sends through a {@link MuxTransport} and is fed with
 * `receive()` / `transportClosed()`; {@link muxOverWebSocket} wires a standard WebSocket.
 *
 * @module
 */
import {
  decodeFrame,
  encodeAck,
  encodeData,
  encodeFin,
  encodeSyn,
  FrameType,
  HEADER_BYTES,
} from "./wsmux_frame.ts";

/** WebSocket close codes a session closes with; documented in docs/tunnels.md. */
export const MuxCloseCode = {
  /** Orderly close by either side. */
  Normal: 1000,
  /** A message that is not a frame: shorter than 5 bytes, unknown type, SYN/FIN with a payload,
   * ACK without exactly 4 credit bytes, or a text message. */
  MalformedFrame: 4900,
  /** A well-formed frame that breaks the protocol: DATA on a stream that is not open, DATA after
   * FIN, a SYN with the wrong parity or for an id already in use. */
  ProtocolViolation: 4901,
  /** DATA beyond the credit this side granted. */
  FlowControl: 4902,
  /** A message longer than the configured maximum frame size. */
  FrameTooLarge: 4903,
  /** The peer answered no ping within the keepalive interval. */
  KeepaliveTimeout: 4904,
  /** A newer registration with the same tunnel id replaced this session. */
  Replaced: 4905,
  /** The server is shutting down. */
  GoingAway: 4906,
} as const;
export type MuxCloseCode = typeof MuxCloseCode[keyof typeof MuxCloseCode];

/** Why a stream operation failed. */
export type MuxErrorCode =
  | "session_closed"
  | "too_many_streams"
  | "open_timeout"
  | "refused"
  | "stream_closed";

/** A failed stream operation; `code` says which. */
export class MuxError extends Error {
  constructor(readonly code: MuxErrorCode, message: string) {
    super(message);
    this.name = "MuxError";
  }
}

/** What a session sends through. */
export interface MuxTransport {
  send(message: Uint8Array<ArrayBuffer>): void;
  close(code: number, reason: string): void;
}

/** How a session ended. */
export interface MuxCloseInfo {
  code: number;
  reason: string;
  /** True when this side decided to close (including protocol violations by the peer). */
  local: boolean;
}

/** The window an upstream acceptor assumes the opener has (websocktunnel's server buffer). */
export const UPSTREAM_WINDOW_BYTES = 4096;

export interface MuxOptions {
  /** "server" opens even stream ids and accepts odd ones; "client" the reverse. */
  role: "server" | "client";
  /** Bytes a peer may have in flight per stream towards this side. Default 256 KiB. */
  windowBytes?: number;
  /** Largest DATA payload accepted (and the cap on what this side sends). Default 64 KiB. */
  maxFramePayloadBytes?: number;
  /** Open streams at once, both directions. Default 256. */
  maxStreams?: number;
  /** How long `open()` waits for the peer's ACK. Default 30 s (upstream's value). */
  openTimeoutMs?: number;
  /** Called for each stream the peer opens; without it incoming SYNs are refused with FIN. */
  onStream?: (stream: MuxStream) => void;
  /** Called once when the session ends. */
  onClose?: (info: MuxCloseInfo) => void;
}

const SEND_CHUNK_BYTES = 64 * 1024;

/** One stream of a session: bytes in through `readable`, out through `writable`. */
export class MuxStream {
  readonly id: number;
  /** Bytes the peer sent; each chunk read is acknowledged to the peer. Closes on the peer's FIN. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer, split by credit; closing it sends FIN. */
  readonly writable: WritableStream<Uint8Array>;

  #session: MuxSession;
  #queue: Uint8Array[] = [];
  #sendCredit = 0;
  #recvAllowance = 0;
  #accepted: boolean;
  #localFin = false;
  #remoteFin = false;
  #discarding = false;
  #dead = false;
  #readableDone = false;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  /** @internal Created by {@link MuxSession} only. */
  constructor(session: MuxSession, id: number, accepted: boolean) {
    this.#session = session;
    this.id = id;
    this.#accepted = accepted;
    this.readable = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: () => this.abort(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.closeWrite(),
      abort: () => this.abort(),
    });
  }

  /** True once both sides have sent FIN, or the session ended. */
  get finished(): boolean {
    return this.#dead || (this.#localFin && this.#remoteFin);
  }

  /** Sends `bytes`, waiting for credit as needed; rejects if the stream or session closes. */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      while (this.#sendCredit === 0 && this.#writable()) {
        await new Promise<void>((resolve) => this.#wakeWriter = resolve);
      }
      if (!this.#writable()) {
        throw new MuxError("stream_closed", `stream ${this.id} is closed for writing`);
      }
      const n = Math.min(this.#sendCredit, SEND_CHUNK_BYTES, bytes.byteLength - offset);
      this.#session.sendFrame(encodeData(this.id, bytes.subarray(offset, offset + n)));
      this.#sendCredit -= n;
      offset += n;
    }
  }

  /** Sends FIN: this side writes no more. Reading continues until the peer's FIN. */
  closeWrite(): void {
    if (this.#localFin || this.#dead) return;
    this.#localFin = true;
    this.#session.sendFrame(encodeFin(this.id));
    this.#wake();
    this.#session.forgetIfFinished(this);
  }

  /** Gives the stream up: FIN if not yet sent, drops unread bytes and acknowledges later ones so
   * the peer is never left waiting for credit on a stream nobody reads. */
  abort(): void {
    if (!this.#discarding) {
      this.#discarding = true;
      const unread = this.#queue.reduce((sum, c) => sum + c.byteLength, 0);
      this.#queue = [];
      if (unread > 0) this.#grant(unread);
    }
    this.closeWrite();
    this.#wake();
  }

  // ---- called by the session ----

  /** @internal The peer's ACK: the first one accepts a stream this side opened. */
  onAck(credit: number): "accepted" | "credit" {
    this.#sendCredit += credit;
    this.#wake();
    if (this.#accepted) return "credit";
    this.#accepted = true;
    this.#recvAllowance = credit;
    return "accepted";
  }

  /** @internal Sets the initial credit of a stream the peer opened. */
  onAccept(assumedPeerWindow: number, ownWindow: number): void {
    this.#sendCredit = assumedPeerWindow;
    this.#recvAllowance = ownWindow;
  }

  /** @internal Tops the peer's credit up to `ownWindow` after it acknowledged our SYN. */
  grantRest(ownWindow: number): void {
    if (ownWindow > this.#recvAllowance) this.#grant(ownWindow - this.#recvAllowance);
  }

  /** @internal The peer's DATA; returns a violation to close the session with, if any. */
  onData(payload: Uint8Array): { code: MuxCloseCode; message: string } | undefined {
    if (!this.#accepted) {
      return { code: MuxCloseCode.ProtocolViolation, message: `DATA before ACK on ${this.id}` };
    }
    if (this.#remoteFin) {
      return { code: MuxCloseCode.ProtocolViolation, message: `DATA after FIN on ${this.id}` };
    }
    if (payload.byteLength > this.#recvAllowance) {
      return {
        code: MuxCloseCode.FlowControl,
        message: `${payload.byteLength} bytes on stream ${this.id} exceed credit`,
      };
    }
    this.#recvAllowance -= payload.byteLength;
    if (this.#discarding) {
      this.#grant(payload.byteLength);
      return undefined;
    }
    if (payload.byteLength > 0) this.#queue.push(payload);
    this.#wake();
    return undefined;
  }

  /** @internal The peer's FIN. */
  onFin(): void {
    this.#remoteFin = true;
    this.#wake();
  }

  /** @internal The session ended; every pending read and write fails. */
  kill(): void {
    this.#dead = true;
    this.#wake();
  }

  get accepted(): boolean {
    return this.#accepted;
  }

  get remoteFinished(): boolean {
    return this.#remoteFin;
  }

  get localFinished(): boolean {
    return this.#localFin;
  }

  #writable(): boolean {
    return !this.#localFin && !this.#dead && !this.#discarding;
  }

  #grant(bytes: number): void {
    this.#recvAllowance += bytes;
    if (!this.#dead) this.#session.sendFrame(encodeAck(this.id, bytes));
  }

  #wake(): void {
    const r = this.#wakeReader, w = this.#wakeWriter;
    this.#wakeReader = this.#wakeWriter = undefined;
    r?.();
    w?.();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.#queue.length === 0 && !this.#remoteFin && !this.#dead && !this.#discarding) {
      await new Promise<void>((resolve) => this.#wakeReader = resolve);
    }
    if (this.#readableDone) return;
    const chunk = this.#queue.shift();
    if (chunk) {
      controller.enqueue(chunk);
      this.#grant(chunk.byteLength);
      return;
    }
    this.#readableDone = true;
    if (this.#remoteFin) {
      controller.close();
    } else {
      const code = this.#dead ? "session_closed" : "stream_closed";
      controller.error(new MuxError(code, `stream ${this.id} ended before the peer's FIN`));
    }
  }
}

/** A wsmux session over one transport. */
export class MuxSession {
  readonly role: "server" | "client";
  readonly windowBytes: number;
  readonly maxFramePayloadBytes: number;
  readonly maxStreams: number;
  readonly openTimeoutMs: number;
  readonly closed: Promise<MuxCloseInfo>;

  #transport: MuxTransport;
  #options: MuxOptions;
  #streams = new Map<number, MuxStream>();
  #pending = new Map<
    number,
    {
      resolve: (s: MuxStream) => void;
      reject: (e: MuxError) => void;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  #nextId: number;
  #closeInfo: MuxCloseInfo | undefined;
  #resolveClosed!: (info: MuxCloseInfo) => void;

  constructor(transport: MuxTransport, options: MuxOptions) {
    this.#transport = transport;
    this.#options = options;
    this.role = options.role;
    this.windowBytes = options.windowBytes ?? 256 * 1024;
    this.maxFramePayloadBytes = options.maxFramePayloadBytes ?? 64 * 1024;
    this.maxStreams = options.maxStreams ?? 256;
    this.openTimeoutMs = options.openTimeoutMs ?? 30_000;
    this.#nextId = options.role === "server" ? 0 : 1;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** Streams currently open (including ones waiting for the peer's ACK). */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** How the session ended, once it has. */
  get closeInfo(): MuxCloseInfo | undefined {
    return this.#closeInfo;
  }

  /**
   * Opens a stream: sends SYN and resolves when the peer's ACK arrives.
   * Rejects with a {@link MuxError}: `session_closed`, `too_many_streams`, `open_timeout`, or
   * `refused` (the peer answered FIN).
   */
  open(): Promise<MuxStream> {
    if (this.#closeInfo) {
      return Promise.reject(new MuxError("session_closed", "the tunnel session is closed"));
    }
    if (this.#streams.size >= this.maxStreams) {
      return Promise.reject(
        new MuxError("too_many_streams", `the tunnel has ${this.maxStreams} streams open`),
      );
    }
    const id = this.#allocateId();
    const stream = new MuxStream(this, id, false);
    this.#streams.set(id, stream);
    return new Promise<MuxStream>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#streams.delete(id);
        this.sendFrame(encodeFin(id));
        reject(new MuxError("open_timeout", `the tunnel client did not accept a stream in time`));
      }, this.openTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.sendFrame(encodeSyn(id));
    });
  }

  /** Feeds one message from the transport. */
  receive(message: Uint8Array | string): void {
    if (this.#closeInfo) return;
    if (typeof message === "string") {
      return this.#violate(MuxCloseCode.MalformedFrame, "text message on a wsmux session");
    }
    if (message.byteLength > HEADER_BYTES + this.maxFramePayloadBytes) {
      return this.#violate(
        MuxCloseCode.FrameTooLarge,
        `frame of ${message.byteLength} bytes exceeds ${HEADER_BYTES + this.maxFramePayloadBytes}`,
      );
    }
    const decoded = decodeFrame(message);
    if ("error" in decoded) {
      return this.#violate(MuxCloseCode.MalformedFrame, decoded.error.message);
    }
    const frame = decoded.frame;
    switch (frame.type) {
      case FrameType.Syn:
        return this.#onSyn(frame.id);
      case FrameType.Ack:
        return this.#onAck(frame.id, frame.credit);
      case FrameType.Data:
        return this.#onData(frame.id, frame.payload);
      case FrameType.Fin:
        return this.#onFin(frame.id);
      default:
        frame satisfies never;
    }
  }

  /** The transport closed underneath the session. */
  transportClosed(code: number, reason: string): void {
    this.#finish({ code, reason, local: false });
  }

  /** Closes the session and its transport; every stream fails. Idempotent. */
  close(code: number = MuxCloseCode.Normal, reason = ""): void {
    if (this.#closeInfo) return;
    const info = { code, reason: truncateReason(reason), local: true };
    this.#finish(info);
    this.#transport.close(info.code, info.reason);
  }

  /** @internal Sends one frame unless the session has ended. */
  sendFrame(frame: Uint8Array<ArrayBuffer>): void {
    if (this.#closeInfo) return;
    try {
      this.#transport.send(frame);
    } catch (error) {
      // The socket went away between our check and the send: end the session the same way a
      // close event would, so every stream learns about it.
      this.#finish({ code: 1006, reason: `send failed: ${error}`, local: false });
    }
  }

  /** @internal Drops a stream once both directions are finished. */
  forgetIfFinished(stream: MuxStream): void {
    if (stream.localFinished && stream.remoteFinished) this.#streams.delete(stream.id);
  }

  #onSyn(id: number): void {
    const peerParity = this.role === "server" ? 1 : 0;
    if (id % 2 !== peerParity) {
      return this.#violate(MuxCloseCode.ProtocolViolation, `SYN for stream ${id} has our parity`);
    }
    if (this.#streams.has(id)) {
      return this.#violate(MuxCloseCode.ProtocolViolation, `SYN for stream ${id} already open`);
    }
    if (!this.#options.onStream || this.#streams.size >= this.maxStreams) {
      this.sendFrame(encodeFin(id));
      return;
    }
    const stream = new MuxStream(this, id, true);
    this.#streams.set(id, stream);
    const assumed = Math.min(this.windowBytes, UPSTREAM_WINDOW_BYTES);
    stream.onAccept(assumed, assumed);
    this.sendFrame(encodeAck(id, assumed));
    stream.grantRest(this.windowBytes);
    this.#options.onStream(stream);
  }

  #onAck(id: number, credit: number): void {
    const stream = this.#streams.get(id);
    if (!stream) return;
    if (stream.onAck(credit) === "credit") return;
    stream.grantRest(this.windowBytes);
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(stream);
  }

  #onData(id: number, payload: Uint8Array): void {
    const stream = this.#streams.get(id);
    if (!stream) {
      return this.#violate(MuxCloseCode.ProtocolViolation, `DATA on unopened stream ${id}`);
    }
    const violation = stream.onData(payload);
    if (violation) this.#violate(violation.code, violation.message);
  }

  #onFin(id: number): void {
    const stream = this.#streams.get(id);
    if (!stream) return;
    const pending = this.#pending.get(id);
    if (pending) {
      this.#pending.delete(id);
      this.#streams.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new MuxError("refused", "the tunnel client refused the stream"));
      return;
    }
    stream.onFin();
    this.forgetIfFinished(stream);
  }

  #violate(code: MuxCloseCode, message: string): void {
    this.close(code, message);
  }

  #allocateId(): number {
    while (this.#streams.has(this.#nextId)) this.#nextId = (this.#nextId + 2) >>> 0;
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 2) >>> 0;
    return id;
  }

  #finish(info: MuxCloseInfo): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new MuxError("session_closed", "the tunnel session closed"));
    }
    this.#pending.clear();
    for (const stream of this.#streams.values()) stream.kill();
    this.#streams.clear();
    this.#resolveClosed(info);
    this.#options.onClose?.(info);
  }
}

/**
 * Runs a session over a standard WebSocket (Deno's server socket or a client one). The socket
 * must already be open or be opening; frames are sent as binary messages.
 */
export function muxOverWebSocket(ws: WebSocket, options: MuxOptions): MuxSession {
  ws.binaryType = "arraybuffer";
  const session = new MuxSession({
    send: (message) => ws.send(message),
    close: (code, reason) => ws.close(code, reason),
  }, options);
  ws.addEventListener("message", (event) => {
    const data = event.data;
    session.receive(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
  });
  ws.addEventListener("close", (event) => session.transportClosed(event.code, event.reason));
  return session;
}

/** Close reasons are limited to 123 UTF-8 bytes by RFC 6455. */
export function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "") + "…";
}
