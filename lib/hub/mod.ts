/**
 * The hub: instances, membership and the rules of who may send what to whom, on one isolate. It
 * knows nothing of HTTP, sockets or the bridge: a socket is a {@link Session} with a {@link Peer},
 * and other isolates are reached through the {@link ClusterPort} it is handed.
 *
 * @example
 * ```ts
 * const hub = new Hub({ config, catalog, stats, instanceSecrets });
 * hub.control(session, { type: "create_instance", service: "chat", name: "room" });
 * ```
 *
 * @module
 */
export * from "./cluster_port.ts";
export * from "./hub.ts";
export * from "./instance.ts";
export * from "./instance_secrets.ts";
export * from "./peer.ts";
export * from "./rejoin_hold.ts";
export * from "./routing.ts";
