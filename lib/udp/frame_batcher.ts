/**
 * Sends the datagrams bound for one peer through the relay in as few frames as the traffic allows.
 *
 * The first datagram of a turn of the event loop leaves at once, as its own frame: a lone game
 * packet waits for nothing. Those that follow in the same turn (a burst the socket's read loop
 * drained, several clients answered at once) are gathered and sent as one batch frame when the
 * turn ends, or as soon as the batch reaches {@link MAX_BATCH_BYTES}. While traffic is dense (the
 * last turn carried several datagrams), the first datagram of a turn joins the batch too, so a
 * busy link costs one frame per turn; a turn with a single datagram ends that. One frame instead of many saves a WebSocket write, a relay
 * hop's work and a read on the far side per datagram; on loopback the writes, each waking the
 * relay, were a quarter to a third of each tool's CPU.
 *
 * Guarantees: datagrams leave in the order they were added (the batch of a turn is sent before
 * anything of the next turn); each is counted once, as sent or as dropped, when its frame is
 * handed to the relay link or refused by it; `close()` counts what it discards.
 *
 * @module
 */
import {
  BATCH_ENTRY_BYTES,
  encodeBatch,
  encodeDatagram,
  type FlowDatagram,
  type FramePrefix,
} from "./datagram_frame.ts";
import type { TunnelCounters } from "./tunnel_counters.ts";
import { clearImmediate, setImmediate } from "node:timers";

/** A batch is sent once it holds this many bytes, well under the relay's frame limit. */
export const MAX_BATCH_BYTES = 64 * 1024;

/** Where frames go and where their datagrams are counted. */
export interface BatchOutput {
  /** Hands a frame to the relay link; false when it refused it (backlog over the bound). */
  send(frame: Uint8Array<ArrayBuffer>): boolean;
  /** `count` datagrams of `bytes` payload went out. */
  sent(count: number, bytes: number): void;
  /** `count` datagrams were refused or discarded. */
  dropped(count: number): void;
}

export class FrameBatcher {
  #entries: FlowDatagram[] = [];
  #bytes = 0;
  #payload = 0;
  /**
   * A turn is open: its first datagram left, the rest wait for the end of the turn. The end is
   * `setImmediate`, which runs once the current task and its microtasks are done; Deno's
   * `setTimeout(0)` waits a millisecond or more, and a ping's answer would wait with it.
   */
  #timer: ReturnType<typeof setImmediate> | undefined;
  /** The last turn carried more than one datagram: traffic is dense, all wait for the turn's end. */
  #dense = false;
  /** Datagrams added in this turn. */
  #inTurn = 0;

  constructor(readonly prefix: FramePrefix, readonly output: BatchOutput) {}

  /** Adds one datagram; `datagram` may be reused by the caller afterwards. */
  add(flow: number, datagram: Uint8Array): void {
    this.#inTurn++;
    if (this.#timer === undefined) {
      this.#timer = setImmediate(() => this.#endTurn());
      if (!this.#dense) {
        return this.#send(encodeDatagram(this.prefix, flow, datagram), 1, datagram.length);
      }
    }
    if (this.#bytes + BATCH_ENTRY_BYTES + datagram.length > MAX_BATCH_BYTES) this.flush();
    this.#entries.push({ flow, datagram: datagram.slice() });
    this.#bytes += BATCH_ENTRY_BYTES + datagram.length;
    this.#payload += datagram.length;
  }

  /** Sends what is gathered now. */
  flush(): void {
    const entries = this.#entries;
    if (entries.length === 0) return;
    const frame = entries.length === 1
      ? encodeDatagram(this.prefix, entries[0].flow, entries[0].datagram)
      : encodeBatch(this.prefix, entries);
    this.#send(frame, entries.length, this.#payload);
    this.#entries = [];
    this.#bytes = 0;
    this.#payload = 0;
  }

  /** Stops; datagrams still gathered are counted as dropped. */
  close(): void {
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    this.#inTurn = 0;
    if (this.#entries.length) this.output.dropped(this.#entries.length);
    this.#entries = [];
    this.#bytes = 0;
    this.#payload = 0;
  }

  #endTurn(): void {
    this.#timer = undefined;
    this.#dense = this.#inTurn > 1;
    this.#inTurn = 0;
    this.flush();
  }

  #send(frame: Uint8Array<ArrayBuffer>, count: number, bytes: number): void {
    if (this.output.send(frame)) this.output.sent(count, bytes);
    else this.output.dropped(count);
  }
}

/** The part of a relay link a batch needs. */
export interface FrameLink {
  readonly open: boolean;
  sendBinary(frame: Uint8Array<ArrayBuffer>): boolean;
}

/**
 * The output both tools use: frames go to the tool's current relay link, datagrams are counted as
 * sent to the relay, or as dropped for backpressure (link open but backed up) or offline (no link).
 */
export function relayOutput(counters: TunnelCounters, link: () => FrameLink | null): BatchOutput {
  return {
    send: (frame) => link()?.sendBinary(frame) ?? false,
    sent: (count, bytes) => {
      counters.toRelay += count;
      counters.toRelayBytes += bytes;
    },
    dropped: (count) => {
      if (link()?.open) counters.droppedBackpressure += count;
      else counters.droppedOffline += count;
    },
  };
}
