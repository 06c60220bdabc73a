/**
 * One local UDP socket of the tunnel tools, on Deno's own datagram API (`Deno.listenDatagram`).
 *
 * Why not `node:dgram`: in Deno 2.9 it allocates a fresh 64 KiB buffer for every datagram it
 * reads and reads about 14,000 datagrams/s on loopback, where `Deno.DatagramConn` with one
 * reused buffer reads about 60,000/s; and its `recvBufferSize` / `sendBufferSize` are kept in
 * JavaScript and never reach the kernel (docs/udp.md, "Where datagrams were lost").
 *
 * Guarantees:
 * - **Reading**: one loop and one reused buffer; each datagram is handed to `onDatagram`
 *   synchronously, and its bytes are valid only during that call (copy them to keep them). Deno
 *   completes a receive at once when the kernel holds a datagram, so the loop drains the kernel's
 *   queue without waiting for the event loop; after {@link YIELD_EVERY} datagrams in a row it
 *   yields once, so relay traffic is not starved by a flood.
 * - **Order**: datagrams leave in the order `send` was called. Deno may complete concurrent sends
 *   out of order (measured: dozens in 20,000 on loopback), so one send is in flight at a time;
 *   the next starts when it completes, which on a socket that is not full is within the same turn
 *   of the event loop (a microtask), so a burst still leaves at once.
 * - **Bounds**: the send queue is bounded in bytes; over the bound `send` returns false and the
 *   caller counts the datagram as dropped. A failed send loses that datagram only and is counted
 *   in {@link DatagramSocket.sendErrors}; a failed receive is counted in `receiveErrors` and
 *   reading goes on (Windows reports ICMP port unreachable on the next receive).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { type OsSocket, type OsSockets, type SocketBuffers } from "./os_socket.ts";

/** Datagrams read in a row before the loop lets other work run. */
export const YIELD_EVERY = 256;

/** Largest UDP payload (IPv6, 65,535 − 8), so a receive never truncates. */
const RECEIVE_BUFFER_BYTES = 65_536;

/** Receive buffers carved from one allocation at a time. */
const SLAB_BUFFERS = 16;

/**
 * Receive buffers of sockets that closed, and the unused rest of the last slab. A fresh 64 KiB
 * `Uint8Array` is zero-filled by the allocator, page by page: 125 µs a socket on the development
 * VM, 8 ms when 64 players arrive at once, during which the exposer forwards nothing. A 1 MiB
 * slab comes from the kernel already zeroed, in 0.02 ms, and a page is touched only when a
 * datagram lands on it. Buffers go back here when their socket's read loop ends; the slabs are
 * kept (at most the peak number of sockets × 64 KiB of address space, touched pages only).
 */
const spareBuffers: Uint8Array[] = [];

function takeReceiveBuffer(): Uint8Array {
  if (spareBuffers.length === 0) {
    const slab = new ArrayBuffer(SLAB_BUFFERS * RECEIVE_BUFFER_BYTES);
    for (let i = SLAB_BUFFERS - 1; i >= 0; i--) {
      spareBuffers.push(new Uint8Array(slab, i * RECEIVE_BUFFER_BYTES, RECEIVE_BUFFER_BYTES));
    }
  }
  return spareBuffers.pop()!;
}

/**
 * Kernel buffers the tools ask for. Linux grants twice the request for its bookkeeping, and a
 * queued datagram costs its size plus about 1 KiB there: 4 MiB asked holds about 120 datagrams of
 * 64 KiB or 3,600 of 1,200 bytes, where Linux's usual default (208 KiB) holds 3 and 92.
 */
export const DEFAULT_SOCKET_BUFFERS: SocketBuffers = {
  receive: 4 * 1024 * 1024,
  send: 1024 * 1024,
};

/** Default bound of the send queue, in bytes. */
export const DEFAULT_SEND_QUEUE_BYTES = 4 * 1024 * 1024;

/** A remote address and port, as Deno's datagram API takes it. */
export type Endpoint = Deno.NetAddr;

/** Builds an {@link Endpoint} once, to reuse for every datagram to that address. */
export function endpoint(hostname: string, port: number): Endpoint {
  return { transport: "udp", hostname, port };
}

/** How to open a socket; every field is optional. */
export interface DatagramSocketOptions {
  /** libc for buffer sizes and the OS's drops ({@link OsSockets}), or why it is not at hand. */
  os?: OsSockets | string;
  /** Buffer sizes to ask the kernel for (0: its default); needs `os`. */
  buffers?: SocketBuffers;
  /** Bound of the send queue in bytes. */
  maxQueuedBytes?: number;
}

interface Queued {
  data: Uint8Array;
  to: Endpoint;
}

