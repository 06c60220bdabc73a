/**
 * A server's observability, assembled once from its parts (lib/server_parts.ts): the isolate id
 * every series and log line carries, the snapshot `/metrics` renders (with its sibling workers'
 * on a worker of `WSTUN_WORKERS`), the OpenTelemetry export, the readiness checks and the bridge
 * health the admin page shows. routes/app.ts asks for it in two calls and hands the pieces to the
 * routes.
 *
 * @module
 */
import { SILENT_ADVICE } from "../cluster/liveness.ts";
import type { ClusterNode } from "../cluster/node.ts";
import type { Config } from "../config.ts";
import type { Hub } from "../hub/hub.ts";
import type { Lifecycle } from "../lifecycle.ts";
import { defaultLogFormat, Logger } from "../log.ts";
import type { MarketplaceOperation } from "../marketplace/mod.ts";
import type { PubSub } from "../pubsub/mod.ts";
import type { Stats } from "../stats.ts";
import type { BridgeHealthSource } from "./bridge_health.ts";
import { describeConfig } from "./config_summary.ts";
import { type IsolateSnapshot, type Scrape, takeSnapshot } from "./instruments.ts";
import { exportToOpenTelemetry } from "./otel.ts";
import {
  bridgeCheck,
  connectionLimitCheck,
  directoryCheck,
  drainingCheck,
  phaseCheck,
  type ReadinessCheck,
  type ServerPhase,
} from "./readiness.ts";

/**
 * How long a worker's scrape waits for its siblings' snapshots at most (less when the bridge
 * time-out is shorter): well within Prometheus' default scrape time-out of 10 s.
 */
export const SCRAPE_COLLECT_MAX_MS = 2000;

/** What a server may be given from outside (ServerOptions). */
export interface ObservabilityOptions {
  /** The logger; default one from `WSTUN_LOG_LEVEL` and `WSTUN_LOG_FORMAT` on the console. */
  log?: Logger;
  /** Readiness checks besides the server's own (phase, connection limit). */
  readiness?: ReadinessCheck[];
  /** Bridge health per isolate for the admin page; default the cluster's, none without one. */
  bridgeHealth?: BridgeHealthSource;
}

/** This server's logger: every line carries `isolate`. */
export function serverLogger(config: Config, isolate: string, given?: Logger): Logger {
  const log = given ??
    new Logger({ level: config.logLevel, format: config.logFormat ?? defaultLogFormat() });
  return log.with({ isolate });
}

/** Counts and logs each marketplace install, update and uninstall (`Marketplace.onOperation`). */
export function reportMarketplace(stats: Stats, log: Logger) {
  return (op: MarketplaceOperation): void => {
    stats.marketplace.add(`${op.operation} ${op.ok ? "ok" : "failed"}`);
    const fields = { name: op.name, version: op.version, code: op.code };
    if (op.ok) log.info(`marketplace.${op.operation}`, fields);
    else log.warn(`marketplace.${op.operation}_failed`, fields);
  };
}

/** The parts observed. */
export interface ObservedParts {
  config: Config;
  now: () => number;
  stats: Stats;
  hub: Hub;
  pubsub: PubSub;
  cluster: ClusterNode | null;
  lifecycle: Lifecycle;
}

export interface ServerObservability {
  /** This isolate's instruments now. */
  snapshot(): IsolateSnapshot;
  /**
   * What `/metrics` renders: this isolate's snapshot, and on a worker of `WSTUN_WORKERS` every
   * sibling's that answered within the bridge time-out (at most {@link SCRAPE_COLLECT_MAX_MS}).
   */
  scrape(): Promise<Scrape>;
  /** What `/_api/ready` checks, in order. */
  readiness: ReadinessCheck[];
  bridgeHealth: BridgeHealthSource | null;
  /** The server is up: ready from now on; logs the configuration (never a secret). */
  serving(): void;
  /** Shutdown began: not ready any more. False when it had begun already. */
  stopping(): boolean;
  /** Shutdown ended: stops the OpenTelemetry export, logs, writes pending suppressed counts. */
  stopped(): void;
}

/** Sets up the snapshot, the OpenTelemetry export and the readiness checks of one server. */
export function observeServer(
  parts: ObservedParts,
  isolate: string,
  log: Logger,
  options: ObservabilityOptions = {},
): ServerObservability {
  const { config, stats, hub, pubsub, cluster, now, lifecycle } = parts;
  let phase: ServerPhase = "starting";
  const sources = { stats, instances: hub.instances, pubsub, cluster: cluster?.stats ?? null };
  const otel = exportToOpenTelemetry(isolate, sources);
  const snapshot = () => takeSnapshot(isolate, sources, now);
  cluster?.onSnapshotRequest(snapshot);
  // Workers of one process share its port: a scraper cannot address them one by one, so each
  // answers for all. Isolates on other machines or Deploy instances are scraped (or export) on
  // their own, and a page with theirs too would count them twice (docs/operations.md).
  const pool = cluster !== null && config.bridge.workers > 1 ? cluster : null;
  const collectMs = Math.min(config.bridge.timeoutMs, SCRAPE_COLLECT_MAX_MS);
  return {
    snapshot,
    scrape: async () => {
      const own = snapshot();
      if (!pool) return { isolate, snapshots: [own], missing: [] };
      const { snapshots, missing } = await pool.collectSnapshots(collectMs);
      if (missing.length > 0) {
        log.warn("metrics.isolates_missing", {
          missing: missing.join(","),
          waitedMs: collectMs,
          message: "workers that did not send their metrics in time are absent from this scrape",
        });
      }
      return { isolate, snapshots: [own, ...snapshots], missing };
    },
    readiness: [
      phaseCheck(() => phase),
      drainingCheck(() => lifecycle.draining),
      connectionLimitCheck(() => stats.connections, config.maxConnections),
      ...(cluster ? clusterChecks(cluster, now) : []),
      ...(options.readiness ?? []),
    ],
    bridgeHealth: options.bridgeHealth ?? (cluster ? () => bridgeHealthOf(cluster) : null),
    serving() {
      phase = "serving";
      log.info("server.config", describeConfig(config));
    },
    stopping() {
      if (phase === "stopping") return false;
      phase = "stopping";
      return true;
    },
    stopped() {
      otel.stop();
      log.info("server.stopped");
      log.flush();
    },
  };
}

/** The directory first: when it is down, every isolate soon looks silent too. */
function clusterChecks(cluster: ClusterNode, now: () => number): ReadinessCheck[] {
  return [
    directoryCheck(() => cluster.directoryState(), now),
    bridgeCheck(() => cluster.health(), SILENT_ADVICE),
  ];
}

/** The cluster's liveness view; it lists the isolates alive in the directory. */
function bridgeHealthOf(cluster: ClusterNode) {
  return cluster.health().map((h) => ({ ...h, aliveInDirectory: true }));
}
