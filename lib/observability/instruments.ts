/**
 * Every metric WSTun exports, defined once: its name, kind, unit, meaning, labels, and how to read
 * it from the objects that count (lib/stats.ts, the hub's instances, pub/sub). The Prometheus
 * renderer (prometheus.ts), the OpenTelemetry exporter (otel.ts) and the admin page's live view
 * all read a {@link IsolateSnapshot} built from this list, so they cannot disagree.
 *
 * Names are OpenTelemetry's (`wstun.frames`, unit `{frame}`); the Prometheus name is derived the
 * way an OpenTelemetry Collector's Prometheus exporter derives it (dots to underscores, the unit
 * as a suffix, `_total` on counters: `wstun_frames_total`), so a dashboard works on either path.
 * docs/operations.md lists them all; a test checks that it does.
 *
 * Reading happens at scrape or export time, never on the per-frame path.
 *
 * @module
 */
import type { ClusterStats } from "../cluster/cluster_stats.ts";
import type { PubSub } from "../pubsub/mod.ts";
import { DropReason, type Stats } from "../stats.ts";
import { VERSION } from "../version.ts";
import type { Histogram } from "../telemetry/histogram.ts";
import type {
  HistogramSample,
  IsolateSnapshot,
  Labels,
  Sample,
} from "../telemetry/snapshot_schema.ts";
import type { Tally } from "../telemetry/tally.ts";

export type { HistogramSample, IsolateSnapshot, Labels, Sample };

/** What the instruments read. Built once per server (routes/app.ts). */
export interface MetricSources {
  stats: Stats;
  /** This isolate's instances, each with its members (the hub's map). */
  instances: ReadonlyMap<string, { members: { size: number } }>;
  pubsub: PubSub;
  /** The cluster's bridge counters; null when the bridge is off (they read 0). */
  cluster:
    | Pick<
      ClusterStats,
      "sent" | "received" | "lost" | "timedOut" | "invalid" | "channelMessagesLost"
    >
    | null;
}

interface InstrumentBase {
  /** OpenTelemetry name, e.g. `wstun.frames`. */
  name: string;
  /** UCUM unit: `s`, `By`, or a count in braces (`{frame}`). */
  unit: string;
  help: string;
  /** Label names besides `isolate`, which every series has. */
  labels: readonly string[];
}

/** A counter (only goes up) or a gauge (a value now). */
export interface ScalarInstrument extends InstrumentBase {
  kind: "counter" | "gauge";
  read(sources: MetricSources): Sample[];
}

/** A histogram; its {@link Histogram}s are read for snapshots and fed to OpenTelemetry. */
export interface HistogramInstrument extends InstrumentBase {
  kind: "histogram";
  histograms(sources: MetricSources): { labels: Labels; histogram: Histogram }[];
}

export type Instrument = ScalarInstrument | HistogramInstrument;

/**
 * What `/metrics` renders: this isolate's snapshot and, on a worker of `WSTUN_WORKERS`, its
 * siblings' (collected over the bridge), with the siblings asked that did not answer in time.
 */
export interface Scrape {
  /** The isolate answering the scrape. */
  isolate: string;
  snapshots: IsolateSnapshot[];
  /** Isolates asked for their snapshot that did not answer in time. */
  missing: string[];
}

const one = (value: number): Sample[] => [{ labels: {}, value }];

function byLabel(tally: Tally, label: string): Sample[] {
  return tally.entries().map(([key, value]) => ({ labels: { [label]: key }, value }));
}

function counter(
  name: string,
  unit: string,
  help: string,
  labels: readonly string[],
  read: (s: MetricSources) => Sample[],
): ScalarInstrument {
  return { kind: "counter", name, unit, help, labels, read };
}

function gauge(
  name: string,
  unit: string,
  help: string,
  read: (s: MetricSources) => Sample[],
): ScalarInstrument {
  return { kind: "gauge", name, unit, help, labels: [], read };
}

