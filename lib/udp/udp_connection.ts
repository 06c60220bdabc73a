/**
 * A `/_udp` socket on the relay: a hub {@link Connection} whose binary deliveries follow UDP's
 * rules. When the socket's unsent backlog is over `udpMaxBufferedBytes`, a datagram for it is
 * dropped and counted (`udpDatagramsDropped` in /_api/stats) instead of queued: a slow tunnel
 * end loses datagrams, as UDP would, and the relay's memory per socket stays bounded. Text
 * frames (control, notifications) keep the hub's rules, so the tunnel's signalling is never lost.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { Connection } from "../connection.ts";
import type { Hub } from "../hub/hub.ts";
import type { Stats } from "../stats.ts";

export class UdpConnection extends Connection {
  readonly #maxBuffered: number;

  constructor(socket: WebSocket, hub: Hub, config: Config, stats: Stats) {
    // Datagram rates run far above chat rates; the UDP route has its own per-socket limit.
    super(socket, hub, { ...config, maxMsgsPerSec: config.udpMaxMsgsPerSec }, stats);
    this.#maxBuffered = config.udpMaxBufferedBytes;
  }

  override sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.#maxBuffered && this.socket.bufferedAmount > this.#maxBuffered) {
      this.stats.udpDatagramsDropped++;
      return;
    }
    super.sendBinary(bytes);
  }
}
