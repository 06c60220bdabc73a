/**
 * Test-only: a real BroadcastChannel bridge that drops the messages it is told to drop, to prove
 * that loss on the bridge is reported, never silent. `dropPosts` counts direct posts only and
 * `dropBroadcasts` broadcasts other than liveness beats (which would take a drop meant for a frame);
 * `partition` drops everything, broadcasts too.
 *
 * @module
 */
import type { Bridge, BridgeMessage } from "../../../lib/bridge/bridge.ts";
import { BroadcastChannelBridge } from "../../../lib/bridge/broadcast_channel_bridge.ts";
import { unpack } from "../../../lib/cluster/wire.ts";

export class LossyBridge implements Bridge {
  readonly #inner: BroadcastChannelBridge;
  /** Direct posts still to drop. */
  dropPosts = 0;
  /** Broadcasts still to drop (channel publishes; never a liveness beat). */
  dropBroadcasts = 0;
  /** Drop everything, both ways' posts and broadcasts (a bridge that reaches no one). */
  partition = false;
  dropped = 0;

  constructor(namespace: string) {
    this.#inner = new BroadcastChannelBridge(namespace);
  }

  listen(isolate: string, receive: (message: unknown) => void): void {
    this.#inner.listen(isolate, (message) => {
      if (!this.partition) receive(message);
    });
  }

  post(isolate: string, envelope: BridgeMessage): void {
    if (this.partition) return void this.dropped++;
    if (this.dropPosts > 0) {
      this.dropPosts--;
      this.dropped++;
      return;
    }
    this.#inner.post(isolate, envelope);
  }

  broadcast(envelope: BridgeMessage): void {
    if (this.partition) return void this.dropped++;
    const beat = (unpack(envelope) as { body?: { k?: string } }).body?.k === "beat";
    if (this.dropBroadcasts > 0 && !beat) {
      this.dropBroadcasts--;
      this.dropped++;
      return;
    }
    this.#inner.broadcast(envelope);
  }

  forget(isolate: string): void {
    this.#inner.forget(isolate);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
