/**
 * The configuration as the start-up log line `server.config` shows it: every limit and mode, and
 * for each secret or URL that may carry credentials (tokens, tunnel secrets, the broadcast key,
 * the authorizer and Redis URLs) only whether it is set. A test checks that no secret leaks.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { LogFields } from "../log.ts";

const set = (value: unknown) => value !== undefined;

/** The log fields of `config`, never a secret. */
export function describeConfig(config: Config): LogFields {
  return {
    hostname: config.hostname,
    port: config.port,
    serverTokenSet: set(config.token),
    adminTokenSet: set(config.adminToken),
    metricsTokenSet: set(config.metricsToken),
    allowedOrigins: config.allowedOrigins.join(",") || null,
    allowNullOrigin: config.allowNullOrigin,
    maxFrameBytes: config.maxFrameBytes,
    maxMsgsPerSec: config.maxMsgsPerSec,
    maxInstances: config.maxInstancesPerConnection,
    maxMembers: config.maxMembersPerInstance,
    maxJoins: config.maxJoinsPerConnection,
    maxConnections: config.maxConnections,
    maxBufferedBytes: config.maxBufferedBytes,
    idleTimeoutS: config.idleTimeoutS,
    hostGraceMs: config.hostGraceMs,
    udpMaxBufferedBytes: config.udpMaxBufferedBytes,
    udpMaxMsgsPerSec: config.udpMaxMsgsPerSec,
    kv: config.kvPath ?? "default",
    marketplaceUrls: config.marketplaceUrls.length,
    authorizerSet: set(config.pubsub.authorizerUrl),
    broadcastKeySet: set(config.pubsub.broadcastKey),
    bridge: config.bridge.mode,
    workers: config.bridge.workers,
    redisUrlSet: set(config.bridge.redisUrl),
    bridgeNamespace: config.bridge.namespace,
    tunnels: set(config.tunnel.secrets),
    logLevel: config.logLevel,
  };
}
