/**
 * Sequence numbers per link (sender isolate → receiver isolate), so a receiver notices lost
 * bridge messages instead of losing data silently.
 *
 * Every envelope a sender posts to one receiver carries the next number of that link, starting at
 * 1. The receiver expects exactly the next one: a higher number means the messages in between were
 * lost (reported as a gap, then accepted so the link goes on); a lower or repeated one is a
 * duplicate and is dropped. A link numbers every instance's traffic between the two isolates, so
 * per-sender order within an instance follows and any loss on the link is seen.
 *
 * @module
 */

export class LinkSequencer {
  readonly #sent = new Map<string, number>();
  readonly #expected = new Map<string, number>();

  /** The number for the next envelope to `to`. */
  next(to: string): number {
    const seq = (this.#sent.get(to) ?? 0) + 1;
    this.#sent.set(to, seq);
    return seq;
  }

  /**
   * Checks an arriving number from `from`: 0 = in order, n > 0 = n messages were lost before
   * this one, -1 = a duplicate or stale message to drop. With `joinLate` (a broadcast link, which
   * a receiver may start listening to mid-stream) the first number seen is taken as the start.
   */
  check(from: string, seq: number, joinLate = false): number {
    // A broadcast link is joined mid-stream: its first number, whatever it is, starts it.
    const expected = this.#expected.get(from) ?? (joinLate ? seq : 1);
    if (seq < expected) return -1;
    this.#expected.set(from, seq + 1);
    return seq - expected;
  }

  /** Forgets both directions of the links with an isolate that is gone. */
  forget(isolate: string): void {
    this.#sent.delete(isolate);
    this.#expected.delete(isolate);
  }
}
