/**
 * The bridge's environment variables (docs/architecture.md, "Bridge and directory"): which bridge
 * connects this isolate to the others, how often isolates prove they are alive, how long a
 * cross-isolate request may wait, and how many worker isolates `main.ts` starts.
 *
 * @module
 */
import { z } from "zod";
import { integer, milliseconds, unsetIfEmpty } from "../env_schema.ts";

export const BridgeMode = {
  /** Redis when `WSTUN_REDIS_URL` is set, BroadcastChannel on Deno Deploy or with workers, else off. */
  Auto: "auto",
  Off: "off",
  BroadcastChannel: "broadcast_channel",
  Redis: "redis",
} as const;
export type BridgeMode = typeof BridgeMode[keyof typeof BridgeMode];

export interface BridgeConfig {
  /** The bridge to use, `auto` resolved (see {@link resolveBridgeMode}). */
  mode: BridgeMode;
  heartbeatMs: number;
  timeoutMs: number;
  /** Bytes of messages the Redis bridge keeps for one isolate while Redis is away. */
  outboxBytes: number;
  /** Prefix of channel names and directory keys; isolates with the same one form one hub. */
  namespace: string;
  /** Worker isolates main.ts starts on one port (1 = serve in the main isolate). */
  workers: number;
  redisUrl?: string;
}

/** The bridge variables keyed by their environment names; lib/config.ts spreads this shape. */
export const bridgeEnvShape = {
  WSTUN_BRIDGE: unsetIfEmpty(
    z.enum(["auto", "off", "broadcast_channel", "redis"], {
      message: "must be auto, off, broadcast_channel or redis",
    }).default("auto"),
  ),
  WSTUN_BRIDGE_HEARTBEAT_MS: milliseconds(50, 600_000, 5000),
  WSTUN_BRIDGE_TIMEOUT_MS: milliseconds(50, 600_000, 5000),
  WSTUN_BRIDGE_OUTBOX_BYTES: integer(0, 1024 * 1024 * 1024, 16 * 1024 * 1024),
  WSTUN_BRIDGE_NAMESPACE: unsetIfEmpty(
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, _ . or -")
      .default("wstun"),
  ),
  WSTUN_WORKERS: integer(1, 256, 1),
  WSTUN_REDIS_URL: unsetIfEmpty(
    z.string().regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL").optional(),
  ),
};

type BridgeEnv = z.infer<z.ZodObject<typeof bridgeEnvShape>>;

/** The bridge settings from parsed variables. */
export function bridgeFromEnv(e: BridgeEnv, onDeploy: boolean): BridgeConfig {
  const config: BridgeConfig = {
    mode: e.WSTUN_BRIDGE,
    heartbeatMs: e.WSTUN_BRIDGE_HEARTBEAT_MS,
    timeoutMs: e.WSTUN_BRIDGE_TIMEOUT_MS,
    outboxBytes: e.WSTUN_BRIDGE_OUTBOX_BYTES,
    namespace: e.WSTUN_BRIDGE_NAMESPACE,
    workers: e.WSTUN_WORKERS,
    redisUrl: e.WSTUN_REDIS_URL,
  };
  return { ...config, mode: resolveBridgeMode(config, onDeploy) };
}

/** `auto` made concrete: Redis if a URL is set, BroadcastChannel on Deploy or with workers. */
export function resolveBridgeMode(config: BridgeConfig, onDeploy: boolean): BridgeMode {
  if (config.mode !== BridgeMode.Auto) return config.mode;
  if (config.redisUrl) return BridgeMode.Redis;
  if (onDeploy || config.workers > 1) return BridgeMode.BroadcastChannel;
  return BridgeMode.Off;
}
