/**
 * Server configuration, read once from environment variables (Deno Deploy sets no flags).
 *
 * One zod schema names every variable, its default and its range. `loadConfig` never returns a
 * half-valid config: the first bad variable becomes a {@link ConfigError} whose message is one
 * line naming it, which main.ts prints before exiting.
 *
 * @module
 */
import { z } from "zod";
import { type TunnelConfig, tunnelConfigFromEnv } from "./tunnel/tunnel_config.ts";
import {
  limitsFromEnv,
  marketplaceEnvShape,
  type MarketplaceLimits,
} from "./marketplace/config.ts";
import { type BridgeConfig, bridgeEnvShape, bridgeFromEnv } from "./bridge/config.ts";
import { type PubSubConfig, pubsubEnvShape, pubsubFromEnv } from "./pubsub/config.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";

const MIB = 1024 * 1024;
/** Deno refuses WebSocket messages above 64 MiB, so no configuration may promise more. */
export const MAX_FRAME_CEILING = 64 * MIB;

/** Empty variables count as unset, so `WSTUN_TOKEN=` in a .env file means "no token". */
const unsetIfEmpty = (v: unknown) => (v === "" ? undefined : v);

const int = (min: number, max: number, fallback: number) => {
  const error = `must be an integer between ${min} and ${max}`;
  return z.preprocess(
    unsetIfEmpty,
    z.coerce.number({ error }).int(error).min(min, error).max(max, error).default(fallback),
  );
};

const optionalSecret = z.preprocess(unsetIfEmpty, z.string().min(1).optional());

const origins = z.preprocess(
  unsetIfEmpty,
  z.string().optional().transform((s) => s ? s.split(",").map((o) => o.trim()).filter(Boolean) : [])
    .pipe(
      z.array(
        z.string().refine((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o), {
          message: "must be a comma-separated list of origins like https://example.com, or *",
        }),
      ),
    ),
);

/** The schema of every environment variable WSTun reads. */
export const ConfigSchema = z.object({
  PORT: int(0, 65535, 8000),
  WSTUN_HOSTNAME: z.preprocess(unsetIfEmpty, z.string().default("0.0.0.0")),
  WSTUN_TOKEN: optionalSecret,
  WSTUN_ADMIN_TOKEN: optionalSecret,
  WSTUN_METRICS_TOKEN: optionalSecret,
  WSTUN_LOG_LEVEL: z.preprocess(
    unsetIfEmpty,
    z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  ),
  WSTUN_LOG_FORMAT: z.preprocess(
    unsetIfEmpty,
    z.enum(["json", "text"], { message: "must be json or text" }).optional(),
  ),
  WSTUN_ALLOWED_ORIGINS: origins,
  WSTUN_MAX_FRAME_BYTES: int(1024, MAX_FRAME_CEILING, MIB),
  WSTUN_HOST_GRACE_MS: int(0, 3_600_000, 5000),
  WSTUN_DRAIN_MS: int(100, 600_000, 4000),
  WSTUN_REJOIN_HOLD_MS: int(0, 600_000, 10_000),
  WSTUN_REJOIN_HOLD_BYTES: int(0, 1024 * MIB, 4 * MIB),
  WSTUN_MAX_MSGS_PER_SEC: int(0, 1_000_000_000, 2000),
  WSTUN_MAX_INSTANCES: int(0, 1_000_000, 10),
  WSTUN_MAX_MEMBERS: int(0, 1_000_000, 1000),
  WSTUN_MAX_CONNECTIONS: int(0, 10_000_000, 10_000),
  WSTUN_MAX_JOINS: int(0, 1_000_000, 64),
  WSTUN_MAX_BUFFERED_BYTES: z.preprocess(
    unsetIfEmpty,
    z.coerce.number({ error: "must be a number of bytes" }).int("must be a number of bytes")
      .min(0, "must be a number of bytes").max(1024 * MIB, "must be at most 1 GiB").optional(),
  ),
  WSTUN_IDLE_TIMEOUT_S: int(0, 86_400, 60),
  WSTUN_SESSION_TTL_S: int(60, 30 * 86_400, 12 * 3600),
  WSTUN_UDP_MAX_BUFFERED_BYTES: int(0, 1024 * MIB, MIB),
  WSTUN_UDP_MAX_MSGS_PER_SEC: int(0, 1_000_000_000, 20_000),
  /** Sandboxed (opaque-origin) marketplace pages send `Origin: null` on their WebSocket. */
  WSTUN_ALLOW_NULL_ORIGIN: z.preprocess(
    unsetIfEmpty,
    z.enum(["true", "false", "1", "0"], { message: "must be true or false" }).default("true")
      .transform((v) => v === "true" || v === "1"),
  ),
  /** Set by Deno Deploy in every isolate: the managed KV and BroadcastChannel are there. */
  DENO_DEPLOYMENT_ID: z.preprocess(unsetIfEmpty, z.string().optional()),
  ...marketplaceEnvShape,
  ...pubsubEnvShape,
  ...bridgeEnvShape,
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

/** A configuration problem, as one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
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
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? "config");
    const got = env[name];
    // Secrets (tokens, the broadcast key) and URLs that may carry credentials are never echoed.
    const shown = /TOKEN|KEY|AUTHORIZER_URL|REDIS_URL/.test(name) || got === undefined
      ? ""
      : ` (got ${JSON.stringify(got)})`;
    throw new ConfigError(`${name}: ${issue.message}${shown}`);
  }
  const e = parsed.data;
  const tunnel = loadTunnelConfig(env);
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

function loadTunnelConfig(env: Record<string, string | undefined>): TunnelConfig {
  try {
    return tunnelConfigFromEnv(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
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
