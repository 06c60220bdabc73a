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
import dgram from "node:dgram";
import type { BackoffOptions } from "./backoff.ts";
import {
  decodeTunnelFrame,
  encodeDatagram,
  type FramePrefix,
  framePrefix,
  MAX_DATAGRAM_BYTES,
  UdpOp,
} from "./datagram_frame.ts";
import { OrderedSender } from "./ordered_sender.ts";
import { RetryLoop } from "./retry_loop.ts";
import { isLinkError, type LinkError, RelayLink, type ServerMessage } from "./relay_link.ts";
import {
  formatServerId,
  joinSecretFromKey,
  newJoinSecret,
  type ServerId,
  UDP_SERVICE_NAME,
} from "./server_id.ts";
import { socketType } from "./socket_type.ts";
import { TunnelCounters } from "./tunnel_counters.ts";

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
  /** Instance name shown in the relay's lists. */
  name?: string;
  backoff?: BackoffOptions;
  /** Where arrivals, departures and link changes are reported. */
  onEvent?: (event: ExposerEvent) => void;
}

export type ExposerEvent =
  | { type: "ready"; serverId: string; resumed: boolean; changed: boolean }
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
  readonly prefix: FramePrefix;
  socket: dgram.Socket;
  /** Set once bound; keeps datagrams to the user server in order. */
  sender: OrderedSender | null;
  localPort: number;
  /** Datagrams for the user server that arrived while the socket was binding. */
  pending: Uint8Array[] | null;
  lastActive: number;
  sent: number;
  received: number;
}

export class UdpExposer {
  readonly counters = new TunnelCounters();
  readonly #options: ExposerOptions;
  readonly #clients = new Map<string, Client>();
  readonly #maxDatagram: number;
  #link: RelayLink | null = null;
  #id: ServerId | null = null;
  #resume: string | null = null;
  #stopped = false;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #retries: RetryLoop;

