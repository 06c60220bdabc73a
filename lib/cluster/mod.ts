/**
 * Several isolates as one hub: typed envelopes, the socket side and the owner side of a request,
 * this isolate's records in the directory, liveness, and pub/sub across isolates. Driven by the
 * hub's events and handed its {@link HubPort}; it never calls the hub's checks.
 *
 * @example
 * ```ts
 * const node = await ClusterNode.start(hub, { bridge, directory, heartbeatMs: 5000, timeoutMs: 5000 });
 * hub.joinCluster(node);
 * ```
 *
 * @module
 */
export * from "./channel_relay.ts";
export * from "./cluster_stats.ts";
export * from "./envelope.ts";
export * from "./gap_error.ts";
export * from "./hub_port.ts";
export * from "./link.ts";
export * from "./liveness.ts";
export * from "./node.ts";
export * from "./owner_side.ts";
export * from "./placement.ts";
export * from "./records.ts";
export * from "./secret_proof.ts";
export * from "./snapshot_requests.ts";
export * from "./socket_side.ts";
export * from "./wire.ts";
