/**
 * The pub/sub state of one server, as its users (routes, native channels, metrics) see it, and
 * {@linkcode createPubSub}, which builds it from the configuration: the registry, the authorizer
 * client and the bridge publishes go through.
 *
 * @module
 */
import { Authorizer, type AuthorizerStats } from "./authorizer.ts";
import type { ChannelBridge } from "./channel_bridge.ts";
import { ChannelRegistry, type PubSubStats } from "./channel_registry.ts";
import type { PubSubConfig } from "./config.ts";

/** Everything pub/sub needs at run time, created once per server. */
export interface PubSub {
  config: PubSubConfig;
  registry: ChannelRegistry;
  authorizer: Authorizer;
  now: () => number;
  /** Counters for `/_api/stats`. */
  stats(): PubSubStats & { authorizer: AuthorizerStats };
  /** Releases the bridge. */
  shutdown(): void;
}

export interface PubSubDeps {
  /** Outgoing HTTP for the authorizer; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Where publishes go; defaults to the same-isolate bridge (`ChannelRelay` in a cluster). */
  bridge?: ChannelBridge;
  now?: () => number;
}

/**
 * Builds the pub/sub state of one server.
 *
 * @example
 * ```ts
 * const pubsub = createPubSub(parsePubSubConfig(Deno.env.toObject()));
 * pubsub.registry.list(); // []
 * ```
 */
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
