/**
 * Pub/sub across isolates: the {@link ChannelBridge} of a server that is part of a cluster.
 *
 * A publish is delivered to this isolate's subscribers at once (synchronously, so local order is
 * publish order) and broadcast once on the bridge; every other isolate hands it to its own
 * registry, which delivers it to the subscribers it has, if any. Messages from one isolate arrive
 * in publish order (the bridge keeps per-sender order), and a lost one is counted and logged from
 * its broadcast sequence number, never lost without a word.
 *
 * Why a broadcast and not interest-based routing: a publish is one bridge message per isolate
 * whatever the subscriber count, isolates are few (cores, or Deploy's regions), and there is no
 * subscription state to keep in step between isolates (no window where a new subscriber misses
 * messages because its interest has not reached the publisher yet). docs/pubsub.md says so.
 *
 * The cluster starts after pub/sub is built, so it is connected late; until then (and on a
 * server without a bridge) this is the local bridge.
 *
 * @module
 */
import type { ChannelBridge } from "../pubsub/channel_bridge.ts";
import type { ChannelMessage } from "../pubsub/channel_message.ts";

/** What the relay needs of the cluster (a ClusterNode provides it). */
export interface ChannelPort {
  onChannelMessage(deliver: (message: ChannelMessage) => void): void;
  publishChannel(message: ChannelMessage): void;
}

export class ChannelRelay implements ChannelBridge {
  #deliver?: (message: ChannelMessage) => void;
  #cluster: ChannelPort | null = null;

  attach(deliver: (message: ChannelMessage) => void): void {
    this.#deliver = deliver;
  }

  /** From now on, publishes also reach other isolates and theirs reach this one. */
  connect(cluster: ChannelPort): void {
    this.#cluster = cluster;
    cluster.onChannelMessage((message) => this.#deliver?.(message));
  }

  publish(message: ChannelMessage): void {
    this.#deliver?.(message);
    this.#cluster?.publishChannel(message);
  }

  open(_channel: string): void {}

  close(_channel: string): void {}

  shutdown(): void {
    this.#deliver = undefined;
    this.#cluster = null;
  }
}
