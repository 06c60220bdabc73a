/**
 * UDP tunnel benchmark (issue 18): game traffic through `udp-connect` → relay → `udp-expose` to an
 * echo server, against the same traffic sent to the echo server directly, in one run, with the
 * losses found and counted at every hop.
 *
 *   deno run -A bench/udp.ts [--json] [--quick] [--relay <url>] [--token <t>]
 *
 * Without `--relay` a WSTun server is started as its own process (unpinned); bench/run.ts starts
 * one pinned to a core and passes its URL. The exposer, the connector and the echo server (the
 * user server) each run as their own process with the UDP tools' permissions (bench/udp_peer.ts);
 * the game clients run here. Phases, each direct then through the tunnel:
 *
 * - `ping`: one 64-byte datagram in flight at a time: round-trip p50/p99, after 500 pings from
 *   another client that warm the path up (not counted).
 * - `throughput`: 1,200-byte datagrams, 64 in flight: round trips/s, lost.
 * - `paced-2`, `paced-16`: 2 and 16 clients, 400 datagrams each, one per millisecond, sizes 8,
 *   100, 1,200, 0, 1,400, 9,000, 65,503, 8, 512 in turn and in step across clients (issue 18's
 *   reproduction): lost, out of order.
 * - `game-64`: 64 clients at 60 datagrams/s each, 200–1,200 bytes, spread over each 16.7 ms, for
 *   10 s (3 s with `--quick`): lost, round-trip p50/p99.
 * - `overload`: one client offering 40,000 datagrams/s of 1,200 bytes for 2 s, beyond what the
 *   tunnel carries: how many arrive, whether every loss is counted at some hop, and whether the
 *   tunnel answers pings afterwards.
 *
 * Every loss is attributed: the OS's drops on every socket (the `drops` column of /proc/net/udp,
 * read with `cat`), the tools' counters (their own view of the OS's drops included), the relay's
 * `udpDatagramsDropped`. Every wait is bounded: a datagram not back within 1 s of the last
 * progress is lost.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DatagramSocket, type Endpoint, endpoint } from "../lib/udp/datagram_socket.ts";
import type { TunnelCounters } from "../lib/udp/tunnel_counters.ts";
import { commandOutput, cpuSeconds, freePort, readProc, startServer } from "./processes.ts";
import { WSTUN_UNLIMITED, wstunCommand } from "./targets.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface UdpBenchOptions {
  /** A running relay; omitted: one is started as a process. */
  relayUrl?: string;
  token?: string;
  quick?: boolean;
  /** Only these phases (all when empty). */
  phases?: PhaseName[];
  /** The relay's process, to count its CPU time (known when this module starts it). */
  relayPid?: number;
}

/** What one phase measured on one path. */
export interface PathResult {
  sent: number;
  received: number;
  lost: number;
  outOfOrder: number;
  p50Ms: number;
  p99Ms: number;
  /** Datagrams back per second over the phase. */
  perSec: number;
  /** Losses no hop counted (the OS's drops, the tools' and the relay's counters). */
  uncounted?: number;
  /** Only `overload`: pings answered afterwards, of 50. */
  answeredAfter?: number;
  /**
   * CPU time per datagram back, in µs, of every process on the path (this one with the game
   * clients, the echo server, and for the tunnel the connector, relay and exposer): the figure a
   * busy machine distorts least.
   */
  cpuUsPerDatagram?: Record<string, number>;
}

/** Drops during one phase, by where they happened. */
export type Hops = Record<string, number>;

export interface PhaseResult {
  direct: PathResult;
  tunnel: PathResult;
  /** Where the tunnel's datagrams were dropped. */
  hops: Hops;
}

export type PhaseName = "ping" | "throughput" | "paced-2" | "paced-16" | "game-64" | "overload";
export type UdpBenchResult = Record<PhaseName, PhaseResult>;

const GAME_SIZES = [8, 100, 1200, 0, 1400, 9000, 65_503, 8, 512];
const PATIENCE_MS = 1000;

