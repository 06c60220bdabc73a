/**
 * Sends datagrams on one UDP socket in the order they were handed over.
 *
 * Deno's `node:dgram` (and `Deno.DatagramConn`) may complete concurrent sends out of order: a
 * 65,507-byte datagram sent before a 10-byte one can leave after it. UDP promises no order, but
 * a tunnel that reorders a loopback stream would be worse than the path it replaces, so each
 * socket has one send in flight and a queue behind it. The queue is bounded in bytes; past the
 * bound a datagram is refused and the caller counts it as dropped, so memory stays bounded.
 *
 * @module
 */
import type dgram from "node:dgram";

interface Queued {
  data: Uint8Array;
  port: number;
  address: string;
}

export class OrderedSender {
  #queue: Queued[] = [];
  #head = 0;
  #queuedBytes = 0;
  #inFlight = false;
  #closed = false;

  constructor(readonly socket: dgram.Socket, readonly maxQueuedBytes = 4 * 1024 * 1024) {}

  /**
   * Queues one datagram; false when the queue is over its bound (count it as dropped). The
   * bytes must not change afterwards: pass a copy if the buffer is reused.
   */
  send(data: Uint8Array, port: number, address: string): boolean {
    if (this.#closed) return false;
    if (!this.#inFlight) {
      this.#transmit({ data, port, address });
      return true;
    }
    if (this.#queuedBytes + data.length > this.maxQueuedBytes) return false;
    this.#queue.push({ data, port, address });
    this.#queuedBytes += data.length;
    return true;
  }

  /** Stops sending; queued datagrams are discarded (the socket is going away). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  #transmit(item: Queued): void {
    this.#inFlight = true;
    // A send error (ICMP unreachable, socket closing) loses that datagram only, as UDP does.
    try {
      this.socket.send(item.data, item.port, item.address, () => this.#next());
    } catch {
      this.close();
    }
  }

  #next(): void {
    this.#inFlight = false;
    if (this.#closed || this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    const item = this.#queue[this.#head++];
    this.#queuedBytes -= item.data.length;
    this.#transmit(item);
  }
}
