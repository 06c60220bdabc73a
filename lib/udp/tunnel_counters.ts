/**
 * What one tunnel end (exposer or connector) has done, as plain counters: forwarded datagrams and
 * bytes each way, and every datagram it did not forward, by reason. Nothing is lost without being
 * counted here; the tools print these and tests assert on them.
 *
 * @module
 */

export class TunnelCounters {
  /** Datagrams read from local UDP (the game client, or the user server). */
  fromLocal = 0;
  /** Datagrams read from local UDP and sent to the relay. */
  toRelay = 0;
  toRelayBytes = 0;
  /** Datagrams received from the relay and written to local UDP. */
  fromRelay = 0;
  fromRelayBytes = 0;
  /** Datagrams larger than the tunnel's maximum, in either direction; never truncated. */
  oversize = 0;
  /** Dropped because the relay socket's unsent backlog was over the bound. */
  droppedBackpressure = 0;
  /** Dropped because the relay or the other end was unavailable (reconnecting, host away). */
  droppedOffline = 0;
  /** Error frames the relay sent back for data (rate_limited, host_away, not_member…). */
  refusedByRelay = 0;
  /** Frames from the relay that were not valid tunnel frames, or named an unknown flow. */
  unroutable = 0;
  /** Datagrams that arrived on a client socket from someone other than the user server. */
  foreign = 0;

  /** Everything that was not forwarded. */
  get lost(): number {
    return this.oversize + this.droppedBackpressure + this.droppedOffline + this.unroutable +
      this.foreign;
  }

  /** One line for the console. */
  summary(): string {
    return `from local ${this.fromLocal}, to relay ${this.toRelay} (${this.toRelayBytes} B), from relay ${this.fromRelay} ` +
      `(${this.fromRelayBytes} B), oversize ${this.oversize}, dropped backpressure ` +
      `${this.droppedBackpressure}, dropped offline ${this.droppedOffline}, refused by relay ` +
      `${this.refusedByRelay}, unroutable ${this.unroutable}, foreign ${this.foreign}`;
  }
}
