/**
 * UDP tunnel benchmark: datagrams per second and the latency the relay adds (p50/p99), measured
 * against a direct UDP round trip to the same loopback echo server.
 *
 *   deno run --unstable-net --allow-net --allow-env --allow-read bench/udp.ts [--json]
 *     [--relay <url>] [--token <t>] [--pings N] [--datagrams N] [--size BYTES] [--window N]
 *
 * Without `--relay` a WSTun server is started in this process (so the numbers include this
 * process's CPU sharing); bench/run.ts can start one pinned elsewhere and pass its URL.
 * Latency: one datagram in flight at a time. Throughput: `--window` in flight, echoed back;
 * figures count round trips per second (each is one datagram each way through the tunnel).
 * Every wait is bounded: a lost datagram is counted after 1 s, never waited for forever.
 *
 * @module
 */
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import { defaultConfig } from "../lib/config.ts";
import { OrderedSender } from "../lib/udp/ordered_sender.ts";
import { isLinkError } from "../lib/udp/relay_link.ts";
import { UdpConnector } from "../lib/udp/udp_connector.ts";
import { UdpExposer } from "../lib/udp/udp_exposer.ts";
import { createServer } from "../routes/app.ts";

export interface UdpBenchOptions {
  /** A running relay; omitted: one is started in-process. */
  relayUrl?: string;
  token?: string;
  /** Ping-pong round trips for the latency figures. */
  pings: number;
  /** Round trips for the throughput figure. */
  datagrams: number;
  size: number;
  window: number;
}

export interface PathResult {
  p50Ms: number;
  p99Ms: number;
  roundTripsPerSec: number;
  lost: number;
}

export interface UdpBenchResult {
  direct: PathResult;
  tunnel: PathResult;
  addedP50Ms: number;
  addedP99Ms: number;
  /** Tunnel throughput as a share of the direct path's. */
  throughputRatio: number;
}

export const DEFAULT_OPTIONS: UdpBenchOptions = {
  pings: 2000,
  datagrams: 50_000,
  size: 512,
  window: 64,
};

/** A socket that sends to one port and resolves waiters as datagrams come back. */
class Prober {
  #onReply: (() => void) | null = null;
  replies = 0;
  readonly #sender: OrderedSender;
  private constructor(readonly socket: dgram.Socket, readonly target: number) {
    this.#sender = new OrderedSender(socket);
    socket.on("message", () => {
      this.replies++;
      this.#onReply?.();
    });
  }

  static open(target: number): Promise<Prober> {
    const socket = dgram.createSocket("udp4");
    return new Promise((resolve) =>
      socket.bind(0, "127.0.0.1", () => resolve(new Prober(socket, target)))
    );
  }

  send(data: Uint8Array): void {
    this.#sender.send(data, this.target, "127.0.0.1");
  }

  /** Resolves at the next reply, or false after `timeoutMs`. */
  reply(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onReply = null;
        resolve(false);
      }, timeoutMs);
      this.#onReply = () => {
        clearTimeout(timer);
        this.#onReply = null;
        resolve(true);
      };
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Measures one path (direct to the echo port, or through the connector's port). */
async function measurePath(port: number, o: UdpBenchOptions): Promise<PathResult> {
  const probe = await Prober.open(port);
  const small = new Uint8Array(64);
  const rtts: number[] = [];
  let lost = 0;
  for (let i = 0; i < o.pings; i++) {
    const start = performance.now();
    probe.send(small);
    if (await probe.reply(1000)) rtts.push(performance.now() - start);
    else lost++;
  }
  rtts.sort((a, b) => a - b);

  const payload = new Uint8Array(o.size);
  const before = probe.replies;
  const start = performance.now();
  let sent = 0;
  while (probe.replies - before < o.datagrams - lost) {
    while (sent < o.datagrams && sent - (probe.replies - before) - lost < o.window) {
      probe.send(payload);
      sent++;
    }
    if (!(await probe.reply(1000))) lost += sent - (probe.replies - before) - lost;
  }
  const seconds = (performance.now() - start) / 1000;
  await probe.close();
  return {
    p50Ms: percentile(rtts, 0.5),
    p99Ms: percentile(rtts, 0.99),
    roundTripsPerSec: Math.round((probe.replies - before) / seconds),
    lost,
  };
}

/** Runs the whole scenario and tears everything down. */
export async function runUdpBench(o: UdpBenchOptions = DEFAULT_OPTIONS): Promise<UdpBenchResult> {
  const echo = dgram.createSocket("udp4");
  const echoSender = new OrderedSender(echo);
  echo.on("message", (data, from) => echoSender.send(data, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", resolve));
  const echoPort = echo.address().port;

  let relayUrl = o.relayUrl;
  let stopRelay = async () => {};
  if (!relayUrl) {
    const server = await createServer(defaultConfig({ udpMaxMsgsPerSec: 0 }));
    const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
    relayUrl = `http://127.0.0.1:${http.addr.port}`;
    stopRelay = async () => {
      await http.shutdown();
      server.shutdown();
    };
  }
  const exposer = new UdpExposer({
    relayUrl,
    token: o.token,
    userHost: "127.0.0.1",
    userPort: echoPort,
    minLocalPort: 42_000,
    bindHost: "127.0.0.1",
    idleMs: 60_000,
    maxBufferedBytes: 4 * 1024 * 1024,
  });
  const serverId = await exposer.start();
  if (isLinkError(serverId)) throw new Error(serverId.message);
  const connector = new UdpConnector({
    relayUrl,
    token: o.token,
    serverId,
    listenPort: 0,
    listenHost: "127.0.0.1",
    idleMs: 60_000,
    maxBufferedBytes: 4 * 1024 * 1024,
  });
  const started = await connector.start();
  if (isLinkError(started)) throw new Error(started.message);
  try {
    const direct = await measurePath(echoPort, o);
    const tunnel = await measurePath(connector.listenPort, o);
    return {
      direct,
      tunnel,
      addedP50Ms: tunnel.p50Ms - direct.p50Ms,
      addedP99Ms: tunnel.p99Ms - direct.p99Ms,
      throughputRatio: tunnel.roundTripsPerSec / direct.roundTripsPerSec,
    };
  } finally {
    await connector.stop();
    await exposer.stop();
    echoSender.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
    await stopRelay();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      relay: { type: "string" },
      token: { type: "string" },
      pings: { type: "string" },
      datagrams: { type: "string" },
      size: { type: "string" },
      window: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const num = (v: string | undefined, fallback: number) => v === undefined ? fallback : Number(v);
  const result = await runUdpBench({
    relayUrl: values.relay,
    token: values.token,
    pings: num(values.pings, DEFAULT_OPTIONS.pings),
    datagrams: num(values.datagrams, DEFAULT_OPTIONS.datagrams),
    size: num(values.size, DEFAULT_OPTIONS.size),
    window: num(values.window, DEFAULT_OPTIONS.window),
  });
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    const row = (name: string, r: PathResult) =>
      `${name.padEnd(8)} p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  ` +
      `${r.roundTripsPerSec} round trips/s  lost ${r.lost}`;
    console.log(row("direct", result.direct));
    console.log(row("tunnel", result.tunnel));
    console.log(
      `added    p50 ${result.addedP50Ms.toFixed(3)} ms  p99 ${result.addedP99Ms.toFixed(3)} ms  ` +
        `throughput ${(result.throughputRatio * 100).toFixed(1)}% of direct`,
    );
  }
}