const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** The permissions of `deno task udp-connect`, read from deno.json so they never drift. */
async function toolFlags(): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  return String(tasks["udp-connect"]).split(/\s+/).filter((arg) => arg.startsWith("--"));
}

/** A bench/udp_peer.ts process: ready line, then one JSON answer per request. */
class PeerProcess {
  readonly #lines: AsyncIterator<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(readonly child: Deno.ChildProcess, readonly ready: Record<string, unknown>) {
    this.#lines = PeerProcess.#lineReader.get(child)!;
    this.#stdin = child.stdin.getWriter();
  }

  static #lineReader = new WeakMap<Deno.ChildProcess, AsyncIterator<string>>();

  static async start(role: string, options: Record<string, unknown> = {}): Promise<PeerProcess> {
    // WSTUN_UDP_BENCH_PROFILE=<dir>: each peer writes a V8 CPU profile there when it stops.
    const dir = Deno.env.get("WSTUN_UDP_BENCH_PROFILE");
    const profile = dir
      ? ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${role}.cpuprofile`]
      : [];
    // WSTUN_UDP_BENCH_V8_FLAGS=<flags>: V8 flags for the peers (e.g. --trace-gc, GC sizes); their
    // output lines that are not JSON go to stderr, tagged with the role.
    const v8 = Deno.env.get("WSTUN_UDP_BENCH_V8_FLAGS");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...await toolFlags(),
        ...profile,
        ...(v8 ? [`--v8-flags=${v8}`] : []),
        `${ROOT}/bench/udp_peer.ts`,
        role,
        JSON.stringify(options),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout, role);
    PeerProcess.#lineReader.set(child, lines);
    const first = await withTimeout(lines.next(), 15_000, `${role} did not start`);
    if (first.done) throw new Error(`${role} ended before it was ready`);
    return new PeerProcess(child, JSON.parse(first.value));
  }

  async stats(): Promise<Record<string, unknown>> {
    await this.#stdin.write(new TextEncoder().encode('{"type":"stats"}\n'));
    const line = await withTimeout(this.#lines.next(), 5000, "a peer did not answer");
    if (line.done) throw new Error("a peer ended");
    return JSON.parse(line.value);
  }

  async stop(): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode('{"type":"stop"}\n')).catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.child.status;
    clearTimeout(timer);
    await this.#stdin.close().catch(() => {});
    // What it printed after the last answer (V8 flushes its traces at exit) goes to stderr too.
    while (!(await this.#lines.next()).done);
  }
}

/** The peer's JSON lines; anything else it prints (V8's traces) goes to stderr with its role. */
async function* readLines(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  role: string,
): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      // V8 writes through its own buffer: a trace line may hold a JSON line in its middle.
      const json = line.indexOf('{"');
      if (json > 0) console.error(`[${role}] ${line.slice(0, json)}`);
      if (json >= 0) yield line.slice(json);
      else console.error(`[${role}] ${line}`);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** CPU seconds so far of each named process. */
async function cpuOf(pids: Record<string, number>, ticks: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [who, pid] of Object.entries(pids)) out[who] = await cpuSeconds(pid, ticks);
  return out;
}

/** The OS's drops per local UDP port, from /proc/net/udp (through `cat`: Deno wants -A for /proc). */
async function osDropsByPort(): Promise<Map<number, number>> {
  const drops = new Map<number, number>();
  const text = await readProc("/proc/net/udp").catch(() => "");
  for (const line of text.trim().split("\n").slice(1)) {
    const column = line.trim().split(/\s+/);
    drops.set(parseInt(column[1].split(":")[1], 16), Number(column[12]));
  }
  return drops;
}

/** A game client: numbers its datagrams, times each round trip, notices reordering. */
class Player {
  sent = 0;
  received = 0;
  outOfOrder = 0;
  readonly rtts: number[] = [];
  #lastSeq = -1;
  #sentAt: number[] = [];
  #wake: (() => void) | null = null;
  readonly socket = DatagramSocket.bind("127.0.0.1", 0);
  readonly #target: Endpoint;

  constructor(target: number, readonly id: number) {
    this.#target = endpoint("127.0.0.1", target);
    this.socket.onDatagram = (data) => {
      this.received++;
      if (data.length >= 4) {
        const seq = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
        this.rtts.push(now() - this.#sentAt[seq]);
        if (seq < this.#lastSeq) this.outOfOrder++;
        this.#lastSeq = seq;
      }
      this.#wake?.();
    };
  }

  /** Sends one datagram; false when the socket's own queue is full (it did not leave: not sent). */
  send(size: number): boolean {
    const data = new Uint8Array(size);
    const view = new DataView(data.buffer);
    if (size >= 4) view.setUint32(0, this.sent);
    if (size >= 8) view.setUint32(4, this.id);
    if (!this.socket.send(data, this.#target)) return false;
    this.#sentAt[this.sent++] = now();
    return true;
  }

  /** Resolves at the next reply, or false after `ms`. */
  reply(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve(false);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve(true);
      };
    });
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/** Waits until every player has all its replies, or nothing came back for PATIENCE_MS. */
async function settle(players: Player[]): Promise<void> {
  let last = -1, since = now();
  for (;;) {
    const back = players.reduce((n, p) => n + p.received, 0);
    if (players.every((p) => p.received >= p.sent)) return;
    if (back !== last) [last, since] = [back, now()];
    if (now() - since > PATIENCE_MS) return;
    await sleep(5);
  }
}

function summarise(players: Player[], seconds: number): PathResult {
  const rtts = players.flatMap((p) => p.rtts).sort((a, b) => a - b);
  const sent = players.reduce((n, p) => n + p.sent, 0);
  const received = players.reduce((n, p) => n + p.received, 0);
  return {
    sent,
    received,
    lost: sent - received,
    outOfOrder: players.reduce((n, p) => n + p.outOfOrder, 0),
    p50Ms: percentile(rtts, 0.5),
    p99Ms: percentile(rtts, 0.99),
    perSec: Math.round(received / seconds),
  };
}

/** Adds what the OS dropped on `players`' sockets (fresh sockets: their count started at 0). */
async function countPlayerDrops(ctx: PhaseContext, players: Player[]): Promise<void> {
  const drops = await osDropsByPort();
  for (const p of players) ctx.playerOsDrops += drops.get(p.socket.port) ?? 0;
}

/** Sends on a schedule: player `p`'s datagram `i` is due at `at(p, i)` ms after the start. */
async function schedule(
  players: Player[],
  count: number,
  at: (p: number, i: number) => number,
  size: (p: number, i: number) => number,
): Promise<number> {
  const start = now();
  while (players.some((p) => p.sent < count)) {
    const elapsed = now() - start;
    players.forEach((player, p) => {
      // A sender whose own queue is full waits for the next tick, as a game would.
      while (player.sent < count && at(p, player.sent) <= elapsed) {
        if (!player.send(size(p, player.sent))) break;
      }
    });
    await sleep(1);
  }
  await settle(players);
  return (now() - start) / 1000;
}

/** What a phase needs: where to send, the run's options, and where to count its players' losses. */
interface PhaseContext {
  port: number;
  o: Required<UdpBenchOptions>;
  /** Datagrams that never left the players' sockets: refused by the OS, or queued at close. */
  playerSendErrors: number;
  /** What the OS dropped on the players' sockets, read before they close (and leave /proc). */
  playerOsDrops: number;
}

type Phase = (ctx: PhaseContext) => Promise<PathResult>;

/** A phase's run: its duration in seconds, and figures of its own. */
type Run = (players: Player[]) => Promise<number | { seconds: number; extra: Partial<PathResult> }>;

async function withPlayers(ctx: PhaseContext, count: number, run: Run): Promise<PathResult> {
  const players = Array.from({ length: count }, (_, id) => new Player(ctx.port, id));
  try {
    const ran = await run(players);
    const { seconds, extra } = typeof ran === "number" ? { seconds: ran, extra: {} } : ran;
    return { ...summarise(players, seconds), ...extra };
  } finally {
    await countPlayerDrops(ctx, players);
    await Promise.all(players.map((p) => p.close()));
    ctx.playerSendErrors += players.reduce(
      (n, p) => n + p.socket.sendErrors + p.socket.discarded,
      0,
    );
  }
}

/** Pings sent before `ping` measures, from a client of their own, not counted. */
const PING_WARM_UP = 500;

/**
 * A tunnel that just started runs its first thousand datagrams through cold code (p99 4.6 ms for
 * the first 1,000 against 1.1-1.5 for the next, measured): `ping` warms both paths the same way,
 * before its CPU and counters are read, so the figure is the one a player sees in a running game.
 */
const warmUp = async (ctx: PhaseContext): Promise<void> => {
  const player = new Player(ctx.port, 0);
  for (let i = 0; i < PING_WARM_UP; i++) {
    player.send(64);
    await player.reply(PATIENCE_MS);
  }
  await player.close();
};

const ping: Phase = (ctx) =>
  withPlayers(ctx, 1, async ([player]) => {
    const start = now();
    for (let i = 0; i < (ctx.o.quick ? 300 : 1000); i++) {
      player.send(64);
      await player.reply(PATIENCE_MS);
    }
    return (now() - start) / 1000;
  });

const throughput: Phase = (ctx) =>
  withPlayers(ctx, 1, async ([player]) => {
    const total = ctx.o.quick ? 5000 : 20_000, window = 64;
    const start = now();
    let gaveUp = 0;
    while (player.received + gaveUp < total) {
      while (player.sent < total && player.sent - player.received - gaveUp < window) {
        player.send(1200);
      }
      if (!(await player.reply(PATIENCE_MS))) gaveUp = player.sent - player.received;
    }
    return (now() - start) / 1000;
  });

const paced = (clients: number): Phase => (ctx) =>
  withPlayers(
    ctx,
    clients,
    (players) => schedule(players, 400, (_, i) => i, (_, i) => GAME_SIZES[i % GAME_SIZES.length]),
  );

const game: Phase = (ctx) =>
  withPlayers(ctx, 64, (players) => {
    const every = 1000 / 60, count = 60 * (ctx.o.quick ? 3 : 10);
    return schedule(
      players,
      count,
      (p, i) => i * every + (p * every) / players.length,
      (p, i) => 200 + ((i * 7919 + p * 104_729) % 1001),
    );
  });

/** Far beyond the tunnel's capacity, then 50 pings from a second client: is it still answering? */
const overload: Phase = (ctx) =>
  withPlayers(ctx, 1, async ([player]) => {
    const perMs = 40,
      seconds = await schedule(
        [player],
        perMs * 1000 * (ctx.o.quick ? 1 : 2),
        (_, i) => i / perMs,
        () => 1200,
      );
    const after = new Player(ctx.port, 1);
    for (let i = 0; i < 50; i++) {
      after.send(64);
      await after.reply(PATIENCE_MS);
    }
    await countPlayerDrops(ctx, [after]);
    await after.close();
    ctx.playerSendErrors += after.socket.sendErrors + after.socket.discarded;
    return { seconds, extra: { answeredAfter: after.received } };
  });

const PHASES: [PhaseName, Phase, ((ctx: PhaseContext) => Promise<void>)?][] = [
  ["ping", ping, warmUp],
  ["throughput", throughput],
  ["paced-2", paced(2)],
  ["paced-16", paced(16)],
  ["game-64", game],
  ["overload", overload],
];

/** Counters of every hop, to subtract before from after. */
interface HopCounts {
  os: Map<number, number>;
  connector: TunnelCounters;
  exposer: TunnelCounters;
  exposerPorts: number[];
  echo: { received: number; osDrops?: number; notEchoed: number };
  relayDropped: number;
}

async function relayDropped(relayUrl: string, token?: string): Promise<number> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const stats = await (await fetch(`${relayUrl}/_api/stats`, { headers })).json();
  return Number(stats.udpDatagramsDropped ?? 0);
}

async function hopCounts(
  peers: { echo: PeerProcess; exposer: PeerProcess; connector: PeerProcess },
  relayUrl: string,
  token?: string,
): Promise<HopCounts> {
  const exposer = await peers.exposer.stats();
  return {
    os: await osDropsByPort(),
    connector: (await peers.connector.stats()).counters as TunnelCounters,
    exposer: exposer.counters as TunnelCounters,
    exposerPorts: exposer.ports as number[],
    echo: await peers.echo.stats() as HopCounts["echo"],
    relayDropped: await relayDropped(relayUrl, token),
  };
}

/** Where datagrams were dropped between two readings of the hops that outlive a phase. */
function hopsBetween(a: HopCounts, b: HopCounts, ports: Record<string, number[]>): Hops {
  const os = (list: number[]) =>
    list.reduce((n, port) => n + (b.os.get(port) ?? 0) - (a.os.get(port) ?? 0), 0);
  const counted = (x: TunnelCounters, y: TunnelCounters) =>
    (y.oversize - x.oversize) + (y.droppedBackpressure - x.droppedBackpressure) +
    (y.droppedOffline - x.droppedOffline) + (y.unroutable - x.unroutable) +
    (y.foreign - x.foreign) + (y.sendErrors - x.sendErrors) + (y.refusedByRelay - x.refusedByRelay);
  return {
    "connector socket (OS)": os(ports.connector),
    "connector (counted)": counted(a.connector, b.connector),
    "relay (udpDatagramsDropped)": b.relayDropped - a.relayDropped,
    "exposer (counted)": counted(a.exposer, b.exposer),
    "exposer sockets (OS)": os(b.exposerPorts),
    "user server socket (OS)": os(ports.echo),
    "user server (not echoed)": b.echo.notEchoed - a.echo.notEchoed,
  };
}

/** Runs every phase, direct then through the tunnel, and tears everything down. */
export async function runUdpBench(options: UdpBenchOptions = {}): Promise<UdpBenchResult> {
  const o = { relayUrl: "", token: "", quick: false, phases: [], relayPid: 0, ...options };
  let stopRelay = async () => {};
  if (!o.relayUrl) {
    const port = freePort();
    const relay = await startServer(wstunCommand(ROOT), {
      port,
      cpu: "",
      env: { ...WSTUN_UNLIMITED, WSTUN_UDP_MAX_MSGS_PER_SEC: "0" },
      cwd: ROOT,
    });
    o.relayUrl = `http://127.0.0.1:${port}`;
    o.relayPid = relay.pid;
    stopRelay = relay.stop;
  }
  const relayUrl = o.relayUrl;
  const started: PeerProcess[] = [];
  try {
    const echo = await PeerProcess.start("echo");
    started.push(echo);
    const echoPort = Number(echo.ready.port);
    // WSTUN_UDP_BENCH_BUFFERS=<receive>,<send> (bytes): the tools' kernel buffers, as their
    // --receive-buffer / --send-buffer set them; unset, the tools' defaults.
    const sizes = Deno.env.get("WSTUN_UDP_BENCH_BUFFERS")?.split(",").map(Number);
    const buffers = sizes ? { receive: sizes[0], send: sizes[1] ?? sizes[0] } : undefined;
    // WSTUN_UDP_BENCH_LINK_BYTES: the tools' bound on unsent bytes towards the relay.
    const link = Number(Deno.env.get("WSTUN_UDP_BENCH_LINK_BYTES")) || undefined;
    const tool = { relayUrl, buffers, maxBufferedBytes: link };
    const exposer = await PeerProcess.start("exposer", { ...tool, userPort: echoPort });
    started.push(exposer);
    const connector = await PeerProcess.start("connector", {
      ...tool,
      serverId: exposer.ready.serverId,
    });
    started.push(connector);
    const connectorPort = Number(connector.ready.port);
    const peers = { echo, exposer, connector };
    const ticks = Number(await commandOutput("getconf", ["CLK_TCK"])) || 100;
    const result = {} as UdpBenchResult;
    for (const [name, phase, warm] of PHASES) {
      if (o.phases.length && !o.phases.includes(name)) continue;
      const path = async (port: number) => {
        const ctx = { port, o, playerSendErrors: 0, playerOsDrops: 0 };
        const pids: Record<string, number> = {
          "clients (bench)": Deno.pid,
          "echo": echo.child.pid,
        };
        if (port === connectorPort) {
          Object.assign(pids, { connector: connector.child.pid, exposer: exposer.child.pid });
          if (o.relayPid) pids.relay = o.relayPid;
        }
        if (warm) await warm(ctx);
        const cpuBefore = await cpuOf(pids, ticks);
        const before = await hopCounts(peers, relayUrl, o.token);
        const measured = await phase(ctx);
        const after = await hopCounts(peers, relayUrl, o.token);
        const cpuAfter = await cpuOf(pids, ticks);
        measured.cpuUsPerDatagram = Object.fromEntries(
          Object.keys(pids).map((
            who,
          ) => [who, Math.round((cpuAfter[who] - cpuBefore[who]) * 1e6 / measured.received)]),
        );
        const ports = { connector: [connectorPort], echo: [echoPort] };
        const hops = {
          "client sockets (never sent)": ctx.playerSendErrors,
          "client sockets (OS)": ctx.playerOsDrops,
          ...hopsBetween(before, after, ports),
        };
        const counted = Object.values(hops).reduce((n, v) => n + v, 0);
        return { result: { ...measured, uncounted: measured.lost - counted }, hops };
      };
      const direct = await path(echoPort);
      const tunnel = await path(connectorPort);
      result[name] = { direct: direct.result, tunnel: tunnel.result, hops: tunnel.hops };
    }
    return result;
  } finally {
    for (const peer of started.reverse()) await peer.stop();
    await stopRelay();
  }
}

