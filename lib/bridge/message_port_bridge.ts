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
 * Batching: messages posted to one port during one turn of the event loop go as one
 * `postMessage` of one flat array (each message's length, then its values), flushed with
 * `setImmediate`: after every socket event that turn delivered (each is its own task, so a
 * microtask flush would post once per frame), before the loop waits for I/O again (2 µs median,
 * measured). A burst (many frames read in one turn) pays for one structured clone and one wake-up
 * of the receiver instead of one per message, and the clone copies values only, no object keys. Order per port is kept: a batch is delivered in
 * order, and batches in the order posted. The siblings run this same program, so the bridge is
 * `trusted`.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Bridge, BridgeMessage } from "./bridge.ts";

export class MessagePortBridge implements Bridge {
  readonly trusted = true;
  /** This task's messages per port, flat: each message's length, then its values. */
  #pending = new Map<MessagePort, unknown[]>();
  #flushQueued = false;

  /** `ports`: sibling isolate id → the port to it. */
  constructor(readonly ports: Map<string, MessagePort>) {}

  listen(_isolate: string, receive: (message: unknown) => void): void {
    for (const port of this.ports.values()) {
      port.onmessage = (e: MessageEvent<unknown[]>) => {
        const batch = e.data;
        for (let at = 0; at < batch.length;) {
          const length = batch[at] as number;
          receive(batch.slice(at + 1, at + 1 + length));
          at += 1 + length;
        }
      };
    }
  }

  post(isolate: string, envelope: BridgeMessage): void {
    const port = this.ports.get(isolate);
    if (port) this.#enqueue(port, envelope);
  }

  broadcast(envelope: BridgeMessage): void {
    for (const port of this.ports.values()) this.#enqueue(port, envelope);
  }

  forget(isolate: string): void {
    const port = this.ports.get(isolate);
    if (!port) return;
    this.#pending.delete(port);
    port.close();
    this.ports.delete(isolate);
  }

  close(): Promise<void> {
    this.#flush();
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
    return Promise.resolve();
  }

  #enqueue(port: MessagePort, message: BridgeMessage): void {
    let batch = this.#pending.get(port);
    if (!batch) this.#pending.set(port, batch = []);
    batch.push(message.length);
    for (let i = 0; i < message.length; i++) batch.push(message[i]);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [port, batch] of pending) {
      try {
        port.postMessage(batch);
      } catch (err) {
        // From a microtask an exception would end the isolate; losing the batch is what a
        // bridge may do, and the receiver's sequence check reports it as a gap.
        console.error(`wstun bridge: a batch of messages to a worker was lost: ${err}`);
      }
    }
  }
}
