/**
 * Server configuration, read once from environment variables (Deno Deploy sets no flags).
 *
 * One zod schema names every variable, its default and its range: this file's own variables and
 * the shapes each package declares for its own (bridge, marketplace, pub/sub, tunnel), all
 * written with the helpers of lib/env_schema.ts. `loadConfig` never returns a half-valid config:
 * the first bad variable becomes a {@link ConfigError} whose message is one line naming it, which
 * main.ts prints before exiting.
 *
 * @module
 */
import { z } from "zod";
import { type TunnelConfig, tunnelEnvShape, tunnelFromEnv } from "./tunnel/tunnel_config.ts";
import {
  limitsFromEnv,
  marketplaceEnvShape,
  type MarketplaceLimits,
} from "./marketplace/config.ts";
import { type BridgeConfig, bridgeEnvShape, bridgeFromEnv } from "./bridge/config.ts";
import { type PubSubConfig, pubsubEnvShape, pubsubFromEnv } from "./pubsub/config.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";
import {
  commaList,
  ConfigError,
  flag,
  integer,
  milliseconds,
  optionalInteger,
  optionalText,
  parseEnv,
  seconds,
  unsetIfEmpty,
} from "./env_schema.ts";

export { ConfigError };

const MIB = 1024 * 1024;
/** Deno refuses WebSocket messages above 64 MiB, so no configuration may promise more. */
export const MAX_FRAME_CEILING = 64 * MIB;

const origin = z.string().refine((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o), {
  message: "must be a comma-separated list of origins like https://example.com, or *",
});

/** The schema of every environment variable WSTun reads. */
export const ConfigSchema = z.object({
  PORT: integer(0, 65535, 8000),
  WSTUN_HOSTNAME: unsetIfEmpty(z.string().default("0.0.0.0")),
  WSTUN_TOKEN: optionalText(),
  WSTUN_ADMIN_TOKEN: optionalText(),
  WSTUN_METRICS_TOKEN: optionalText(),
  WSTUN_LOG_LEVEL: unsetIfEmpty(
    z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  ),
  WSTUN_LOG_FORMAT: unsetIfEmpty(
    z.enum(["json", "text"], { message: "must be json or text" }).optional(),
  ),
  WSTUN_ALLOWED_ORIGINS: commaList(origin),
  WSTUN_MAX_FRAME_BYTES: integer(1024, MAX_FRAME_CEILING, MIB),
  WSTUN_HOST_GRACE_MS: milliseconds(0, 3_600_000, 5000),
  WSTUN_DRAIN_MS: milliseconds(100, 600_000, 4000),
  WSTUN_REJOIN_HOLD_MS: milliseconds(0, 600_000, 10_000),
  WSTUN_REJOIN_HOLD_BYTES: integer(0, 1024 * MIB, 4 * MIB),
  WSTUN_MAX_MSGS_PER_SEC: integer(0, 1_000_000_000, 2000),
  WSTUN_MAX_INSTANCES: integer(0, 1_000_000, 10),
  WSTUN_MAX_MEMBERS: integer(0, 1_000_000, 1000),
  WSTUN_MAX_CONNECTIONS: integer(0, 10_000_000, 10_000),
  WSTUN_MAX_JOINS: integer(0, 1_000_000, 64),
  /** Unset: derived from the frame limit (see {@link loadConfig}). */
  WSTUN_MAX_BUFFERED_BYTES: optionalInteger(0, 1024 * MIB),
  WSTUN_IDLE_TIMEOUT_S: seconds(0, 86_400, 60),
  WSTUN_SESSION_TTL_S: seconds(60, 30 * 86_400, 12 * 3600),
  WSTUN_UDP_MAX_BUFFERED_BYTES: integer(0, 1024 * MIB, MIB),
  WSTUN_UDP_MAX_MSGS_PER_SEC: integer(0, 1_000_000_000, 20_000),
  /** Sandboxed (opaque-origin) marketplace pages send `Origin: null` on their WebSocket. */
  WSTUN_ALLOW_NULL_ORIGIN: flag(true),
  /** Set by Deno Deploy in every isolate: the managed KV and BroadcastChannel are there. */
  DENO_DEPLOYMENT_ID: optionalText(),
  ...marketplaceEnvShape,
  ...pubsubEnvShape,
  ...bridgeEnvShape,
  ...tunnelEnvShape,
});