/** The figures of one path, flat, as bench/run.ts tabulates them (tunnel ÷ direct). */
export function figuresOf(r: UdpBenchResult, path: "direct" | "tunnel"): Record<string, number> {
  const p = (phase: PhaseName) => r[phase][path];
  return {
    pingP50: p("ping").p50Ms,
    pingP99: p("ping").p99Ms,
    throughput: p("throughput").perSec,
    throughputLost: p("throughput").lost,
    paced2Lost: p("paced-2").lost,
    paced2OutOfOrder: p("paced-2").outOfOrder,
    paced16Lost: p("paced-16").lost,
    paced16OutOfOrder: p("paced-16").outOfOrder,
    game64Lost: p("game-64").lost,
    game64P50: p("game-64").p50Ms,
    game64P99: p("game-64").p99Ms,
    overloadPerSec: p("overload").perSec,
    overloadLost: p("overload").lost,
    overloadUncounted: p("overload").uncounted ?? NaN,
    overloadAnswered: p("overload").answeredAfter ?? NaN,
    throughputCpuUs: totalCpu(p("throughput")),
    game64CpuUs: totalCpu(p("game-64")),
  };
}

/** CPU µs per datagram back, summed over every process on the path. */
function totalCpu(x: PathResult): number {
  const all = Object.values(x.cpuUsPerDatagram ?? {});
  return all.length ? all.reduce((n, us) => n + us, 0) : NaN;
}

