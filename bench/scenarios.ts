/**
 * The benchmark's scenarios: what the load generator does in each, how big it is in a default and a
 * `--quick` run, which figures come out of it, and the targets WSTun is held to (issue 4).
 *
 * A scenario is data; bench/run.ts runs it against every target. The scenarios that compare WSTun
 * with itself (workers, cross-isolate, udp) live in bench/comparisons.ts.
 *
 * @module
 */

/** Run size: `default` (< 5 min for everything) or `quick` (< 1 min). */
export type Mode = "default" | "quick";

/** A figure one run produces, e.g. msgs per second or latency p99. */
export interface FigureSpec {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
}

/** A target ratio of WSTun's median to another server's median on one figure. */
export interface TargetSpec {
  figure: string;
  versus: "baseline" | "node-ws" | "socketio";
  /** `min`: the ratio must be at least `ratio`; `max`: at most. */
  bound: "min" | "max";
  ratio: number;
}

/** What the load generator reported, already summed over load processes. */
export type LoadResult = Record<string, unknown>;

export interface Scenario {
  name: string;
  what: string;
  /** `window`: one measured window between marks; `stages`: RSS read at each `stage` line. */
  kind: "window" | "stages";
  load: (mode: Mode) => Record<string, unknown>;
  figures: FigureSpec[];
  /** Turns the load generator's result (and RSS per stage) into figures. */
  extract: (result: LoadResult, stages: { connections: number; rssKiB: number }[]) => Figures;
  targets: TargetSpec[];
  /**
   * The throughput figure that `perCpu` divides by the server's share of a core: work per
   * server CPU-second, the figure that stays comparable when other work steals the server's core.
   */
  throughputKey?: string;
  /** Targets that cannot run it, with the reason printed once. */
  unsupported?: Partial<Record<string, string>>;
}

export type Figures = Record<string, number>;

const num = (v: unknown): number => (typeof v === "number" ? v : NaN);
const latency = (r: LoadResult, q: "p50" | "p99"): number =>
  num((r.latencyMs as Record<string, unknown> | undefined)?.[q]);

function perCpu(unit: string): FigureSpec {
  return { key: "perCpu", label: "per server CPU-second", unit, higherIsBetter: true };
}

const LATENCY: FigureSpec[] = [
  { key: "p50", label: "latency p50", unit: "ms", higherIsBetter: false },
  { key: "p99", label: "latency p99", unit: "ms", higherIsBetter: false },
];

/** Window sizes: warm-up then the measured window, in milliseconds. */
export function windowFor(mode: Mode): { warmupMs: number; durationMs: number } {
  return mode === "quick"
    ? { warmupMs: 200, durationMs: 700 }
    : { warmupMs: 500, durationMs: 2000 };
}

export const relay: Scenario = {
  name: "relay",
  what: "50 instances, one member each; members send JSON data to their host within a window of 16",
  kind: "window",
  load: (mode) => ({
    scenario: "relay",
    instances: 50,
    window: 16,
    bodyBytes: 64,
    ...windowFor(mode),
  }),
  figures: [
    { key: "msgsPerSec", label: "delivered", unit: "msg/s", higherIsBetter: true },
    perCpu("msg"),
    ...LATENCY,
  ],
  throughputKey: "msgsPerSec",
  extract: (r) => ({
    msgsPerSec: num(r.msgsPerSec),
    p50: latency(r, "p50"),
    p99: latency(r, "p99"),
  }),
  targets: [
    { figure: "msgsPerSec", versus: "baseline", bound: "min", ratio: 0.8 },
    { figure: "msgsPerSec", versus: "socketio", bound: "min", ratio: 2 },
    { figure: "msgsPerSec", versus: "node-ws", bound: "min", ratio: 1.2 },
  ],
};

export function fanout(members: number, rate: number): Scenario {
  return {
    name: `fanout-${members}`,
    what: `one host, ${members} members; the host broadcasts ${rate} frames/s with a timestamp`,
    kind: "window",
    load: (mode) => ({ scenario: "fanout", members, rate, drainMs: 2000, ...windowFor(mode) }),
    figures: [
      { key: "deliveriesPerSec", label: "deliveries", unit: "/s", higherIsBetter: true },
      perCpu("deliveries"),
      ...LATENCY,
      { key: "lost", label: "not delivered", unit: "frames", higherIsBetter: false },
    ],
    extract: (r) => ({
      deliveriesPerSec: num(r.deliveriesPerSec),
      p50: latency(r, "p50"),
      p99: latency(r, "p99"),
      lost: num(r.lost),
    }),
    throughputKey: "deliveriesPerSec",
    targets: members === 1000
      ? [
        { figure: "p99", versus: "baseline", bound: "max", ratio: 1.25 },
        { figure: "deliveriesPerSec", versus: "baseline", bound: "min", ratio: 0.8 },
      ]
      : [],
  };
}