function histogram(
  name: string,
  unit: string,
  help: string,
  of: (s: MetricSources) => Histogram,
): HistogramInstrument {
  return {
    kind: "histogram",
    name,
    unit,
    help,
    labels: [],
    histograms: (s) => [{ labels: {}, histogram: of(s) }],
  };
}

/** Frames or bytes by kind and direction, from the Stats fields named `<kind><What><Dir>`. */
function byKindAndDirection(stats: Stats, what: "Frames" | "Bytes"): Sample[] {
  const out: Sample[] = [];
  for (const kind of ["text", "binary", "channel"] as const) {
    for (const direction of ["in", "out"] as const) {
      const field = `${kind}${what}${direction === "in" ? "In" : "Out"}` as const;
      out.push({ labels: { kind, direction }, value: stats[field] });
    }
  }
  return out;
}

function drops(stats: Stats): Sample[] {
  const counts: [DropReason, number][] = [
    [DropReason.Rate, stats.framesDroppedRate],
    [DropReason.Size, stats.framesDroppedSize],
    [DropReason.SlowConsumer, stats.framesDroppedSlowConsumer],
    [DropReason.Closed, stats.framesDroppedClosed],
    [DropReason.UdpBackpressure, stats.udpDatagramsDropped],
  ];
  return counts.map(([reason, value]) => ({ labels: { reason }, value }));
}

function authorizerCalls(pubsub: PubSub): Sample[] {
  const { calls, denied, unavailable } = pubsub.authorizer.stats();
  return [
    { labels: { verdict: "allowed" }, value: calls - denied - unavailable },
    { labels: { verdict: "denied" }, value: denied },
    { labels: { verdict: "unavailable" }, value: unavailable },
  ];
}

function marketplace(tally: Tally): Sample[] {
  return tally.entries().map(([key, value]) => {
    const [operation, outcome] = key.split(" ");
    return { labels: { operation, outcome }, value };
  });
}

function members(sources: MetricSources): number {
  let n = 0;
  for (const instance of sources.instances.values()) n += instance.members.size;
  return n;
}

