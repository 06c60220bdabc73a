/**
 * One WebSocket: the edge between a socket and the hub.
 *
 * In order, for each incoming frame: size limit (close 1009), parse once, rate limit (error
 * `rate_limited`; sustained flooding closes 1008), then control frames are validated with their
 * zod schema and application data goes to the hub with only the checks routing needs. Outgoing,
 * the connection's {@link BacklogPolicy} bounds the socket's unsent backlog: past its limit a
 * `/_ws` socket is closed with 1013 instead of letting memory grow, a `/_udp` socket has its
 * datagrams dropped and counted (lib/udp/udp_connection.ts). Every refusal is an `error` frame
 * or a close with a reason: nothing is dropped silently. Per-connection state is a handful of numbers, so idle sockets stay cheap. Frames and
 * bytes in and out, drops and closes are counted in {@link Stats}: plain additions, nothing more,
 * on the per-frame path (docs/operations.md).
 *
 * Channel requests (`subscribe`, `unsubscribe`, `publish`, binary kind 0x02) go to this
 * connection's {@link NativeChannels} (lib/pubsub/), created on first use; the hub never sees them.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { ulid } from "ulid";
import { BinaryKind } from "./binary_frame.ts";
import type { Config } from "./config.ts";
import type { Hub } from "./hub/hub.ts";
import { WstunError } from "./errors/wstun_error.ts";
import type { Peer, Session } from "./hub/peer.ts";
import { NativeChannels, type PubSub, type UpgradeDescription } from "./pubsub/mod.ts";
import {
  CHANNEL_TYPES,
  ChannelRequest,
  CONTROL_TYPES,
  ControlRequest,
  describeIssue,
  type Disconnect,
  Disconnects,
  ErrorCode,
  type Ref,
  SERVER_TYPES,
  withReason,
} from "./protocol.ts";
import type { Stats } from "./stats.ts";

export type ConnectionLimits = Pick<Config, "maxFrameBytes" | "maxMsgsPerSec" | "maxBufferedBytes">;

/**
 * What happens when a socket's unsent backlog grows: one policy per kind of connection, given
 * when the connection is built. The backlog is read once per {@link BACKLOG_CHECK_BYTES} sent
 * (a call into the runtime), so it may pass a limit by at most that much plus one frame.
 */
export type BacklogPolicy = CloseWhenBackedUp | DropWhenBackedUp;

/** Close with 1013 (`SlowConsumer`) past `closeAboveBytes` (0 = never): `/_ws` sockets. */
export interface CloseWhenBackedUp {
  readonly kind: "close";
  readonly closeAboveBytes: number;
}

/**
 * Drop binary frames, as UDP would, while the backlog is past `dropAboveBytes` (0 = never drop);
 * once over, every binary frame reads the backlog again until it drains. Text frames (control,
 * notifications) are never dropped; past `closeAboveBytes` the socket is closed as with
 * {@link CloseWhenBackedUp}. `sent` and `dropped` see each binary frame, for the kind's counters.
 */
export interface DropWhenBackedUp {
  readonly kind: "drop";
  readonly dropAboveBytes: number;
  readonly closeAboveBytes: number;
  readonly sent: (frame: Uint8Array) => void;
  readonly dropped: (frame: Uint8Array) => void;
}

/** What a connection is given besides its socket, hub, limits and counters. */
export interface ConnectionOptions {
  /** Default: close past `limits.maxBufferedBytes`. */
  backlog?: BacklogPolicy;
  /** The server's clock (ms); default `Date.now`. */
  now?: () => number;
}

/** Pub/sub for one connection: the server's channels and what the authorizer may know of it. */
export interface ChannelAccess {
  pubsub: PubSub;
  /** The upgrade's headers and query (secrets removed); only kept when an authorizer is set. */
  client?: UpgradeDescription;
}

/** Closes that `limitCloses` counts: a limit of this server ended the socket. */
const LIMIT_CLOSES: ReadonlySet<number> = new Set(
  [Disconnects.Flooding, Disconnects.TooBig, Disconnects.SlowConsumer].map((d) => d.code),
);

/** Over the limit in this many consecutive one-second windows counts as sustained flooding. */
const FLOOD_WINDOWS = 3;
/** Outgoing bytes between two reads of the socket's backlog. */
const BACKLOG_CHECK_BYTES = 64 * 1024;

export class Connection implements Peer {
  readonly session: Session;
  readonly #now: () => number;
  /** The backlog above which the socket is closed (0 = never). */
  readonly #closeAbove: number;
  /** Set for a dropping policy only: a closing one costs one comparison per binary frame. */
  readonly #drop: DropWhenBackedUp | null;
  #windowStart: number;
  #inWindow = 0;
  #overWindows = 0;
  #detached = false;
  #sinceCheck = 0;
  #sinceDropCheck = 0;
  /** Over the drop limit at the last read; then every binary frame reads again until it drains. */
  #backedUp = false;
  #channels: NativeChannels | null = null;
  /** Frames taken from this socket (reported in `pong` and `draining`). */
  #received = 0;
  #draining = false;
  /** The code this server closed the socket with, if it did. */
  #closeCode = 0;

