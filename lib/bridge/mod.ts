/**
 * Transports between isolates (BroadcastChannel, MessagePort, Redis with its outbox) and the
 * stores of the instance and tunnel directories (Deno KV, Redis). Transports only: what the
 * messages mean is lib/cluster's.
 *
 * @example
 * ```ts
 * const bridge = new BroadcastChannelBridge("wstun");
 * const directory = new KvDirectory(await Deno.openKv(":memory:"));
 * ```
 *
 * @module
 */
export * from "./bridge.ts";
export * from "./broadcast_channel_bridge.ts";
export * from "./config.ts";
export * from "./directory.ts";
export * from "./kv_claim.ts";
export * from "./kv_directory.ts";
export * from "./kv_tunnel_directory.ts";
export * from "./lone_bridge.ts";
export * from "./message_port_bridge.ts";
export * from "./record_ttl.ts";
export * from "./redis_bridge.ts";
export * from "./redis_connection.ts";
export * from "./redis_directory.ts";
export * from "./redis_outbox.ts";
export * from "./redis_tunnel_directory.ts";
export * from "./tunnel_directory.ts";
