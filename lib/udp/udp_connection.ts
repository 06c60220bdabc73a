/**
 * A `/_udp` socket on the relay: a hub {@link Connection} whose binary deliveries follow UDP's
 * rules. When the socket's unsent backlog is over `udpMaxBufferedBytes`, a datagram for it is
 * dropped and counted (`udpDatagramsDropped` in /_api/stats) instead of queued: a slow tunnel
 * end loses datagrams, as UDP would, and the relay's memory per socket stays bounded (by the
 * bound plus 64 KiB plus one frame, see {@link CHECK_EVERY_BYTES}). Text
 * frames (control, notifications) keep the hub's rules, so the tunnel's signalling is never lost.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { type ChannelAccess, Connection } from "../connection.ts";
import type { Hub } from "../hub/hub.ts";
import type { Stats } from "../stats.ts";
import { decodeBinaryHeader } from "../binary_frame.ts";
import { datagramCount } from "./datagram_frame.ts";

/**
 * Bytes sent between two reads of `bufferedAmount` while the socket keeps up: the read is a call
 * into the runtime, so the backlog may pass the bound by at most this much plus one frame.
 */
const CHECK_EVERY_BYTES = 64 * 1024;

export class UdpConnection extends Connection {
  readonly #maxBuffered: number;
  #sinceCheck = 0;
  /** Over the bound at the last read; then every frame reads again until it drains. */
  #backedUp = false;

  constructor(
    socket: WebSocket,
    hub: Hub,
    config: Config,
    stats: Stats,
    channels?: ChannelAccess,
  ) {
    // Datagram rates run far above chat rates; the UDP route has its own per-socket limit.
    super(socket, hub, { ...config, maxMsgsPerSec: config.udpMaxMsgsPerSec }, stats, channels);
    this.#maxBuffered = config.udpMaxBufferedBytes;
  }

  override sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.#maxBuffered && this.#overBound(bytes.length)) {
      // A batch frame carries several datagrams: each one counts.
      const frame = decodeBinaryHeader(bytes);
      const payload = typeof frame === "string" ? bytes : bytes.subarray(frame.payloadOffset);
      this.stats.udpDatagramsDropped += datagramCount(payload);
      return;
    }
    this.stats.udpFrames++;
    super.sendBinary(bytes);
  }

  #overBound(size: number): boolean {
    this.#sinceCheck += size;
    if (!this.#backedUp && this.#sinceCheck < CHECK_EVERY_BYTES) return false;
    this.#sinceCheck = 0;
    this.#backedUp = this.socket.bufferedAmount > this.#maxBuffered;
    return this.#backedUp;
  }
}