export class DatagramSocket {
  /** Called for every datagram read; `data` is reused after the call returns. */
  onDatagram: (data: Uint8Array, from: Endpoint) => void = () => {};
  /** Sends that failed (the datagram is lost, as UDP loses it). */
  sendErrors = 0;
  /** Receives that failed for a reason other than the socket closing. */
  receiveErrors = 0;
  /** Datagrams still queued when the socket closed, never sent. */
  discarded = 0;
  readonly #conn: Deno.DatagramConn;
  /** The socket as libc sees it while it is open, else why not. */
  #os: OsSocket | string;
  /** The OS's drops when the socket closed. */
  #dropsAtClose: number | undefined;
  readonly #queue: Queued[] = [];
  #head = 0;
  #queuedBytes = 0;
  #sending = false;
  #closed = false;
  readonly #reading: Promise<void>;

  readonly maxQueuedBytes: number;

  private constructor(conn: Deno.DatagramConn, options: DatagramSocketOptions) {
    this.#conn = conn;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_SEND_QUEUE_BYTES;
    const os = options.os ?? "socket buffers and the OS's drops were not asked for";
    this.#os = typeof os === "string" ? os : os.find(conn.addr as Deno.NetAddr);
    if (typeof this.#os !== "string" && options.buffers) this.#os.setBuffers(options.buffers);
    this.#reading = this.#read();
  }

  /**
   * Binds `hostname:port` (0: any free port), exclusively. Throws Deno's error when the address
   * cannot be had (`Deno.errors.AddrInUse`, `PermissionDenied`, `AddrNotAvailable`).
   */
  static bind(
    hostname: string,
    port: number,
    options: DatagramSocketOptions = {},
  ): DatagramSocket {
    const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
    return new DatagramSocket(conn, options);
  }

  /** The buffer sizes the kernel granted, or why they are not known. */
  buffers(): SocketBuffers | string {
    return typeof this.#os === "string" ? this.#os : this.#os.buffers();
  }

  /** Datagrams the OS dropped on this socket (receive buffer full); undefined when unknown. */
  osDrops(): number | undefined {
    return typeof this.#os === "string" ? this.#dropsAtClose : this.#os.drops();
  }

  /** The bound port. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  /** Bytes waiting to be sent. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Queues one datagram for `to`; false when the queue is over its bound or the socket is closed
   * (count it as dropped). The bytes must not change afterwards: pass a copy if they are reused.
   */
  send(data: Uint8Array, to: Endpoint): boolean {
    if (this.#closed) return false;
    if (this.#queuedBytes + data.length > this.maxQueuedBytes && this.#sending) return false;
    this.#queue.push({ data, to });
    this.#queuedBytes += data.length;
    if (!this.#sending) this.#drain();
    return true;
  }

  /** Closes the socket; queued datagrams are discarded. Resolves once the read loop has ended. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // The descriptor may be reused once closed: read the last count now.
      if (typeof this.#os !== "string") this.#dropsAtClose = this.#os.drops();
      this.#os = "closed";
      this.discarded += this.#queue.length - this.#head;
      this.#queue.length = 0;
      this.#head = 0;
      this.#queuedBytes = 0;
      this.#conn.close();
    }
    await this.#reading;
  }

  /** Sends the queue in order, one datagram in flight; runs until the queue is empty. */
  async #drain(): Promise<void> {
    this.#sending = true;
    while (!this.#closed && this.#head < this.#queue.length) {
      const item = this.#queue[this.#head++];
      try {
        await this.#conn.send(item.data, item.to);
      } catch {
        if (this.#closed) break;
        this.sendErrors++;
      }
      this.#queuedBytes -= item.data.length;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
    }
    if (!this.#closed) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    this.#sending = false;
  }

  async #read(): Promise<void> {
    const buffer = takeReceiveBuffer();
    try {
      await this.#readInto(buffer);
    } finally {
      // The loop ended after its last receive settled: no operation holds the buffer any more.
      spareBuffers.push(buffer);
    }
  }

  async #readInto(buffer: Uint8Array): Promise<void> {
    let inARow = 0;
    while (!this.#closed) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await this.#conn.receive(buffer);
      } catch {
        if (this.#closed) return;
        this.receiveErrors++;
        await yieldToEventLoop();
        continue;
      }
      this.onDatagram(received[0], received[1] as Endpoint);
      if (++inARow >= YIELD_EVERY) {
        inARow = 0;
        await yieldToEventLoop();
      }
    }
  }
}

/**
 * Lets other sockets run before going on: `setImmediate` runs after pending I/O is served, where
 * Deno's `setTimeout(0)` would idle a millisecond or more while the kernel queue fills.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
