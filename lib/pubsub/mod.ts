/**
 * Pub/sub channels: the registry, the authorizer client, the limits, and `/ws` (wsify) sessions.
 *
 * {@linkcode createPubSub} builds everything one server needs from its configuration; the HTTP
 * routes (routes/wsify.ts) and the native `/_ws` channel requests (native_channels.ts) both use
 * the object it returns, so a message published on one endpoint reaches subscribers on all of them.
 *
 * @example
 * ```ts
 * const pubsub = createPubSub(parsePubSubConfig(Deno.env.toObject()));
 * pubsub.registry.list(); // []
 * ```
 *
 * @module
 */
export * from "./authorizer.ts";
export * from "./channel_bridge.ts";
export * from "./channel_message.ts";
export * from "./channel_registry.ts";
export * from "./config.ts";
export * from "./limits.ts";
export * from "./native_channels.ts";
export * from "./ordered_queue.ts";
export * from "./pubsub.ts";
export * from "./upgrade_description.ts";
export * from "./wsify_session.ts";
