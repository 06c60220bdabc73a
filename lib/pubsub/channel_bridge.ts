/**
 * The delivery seam of pub/sub: every publish, from any source (`/ws`, `/_ws`, `POST /broadcast`),
 * leaves the registry through {@linkcode ChannelBridge.publish} and comes back to each isolate's
 * registry through the `deliver` callback given to `attach`.
 *
 * This module ships the same-isolate implementation. The cross-isolate bridge (issue 5:
 * BroadcastChannel, Redis) implements the same interface; its contract is:
 * - `deliver` is called on every isolate that has `open`ed the channel, including this one;
 * - per channel, messages from one isolate are delivered in the order they were published;
 * - `open(channel)` is called when the first local subscriber joins and `close(channel)` when the
 *   last one leaves, so an isolate listens only to channels it has subscribers for;
 * - messages are plain data ({@linkcode ChannelMessage}) and may be structured-cloned.
 *
 * @module
 */
import type { ChannelMessage } from "./channel_message.ts";

/** Carries channel messages to every isolate that has subscribers for them. */
export interface ChannelBridge {
  /** Starts delivery to this isolate; called once by the registry. */
  attach(deliver: (message: ChannelMessage) => void): void;
  /** Sends a message to every isolate with subscribers on its channel, this one included. */
  publish(message: ChannelMessage): void;
  /** This isolate has its first subscriber on `channel`. */
  open(channel: string): void;
  /** This isolate has no subscriber left on `channel`. */
  close(channel: string): void;
  /** Stops delivery and releases what the bridge holds. */
  shutdown(): void;
}

/** The bridge of a single isolate: delivery is a synchronous call, so order is publish order. */
export class LocalChannelBridge implements ChannelBridge {
  #deliver?: (message: ChannelMessage) => void;

  attach(deliver: (message: ChannelMessage) => void): void {
    this.#deliver = deliver;
  }

  publish(message: ChannelMessage): void {
    this.#deliver?.(message);
  }

  open(_channel: string): void {}

  close(_channel: string): void {}

  shutdown(): void {
    this.#deliver = undefined;
  }
}