  constructor(
    readonly socket: WebSocket,
    readonly hub: Hub,
    readonly limits: ConnectionLimits,
    readonly stats: Stats,
    readonly channelAccess?: ChannelAccess,
    options: ConnectionOptions = {},
  ) {
    const backlog = options.backlog ?? { kind: "close", closeAboveBytes: limits.maxBufferedBytes };
    this.#closeAbove = backlog.closeAboveBytes;
    this.#drop = backlog.kind === "drop" ? backlog : null;
    this.#now = options.now ?? Date.now;
    this.#windowStart = this.#now();
    this.session = hub.attach(this);
    stats.opened();
    socket.onmessage = (e) => this.#receive(e.data);
    socket.onclose = (e) => this.#detach(e.code);
    // An error is always followed by a close, which does the cleanup.
    socket.onerror = () => {};
  }

  /** Frames the server has taken from this socket so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * The server drains: tells the client how many of its frames were taken (later ones are not:
   * it sends them again after reconnecting), and closes with 1012 (reconnect now) at `closeAt`
   * unless the client closed first, as libwstun does (lib/live_sockets.ts says why).
   */
  drain(closeAt: number): void {
    if (this.#draining || this.socket.readyState !== WebSocket.OPEN) return;
    this.#draining = true;
    this.sendText(JSON.stringify({ type: "draining", received: this.#received }));
    const timer = setTimeout(
      () => this.close(Disconnects.Restarting),
      Math.max(0, closeAt - this.#now()),
    );
    this.socket.addEventListener("close", () => clearTimeout(timer));
  }

  sendText(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return this.#dropOutgoing();
    this.socket.send(text);
    this.stats.textFramesOut++;
    this.stats.textBytesOut += text.length;
    this.#checkBacklog(text.length);
  }

  sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    const drop = this.#drop;
    if (drop !== null && this.#dropped(drop, bytes)) return;
    if (this.socket.readyState !== WebSocket.OPEN) return this.#dropOutgoing();
    this.socket.send(bytes);
    this.stats.binaryFramesOut++;
    this.stats.binaryBytesOut += bytes.length;
    this.#checkBacklog(bytes.length);
  }

  /** A frame for a socket that is closing or closed: counted by why it closed. */
  #dropOutgoing(): void {
    if (this.#closeCode === Disconnects.SlowConsumer.code) this.stats.framesDroppedSlowConsumer++;
    else this.stats.framesDroppedClosed++;
  }

  /**
   * Closes the socket, once, and leaves the hub at once: a peer that does not read may never
   * complete the close handshake (its close frame waits behind the backlog), and its instances
   * must not wait for it.
   */
  close(disconnect: Disconnect): void {
    if (this.socket.readyState >= WebSocket.CLOSING) return;
    if (LIMIT_CLOSES.has(disconnect.code)) this.stats.limitCloses++;
    this.#closeCode = disconnect.code;
    this.socket.close(disconnect.code, disconnect.reason);
    this.#detach(disconnect.code);
  }

  #detach(code: number): void {
    if (this.#detached) return;
    this.#detached = true;
    this.stats.closed(code, this.socket.bufferedAmount);
    this.hub.detach(this.session);
    this.#channels?.closed();
  }

  /**
   * Reading `bufferedAmount` is a call into the runtime, so it is read once per
   * {@link BACKLOG_CHECK_BYTES} sent, not per frame: the backlog can pass the limit by at most
   * that much plus one frame before the socket is closed.
   */
  #checkBacklog(size: number): void {
    this.#sinceCheck += size;
    if (this.#sinceCheck < BACKLOG_CHECK_BYTES) return;
    this.#sinceCheck = 0;
    const max = this.#closeAbove;
    if (max && this.socket.bufferedAmount > max) {
      this.close(Disconnects.SlowConsumer);
    }
  }

  /** A dropping policy's rule for one binary frame: true when it is dropped (and counted). */
  #dropped(drop: DropWhenBackedUp, bytes: Uint8Array): boolean {
    if (drop.dropAboveBytes && this.#overDropLimit(drop.dropAboveBytes, bytes.length)) {
      drop.dropped(bytes);
      return true;
    }
    drop.sent(bytes);
    return false;
  }

  #overDropLimit(max: number, size: number): boolean {
    this.#sinceDropCheck += size;
    if (!this.#backedUp && this.#sinceDropCheck < BACKLOG_CHECK_BYTES) return false;
    this.#sinceDropCheck = 0;
    this.#backedUp = this.socket.bufferedAmount > max;
    return this.#backedUp;
  }

  #receive(data: string | ArrayBuffer): void {
    if (this.#draining) return; // not taken: the client sends it again after reconnecting
    this.#received++;
    const stats = this.stats;
    if (typeof data === "string") {
      stats.textFramesIn++;
      stats.textBytesIn += data.length;
      this.#receiveText(data);
    } else {
      stats.binaryFramesIn++;
      stats.binaryBytesIn += data.byteLength;
      this.#receiveBinary(new Uint8Array(data));
    }
  }

  #receiveText(text: string): void {
    if (this.#tooBig(text)) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.#refuse(ErrorCode.BadJson, "frame is not valid JSON");
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      return this.#refuse(ErrorCode.InvalidMessage, "frame must be a JSON object");
    }
    const frame = msg as Record<string, unknown>;
    const ref = validRef(frame.ref);
    if (!this.#admit(ref)) return;
    const type = frame.type;
    if (typeof type !== "string") {
      return this.#refuse(ErrorCode.InvalidMessage, "type: must be a string", ref);
    }
    if (CONTROL_TYPES.has(type)) return this.#control(frame, ref);
    if (CHANNEL_TYPES.has(type)) return this.#channelRequest(frame, ref);
    if (SERVER_TYPES.has(type)) {
      return this.#refuse(
        ErrorCode.InvalidMessage,
        `type: ${type} is reserved for the server`,
        ref,
      );
    }
    this.hub.data(this.session, text, frame, ref);
  }

  #control(frame: Record<string, unknown>, ref: Ref): void {
    const parsed = ControlRequest.safeParse(frame);
    if (!parsed.success) {
      return this.#refuse(ErrorCode.InvalidMessage, describeIssue(parsed.error), ref);
    }
    this.hub.control(this.session, parsed.data);
  }

  #channelRequest(frame: Record<string, unknown>, ref: Ref): void {
    const channels = this.#nativeChannels(ref);
    if (!channels) return;
    const parsed = ChannelRequest.safeParse(frame);
    if (!parsed.success) {
      return this.#refuse(ErrorCode.InvalidMessage, describeIssue(parsed.error), ref);
    }
    channels.request(parsed.data);
  }

  #receiveBinary(bytes: Uint8Array<ArrayBuffer>): void {
    if (bytes.length > this.limits.maxFrameBytes) return this.#closeTooBig();
    if (!this.#admit(undefined)) return;
    if (bytes[0] === BinaryKind.ChannelData) {
      return this.#nativeChannels(undefined)?.binary(bytes);
    }
    this.hub.binary(this.session, bytes);
  }

  /** This connection's channels, created on first use; refused when the server has none. */
  #nativeChannels(ref: Ref): NativeChannels | undefined {
    if (this.#channels) return this.#channels;
    const access = this.channelAccess;
    if (!access) {
      this.#refuse(ErrorCode.InvalidMessage, "channels are not enabled on this server", ref);
      return undefined;
    }
    this.#channels = new NativeChannels({
      id: ulid(),
      client: access.client,
      send: (frame) => typeof frame === "string" ? this.sendText(frame) : this.sendBinary(frame),
      close: (disconnect) => this.close(disconnect),
      refused: (code) => this.stats.refused(code),
    }, access.pubsub);
    return this.#channels;
  }

  /** Checks the frame size without encoding in the common case (UTF-8 is 1–3 bytes a unit). */
  #tooBig(text: string): boolean {
    const max = this.limits.maxFrameBytes;
    if (text.length * 3 <= max) return false;
    if (text.length <= max && Buffer.byteLength(text, "utf8") <= max) return false;
    this.#closeTooBig();
    return true;
  }

  #closeTooBig(): void {
    this.stats.framesDroppedSize++;
    this.close(
      withReason(Disconnects.TooBig, `frame larger than ${this.limits.maxFrameBytes} bytes`),
    );
  }

  /**
   * One-second windows that start when needed: the clock is read only once `max` frames have
   * arrived since the window began, so a connection under its limit never pays for it. At most
   * `max` frames are admitted in any window.
   */
  #admit(ref: Ref): boolean {
    const max = this.limits.maxMsgsPerSec;
    if (!max || ++this.#inWindow <= max) return true;
    const now = this.#now();
    if (now - this.#windowStart >= 1000) {
      const refusedLastWindow = this.#inWindow - 1 > max;
      const consecutive = refusedLastWindow && now - this.#windowStart < 2000;
      this.#overWindows = consecutive ? this.#overWindows + 1 : 0;
      this.#windowStart = now;
      this.#inWindow = 1;
      return true;
    }
    this.stats.framesDroppedRate++;
    if (this.#inWindow > 2 * max || this.#overWindows >= FLOOD_WINDOWS - 1) {
      this.close(Disconnects.Flooding);
      return false;
    }
    this.#refuse(ErrorCode.RateLimited, `more than ${max} messages per second`, ref);
    return false;
  }

  #refuse(code: ErrorCode, message: string, ref?: Ref): void {
    this.hub.sendError(this.session, new WstunError(code, message), ref);
  }
}

/** A `ref` is echoed only when it is one the protocol allows. */
function validRef(ref: unknown): Ref {
  if (typeof ref === "number" || (typeof ref === "string" && ref.length <= 128)) return ref;
  return undefined;
}