export interface UdpTargetCheck {
  target: string;
  actual: string;
  met: boolean;
}

/** Issue 18's targets, on the tunnel's figures and what it adds to the direct path's. */
export function udpTargets(
  tunnel: Record<string, number>,
  direct: Record<string, number>,
): UdpTargetCheck[] {
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  const check = (target: string, actual: string, met: boolean) => ({ target, actual, met });
  const added = (key: string) => tunnel[key] - direct[key];
  return [
    check(
      "paced, 2 clients: 0 lost, 0 out of order",
      `${tunnel.paced2Lost} lost, ${tunnel.paced2OutOfOrder} out of order`,
      tunnel.paced2Lost === 0 && tunnel.paced2OutOfOrder === 0,
    ),
    check(
      "paced, 16 clients: 0 lost, 0 out of order",
      `${tunnel.paced16Lost} lost, ${tunnel.paced16OutOfOrder} out of order`,
      tunnel.paced16Lost === 0 && tunnel.paced16OutOfOrder === 0,
    ),
    check("64 clients at 60/s: 0 lost", `${tunnel.game64Lost} lost`, tunnel.game64Lost === 0),
    check("64 clients at 60/s: added p99 ≤ 2 ms", ms(added("game64P99")), added("game64P99") <= 2),
    check("ping: added p50 ≤ 0.5 ms", ms(added("pingP50")), added("pingP50") <= 0.5),
    check("ping: added p99 ≤ 2 ms", ms(added("pingP99")), added("pingP99") <= 2),
    check(
      "throughput ≥ 10,000 round trips/s of 1,200 B, 64 in flight, 0 lost",
      `${Math.round(tunnel.throughput)}/s, ${tunnel.throughputLost} lost`,
      tunnel.throughput >= 10_000 && tunnel.throughputLost === 0,
    ),
    check(
      "overload: every loss counted at a hop",
      `${tunnel.overloadUncounted} of ${tunnel.overloadLost} uncounted`,
      tunnel.overloadUncounted === 0,
    ),
    check(
      "overload: answering afterwards",
      `${tunnel.overloadAnswered} of 50 pings`,
      tunnel.overloadAnswered === 50,
    ),
  ];
}

