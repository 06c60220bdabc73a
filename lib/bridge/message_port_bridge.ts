/**
 * A {@link Bridge} over `MessagePort`s, for the worker isolates of one process
 * (`WSTUN_WORKERS`): the main isolate gives every pair of workers a `MessageChannel`, so each
 * worker holds one port per sibling.
 *
 * Why not BroadcastChannel here: Deno's BroadcastChannel drops messages when a receiver falls
 * behind (measured: a burst of 20,000 from one worker reached another as 3,607, see
 * docs/architecture.md), while a MessagePort queues without loss and in order. Loss would still
 * be reported (sequence numbers), but on one machine there is no reason to have any.
 *
 * @module
 */
import type { Bridge, Envelope } from "./bridge.ts";

export class MessagePortBridge implements Bridge {
  /** `ports`: sibling isolate id → the port to it. */
  constructor(readonly ports: Map<string, MessagePort>) {}

  listen(_isolate: string, receive: (envelope: Envelope) => void): void {
    for (const port of this.ports.values()) {
      port.onmessage = (e: MessageEvent<Envelope>) => receive(e.data);
    }
  }

  post(isolate: string, envelope: Envelope): void {
    this.ports.get(isolate)?.postMessage(envelope);
  }

  broadcast(envelope: Envelope): void {
    for (const port of this.ports.values()) port.postMessage(envelope);
  }

  forget(isolate: string): void {
    this.ports.get(isolate)?.close();
    this.ports.delete(isolate);
  }

  close(): Promise<void> {
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
    return Promise.resolve();
  }
}
