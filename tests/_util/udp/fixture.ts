/**
 * Test fixtures for the UDP tunnel: a loopback echo server standing in for the user server, a
 * local game client that sends windowed traffic and checks every echo, and a one-call tunnel
 * (exposer + connector) over a real relay. Everything waits on events with deadlines.
 *
 * @module
 */
import { type ConnectorOptions, UdpConnector } from "../../../lib/udp/udp_connector.ts";
import { type ExposerOptions, UdpExposer } from "../../../lib/udp/udp_exposer.ts";
import { DatagramSocket, type Endpoint, endpoint } from "../../../lib/udp/datagram_socket.ts";
import { isLinkError } from "../../../lib/udp/relay_link.ts";

/** The user server: echoes every datagram to its sender and remembers the senders' ports. */
export class EchoServer {
  readonly sourcePorts = new Set<number>();
  received = 0;
  private constructor(readonly socket: DatagramSocket) {
    socket.onDatagram = (data, from) => {
      this.received++;
      this.sourcePorts.add(from.port);
      // The socket reuses its buffer: the echo queued for sending needs its own copy.
      socket.send(data.slice(), endpoint(from.hostname, from.port));
    };
  }

  get port(): number {
    return this.socket.port;
  }

  static start(address = "127.0.0.1"): Promise<EchoServer> {
    return Promise.resolve(new EchoServer(DatagramSocket.bind(address, 0)));
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/** A local client socket whose incoming datagrams are queued and awaited. */
export class GameClient {
  readonly inbox: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  readonly #target: Endpoint;
  private constructor(readonly socket: DatagramSocket, target: number, address: string) {
    this.#target = endpoint(address, target);
    socket.onDatagram = (data) => {
      this.inbox.push(data.slice());
      this.#wake?.();
    };
  }

  static open(target: number, address = "127.0.0.1"): Promise<GameClient> {
    return Promise.resolve(new GameClient(DatagramSocket.bind(address, 0), target, address));
  }

  /** The local port this client sends from. */
  get port(): number {
    return this.socket.port;
  }

  send(data: Uint8Array): void {
    if (!this.socket.send(data, this.#target)) throw new Error("send queue full");
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
    return this.socket.close();
  }
}

/** Sizes of the default mixed stream: mostly game-sized, some large, one in 500 the largest. */
export function mixedSize(i: number): number {
  return i % 500 === 0 ? 65_507 : i % 50 === 0 ? 8_000 + (i % 13) : 8 + (i * 7919) % 1400;
}

/** The sizes of issue 18's game traffic, in turn: tiny, empty, game-sized, a fragment, the largest. */
export const GAME_SIZES = [8, 100, 1200, 0, 1400, 9000, 65_503, 8, 512];

/** Datagram `i` of a stream: its sequence number first (when it has room), then a pattern. */
export function datagramFor(i: number, tag: number, size = mixedSize(i)): Uint8Array {
  const out = new Uint8Array(size);
  if (size >= 5) {
    new DataView(out.buffer).setUint32(0, i);
    out[4] = tag;
  }
  for (let k = 5; k < size; k++) out[k] = (i + k) & 0xff;
  return out;
}

export interface PumpOptions {
  /** Bytes in flight at most (the first datagram of an empty window always goes). */
  maxBytes?: number;
  /** Datagrams in flight at most. */
  maxInFlight?: number;
  /** Size of datagram `i`; {@link mixedSize} by default. */
  size?: (i: number) => number;
}

/**
 * Sends `count` datagrams with a bounded window and checks that every echo comes back intact and
 * in order: echo `i` must be datagram `i`, so a lost, duplicated or reordered datagram fails the
 * check, empty ones included. The windows of all clients pumping at once must together stay under
 * a UDP socket's kernel receive buffer (about 208 KiB on Linux without `--recv-buffer`), or
 * loopback itself drops datagrams.
 */
export async function pumpEchoes(
  client: GameClient,
  count: number,
  tag: number,
  { maxBytes = 96 * 1024, maxInFlight = 16, size = mixedSize }: PumpOptions = {},
): Promise<void> {
  let sent = 0, received = 0, bytesInFlight = 0;
  while (received < count) {
    while (
      sent < count && sent - received < maxInFlight &&
      (sent === received || bytesInFlight + size(sent) <= maxBytes)
    ) {
      bytesInFlight += size(sent);
      client.send(datagramFor(sent, tag, size(sent)));
      sent++;
    }
    const echo = await client.next(5000).catch((err) => {
      throw new Error(`${err.message}: ${received} of ${count} echoes back`);
    });
    const expected = datagramFor(received, tag, size(received));
    if (echo.length !== expected.length || !echo.every((b, k) => b === expected[k])) {
      throw new Error(`echo ${received} differs (got ${echo.length} bytes)`);
    }
    bytesInFlight -= size(received);
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
