/**
 * Test-only: a real BroadcastChannel bridge that drops the messages it is told to drop, to prove
 * that loss on the bridge is reported, never silent.
 *
 * @module
 */
import type { Bridge, Envelope } from "../../lib/bridge/bridge.ts";
import { BroadcastChannelBridge } from "../../lib/bridge/broadcast_channel_bridge.ts";

export class LossyBridge implements Bridge {
  readonly #inner: BroadcastChannelBridge;
  /** Posts still to drop; Infinity = drop everything (a partition). */
  dropPosts = 0;
  dropped = 0;

  constructor(namespace: string) {
    this.#inner = new BroadcastChannelBridge(namespace);
  }

  listen(isolate: string, receive: (envelope: Envelope) => void): void {
    this.#inner.listen(isolate, receive);
  }

  post(isolate: string, envelope: Envelope): void {
    if (this.dropPosts > 0) {
      this.dropPosts--;
      this.dropped++;
      return;
    }
    this.#inner.post(isolate, envelope);
  }

  broadcast(envelope: Envelope): void {
    if (this.dropPosts > 0) {
      this.dropPosts--;
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
