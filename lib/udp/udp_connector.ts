/**
 * The connector: listens on a local UDP port for the game client(s) and tunnels their datagrams
 * to one exposer through the relay, as a member of the exposer's `udp` instance.
 *
 * Guarantees: each local source (address and port) gets its own flow number, so the exposer gives
 * each its own socket and replies reach the source they answer; datagrams are never truncated and
 * every one not forwarded is counted; a source silent for `idleMs` is forgotten (its next datagram
 * starts a new flow, as a new client). When the relay connection drops or the exposer goes away,
 * it rejoins with backoff; the first join's refusal (unknown Server ID, wrong secret, wrong token)
 * is final and returned with a message that names the cause.
 *
 * @module
 */
import type { BackoffOptions } from "./backoff.ts";
import { decodeTunnelFrame, framePrefix, MAX_DATAGRAM_BYTES } from "./datagram_frame.ts";
import { FrameBatcher, relayOutput } from "./frame_batcher.ts";
import {
  DatagramSocket,
  DEFAULT_SOCKET_BUFFERS,
  type Endpoint,
  endpoint,
} from "./datagram_socket.ts";
import { OsSockets, type SocketBuffers } from "./os_socket.ts";
import { RetryLoop } from "./retry_loop.ts";
import {
  isLinkError,
  type LinkError,
  openToolLink,
  type RelayLink,
  type ServerMessage,
} from "./relay_link.ts";
import { parseServerId, type ServerId } from "./server_id.ts";
import { SocketTotals, TunnelCounters } from "./tunnel_counters.ts";

export interface ConnectorOptions {
  relayUrl: string;
  token?: string;
  serverId: string;
  listenPort: number;
  listenHost: string;
  /** A local source silent this long is forgotten. */
  idleMs: number;
  maxBufferedBytes: number;
  maxDatagramBytes?: number;
  /** Kernel buffer sizes of the listening socket; {@link DEFAULT_SOCKET_BUFFERS} when unset. */
  socketBuffers?: SocketBuffers;
  backoff?: BackoffOptions;
  onEvent?: (event: ConnectorEvent) => void;
}

export type ConnectorEvent =
  | { type: "ready"; userId: string; listenPort: number }
  | { type: "buffers"; asked: SocketBuffers; granted: SocketBuffers | string }
  | { type: "source_new"; source: string; flow: number }
  | { type: "source_idle"; source: string; flow: number }
  | { type: "relay_lost"; reason: string; retryInMs: number }
  | { type: "host_away" }
  | { type: "host_back" };

interface Source {
  /** Where its answers go (one object, reused for every datagram). */
  readonly endpoint: Endpoint;
  readonly flow: number;
  lastActive: number;
}

export class UdpConnector {
  readonly counters = new TunnelCounters();
  readonly #options: ConnectorOptions;
  readonly #maxDatagram: number;
  readonly #bySource = new Map<string, Source>();
  readonly #byFlow = new Map<number, Source>();
  #id: ServerId | null = null;
  #socket: DatagramSocket | null = null;
  #link: RelayLink | null = null;
  /** Datagrams for the exposer, batched per turn of the event loop. */
  #toHost: FrameBatcher | null = null;
  /** Whether datagrams can reach the exposer now (joined and the host present). */
  #flowing = false;
  #nextFlow = 1;
  #stopped = false;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #retries: RetryLoop;
  /** libc for socket buffers and the OS's drops, or why not; opened by start(). */
  #os: OsSockets | string = "not started";
  #totals = new SocketTotals(false);

