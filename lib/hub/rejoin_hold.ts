/**
 * Frames held for the members of an adopted instance who have not rejoined yet.
 *
 * When a host's resume adopts an instance (its isolate drained or died: a restart, a deploy), the
 * instance starts with no members: they reconnect and rejoin on their own, some milliseconds to a
 * few seconds after the host. What the host broadcasts meanwhile would reach nobody. So for
 * {@link RejoinLimits.holdMs} after the adoption, or until as many members rejoined as the
 * instance had (its record's count), its broadcasts are also kept here, in order, and a member
 * whose join says `rejoin` gets them right after its `ack`, before anything newer. A frame sent
 * `to` a member not back yet is refused `not_member` as always: its sender learns it did not
 * arrive (and a host can ask who is back that way). Bounded by {@link RejoinLimits.maxBytes}: past
 * that nothing more is kept and each member rejoining is told how many frames it missed
 * (`missed_frames`), never silently. In memory only, like every frame on its way: nothing of it is
 * stored.
 *
 * {@link MemberHold} does the same for one member of an instance that stays here, whose socket
 * moves to another isolate (that isolate drains): its frames wait, and its place, for its rejoin.
 *
 * @module
 */

/** `WSTUN_REJOIN_HOLD_MS` and `WSTUN_REJOIN_HOLD_BYTES`. */
export interface RejoinLimits {
  /** How long after an adoption frames are held for members who have not rejoined yet. */
  holdMs: number;
  /** The most bytes held for one instance; 0 holds nothing. */
  maxBytes: number;
}

/** What a rejoining member gets: the frames held, and how many it missed past the limit. */
export interface Replay {
  frames: (string | Uint8Array<ArrayBuffer>)[];
  missed: number;
}

export class RejoinHold {
  readonly #held: (string | Uint8Array<ArrayBuffer>)[] = [];
  #bytes = 0;
  /** Frames not held because the limit was reached (every rejoining member missed them). */
  #missed = 0;
  #rejoined = 0;

  /** `expected`: how many members the instance had before it moved. */
  constructor(readonly expected: number, readonly maxBytes: number) {}

  /** True while members are still expected back. */
  get open(): boolean {
    return this.#rejoined < this.expected;
  }

  /** Keeps a broadcast of the host. */
  hold(data: string | Uint8Array<ArrayBuffer>): void {
    const size = typeof data === "string" ? data.length : data.byteLength;
    if (this.#missed > 0 || this.#bytes + size > this.maxBytes) {
      this.#missed++;
      return;
    }
    this.#held.push(data);
    this.#bytes += size;
  }

  /** A member rejoined: the frames held, in the order they were sent. */
  rejoin(): Replay {
    this.#rejoined++;
    return { frames: this.#held, missed: this.#missed };
  }
}

/**
 * The place of a member whose socket is moving to another isolate (its isolate drains, the
 * instance stays here): it stands in for the member's peer, so what is sent to the member
 * meanwhile (broadcasts, frames `to` it, server notifications) is kept in order, bounded like a
 * {@link RejoinHold}, until the member rejoins (`rejoin`, same userId) and takes its place back,
 * or the hold ends (`WSTUN_REJOIN_HOLD_MS`) and the member is gone like any other. A `Peer`
 * (lib/hub/peer.ts) by its shape, without a `group`: the fan-out plan reaches it directly.
 */
export class MemberHold {
  readonly #frames: RejoinHold;
  /** Ends the hold (the member is announced gone) when it has not rejoined by then. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The old socket is gone (its isolate said so): nothing is told there when the hold ends. */
  detached = false;

  constructor(maxBytes: number) {
    this.#frames = new RejoinHold(1, maxBytes);
  }

  sendText(text: string): void {
    this.#frames.hold(text);
  }

  sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    this.#frames.hold(bytes);
  }

  /** The member is back: what was kept for it, in order, and how many frames it missed. */
  replay(): Replay {
    clearTimeout(this.timer);
    return this.#frames.rejoin();
  }
}
