/**
 * The channel registry of one isolate: who is subscribed to what, and delivery of published
 * messages to local subscribers.
 *
 * Guarantees:
 * - A subscriber is in a channel at most once: a second `subscribe` is refused with
 *   `already_subscribed` and never duplicates delivery.
 * - `unsubscribe` of a channel not joined changes nothing and answers `not_subscribed`.
 * - Per channel, subscribers receive messages in the order the bridge hands them over, which for
 *   the local bridge is publish order (delivery is synchronous; subscribers queue their sends).
 * - One subscriber whose `deliver` throws never stops delivery to the others; the failure is
 *   counted and reported to `onDeliveryError`.
 * - Every publish goes through the {@linkcode ChannelBridge}, the single seam a cross-isolate
 *   bridge backs.
 *
 * The registry trusts its input: channel names and payload sizes are checked at the edges
 * (limits.ts) before they get here.
 *
 * @module
 */
import { type ChannelBridge, LocalChannelBridge } from "./channel_bridge.ts";
import { ChannelDelivery, type ChannelMessage } from "./channel_message.ts";
import { WstunError } from "../errors/wstun_error.ts";
import { ErrorCode } from "../protocol.ts";

/** Someone who receives channel messages: a `/ws` session or a native `/_ws` connection. */
export interface ChannelSubscriber {
  /** Sends the delivery in this subscriber's protocol. May throw; the registry counts it. */
  deliver(delivery: ChannelDelivery): void;
}

/** A channel as `GET /_api/channels` lists it. */
export interface ChannelInfo {
  channel: string;
  subscribers: number;
}

/** Counters for `/_api/stats`, since the registry was created. */
export interface PubSubStats {
  channels: number;
  subscriptions: number;
  /** Messages published from this isolate (any source). */
  publishes: number;
  /** Frames handed to local subscribers. */
  deliveries: number;
  /** Deliveries that threw (closed or broken sockets). */
  deliveryFailures: number;
}

export interface ChannelRegistryOptions {
  /** Where publishes go; defaults to a {@linkcode LocalChannelBridge}. */
  bridge?: ChannelBridge;
  /** Channels one subscriber may be in at once; 0 = no limit. */
  maxChannelsPerSubscriber?: number;
  /** Told about each failed delivery, e.g. to close that socket. */
  onDeliveryError?: (subscriber: ChannelSubscriber, error: unknown) => void;
}

/** Subscriptions and local delivery for one isolate. */
export class ChannelRegistry {
  #channels = new Map<string, Set<ChannelSubscriber>>();
  #bySubscriber = new Map<ChannelSubscriber, Set<string>>();
  #bridge: ChannelBridge;
  #maxChannels: number;
  #onDeliveryError?: (subscriber: ChannelSubscriber, error: unknown) => void;
  #publishes = 0;
  #deliveries = 0;
  #deliveryFailures = 0;
  #subscriptions = 0;

  constructor(options: ChannelRegistryOptions = {}) {
    this.#bridge = options.bridge ?? new LocalChannelBridge();
    this.#maxChannels = options.maxChannelsPerSubscriber ?? 0;
    this.#onDeliveryError = options.onDeliveryError;
    this.#bridge.attach((message) => this.deliverLocal(message));
  }

  /** Adds `subscriber` to `channel`, or says why not. */
  subscribe(subscriber: ChannelSubscriber, channel: string): WstunError | undefined {
    const mine = this.#bySubscriber.get(subscriber);
    if (mine?.has(channel)) {
      return new WstunError(
        ErrorCode.AlreadySubscribed,
        `already subscribed to ${JSON.stringify(channel)}; messages are delivered once`,
      );
    }
    if (this.#maxChannels > 0 && (mine?.size ?? 0) >= this.#maxChannels) {
      return new WstunError(
        ErrorCode.LimitReached,
        `at most ${this.#maxChannels} channels per connection (WSTUN_MAX_CHANNELS)`,
      );
    }
    let members = this.#channels.get(channel);
    if (!members) {
      members = new Set();
      this.#channels.set(channel, members);
      this.#bridge.open(channel);
    }
    members.add(subscriber);
    if (mine) mine.add(channel);
    else this.#bySubscriber.set(subscriber, new Set([channel]));
    this.#subscriptions++;
    return undefined;
  }

  /** Removes `subscriber` from `channel`; `not_subscribed` when it was not there (nothing changes). */
  unsubscribe(subscriber: ChannelSubscriber, channel: string): WstunError | undefined {
    const mine = this.#bySubscriber.get(subscriber);
    if (!mine?.delete(channel)) {
      return new WstunError(
        ErrorCode.NotSubscribed,
        `not subscribed to ${JSON.stringify(channel)}`,
      );
    }
    if (mine.size === 0) this.#bySubscriber.delete(subscriber);
    this.#removeFromChannel(subscriber, channel);
    return undefined;
  }

  /** Removes `subscriber` from every channel (its socket closed). */
  unsubscribeAll(subscriber: ChannelSubscriber): void {
    const mine = this.#bySubscriber.get(subscriber);
    if (!mine) return;
    this.#bySubscriber.delete(subscriber);
    for (const channel of mine) this.#removeFromChannel(subscriber, channel);
  }

  isSubscribed(subscriber: ChannelSubscriber, channel: string): boolean {
    return this.#bySubscriber.get(subscriber)?.has(channel) ?? false;
  }

  /** Publishes through the bridge. The message must already satisfy the limits. */
  publish(message: ChannelMessage): void {
    this.#publishes++;
    this.#bridge.publish(message);
  }

  /**
   * Delivers a message to this isolate's subscribers of its channel; the bridge calls this.
   * Returns how many subscribers it reached.
   */
  deliverLocal(message: ChannelMessage): number {
    const members = this.#channels.get(message.channel);
    if (!members) return 0;
    const delivery = new ChannelDelivery(message);
    let reached = 0;
    // No copy of the set: a failing delivery may unsubscribe its own subscriber, and deleting the
    // current element of a Set during iteration is well defined in JavaScript.
    for (const subscriber of members) {
      try {
        subscriber.deliver(delivery);
        reached++;
      } catch (error) {
        this.#deliveryFailures++;
        this.#onDeliveryError?.(subscriber, error);
      }
    }
    this.#deliveries += reached;
    return reached;
  }

  /** Channels with local subscribers, busiest first. */
  list(): ChannelInfo[] {
    return [...this.#channels].map(([channel, s]) => ({ channel, subscribers: s.size }))
      .sort((a, b) => b.subscribers - a.subscribers || (a.channel < b.channel ? -1 : 1));
  }

  stats(): PubSubStats {
    return {
      channels: this.#channels.size,
      subscriptions: this.#subscriptions,
      publishes: this.#publishes,
      deliveries: this.#deliveries,
      deliveryFailures: this.#deliveryFailures,
    };
  }

  /** Stops the bridge; subscribers are left to their sockets' own close. */
  shutdown(): void {
    this.#bridge.shutdown();
  }

  #removeFromChannel(subscriber: ChannelSubscriber, channel: string): void {
    const members = this.#channels.get(channel);
    if (!members?.delete(subscriber)) return;
    this.#subscriptions--;
    if (members.size > 0) return;
    this.#channels.delete(channel);
    this.#bridge.close(channel);
  }
}
