/**
 * The exposer: hosts a `udp` instance on the relay and stands in for remote clients towards the
 * user server (the game or voice server it exposes).
 *
 * Guarantees: every remote client — one (connector, flow) pair — gets its own UDP socket, bound
 * on the first free local port at or above the minimum, so the user server tells clients apart by
 * source port; a client socket accepts datagrams from the user server's address only; a client
 * idle for `idleMs` (no datagram either way) has its socket closed and is reported as departed;
 * datagrams are never truncated, and every one not forwarded is counted in {@link TunnelCounters}.
 * When the relay connection drops, it reconnects with backoff and keeps its Server ID: with a key
 * (`--id`) always, without one while the relay still holds the instance (the host grace).
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
import {
  formatServerId,
  joinSecretFromKey,
  newJoinSecret,
  type ServerId,
  UDP_SERVICE_NAME,
} from "./server_id.ts";
import { SocketTotals, TunnelCounters } from "./tunnel_counters.ts";

export interface ExposerOptions {
  relayUrl: string;
  token?: string;
  /** The user server's address. */
  userHost: string;
  userPort: number;
  /** Lowest local port a client socket may take. */
  minLocalPort: number;
  /** Address client sockets bind to. */
  bindHost: string;
  /** A client silent this long either way has its socket closed. */
  idleMs: number;
  /** Stable identity (`--id`): the same key always yields the same Server ID. */
  key?: string;
  maxBufferedBytes: number;
  maxDatagramBytes?: number;
  /** Kernel buffer sizes of each client socket; {@link DEFAULT_SOCKET_BUFFERS} when unset. */
  socketBuffers?: SocketBuffers;
  /** Instance name shown in the relay's lists. */
  name?: string;
  backoff?: BackoffOptions;
  /** Where arrivals, departures and link changes are reported. */
  onEvent?: (event: ExposerEvent) => void;
}

export type ExposerEvent =
  | { type: "ready"; serverId: string; resumed: boolean; changed: boolean }
  | { type: "buffers"; asked: SocketBuffers; granted: SocketBuffers | string }
  | { type: "arrival"; client: string; localPort: number }
  | {
    type: "departure";
    client: string;
    localPort: number;
    reason: "idle" | "disconnected" | "stopped";
    sent: number;
    received: number;
  }
  | { type: "connector_joined"; userId: string }
  | { type: "connector_left"; userId: string; reason: string }
  | { type: "relay_lost"; reason: string; retryInMs: number }
  | { type: "taken_over" }
  | { type: "closed_by_relay"; reason: string }
  | { type: "client_error"; client: string; message: string };

/** One remote client and the local socket that stands for it. */
interface Client {
  readonly name: string;
  readonly userId: string;
  readonly flow: number;
  readonly socket: DatagramSocket;
  readonly localPort: number;
  lastActive: number;
  sent: number;
  received: number;
}

export class UdpExposer {
  readonly counters = new TunnelCounters();
  readonly #options: ExposerOptions;
  readonly #clients = new Map<string, Client>();
  /** Local ports of the client sockets open now. */
  readonly #ports = new Set<number>();
  /** Datagrams for each connector (by userId), batched per turn of the event loop. */
  readonly #toConnectors = new Map<string, FrameBatcher>();
  readonly #maxDatagram: number;
  readonly #userServer: Endpoint;
  #link: RelayLink | null = null;
  #id: ServerId | null = null;
  #resume: string | null = null;
  #stopped = false;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #retries: RetryLoop;
  /** Sockets closing; stop() waits for their read loops to end. */
  readonly #closing = new Set<Promise<void>>();
  /** libc for socket buffers and the OS's drops, or why not; opened by start(). */
  #os: OsSockets | string = "not started";
  #totals = new SocketTotals(false);