  constructor(options: ConnectorOptions) {
    this.#options = options;
    this.#maxDatagram = Math.min(
      options.maxDatagramBytes ?? MAX_DATAGRAM_BYTES,
      MAX_DATAGRAM_BYTES,
    );
    this.#retries = new RetryLoop({
      backoff: options.backoff,
      attempt: () => this.#connect(),
      onWait: (reason, retryInMs) =>
        this.#options.onEvent?.({ type: "relay_lost", reason, retryInMs }),
    });
  }

  /** The bound local port (useful with port 0). */
  get listenPort(): number {
    return this.#socket?.port ?? 0;
  }

  /** Whether datagrams currently flow to the exposer. */
  get flowing(): boolean {
    return this.#flowing;
  }

  /** Binds the local port and joins; any failure here is final and explained. */
  async start(): Promise<{ userId: string; listenPort: number } | LinkError> {
    const id = parseServerId(this.#options.serverId);
    if (typeof id === "string") return { code: "bad_server_id", message: id };
    this.#id = id;
    this.#toHost = new FrameBatcher(
      framePrefix(id.uuid, ""),
      relayOutput(this.counters, () => this.#link),
    );
    this.#os = OsSockets.open();
    this.#totals = new SocketTotals(typeof this.#os !== "string");
    const bound = this.#listen();
    const joined = isLinkError(bound) ? bound : await this.#connect();
    if (isLinkError(joined)) {
      await this.#closeSocket();
      return joined;
    }
    const asked = this.#options.socketBuffers ?? DEFAULT_SOCKET_BUFFERS;
    this.#options.onEvent?.({ type: "buffers", asked, granted: this.#socket!.buffers() });
    const sweepEvery = Math.max(20, Math.min(1000, Math.floor(this.#options.idleMs / 4)));
    this.#sweep = setInterval(() => this.#forgetIdle(), sweepEvery);
    return { userId: joined, listenPort: this.listenPort };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#flowing = false;
    clearInterval(this.#sweep);
    this.#toHost?.close();
    await this.#link?.close();
    await this.#retries.stop();
    await this.#closeSocket();
  }

  /** The counters, with what the socket and the OS count brought up to date. */
  refreshCounters(): TunnelCounters {
    return this.#totals.update(this.counters, this.#socket ? [this.#socket] : []);
  }

  /** Round-trip time to the relay in ms, or why it could not be measured. */
  pingRelay(): Promise<number | LinkError> {
    return this.#link?.ping() ?? Promise.resolve({ code: "closed", message: "no relay link" });
  }

  /** Drops the relay link as a network failure would (for tests). */
  async dropLink(): Promise<void> {
    await this.#link?.close();
  }

  #listen(): true | LinkError {
    const { listenHost, listenPort } = this.#options;
    try {
      this.#socket = DatagramSocket.bind(listenHost, listenPort, {
        os: this.#os,
        buffers: this.#options.socketBuffers ?? DEFAULT_SOCKET_BUFFERS,
      });
    } catch (err) {
      return {
        code: "listen_failed",
        message: `cannot listen on ${listenHost}:${listenPort}: ${(err as Error).message}`,
      };
    }
    this.#socket.onDatagram = (data, from) => this.#fromLocal(data, from);
    return true;
  }

  /** Closes the listening socket (its last counts kept) and libc. */
  async #closeSocket(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    const closed = socket?.close();
    if (socket) this.#totals.retire(socket);
    await closed;
    if (typeof this.#os !== "string") this.#os.close();
    this.#os = "stopped";
  }

  async #connect(): Promise<string | LinkError> {
    const link = await openToolLink(this.#options, {
      onMessage: (msg) => this.#onMessage(msg),
      onBinary: (bytes) => this.#onBinary(bytes),
    });
    if (isLinkError(link)) return link;
    const id = this.#id!;
    const ack = await link.request({ type: "join_instance", uuid: id.uuid, token: id.secret });
    if (isLinkError(ack)) {
      await link.close();
      return ack;
    }
    if (ack.success !== true || this.#stopped) {
      await link.close();
      return this.#stopped ? { code: "closed", message: "stopped" } : joinRefusal(ack);
    }
    this.#link = link;
    this.#flowing = true;
    link.closed.then(({ code, reason }) => this.#lost(link, `relay closed (${code} ${reason})`));
    this.#options.onEvent?.({ type: "ready", userId: ack.userId, listenPort: this.listenPort });
    return ack.userId;
  }

  /** The link is gone or useless (exposer gone): rejoin with backoff until stopped. */
  #lost(link: RelayLink, reason: string): void {
    if (this.#link !== link) return;
    this.#link = null;
    this.#flowing = false;
    if (this.#stopped) return;
    link.close();
    this.#retries.start(reason);
  }

  #onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case "host_away":
        this.#flowing = false;
        return this.#options.onEvent?.({ type: "host_away" });
      case "host_back":
        this.#flowing = true;
        return this.#options.onEvent?.({ type: "host_back" });
      case "instance_closed":
      case "kicked":
        // The exposer is gone (or sent us away); it may come back under the same ID.
        if (this.#link) this.#lost(this.#link, `exposer gone (${msg.reason || msg.type})`);
        return;
      case "instance_moving":
        // The relay isolate holding the tunnel drained or died: join it again where it goes.
        if (this.#link) this.#lost(this.#link, "the tunnel is moving to another relay isolate");
        return;
      case "draining":
        // The relay restarts: leave first (it closes a socket still sending only after a wait).
        if (this.#link) this.#lost(this.#link, "the relay is restarting");
        return;
      case "error":
        this.counters.refusedByRelay++;
        return;
    }
  }

  #fromLocal(data: Uint8Array, from: Endpoint): void {
    this.counters.fromLocal++;
    if (data.length > this.#maxDatagram) {
      this.counters.oversize++;
      return;
    }
    const source = this.#source(from);
    source.lastActive = Date.now();
    const link = this.#link;
    if (!link || !this.#flowing) {
      this.counters.droppedOffline++;
      return;
    }
    this.#toHost!.add(source.flow, data);
  }

  #source(from: Endpoint): Source {
    const key = `${from.hostname}:${from.port}`;
    const known = this.#bySource.get(key);
    if (known) return known;
    const flow = this.#nextFlow;
    this.#nextFlow = this.#nextFlow >= 0xffff_ffff ? 1 : this.#nextFlow + 1;
    const source: Source = { endpoint: endpoint(from.hostname, from.port), flow, lastActive: 0 };
    this.#bySource.set(key, source);
    this.#byFlow.set(flow, source);
    this.#options.onEvent?.({ type: "source_new", source: key, flow });
    return source;
  }

  #onBinary(bytes: Uint8Array): void {
    const frame = decodeTunnelFrame(bytes);
    if (typeof frame === "string" || frame.uuid !== this.#id?.uuid) {
      this.counters.unroutable++;
      return;
    }
    for (const { flow, datagram } of frame.datagrams) this.#toLocal(flow, datagram);
  }

  #toLocal(flow: number, datagram: Uint8Array): void {
    const source = this.#byFlow.get(flow);
    if (!source || !this.#socket) {
      this.counters.unroutable++;
      return;
    }
    if (datagram.length > this.#maxDatagram) {
      this.counters.oversize++;
      return;
    }
    source.lastActive = Date.now();
    // The datagram is a view into a frame nobody else holds, so it can wait in a queue as is.
    if (!this.#socket.send(datagram, source.endpoint)) {
      this.counters.droppedBackpressure++;
      return;
    }
    this.counters.fromRelay++;
    this.counters.fromRelayBytes += datagram.length;
  }

  #forgetIdle(): void {
    const before = Date.now() - this.#options.idleMs;
    for (const [key, source] of this.#bySource) {
      if (source.lastActive >= before) continue;
      this.#bySource.delete(key);
      this.#byFlow.delete(source.flow);
      this.#options.onEvent?.({ type: "source_idle", source: key, flow: source.flow });
    }
  }
}

/** Turns a failed join into a message naming what to fix. */
function joinRefusal(ack: ServerMessage): LinkError {
  const messages: Record<string, string> = {
    unknown_instance: "no UDP server with this Server ID on the relay (check the ID, or the " +
      "exposer is not running)",
    unauthorized: "the Server ID's secret part is wrong (copy the whole ID printed by udp-expose)",
    host_away: "the exposer is reconnecting; try again in a few seconds",
    limit_reached: `the relay refused: ${ack.message}`,
  };
  return {
    code: ack.error ?? "refused",
    message: messages[ack.error] ?? `the relay refused the join: ${ack.message}`,
  };
}
