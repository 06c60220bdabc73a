/**
 * What one tunnel end (exposer or connector) has done, as plain counters: forwarded datagrams and
 * bytes each way, and every datagram it did not forward, by reason, including those the OS
 * dropped on its UDP sockets before the tool could read them. Nothing is lost without being
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
  /** Datagrams received from the relay and handed to local UDP. */
  fromRelay = 0;
  fromRelayBytes = 0;
  /** Datagrams larger than the tunnel's maximum, in either direction; never truncated. */
  oversize = 0;
  /** Dropped because the relay socket's unsent backlog, or a local send queue, was over its bound. */
  droppedBackpressure = 0;
  /** Dropped because the relay or the other end was unavailable (reconnecting, host away). */
  droppedOffline = 0;
  /** Error frames the relay sent back for data (rate_limited, host_away, not_member…). */
  refusedByRelay = 0;
  /** Frames from the relay that were not valid tunnel frames, or named an unknown flow. */
  unroutable = 0;
  /** Datagrams that arrived on a client socket from someone other than the user server. */
  foreign = 0;
  /** Datagrams handed to local UDP whose send failed (lost, as UDP loses them). */
  sendErrors = 0;
  /**
   * Datagrams the OS dropped on this tool's UDP sockets because a receive buffer was full, before
   * the tool could read them; undefined when the OS cannot be asked (no `--allow-ffi`, not Linux).
   */
  droppedByOs: number | undefined = undefined;

  /** Everything that was not forwarded. */
  get lost(): number {
    return this.oversize + this.droppedBackpressure + this.droppedOffline + this.unroutable +
      this.foreign + this.sendErrors + (this.droppedByOs ?? 0);
  }

  /** A copy, to compute rates against later. */
  snapshot(): TunnelCounters {
    return Object.assign(new TunnelCounters(), this);
  }

  /** Drops by reason, the non-zero ones: "none", or "by the OS 3, backpressure 2". */
  drops(): string {
    const reasons: [string, number | undefined][] = [
      ["by the OS", this.droppedByOs],
      ["backpressure", this.droppedBackpressure],
      ["offline", this.droppedOffline],
      ["oversize", this.oversize],
      ["send errors", this.sendErrors],
      ["unroutable", this.unroutable],
      ["foreign", this.foreign],
      ["refused by relay", this.refusedByRelay],
    ];
    const counted = reasons.filter(([, n]) => n).map(([reason, n]) => `${reason} ${n}`);
    const text = counted.length ? counted.join(", ") : "none";
    return this.droppedByOs === undefined ? `${text} (the OS's drops unknown)` : text;
  }

  /** One line for a periodic report: datagrams/s each way since `before`, and drops since. */
  rates(before: TunnelCounters, seconds: number): string {
    const perSec = (now: number, then: number) => ((now - then) / seconds).toFixed(1);
    const since = new TunnelCounters();
    for (const key of Object.keys(since) as (keyof TunnelCounters)[]) {
      const now = this[key], then = before[key];
      if (typeof now === "number") Object.assign(since, { [key]: now - (Number(then) || 0) });
    }
    return `to relay ${perSec(this.toRelay, before.toRelay)}/s, from relay ` +
      `${perSec(this.fromRelay, before.fromRelay)}/s; dropped: ${since.drops()}`;
  }

  /** The totals, for the end of a run. */
  summary(): string {
    return `from local ${this.fromLocal}, to relay ${this.toRelay} (${this.toRelayBytes} B), ` +
      `from relay ${this.fromRelay} (${this.fromRelayBytes} B); dropped: ${this.drops()}`;
  }
}

/** What a tool's UDP socket counts by itself (lib/udp/datagram_socket.ts). */
export interface CountingSocket {
  readonly sendErrors: number;
  osDrops(): number | undefined;
}

/**
 * Sums what a tool's sockets count, over the open ones and those already closed, into the tool's
 * counters: the exposer opens and closes a socket per client, and a closed client's drops still
 * count.
 */
export class SocketTotals {
  #closedSendErrors = 0;
  #closedOsDrops = 0;

  /** `osKnown`: whether the OS can be asked at all (see lib/udp/os_socket.ts). */
  constructor(readonly osKnown: boolean) {}

  /** Keeps a socket's last counts; call after it closed. */
  retire(socket: CountingSocket): void {
    this.#closedSendErrors += socket.sendErrors;
    this.#closedOsDrops += socket.osDrops() ?? 0;
  }

  /** Writes the totals over `open` and the retired sockets into `counters`. */
  update(counters: TunnelCounters, open: Iterable<CountingSocket>): TunnelCounters {
    let sendErrors = this.#closedSendErrors, osDrops = this.#closedOsDrops;
    for (const socket of open) {
      sendErrors += socket.sendErrors;
      osDrops += socket.osDrops() ?? 0;
    }
    counters.sendErrors = sendErrors;
    counters.droppedByOs = this.osKnown ? osDrops : undefined;
    return counters;
  }
}