  constructor(options: ExposerOptions) {
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
    const result = await this.#connect();
    if (isLinkError(result)) return result;
    const sweepEvery = Math.max(20, Math.min(1000, Math.floor(this.#options.idleMs / 4)));
    this.#sweep = setInterval(() => this.#closeIdle(), sweepEvery);
    return result;
  }

  /** Closes every client socket and the relay link; the instance ends after the host grace. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweep);
    for (const client of [...this.#clients.values()]) this.#closeClient(client, "stopped");
    await this.#link?.close();
    await this.#retries.stop();
  }

  /** Drops the relay link as a network failure would (for tests and the reconnect path). */
  async dropLink(): Promise<void> {
    await this.#link?.close();
  }

  /** Opens a link and creates, takes over or resumes the instance. */
  async #connect(): Promise<string | LinkError> {
    const link = await RelayLink.open({
      url: this.#options.relayUrl,
      token: this.#options.token,
      maxBufferedBytes: this.#options.maxBufferedBytes,
    });
    if (isLinkError(link)) return link;
    link.onMessage = (msg) => this.#onMessage(msg);
    link.onBinary = (bytes) => this.#onBinary(bytes);
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
      case "error":
        this.counters.refusedByRelay++;
        return;
    }
  }

  #onBinary(bytes: Uint8Array): void {
    const frame = decodeTunnelFrame(bytes);
    if (typeof frame === "string" || frame.op !== UdpOp.Datagram || frame.uuid !== this.#id?.uuid) {
      this.counters.unroutable++;
      return;
    }
    if (frame.datagram.length > this.#maxDatagram) {
      this.counters.oversize++;
      return;
    }
    const client = this.#clients.get(clientKey(frame.from, frame.flow)) ??
      this.#openClient(frame.from, frame.flow);
    client.lastActive = Date.now();
    // The datagram is a view into a frame nobody else holds, so it can wait in a queue as is.
    if (client.pending) client.pending.push(frame.datagram);
    else if (!client.sender!.send(frame.datagram, this.#options.userPort, this.#options.userHost)) {
      this.counters.droppedBackpressure++;
      return;
    }
    client.received++;
    this.counters.fromRelay++;
    this.counters.fromRelayBytes += frame.datagram.length;
  }

  #openClient(userId: string, flow: number): Client {
    const client: Client = {
      name: `${userId}#${flow}`,
      userId,
      flow,
      prefix: framePrefix(this.#id!.uuid, userId),
      socket: dgram.createSocket(socketType(this.#options.bindHost)),
      sender: null,
      localPort: 0,
      pending: [],
      lastActive: Date.now(),
      sent: 0,
      received: 0,
    };
    this.#clients.set(clientKey(userId, flow), client);
    this.#bind(client, this.#options.minLocalPort);
    return client;
  }

  /** Binds the client's socket on the first free port at or above `port`. */
  #bind(client: Client, port: number): void {
    while (port <= 65535 && this.#portTaken(port)) port++;
    if (port > 65535) return this.#failClient(client, "no free local port left");
    const socket = client.socket;
    const onError = (err: Error & { code?: string }) => {
      if (err.code !== "EADDRINUSE" && err.code !== "EACCES") {
        return this.#failClient(client, err.message);
      }
      socket.close();
      client.socket = dgram.createSocket(socketType(this.#options.bindHost));
      this.#bind(client, port + 1);
    };
    socket.once("error", onError);
    socket.bind({ port, address: this.#options.bindHost, exclusive: true }, () => {
      socket.off("error", onError);
      // Closed while binding (or replaced by a newer client under the same key): let it go.
      if (this.#clients.get(clientKey(client.userId, client.flow)) !== client) {
        return socket.close();
      }
      client.localPort = port;
      socket.on("message", (data, from) => this.#fromUserServer(client, data, from));
      socket.on("error", (err) => this.#failClient(client, err.message));
      const pending = client.pending ?? [];
      client.pending = null;
      client.sender = new OrderedSender(socket);
      for (const datagram of pending) {
        if (!client.sender.send(datagram, this.#options.userPort, this.#options.userHost)) {
          this.counters.droppedBackpressure++;
        }
      }
      this.#options.onEvent?.({ type: "arrival", client: client.name, localPort: port });
    });
  }

  #portTaken(port: number): boolean {
    for (const c of this.#clients.values()) if (c.localPort === port) return true;
    return false;
  }

  #fromUserServer(client: Client, data: Uint8Array, from: dgram.RemoteInfo): void {
    this.counters.fromLocal++;
    if (from.port !== this.#options.userPort || from.address !== this.#options.userHost) {
      this.counters.foreign++;
      return;
    }
    client.lastActive = Date.now();
    if (data.length > this.#maxDatagram) {
      this.counters.oversize++;
      return;
    }
    const link = this.#link;
    if (!link?.open) {
      this.counters.droppedOffline++;
      return;
    }
    if (!link.sendBinary(encodeDatagram(client.prefix, client.flow, data))) {
      this.counters.droppedBackpressure++;
      return;
    }
    client.sent++;
    this.counters.toRelay++;
    this.counters.toRelayBytes += data.length;
  }

  #closeIdle(): void {
    const before = Date.now() - this.#options.idleMs;
    for (const client of [...this.#clients.values()]) {
      if (client.lastActive < before && client.pending === null) this.#closeClient(client, "idle");
    }
  }

  #closeClient(client: Client, reason: "idle" | "disconnected" | "stopped"): void {
    if (!this.#clients.delete(clientKey(client.userId, client.flow))) return;
    if (client.pending === null) {
      client.sender?.close();
      client.socket.close();
    }
    this.#options.onEvent?.({
      type: "departure",
      client: client.name,
      localPort: client.localPort,
      reason,
      sent: client.sent,
      received: client.received,
    });
  }

  #failClient(client: Client, message: string): void {
    this.#options.onEvent?.({ type: "client_error", client: client.name, message });
    this.counters.droppedOffline += client.pending?.length ?? 0;
    client.pending = null;
    this.#clients.delete(clientKey(client.userId, client.flow));
    try {
      client.socket.close();
    } catch {
      // Already closed by the failure itself.
    }
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