/** Validated configuration, with names the code reads easily. */
export interface Config {
  port: number;
  hostname: string;
  /** Server-wide token; undefined = open server. */
  token?: string;
  /** Admin token; undefined = admin operations refused. */
  adminToken?: string;
  /** Token of `GET /metrics` besides the admin token; undefined = admin token only. */
  metricsToken?: string;
  /** Least severe log level written (`WSTUN_LOG_LEVEL`). */
  logLevel: LogLevel;
  /** `json` or `text`; undefined = text on a terminal, JSON otherwise. */
  logFormat?: LogFormat;
  /** Browser origins allowed besides the server's own; `*` allows any. */
  allowedOrigins: string[];
  maxFrameBytes: number;
  hostGraceMs: number;
  /** How long a drain (SIGINT, SIGTERM) may take before the process exits anyway. */
  drainMs: number;
  /** After an adoption: how long frames are held for members not back yet (lib/hub/rejoin_hold.ts). */
  rejoinHoldMs: number;
  /** The most bytes held so for one instance; 0 holds nothing. */
  rejoinHoldBytes: number;
  /** Limits: 0 means no limit. */
  maxMsgsPerSec: number;
  maxInstancesPerConnection: number;
  maxMembersPerInstance: number;
  maxConnections: number;
  maxJoinsPerConnection: number;
  /** Outgoing bytes queued for one socket before it is closed as too slow (1013). */
  maxBufferedBytes: number;
  /** Seconds without a pong before Deno closes a socket; 0 disables pings. */
  idleTimeoutS: number;
  /** Seconds a page session (the cookie a `?token=` page load sets) lasts. */
  sessionTtlS: number;
  /** `/_udp` sockets: unsent bytes above which a datagram to it is dropped and counted. */
  udpMaxBufferedBytes: number;
  /** `/_udp` sockets: frames per second each (datagram rates run far above chat rates). */
  udpMaxMsgsPerSec: number;
  /** Whether a WebSocket with `Origin: null` (a sandboxed marketplace page) may connect. */
  allowNullOrigin: boolean;
  /** Deno KV file for installed services; undefined = `Deno.openKv()`'s default. */
  kvPath?: string;
  /** Marketplace index URLs /admin offers to browse. */
  marketplaceUrls: string[];
  /** Fetch and size limits of marketplace installs. */
  marketplace: MarketplaceLimits;
  /** Pub/sub channels: the authorizer, `/broadcast` and the channel limits (lib/pubsub/config.ts). */
  pubsub: PubSubConfig;
  /** Other isolates: the bridge, the directory's heartbeat, workers (lib/bridge/config.ts). */
  bridge: BridgeConfig;
  /** HTTP tunnels (WSTUN_TUNNEL_*, see lib/tunnel/tunnel_config.ts); off without both secrets. */
  tunnel: TunnelConfig;
  /** `DENO_DEPLOYMENT_ID`: set when running on Deno Deploy. */
  deploymentId?: string;
}

/**
 * Reads and validates the configuration.
 *
 * @example
 * ```ts
 * const config = loadConfig(Deno.env.toObject());
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const e = parseEnv(ConfigSchema, env);
  const tunnel = tunnelFromEnv(e);
  if (tunnel.requireViewerToken && e.WSTUN_TOKEN === undefined) {
    throw new ConfigError(
      "WSTUN_TUNNEL_VIEWER_TOKEN: needs WSTUN_TOKEN, the token viewers present",
    );
  }
  return {
    port: e.PORT,
    hostname: e.WSTUN_HOSTNAME,
    token: e.WSTUN_TOKEN,
    adminToken: e.WSTUN_ADMIN_TOKEN,
    metricsToken: e.WSTUN_METRICS_TOKEN,
    logLevel: e.WSTUN_LOG_LEVEL,
    logFormat: e.WSTUN_LOG_FORMAT,
    allowedOrigins: e.WSTUN_ALLOWED_ORIGINS,
    maxFrameBytes: e.WSTUN_MAX_FRAME_BYTES,
    hostGraceMs: e.WSTUN_HOST_GRACE_MS,
    drainMs: e.WSTUN_DRAIN_MS,
    rejoinHoldMs: e.WSTUN_REJOIN_HOLD_MS,
    rejoinHoldBytes: e.WSTUN_REJOIN_HOLD_BYTES,
    maxMsgsPerSec: e.WSTUN_MAX_MSGS_PER_SEC,
    maxInstancesPerConnection: e.WSTUN_MAX_INSTANCES,
    maxMembersPerInstance: e.WSTUN_MAX_MEMBERS,
    maxConnections: e.WSTUN_MAX_CONNECTIONS,
    maxJoinsPerConnection: e.WSTUN_MAX_JOINS,
    maxBufferedBytes: e.WSTUN_MAX_BUFFERED_BYTES ??
      Math.max(16 * MIB, 4 * e.WSTUN_MAX_FRAME_BYTES),
    idleTimeoutS: e.WSTUN_IDLE_TIMEOUT_S,
    sessionTtlS: e.WSTUN_SESSION_TTL_S,
    udpMaxBufferedBytes: e.WSTUN_UDP_MAX_BUFFERED_BYTES,
    udpMaxMsgsPerSec: e.WSTUN_UDP_MAX_MSGS_PER_SEC,
    allowNullOrigin: e.WSTUN_ALLOW_NULL_ORIGIN,
    kvPath: e.WSTUN_KV_PATH,
    marketplaceUrls: e.WSTUN_MARKETPLACE_URLS,
    marketplace: limitsFromEnv(e),
    pubsub: pubsubFromEnv(e),
    bridge: bridgeFromEnv(e, e.DENO_DEPLOYMENT_ID !== undefined),
    tunnel,
    deploymentId: e.DENO_DEPLOYMENT_ID,
  };
}

/**
 * A configuration for tests and embedding: defaults, overridden field by field. Its Deno KV is a
 * fresh in-memory one (not Deno's default file), so servers made from it share no marketplace
 * state unless `kvPath` says otherwise; it logs warnings and errors only, so a test process that
 * starts many servers does not print each one's start-up lines.
 */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), kvPath: ":memory:", logLevel: "warn", ...overrides };
}