  constructor(options: ExposerOptions) {
    this.#options = options;
    this.#maxDatagram = Math.min(
      options.maxDatagramBytes ?? MAX_DATAGRAM_BYTES,
      MAX_DATAGRAM_BYTES,
    );
    this.#userServer = endpoint(options.userHost, options.userPort);
    this.#retries = new RetryLoop({
      backoff: options.backoff,
      attempt: () => this.#connect(),
      onWait: (reason, retryInMs) =>
        this.#options.onEvent?.({ type: "relay_lost", reason, retryInMs }),
    });
  }

  /** The Server ID to hand to connectors, once registered. */
  get serverId(): string | undefined {
    return this.#id ? formatServerId(this.#id) : undefined;
  }

  /** Remote clients with a socket now: name → local port. */
  clients(): { client: string; localPort: number }[] {
    return [...this.#clients.values()].map((c) => ({ client: c.name, localPort: c.localPort }));
  }

  /** Connects and registers; an error here (bad token, unreachable relay) is final. */
  async start(): Promise<string | LinkError> {
    this.#os = OsSockets.open();
    this.#totals = new SocketTotals(typeof this.#os !== "string");
    const result = await this.#connect();
    if (isLinkError(result)) {
      this.#closeOs();
      return result;
    }
    await this.#reportBuffers();
    const sweepEvery = Math.max(20, Math.min(1000, Math.floor(this.#options.idleMs / 4)));
    this.#sweep = setInterval(() => this.#closeIdle(), sweepEvery);
    return result;
  }

  /** Closes every client socket and the relay link; the instance ends after the host grace. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweep);
    for (const client of [...this.#clients.values()]) this.#closeClient(client, "stopped");
    this.#dropBatches();
    await this.#link?.close();
    await this.#retries.stop();
    await Promise.all(this.#closing);
    this.#closeOs();
  }

  /** The counters, with what the sockets and the OS count brought up to date. */
  refreshCounters(): TunnelCounters {
    return this.#totals.update(this.counters, [...this.#clients.values()].map((c) => c.socket));
  }

  /** Round-trip time to the relay in ms, or why it could not be measured. */
  pingRelay(): Promise<number | LinkError> {
    return this.#link?.ping() ?? Promise.resolve({ code: "closed", message: "no relay link" });
  }

  /** What client sockets get from the kernel, found on a socket opened for the purpose. */
  async #reportBuffers(): Promise<void> {
    const asked = this.#socketBuffers;
    const probe = DatagramSocket.bind(this.#options.bindHost, 0, { os: this.#os, buffers: asked });
    const granted = probe.buffers();
    await probe.close();
    this.#options.onEvent?.({ type: "buffers", asked, granted });
  }

  get #socketBuffers(): SocketBuffers {
    return this.#options.socketBuffers ?? DEFAULT_SOCKET_BUFFERS;
  }

  #closeOs(): void {
    if (typeof this.#os !== "string") this.#os.close();
    this.#os = "stopped";
  }

  /** Drops the relay link as a network failure would (for tests and the reconnect path). */
  async dropLink(): Promise<void> {
    await this.#link?.close();
  }

  /** Opens a link and creates, takes over or resumes the instance. */
  async #connect(): Promise<string | LinkError> {
    const link = await openToolLink(this.#options, {
      onMessage: (msg) => this.#onMessage(msg),
      onBinary: (bytes) => this.#onBinary(bytes),
    });
    if (isLinkError(link)) return link;
    // stop() may have run while we waited: then the link must not outlive it.
    const registered = this.#stopped ? STOPPED : await this.#register(link);
    if (isLinkError(registered) || this.#stopped) {
      await link.close();
      return isLinkError(registered) ? registered : STOPPED;
    }
    this.#link = link;
    link.closed.then(({ code, reason }) => this.#onLinkClosed(link, `${code} ${reason}`));
    return registered;
  }

  async #register(link: RelayLink): Promise<string | LinkError> {
    const previous = this.#id;
    if (previous && this.#resume && !this.#options.key) {
      const answer = await link.request({
        type: "resume_instance",
        uuid: previous.uuid,
        resume: this.#resume,
      });
      if (isLinkError(answer)) return answer;
      if (answer.type === "instance_resumed") return this.#ready(answer, previous, true);
      if (answer.code !== "unknown_instance") return relayRefusal(answer);
      // The relay forgot the instance (grace over, or relay restarted): register a new ID.
    }
    const secret = this.#options.key ? joinSecretFromKey(this.#options.key) : newJoinSecret();
    const answer = await link.request({
      type: "create_instance",
      service: UDP_SERVICE_NAME,
      name: this.#options.name ?? "udp tunnel",
      token: secret,
      ...(this.#options.key ? { key: this.#options.key } : {}),
    });
    if (isLinkError(answer)) return answer;
    if (answer.type === "instance_created") this.#resume = answer.resume;
    else if (answer.type !== "instance_resumed") return relayRefusal(answer);
    return this.#ready(answer, { uuid: answer.uuid, secret }, answer.type === "instance_resumed");
  }

  #ready(answer: ServerMessage, id: ServerId, resumed: boolean): string {
    const changed = this.#id !== null && formatServerId(this.#id) !== formatServerId(id);
    // Batches carry the uuid in their prefix: a new one needs new batchers.
    if (this.#id?.uuid !== id.uuid) this.#dropBatches();
    this.#id = id;
    // Clients of connectors the relay no longer has are gone for good.
    const members = new Set<string>(answer.members ?? []);
    for (const client of [...this.#clients.values()]) {
      if (!members.has(client.userId)) this.#closeClient(client, "disconnected");
    }
    const serverId = formatServerId(id);
    this.#options.onEvent?.({ type: "ready", serverId, resumed, changed });
    return serverId;
  }

  #onLinkClosed(link: RelayLink, reason: string): void {
    if (this.#link !== link) return;
    this.#link = null;
    if (this.#stopped) return;
    this.#retries.start(reason);
  }

  #onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case "client_connected":
        return this.#options.onEvent?.({ type: "connector_joined", userId: msg.userId });
      case "client_disconnected":
        for (const client of [...this.#clients.values()]) {
          if (client.userId === msg.userId) this.#closeClient(client, "disconnected");
        }
        this.#dropBatches(msg.userId);
        return this.#options.onEvent?.({
          type: "connector_left",
          userId: msg.userId,
          reason: msg.reason,
        });
      case "instance_closed":
        // Another exposer presented our key or resume secret (two exposers must not fight), or
        // the relay's admin closed the tunnel: either way this exposer is done.
        this.#options.onEvent?.(
          msg.reason === "resumed_elsewhere"
            ? { type: "taken_over" }
            : { type: "closed_by_relay", reason: String(msg.reason) },
        );
        this.stop();
        return;
      case "instance_moving":
      case "draining":
        // The relay isolate holding the tunnel drained or died (or is about to): take it up
        // again (a new link resumes it or, with --id, creates it under the same ID) where the
        // relay puts it.
        this.#link?.close();
        return;
      case "error":
        this.counters.refusedByRelay++;
        return;
    }
  }

  #onBinary(bytes: Uint8Array): void {
    const frame = decodeTunnelFrame(bytes);
    if (typeof frame === "string" || frame.uuid !== this.#id?.uuid) {
      this.counters.unroutable++;
      return;
    }
    for (const { flow, datagram } of frame.datagrams) {
      this.#toUserServer(frame.from, flow, datagram);
    }
  }

  #toUserServer(userId: string, flow: number, datagram: Uint8Array): void {
    if (datagram.length > this.#maxDatagram) {
      this.counters.oversize++;
      return;
    }
    const client = this.#clients.get(clientKey(userId, flow)) ?? this.#openClient(userId, flow);
    if (!client) {
      this.counters.droppedOffline++;
      return;
    }
    client.lastActive = Date.now();
    // The datagram is a view into a frame nobody else holds, so it can wait in a queue as is.
    if (!client.socket.send(datagram, this.#userServer)) {
      this.counters.droppedBackpressure++;
      return;
    }
    client.received++;
    this.counters.fromRelay++;
    this.counters.fromRelayBytes += datagram.length;
  }

  /** A socket for a new client, on the first free port at or above the minimum; null if none. */
  #openClient(userId: string, flow: number): Client | null {
    const socket = this.#bindFree(`${userId}#${flow}`);
    if (!socket) return null;
    const client: Client = {
      name: `${userId}#${flow}`,
      userId,
      flow,
      socket,
      localPort: socket.port,
      lastActive: Date.now(),
      sent: 0,
      received: 0,
    };
    socket.onDatagram = (data, from) => this.#fromUserServer(client, data, from);
    this.#clients.set(clientKey(userId, flow), client);
    this.#ports.add(client.localPort);
    this.#options.onEvent?.({ type: "arrival", client: client.name, localPort: client.localPort });
    return client;
  }

  /** Binds the first free port at or above the minimum, or reports why it could not. */
  #bindFree(name: string): DatagramSocket | null {
    for (let port = this.#options.minLocalPort; port <= 65535; port++) {
      // Our own sockets' ports are skipped without a system call (and its exception).
      if (this.#ports.has(port)) continue;
      try {
        return DatagramSocket.bind(this.#options.bindHost, port, {
          os: this.#os,
          buffers: this.#socketBuffers,
        });
      } catch (err) {
        if (err instanceof Deno.errors.AddrInUse || err instanceof Deno.errors.PermissionDenied) {
          continue;
        }
        this.#options.onEvent?.({ type: "client_error", client: name, message: String(err) });
        return null;
      }
    }
    this.#options.onEvent?.({
      type: "client_error",
      client: name,
      message: "no free local port left",
    });
    return null;
  }

  #fromUserServer(client: Client, data: Uint8Array, from: Endpoint): void {
    this.counters.fromLocal++;
    if (from.port !== this.#userServer.port || from.hostname !== this.#userServer.hostname) {
      this.counters.foreign++;
      return;
    }
    client.lastActive = Date.now();
    if (data.length > this.#maxDatagram) {
      this.counters.oversize++;
      return;
    }
    if (!this.#link?.open) {
      this.counters.droppedOffline++;
      return;
    }
    client.sent++;
    this.#toConnector(client.userId).add(client.flow, data);
  }

  #toConnector(userId: string): FrameBatcher {
    let batcher = this.#toConnectors.get(userId);
    if (!batcher) {
      const output = relayOutput(this.counters, () => this.#link);
      batcher = new FrameBatcher(framePrefix(this.#id!.uuid, userId), output);
      this.#toConnectors.set(userId, batcher);
    }
    return batcher;
  }

  /** Forgets the batch towards a connector (gone), or towards all (stopping, or a new uuid). */
  #dropBatches(userId?: string): void {
    for (const [id, batcher] of this.#toConnectors) {
      if (userId !== undefined && id !== userId) continue;
      batcher.close();
      this.#toConnectors.delete(id);
    }
  }

  #closeIdle(): void {
    const before = Date.now() - this.#options.idleMs;
    for (const client of [...this.#clients.values()]) {
      if (client.lastActive < before) this.#closeClient(client, "idle");
    }
  }

  #closeClient(client: Client, reason: "idle" | "disconnected" | "stopped"): void {
    if (!this.#clients.delete(clientKey(client.userId, client.flow))) return;
    this.#ports.delete(client.localPort);
    const closed = client.socket.close();
    this.#totals.retire(client.socket);
    this.#closing.add(closed);
    closed.then(() => this.#closing.delete(closed));
    this.#options.onEvent?.({
      type: "departure",
      client: client.name,
      localPort: client.localPort,
      reason,
      sent: client.sent,
      received: client.received,
    });
  }
}

const STOPPED: LinkError = { code: "closed", message: "the exposer was stopped" };

function clientKey(userId: string, flow: number): string {
  return `${userId}\u0000${flow}`;
}

function relayRefusal(answer: ServerMessage): LinkError {
  return {
    code: answer.code ?? answer.error ?? "refused",
    message: `the relay refused: ${answer.message ?? JSON.stringify(answer)}`,
  };
}