const NO_CHANNELS = "the comparison relays implement instances only";

function pubsub(via: "native" | "wsify", subscribers: number, rate: number): Scenario {
  const where = via === "native" ? "/_ws subscribe/publish" : "wsify's join/broadcast on /ws";
  return {
    ...fanout(subscribers, rate),
    name: via === "native" ? "pubsub" : "pubsub-wsify",
    what:
      `one publisher, ${subscribers} subscribers of one channel via ${where}, ${rate} publishes/s`,
    load: (mode) => ({
      scenario: "pubsub",
      via,
      members: subscribers,
      rate,
      drainMs: 2000,
      ...windowFor(mode),
    }),
    targets: [],
    unsupported: { "node-ws": NO_CHANNELS, socketio: NO_CHANNELS },
  };
}

const binary: Scenario = {
  name: "binary",
  what: "4 instances; member m1 sends 1,000,000-byte chunks to m2 (binary header), window of 4",
  kind: "window",
  load: (mode) => ({
    scenario: "binary",
    instances: 4,
    chunkBytes: 1_000_000,
    window: 4,
    ...windowFor(mode),
  }),
  figures: [
    { key: "mibPerSec", label: "throughput", unit: "MiB/s", higherIsBetter: true },
    perCpu("MiB"),
  ],
  throughputKey: "mibPerSec",
  extract: (r) => ({ mibPerSec: num(r.mibPerSec) }),
  targets: [{ figure: "mibPerSec", versus: "baseline", bound: "min", ratio: 0.8 }],
  unsupported: {
    socketio: "Socket.IO carries binary as attachments, not WSTun's header: not comparable",
  },
};

const idle: Scenario = {
  name: "idle",
  what: "joined idle connections (50 instances); RSS growth from the first to the last step",
  kind: "stages",
  load: (mode) => ({
    scenario: "idle",
    instances: 50,
    steps: mode === "quick" ? [500, 2000] : [1000, 5000],
    settleMs: mode === "quick" ? 300 : 1000,
  }),
  figures: [
    { key: "kibPerConn", label: "RSS per connection", unit: "KiB", higherIsBetter: false },
    { key: "rssMiB", label: "RSS at the last step", unit: "MiB", higherIsBetter: false },
  ],
  extract: (_r, stages) => {
    const first = stages[0];
    const last = stages[stages.length - 1];
    if (!first || !last || last.connections === first.connections) {
      return { kibPerConn: NaN, rssMiB: NaN };
    }
    return {
      kibPerConn: (last.rssKiB - first.rssKiB) / (last.connections - first.connections),
      rssMiB: last.rssKiB / 1024,
    };
  },
  targets: [{ figure: "kibPerConn", versus: "baseline", bound: "max", ratio: 1.2 }],
};

const connect: Scenario = {
  name: "connect",
  what: "new connections, each upgraded and joined (64 at a time) until the count is reached",
  kind: "window",
  load: (mode) => ({
    scenario: "connect",
    instances: 50,
    joins: mode === "quick" ? 1000 : 5000,
    concurrency: 64,
  }),
  figures: [
    { key: "joinsPerSec", label: "joins", unit: "/s", higherIsBetter: true },
    perCpu("joins"),
  ],
  throughputKey: "joinsPerSec",
  extract: (r) => ({ joinsPerSec: num(r.joinsPerSec) }),
  targets: [],
};

/** Every runnable scenario, in the order a full run takes them. */
export const SCENARIOS: Scenario[] = [
  relay,
  fanout(100, 400),
  fanout(1000, 40),
  binary,
  idle,
  connect,
  pubsub("native", 1000, 40),
  pubsub("wsify", 1000, 40),
];

/** The load-generator check: relay against the baseline with one and with two load processes. */
export const LOAD_CHECK = "loadcheck";
