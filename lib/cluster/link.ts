/**
 * Sequence numbers per link (sender isolate → receiver isolate), so a receiver delivers each
 * link's envelopes in order, once, and notices loss instead of losing data silently.
 *
 * Every envelope a sender posts to one receiver carries the next number of that link, starting at
 * 1. The receiver delivers exactly the next one. A repeated or older number is a duplicate and is
 * dropped. A higher number is held while the ones before it may still come (a transport that
 * re-sends what it could not deliver, like the Redis bridge after an outage, can deliver out of
 * order): for at most `holdMs`, then the missing ones are reported lost and the held ones go on in
 * order. With `holdMs` 0 (transports that never re-send) a gap is reported at once. Broadcast
 * links (every isolate's publishes) are joined mid-stream: their first number starts them.
 *
 * @module
 */

/** Most envelopes held on one link while waiting for the ones before them. */
export const MAX_HELD = 10_000;

interface Inbound<T> {
  readonly link: string;
  expected: number;
  held: Map<number, T>;
  timer?: ReturnType<typeof setTimeout>;
}

/** What the receiver does with an envelope's order. */
export interface LinkEvents<T> {
  deliver(from: string, item: T): void;
  /** `lost` envelopes of `link` (from `from`) will never come; the next delivered follows them. */
  gap(from: string, lost: number, link: string): void;
}

export class Links<T> {
  readonly #sent = new Map<string, number>();
  readonly #inbound = new Map<string, Inbound<T>>();

  constructor(readonly holdMs: number, readonly events: LinkEvents<T>) {}

  /** The number for the next envelope to `to`. */
  next(to: string): number {
    const seq = (this.#sent.get(to) ?? 0) + 1;
    this.#sent.set(to, seq);
    return seq;
  }

  /**
   * Takes an arriving envelope numbered `seq` on the link from `from` (`link` names the link when
   * it differs from the sender, e.g. its broadcasts) and delivers what is now in order.
   */
  accept(from: string, seq: number, item: T, link = from, joinLate = false): void {
    let inbound = this.#inbound.get(link);
    if (!inbound) {
      inbound = { link, expected: joinLate ? seq : 1, held: new Map() };
      this.#inbound.set(link, inbound);
    }
    if (seq < inbound.expected || inbound.held.has(seq)) return; // a duplicate
    if (seq === inbound.expected) {
      inbound.expected++;
      this.events.deliver(from, item);
      if (inbound.held.size > 0) this.#drain(from, inbound);
      return;
    }
    inbound.held.set(seq, item);
    if (this.holdMs === 0 || inbound.held.size > MAX_HELD) return this.#skip(from, inbound);
    inbound.timer ??= setTimeout(() => {
      inbound.timer = undefined;
      this.#skip(from, inbound);
    }, this.holdMs);
  }

  /** Delivers held envelopes that are next in order. */
  #drain(from: string, inbound: Inbound<T>): void {
    let item: T | undefined;
    while ((item = inbound.held.get(inbound.expected)) !== undefined) {
      inbound.held.delete(inbound.expected);
      inbound.expected++;
      this.events.deliver(from, item);
    }
    if (inbound.held.size === 0) {
      clearTimeout(inbound.timer);
      inbound.timer = undefined;
    }
  }

  /** Gives up on the missing envelopes before the first held one, and goes on from there. */
  #skip(from: string, inbound: Inbound<T>): void {
    if (inbound.held.size === 0) return;
    const first = Math.min(...inbound.held.keys());
    const lost = first - inbound.expected;
    inbound.expected = first;
    this.events.gap(from, lost, inbound.link);
    this.#drain(from, inbound);
    if (inbound.held.size > 0) {
      inbound.timer ??= setTimeout(() => {
        inbound.timer = undefined;
        this.#skip(from, inbound);
      }, this.holdMs);
    }
  }

  /**
   * Drops what is held for an isolate taken for gone (`links`: its inbound links' names), but
   * keeps the numbers on both sides. An isolate id is never reused (a restarted process has a new
   * one), so numbers never go back; and an isolate taken for dead while it was only paused (a
   * stopped process, a long GC) goes on from where it was: had we started again at 1, every
   * envelope it sent us would count as new and every one we sent it as a duplicate, and the two
   * would never hear each other again. What is kept is two numbers per isolate ever seen.
   */
  forget(isolate: string, ...links: string[]): void {
    for (const link of [isolate, ...links]) {
      const inbound = this.#inbound.get(link);
      if (!inbound) continue;
      clearTimeout(inbound.timer);
      inbound.timer = undefined;
      inbound.held.clear();
    }
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const inbound of this.#inbound.values()) clearTimeout(inbound.timer);
    this.#inbound.clear();
  }
}
