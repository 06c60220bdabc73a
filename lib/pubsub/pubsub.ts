/**
 * The pub/sub state of one server, as its users (routes, native channels, metrics) see it;
 * built by `createPubSub` (mod.ts).
 *
 * @module
 */
import type { Authorizer, AuthorizerStats } from "./authorizer.ts";
import type { ChannelRegistry, PubSubStats } from "./channel_registry.ts";
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
