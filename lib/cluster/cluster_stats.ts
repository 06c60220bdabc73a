/**
 * Counters of this isolate's bridge traffic since start, as `/_api/stats` reports them under
 * `bridge`: plain numbers, one addition per envelope.
 *
 * @module
 */
import type { Body } from "./envelope.ts";

export class ClusterStats {
  /** Envelopes posted to other isolates (a broadcast counts once). */
  sent = 0;
  /** Envelopes received from other isolates, valid ones. */
  received = 0;
  /** Envelopes posted, by body kind (`out` is one per isolate a frame goes to, whatever the count of sockets there). */
  readonly sentByKind: Record<Body["k"], number> = {
    req: 0,
    answer: 0,
    member: 0,
    data: 0,
    bin: 0,
    out: 0,
    outbin: 0,
    undo: 0,
    detach: 0,
    hold: 0,
    held: 0,
    beat: 0,
    bye: 0,
    bye_seen: 0,
    adopted: 0,
    chpub: 0,
    tun: 0,
    stats_req: 0,
    stats: 0,
  };
  /** Envelopes known lost on a direct link (reported to sockets as `bridge_gap`). */
  lost = 0;
  /** Channel publishes from other isolates known lost (a gap on their broadcast link). */
  channelMessagesLost = 0;
  /** Requests that got no answer from their owner in time (`bridge_timeout`). */
  timedOut = 0;
  /** Envelopes refused on receipt: not valid (a bug, or another version of WSTun). */
  invalid = 0;

  /** The figures as JSON. */
  snapshot() {
    return {
      sent: this.sent,
      received: this.received,
      sentByKind: { ...this.sentByKind },
      lost: this.lost,
      channelMessagesLost: this.channelMessagesLost,
      timedOut: this.timedOut,
      invalid: this.invalid,
    };
  }
}
