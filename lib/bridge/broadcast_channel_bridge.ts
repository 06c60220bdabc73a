/**
 * A {@link Bridge} over `BroadcastChannel`: one inbox channel per isolate, named
 * `<namespace>:isolate:<id>`. Works between workers of one process and, on Deno Deploy, between
 * isolates of a deployment (best effort there: see docs/deploy.md). Needs no flag in Deno 2.9.
 *
 * Posting opens (and caches) a channel per destination isolate, so a sender holds one channel per
 * isolate it talks to; {@link BroadcastChannelBridge.forget} drops the one of a dead isolate.
 *
 * @module
 */
import type { Bridge, BridgeMessage } from "./bridge.ts";

export class BroadcastChannelBridge implements Bridge {
  #inbox: BroadcastChannel | null = null;
  /** `<namespace>:all`, shared by every isolate; posting and listening on one object, so a
   * broadcast never comes back to its sender. */
  #all: BroadcastChannel | null = null;
  readonly #outboxes = new Map<string, BroadcastChannel>();

  constructor(readonly namespace = "wstun") {}

  listen(isolate: string, receive: (message: unknown) => void): void {
    this.#inbox = new BroadcastChannel(this.#name(isolate));
    this.#inbox.onmessage = (e: MessageEvent<unknown>) => receive(e.data);
    this.#all = new BroadcastChannel(`${this.namespace}:all`);
    this.#all.onmessage = (e: MessageEvent<unknown>) => receive(e.data);
  }

  broadcast(envelope: BridgeMessage): void {
    this.#all?.postMessage(envelope);
  }

  post(isolate: string, envelope: BridgeMessage): void {
    let channel = this.#outboxes.get(isolate);
    if (!channel) {
      channel = new BroadcastChannel(this.#name(isolate));
      this.#outboxes.set(isolate, channel);
    }
    channel.postMessage(envelope);
  }

  /** Closes the channel to an isolate that is gone. */
  forget(isolate: string): void {
    this.#outboxes.get(isolate)?.close();
    this.#outboxes.delete(isolate);
  }

  close(): Promise<void> {
    this.#inbox?.close();
    this.#inbox = null;
    this.#all?.close();
    this.#all = null;
    for (const channel of this.#outboxes.values()) channel.close();
    this.#outboxes.clear();
    return Promise.resolve();
  }

  #name(isolate: string): string {
    return `${this.namespace}:isolate:${isolate}`;
  }
}
