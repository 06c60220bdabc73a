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
import { Authorizer } from "./authorizer.ts";
import type { ChannelBridge } from "./channel_bridge.ts";
import { ChannelRegistry } from "./channel_registry.ts";
import type { PubSubConfig } from "./config.ts";
import type { PubSub } from "./pubsub.ts";

export * from "./authorizer.ts";
export * from "./channel_bridge.ts";
export * from "./channel_message.ts";
export * from "./channel_registry.ts";
export * from "./config.ts";
export * from "./errors.ts";
export * from "./limits.ts";
export * from "./native_channels.ts";
export * from "./ordered_queue.ts";
export * from "./pubsub.ts";
export * from "./upgrade_description.ts";
export * from "./wsify_session.ts";

export interface PubSubDeps {
  /** Outgoing HTTP for the authorizer; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Where publishes go; defaults to the same-isolate bridge. Issue 5's bridge plugs in here. */
  bridge?: ChannelBridge;
  now?: () => number;
}

/** Builds the pub/sub state of one server. */
export function createPubSub(config: PubSubConfig, deps: PubSubDeps = {}): PubSub {
  const registry = new ChannelRegistry({
    bridge: deps.bridge,
    maxChannelsPerSubscriber: config.maxChannelsPerConnection,
  });
  const authorizer = new Authorizer({
    url: config.authorizerUrl,
    timeoutMs: config.authorizerTimeoutMs,
    events: config.authorizerEvents,
    fetch: deps.fetch,
  });
  return {
    config,
    registry,
    authorizer,
    now: deps.now ?? Date.now,
    stats: () => ({ ...registry.stats(), authorizer: authorizer.stats() }),
    shutdown: () => registry.shutdown(),
  };
}