/** The instruments, in the order docs/operations.md and `/metrics` list them. */
export const INSTRUMENTS: readonly Instrument[] = [
  gauge("wstun.build.info", "", "Always 1; the version label says which WSTun answers.", () => [{
    labels: { version: VERSION },
    value: 1,
  }]),
  gauge(
    "wstun.start_time",
    "s",
    "When this isolate's server started, in seconds since the epoch.",
    ({ stats }) => one(stats.startedAt / 1000),
  ),
  gauge(
    "wstun.connections.open",
    "{connection}",
    "Sockets open now (/_ws, /_udp, /ws).",
    ({ stats }) => one(stats.connections),
  ),
  counter(
    "wstun.connections.opened",
    "{connection}",
    "Sockets accepted.",
    [],
    ({ stats }) => one(stats.connectionsTotal),
  ),
  counter(
    "wstun.connections.closed",
    "{connection}",
    "Sockets closed, by close code (codes clients make up count as other).",
    ["code"],
    ({ stats }) => byLabel(stats.closes, "code"),
  ),
  histogram(
    "wstun.outgoing.backlog",
    "By",
    "Bytes a socket still had unsent when it closed.",
    ({ stats }) => stats.backlogAtClose,
  ),
  counter(
    "wstun.upgrades.refused",
    "{upgrade}",
    "WebSocket upgrades answered with an HTTP error, by its error code.",
    ["reason"],
    ({ stats }) => byLabel(stats.upgradesRefused, "reason"),
  ),
  gauge(
    "wstun.instances",
    "{instance}",
    "Instances this isolate owns now.",
    (s) => one(s.instances.size),
  ),
  counter(
    "wstun.instances.created",
    "{instance}",
    "Instances created.",
    [],
    ({ stats }) => one(stats.instancesCreated),
  ),
  gauge(
    "wstun.members",
    "{member}",
    "Members of this isolate's instances now.",
    (s) => one(members(s)),
  ),
  counter(
    "wstun.frames",
    "{frame}",
    "WebSocket frames received (in) and sent (out); kind text or binary on /_ws and /_udp, " +
      "channel on /ws.",
    ["kind", "direction"],
    ({ stats }) => byKindAndDirection(stats, "Frames"),
  ),
  counter(
    "wstun.traffic",
    "By",
    "Size of those frames; text frames count UTF-16 code units (bytes for ASCII JSON).",
    ["kind", "direction"],
    ({ stats }) => byKindAndDirection(stats, "Bytes"),
  ),
  counter(
    "wstun.deliveries",
    "{frame}",
    "Application data frames delivered to recipients (one frame to ten members counts ten).",
    [],
    ({ stats }) => one(stats.messagesRelayed),
  ),
  counter(
    "wstun.delivered",
    "By",
    "Size of the delivered application data frames.",
    [],
    ({ stats }) => one(stats.bytesRelayed),
  ),
  counter(
    "wstun.refusals",
    "{request}",
    "Requests refused with an error frame or a failed ack, by error code.",
    ["code"],
    ({ stats }) => byLabel(stats.refusals, "code"),
  ),
  counter(
    "wstun.frames.dropped",
    "{frame}",
    "Frames not delivered, by reason: rate, size, slow_consumer, closed, udp_backpressure.",
    ["reason"],
    ({ stats }) => drops(stats),
  ),
  counter(
    "wstun.udp.frames",
    "{frame}",
    "UDP tunnel frames relayed to /_udp sockets, each one datagram or a batch (datagrams " +
      "dropped: wstun.frames.dropped).",
    [],
    ({ stats }) => one(stats.udpFrames),
  ),
  gauge(
    "wstun.channels",
    "{channel}",
    "Pub/sub channels with subscribers on this isolate.",
    ({ pubsub }) => one(pubsub.stats().channels),
  ),
  gauge(
    "wstun.channel.subscriptions",
    "{subscription}",
    "Channel subscriptions on this isolate.",
    ({ pubsub }) => one(pubsub.stats().subscriptions),
  ),
  counter(
    "wstun.channel.publishes",
    "{message}",
    "Channel messages published from this isolate.",
    [],
    ({ pubsub }) => one(pubsub.stats().publishes),
  ),
  counter(
    "wstun.channel.deliveries",
    "{message}",
    "Channel messages handed to local subscribers.",
    [],
    ({ pubsub }) => one(pubsub.stats().deliveries),
  ),
  counter(
    "wstun.channel.delivery_failures",
    "{message}",
    "Channel deliveries that failed (closed or too slow subscribers).",
    [],
    ({ pubsub }) => one(pubsub.stats().deliveryFailures),
  ),
  counter(
    "wstun.channel.messages.lost",
    "{message}",
    "Channel publishes from other isolates known lost on the bridge.",
    [],
    ({ cluster }) => one(cluster?.channelMessagesLost ?? 0),
  ),
  counter(
    "wstun.authorizer.calls",
    "{call}",
    "Authorizer webhook calls, by verdict (unavailable: 5xx, time-out or unreachable).",
    ["verdict"],
    ({ pubsub }) => authorizerCalls(pubsub),
  ),
  histogram(
    "wstun.authorizer.duration",
    "s",
    "Authorizer webhook call duration, body included.",
    ({ pubsub }) => pubsub.authorizer.latency,
  ),
  counter(
    "wstun.bridge.messages",
    "{message}",
    "Bridge envelopes sent to and received from other isolates.",
    ["direction"],
    ({ cluster }) => [
      { labels: { direction: "sent" }, value: cluster?.sent ?? 0 },
      { labels: { direction: "received" }, value: cluster?.received ?? 0 },
    ],
  ),
  counter(
    "wstun.bridge.messages.lost",
    "{message}",
    "Bridge envelopes known lost (sequence gaps, reported to clients as bridge_gap).",
    [],
    ({ cluster }) => one(cluster?.lost ?? 0),
  ),
  counter(
    "wstun.bridge.messages.invalid",
    "{message}",
    "Bridge envelopes refused on receipt as not valid (a bug, or another version of WSTun).",
    [],
    ({ cluster }) => one(cluster?.invalid ?? 0),
  ),
  counter(
    "wstun.bridge.requests.timed_out",
    "{request}",
    "Requests to another isolate unanswered within WSTUN_BRIDGE_TIMEOUT_MS (bridge_timeout).",
    [],
    ({ cluster }) => one(cluster?.timedOut ?? 0),
  ),
  histogram(
    "wstun.bridge.round_trip",
    "s",
    "From a request to another isolate (join, resume, create) to its answer.",
    ({ stats }) => stats.bridge.roundTrip,
  ),
  counter(
    "wstun.directory.claims",
    "{claim}",
    "Directory claims of a keyed instance's uuid.",
    [],
    ({ stats }) => one(stats.bridge.claims),
  ),
  counter(
    "wstun.directory.claim_conflicts",
    "{claim}",
    "Claims that found the uuid held by another live isolate.",
    [],
    ({ stats }) => one(stats.bridge.claimConflicts),
  ),
  counter(
    "wstun.instances.adopted",
    "{instance}",
    "Instances taken over here from an isolate that drained or died (a host resumed).",
    [],
    ({ stats }) => one(stats.bridge.adoptions),
  ),
  counter(
    "wstun.marketplace.operations",
    "{operation}",
    "Marketplace installs, updates and uninstalls, by outcome (ok, failed).",
    ["operation", "outcome"],
    ({ stats }) => marketplace(stats.marketplace),
  ),
  gauge(
    "wstun.tunnel.sessions",
    "{session}",
    "Tunnel clients connected to this isolate now.",
    ({ stats }) => one(stats.tunnels.sessionsOpen),
  ),
  counter(
    "wstun.tunnel.sessions.opened",
    "{session}",
    "Tunnel client sessions accepted.",
    [],
    ({ stats }) => one(stats.tunnels.sessionsOpened),
  ),
  counter(
    "wstun.tunnel.streams",
    "{stream}",
    "Viewer streams (HTTP requests, WebSockets) opened to tunnel clients.",
    [],
    ({ stats }) => one(stats.tunnels.streamsOpened),
  ),
  counter(
    "wstun.tunnel.traffic",
    "By",
    "Viewer bytes to tunnel clients (to_client) and back (from_client).",
    ["direction"],
    ({ stats }) => [
      { labels: { direction: "to_client" }, value: stats.tunnels.bytesToClients },
      { labels: { direction: "from_client" }, value: stats.tunnels.bytesFromClients },
    ],
  ),
  counter(
    "wstun.tunnel.registrations.refused",
    "{registration}",
    "Tunnel client registrations refused, by reason.",
    ["reason"],
    ({ stats }) => byLabel(stats.tunnels.refusedRegistrations, "reason"),
  ),
  counter(
    "wstun.tunnel.evictions",
    "{session}",
    "Tunnel sessions closed because a newer registration took their id.",
    [],
    ({ stats }) => one(stats.tunnels.evictions),
  ),
];

/** Reads every instrument now. */
export function takeSnapshot(
  isolate: string,
  sources: MetricSources,
  now: () => number,
): IsolateSnapshot {
  const snapshot: IsolateSnapshot = { isolate, takenAt: now(), scalars: {}, histograms: {} };
  for (const instrument of INSTRUMENTS) {
    if (instrument.kind === "histogram") {
      snapshot.histograms[instrument.name] = instrument.histograms(sources).map((h) => ({
        labels: h.labels,
        ...h.histogram.state(),
      }));
    } else {
      snapshot.scalars[instrument.name] = instrument.read(sources);
    }
  }
  return snapshot;
}
