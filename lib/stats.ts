/**
 * Counters since start: what `/_api/stats`, `/metrics`, OpenTelemetry and the admin page's live
 * view all read (lib/observability/instruments.ts defines the metrics over these fields).
 *
 * Per-frame counters are plain number fields, so the per-frame path pays one addition per counter
 * and nothing else: no label look-up, no call. Counts by a label (close code, error code, reason)
 * are {@link Tally}s and durations or sizes {@link Histogram}s, both fed only on rarer events (a
 * close, a refusal, a bridge answer). Gauges that other objects already know (instances, members,
 * channels) are read from them at scrape time, not kept here.
 *
 * @module
 */
import { BYTES_BOUNDS, Histogram, SECONDS_BOUNDS } from "./telemetry/histogram.ts";
import { Tally } from "./telemetry/tally.ts";

/** Why a frame was dropped rather than delivered (`wstun_frames_dropped_total{reason}`). */
export const DropReason = {
  /** Over the connection's rate limit: refused with `rate_limited`, or ended by a 1008 close. */
  Rate: "rate",
  /** Larger than `WSTUN_MAX_FRAME_BYTES`: the socket closes with 1009. */
  Size: "size",
  /** Addressed to a socket already closed for its backlog (1013). */
  SlowConsumer: "slow_consumer",
  /** Addressed to a socket already closing for another reason (it left, it was kicked off). */
  Closed: "closed",
  /** A datagram for a backed-up `/_udp` socket (`WSTUN_UDP_MAX_BUFFERED_BYTES`). */
  UdpBackpressure: "udp_backpressure",
} as const;
export type DropReason = typeof DropReason[keyof typeof DropReason];

/**
 * Close codes kept as their own label value; any other code a client picks (3000–4999) counts as
 * `other`, so a client cannot make up series.
 */
const KNOWN_CLOSE_CODES = new Set([
  1000,
  1001,
  1002,
  1003,
  1005,
  1006,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  1015,
  4400,
  4503,
  4905,
  4906,
]);

/** The label value of a close code: the code when it is a known one, else `other`. */
export function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : "other";
}

/**
 * Cross-isolate figures the cluster's own `ClusterStats` (envelopes sent, received, lost, timed
 * out) does not keep; lib/cluster feeds these (docs/operations.md).
 */
export class BridgeCounters {
  /** From sending a request to another isolate to its answer. */
  readonly roundTrip = new Histogram(SECONDS_BOUNDS);
  /** Directory claims of a keyed instance's uuid (`Directory.claim`). */
  claims = 0;
  /** Claims that found the uuid held by another live isolate (the create took that one over). */
  claimConflicts = 0;
  /** Instances taken over here from an isolate that drained or died (a host's resume). */
  adoptions = 0;
}

/** HTTP tunnels (lib/tunnel/service.ts feeds these). */
export class TunnelCounters {
  /** Tunnel clients connected to this isolate now. */
  sessionsOpen = 0;
  /** Tunnel client sessions accepted since start. */
  sessionsOpened = 0;
  /** Viewer streams opened to a tunnel client (HTTP requests and WebSockets). */
  streamsOpened = 0;
  /** Viewer bytes towards tunnel clients. */
  bytesToClients = 0;
  /** Tunnel client bytes towards viewers. */
  bytesFromClients = 0;
  /** Registrations refused, by reason (`invalid_token`, `missing_token`…). */
  readonly refusedRegistrations = new Tally();
  /** Sessions closed because a newer registration took their id. */
  evictions = 0;
}

export class Stats {
  readonly startedAt: number;
  /** Sockets open now (`/_ws`, `/_udp`, `/ws`). */
  connections = 0;
  /** Sockets accepted since start. */
  connectionsTotal = 0;
  /** Sockets closed, by close code ({@link closeCodeLabel}). */
  readonly closes = new Tally();
  /** Unsent bytes of a socket when it closed. */
  readonly backlogAtClose = new Histogram(BYTES_BOUNDS);

  // Frames and their sizes, per kind: `text` and `binary` on /_ws and /_udp sockets, `channel`
  // on wsify /ws sockets. Text sizes are string lengths (UTF-16 code units; bytes for ASCII JSON).
  textFramesIn = 0;
  textBytesIn = 0;
  binaryFramesIn = 0;
  binaryBytesIn = 0;
  channelFramesIn = 0;
  channelBytesIn = 0;
  textFramesOut = 0;
  textBytesOut = 0;
  binaryFramesOut = 0;
  binaryBytesOut = 0;
  channelFramesOut = 0;
  channelBytesOut = 0;

  /** Data frames delivered to recipients (one frame to ten members counts ten). */
  messagesRelayed = 0;
  /** Bytes of delivered data frames: binary bytes plus text frame lengths in UTF-16 code units. */
  bytesRelayed = 0;
  instancesCreated = 0;
  /** Requests refused with an error frame or a failed ack, by error code (see {@link refused}). */
  readonly refusals = new Tally();
  /** Sockets closed by the server for a limit (frame size, flooding, slow consumer). */
  limitCloses = 0;
  /** WebSocket upgrades answered with an HTTP error, by its code (`limit_reached`…). */
  readonly upgradesRefused = new Tally();

  /** Frames dropped, by {@link DropReason} (UDP's own drops are {@link udpDatagramsDropped}). */
  framesDroppedRate = 0;
  framesDroppedSize = 0;
  framesDroppedSlowConsumer = 0;
  framesDroppedClosed = 0;
  /** UDP tunnel datagrams dropped because the recipient's `/_udp` socket was backed up. */
  udpDatagramsDropped = 0;
  /**
   * UDP tunnel frames relayed to `/_udp` sockets: each carries one datagram or a batch of them
   * (lib/udp/frame_batcher.ts). Frames, not datagrams, because counting a batch's datagrams
   * would walk it on the per-frame path; drops count datagrams, since they are rare.
   */
  udpFrames = 0;

  readonly bridge = new BridgeCounters();
  readonly tunnels = new TunnelCounters();
  /** Marketplace operations by `<operation> <outcome>`, e.g. `install ok`, `update failed`. */
  readonly marketplace = new Tally();

  constructor(now: number) {
    this.startedAt = now;
  }

  /** Requests refused, every code (`errors` of `/_api/stats`). */
  get errors(): number {
    return this.refusals.total();
  }

  /** Frames received from clients, every kind (`framesIn` of `/_api/stats`). */
  get framesIn(): number {
    return this.textFramesIn + this.binaryFramesIn + this.channelFramesIn;
  }

  /** A socket was accepted. */
  opened(): void {
    this.connections++;
    this.connectionsTotal++;
  }

  /** A socket closed with `code`, leaving `backlog` bytes unsent. */
  closed(code: number, backlog: number): void {
    this.connections--;
    this.closes.add(closeCodeLabel(code));
    this.backlogAtClose.observe(backlog);
  }

  /** A request was refused with `code` (an `ErrorCode`): counts it in `errors`, by code. */
  refused(code: string): void {
    this.refusals.add(code);
  }
}
