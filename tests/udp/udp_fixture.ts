/**
 * Test fixtures for the UDP tunnel: a loopback echo server standing in for the user server, a
 * local game client that sends windowed traffic and checks every echo, and a one-call tunnel
 * (exposer + connector) over a real relay. Everything waits on events with deadlines.
 *
 * @module
 */
import dgram from "node:dgram";
import { type ConnectorOptions, UdpConnector } from "../../lib/udp/udp_connector.ts";
import { type ExposerOptions, UdpExposer } from "../../lib/udp/udp_exposer.ts";
import { OrderedSender } from "../../lib/udp/ordered_sender.ts";
import { isLinkError } from "../../lib/udp/relay_link.ts";

/** The user server: echoes every datagram to its sender and remembers the senders' ports. */
export class EchoServer {
  readonly sourcePorts = new Set<number>();
  received = 0;
  readonly #sender: OrderedSender;
  private constructor(readonly socket: dgram.Socket, readonly port: number) {
    this.#sender = new OrderedSender(socket);
    socket.on("message", (data, from) => {
      this.received++;
      this.sourcePorts.add(from.port);
      this.#sender.send(data, from.port, from.address);
    });
  }

  static start(address = "127.0.0.1"): Promise<EchoServer> {
    const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
    return new Promise((resolve) =>
      socket.bind(0, address, () => resolve(new EchoServer(socket, socket.address().port)))
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A local client socket whose incoming datagrams are queued and awaited. */
export class GameClient {
  readonly inbox: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  readonly #sender: OrderedSender;
  private constructor(
    readonly socket: dgram.Socket,
    readonly target: number,
    readonly address: string,
  ) {
    this.#sender = new OrderedSender(socket);
    socket.on("message", (data) => {
      this.inbox.push(new Uint8Array(data));
      this.#wake?.();
    });
  }

  static open(target: number, address = "127.0.0.1"): Promise<GameClient> {
    const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
    return new Promise((resolve) =>
      socket.bind(0, address, () => resolve(new GameClient(socket, target, address)))
    );
  }

  send(data: Uint8Array): void {
    if (!this.#sender.send(data, this.target, this.address)) throw new Error("send queue full");
  }

  /** The next datagram, or an error after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no datagram within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
      });
    }
    return this.inbox.shift()!;
  }

  /** Sends `datagram` until one comes back (the tunnel may still be setting up), then returns it. */
  async roundTrip(data: Uint8Array, timeoutMs = 3000): Promise<Uint8Array> {
    this.send(data);
    return await this.next(timeoutMs);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Datagram `i` of the mixed-size stream: its sequence number first, then a pattern. */
export function datagramFor(i: number, tag: number): Uint8Array {
  const size = i % 500 === 0 ? 65_507 : i % 50 === 0 ? 8_000 + (i % 13) : 8 + (i * 7919) % 1400;
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, i);
  out[4] = tag;
  for (let k = 5; k < size; k++) out[k] = (i + k) & 0xff;
  return out;
}

/**
 * Sends `count` datagrams with a bounded window and checks that every echo comes back intact and
 * in order. The windows of all clients pumping at once must together stay under a UDP socket's
 * kernel receive buffer (about 208 KiB on Linux), or loopback itself drops datagrams.
 */
export async function pumpEchoes(
  client: GameClient,
  count: number,
  tag: number,
  maxBytes = 96 * 1024,
): Promise<void> {
  const maxInFlight = 16;
  let sent = 0, received = 0, bytesInFlight = 0;
  const sizes: number[] = [];
  while (received < count) {
    while (
      sent < count && sent - received < maxInFlight &&
      (sent === received || bytesInFlight + datagramFor(sent, tag).length <= maxBytes)
    ) {
      const d = datagramFor(sent, tag);
      sizes.push(d.length);
      bytesInFlight += d.length;
      client.send(d);
      sent++;
    }
    const echo = await client.next(5000).catch((err) => {
      throw new Error(`${err.message}: ${received} of ${count} echoes back`);
    });
    const expected = datagramFor(received, tag);
    if (echo.length !== expected.length || !echo.every((b, k) => b === expected[k])) {
      throw new Error(`echo ${received} differs (got ${echo.length} bytes)`);
    }
    bytesInFlight -= sizes[received];
    received++;
  }
}

export interface Tunnel {
  exposer: UdpExposer;
  serverId: string;
  close(): Promise<void>;
}

/** Starts an exposer towards `userPort` through the relay at `relayUrl`. */
export async function startExposer(
  relayUrl: string,
  userPort: number,
  overrides: Partial<ExposerOptions> = {},
): Promise<Tunnel> {
  const exposer = new UdpExposer({
    relayUrl,
    userHost: "127.0.0.1",
    userPort,
    minLocalPort: 40_000,
    bindHost: "127.0.0.1",
    idleMs: 30_000,
    maxBufferedBytes: 4 * 1024 * 1024,
    backoff: { initialMs: 20, maxMs: 200 },
    ...overrides,
  });
  const serverId = await exposer.start();
  if (isLinkError(serverId)) throw new Error(serverId.message);
  return { exposer, serverId, close: () => exposer.stop() };
}

/** Starts a connector on an ephemeral local port. */
export async function startConnector(
  relayUrl: string,
  serverId: string,
  overrides: Partial<ConnectorOptions> = {},
): Promise<UdpConnector> {
  const connector = new UdpConnector({
    relayUrl,
    serverId,
    listenPort: 0,
    listenHost: "127.0.0.1",
    idleMs: 30_000,
    maxBufferedBytes: 4 * 1024 * 1024,
    backoff: { initialMs: 20, maxMs: 200 },
    ...overrides,
  });
  const started = await connector.start();
  if (isLinkError(started)) throw new Error(started.message);
  return connector;
}

/** Waits until `condition` holds, checking on a short timer, or fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