/** The run as text: per phase, both paths and where the tunnel dropped. */
export function describeUdpBench(r: UdpBenchResult): string {
  const row = (name: string, x: PathResult) =>
    `  ${name.padEnd(7)} sent ${x.sent}, back ${x.received} (${x.perSec}/s), lost ${x.lost}` +
    ` (uncounted ${x.uncounted ?? "–"}), out of order ${x.outOfOrder}, p50 ` +
    `${x.p50Ms.toFixed(3)} ms, p99 ${x.p99Ms.toFixed(3)} ms` +
    (x.answeredAfter === undefined ? "" : `, ${x.answeredAfter} of 50 pings answered after`) +
    `\n          CPU µs per datagram back: ${
      Object.entries(x.cpuUsPerDatagram ?? {}).map(([who, us]) => `${who} ${us}`).join(", ")
    }`;
  return Object.entries(r).map(([name, phase]) => {
    const drops = Object.entries(phase.hops).filter(([, n]) => n).map(([hop, n]) => `${hop} ${n}`);
    return `${name}\n${row("direct", phase.direct)}\n${row("tunnel", phase.tunnel)}\n` +
      `  tunnel drops: ${drops.length ? drops.join(", ") : "none"}`;
  }).join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      relay: { type: "string" },
      token: { type: "string" },
      quick: { type: "boolean" },
      json: { type: "boolean" },
      phase: { type: "string", multiple: true },
    },
  });
  const phases = (values.phase ?? []).flatMap((p) => p.split(",")) as PhaseName[];
  for (const p of phases) {
    if (!PHASES.some(([name]) => name === p)) throw new Error(`unknown phase ${p}`);
  }
  const result = await runUdpBench({
    relayUrl: values.relay,
    token: values.token,
    quick: values.quick,
    phases,
  });
  const checks = phases.length
    ? []
    : udpTargets(figuresOf(result, "tunnel"), figuresOf(result, "direct"));
  if (values.json) console.log(JSON.stringify({ result, checks }, null, 2));
  else {
    console.log(describeUdpBench(result));
    for (const c of checks) console.log(`${c.met ? "met   " : "MISSED"} ${c.target}: ${c.actual}`);
  }
}
