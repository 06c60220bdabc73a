/**
 * What the Redis bridge has to say to one channel and could not yet: messages are published in
 * order, pipelined; one that fails (Redis away: the client refuses at once) or, on an isolate's
 * inbox, reaches no subscriber (the receiver's connection is between reconnects) stops the flow,
 * and from then on the outbox re-sends in order, one at a time with a short backoff, until one
 * gets through, then flows again. So a short outage of Redis delays messages and loses none.
 *
 * Bounds: a message older than `maxAgeMs` (the bridge time-out) or past `maxBytes` of waiting
 * messages (the oldest first) is dropped; the receiver reports the gap in its sequence numbers
 * (`bridge_gap`), so loss past the bounds is never silent. A message published after one that
 * failed may arrive first; the receiver holds it until the earlier one comes (lib/cluster/link.ts).
 *
 * @module
 */

/** One message waiting: its text and when it was posted. */
interface Item {
  readonly text: string;
  readonly at: number;
}

export interface OutboxLimits {
  maxBytes: number;
  maxAgeMs: number;
}

/** Publishes `text`; resolves with how many subscribers received it. */
export type Publish = (text: string) => Promise<number>;

const FIRST_RETRY_MS = 25;
const LAST_RETRY_MS = 500;

export class RedisOutbox {
  readonly #publish: Publish;
  readonly #limits: OutboxLimits;
  /** True when a message counts as delivered only if a subscriber received it (an inbox). */
  readonly #needsReceiver: boolean;
  readonly #now: () => number;
  /** Not yet published, oldest first (published in flow, or re-sent once recovering). */
  #waiting: Item[] = [];
  /** Bytes of the messages held: failed and waiting ones. */
  #bytes = 0;
  /** Published but not confirmed, in order. */
  #inflight = 0;
  /** Published in flow but failed, in order: re-sent first. */
  #failed: Item[] = [];
  #recovering = false;
  #retryMs = FIRST_RETRY_MS;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Messages dropped past the bounds (the receiver sees the gap). */
  dropped = 0;

  constructor(publish: Publish, limits: OutboxLimits, needsReceiver: boolean, now = Date.now) {
    this.#publish = publish;
    this.#limits = limits;
    this.#needsReceiver = needsReceiver;
    this.#now = now;
  }

  push(text: string): void {
    if (this.#closed) return;
    const item = { text, at: this.#now() };
    if (!this.#recovering) return this.#send(item);
    this.#waiting.push(item);
    this.#bytes += text.length;
    this.#trim();
  }

  /** Stops re-sending (the isolate is gone, or the bridge closes). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#waiting = [];
    this.#failed = [];
  }

  #send(item: Item): void {
    this.#inflight++;
    this.#publish(item.text).then(
      (receivers) => this.#settled(item, receivers > 0 || !this.#needsReceiver),
      () => this.#settled(item, false),
    );
  }

  #settled(item: Item, delivered: boolean): void {
    this.#inflight--;
    if (!delivered) {
      this.#failed.push(item);
      this.#bytes += item.text.length;
      this.#recovering = true;
      this.#trim();
    }
    if (this.#recovering && this.#inflight === 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#retry();
    }, this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, LAST_RETRY_MS);
  }

  /** Re-sends the oldest message alone; once one gets through, the rest flow again. */
  #retry(): void {
    if (this.#closed) return;
    this.#waiting = [...this.#failed, ...this.#waiting];
    this.#failed = [];
    this.#expire();
    const first = this.#waiting.shift();
    if (!first) return this.#resume();
    this.#bytes -= first.text.length;
    this.#inflight++;
    const back = (delivered: boolean) => {
      this.#inflight--;
      if (!delivered) {
        this.#waiting.unshift(first);
        this.#bytes += first.text.length;
        return this.#schedule();
      }
      this.#resume();
    };
    this.#publish(first.text).then(
      (receivers) => back(receivers > 0 || !this.#needsReceiver),
      () => back(false),
    );
  }

  /** Back in flow: everything waiting goes out in order. */
  #resume(): void {
    this.#recovering = false;
    this.#retryMs = FIRST_RETRY_MS;
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#bytes = 0;
    for (const item of waiting) this.#send(item);
  }

  /** Drops what has waited longer than the bridge time-out. */
  #expire(): void {
    const oldest = this.#now() - this.#limits.maxAgeMs;
    let n = 0;
    while (n < this.#waiting.length && this.#waiting[n].at < oldest) {
      this.#bytes -= this.#waiting[n].text.length;
      n++;
    }
    if (n === 0) return;
    this.#waiting.splice(0, n);
    this.dropped += n;
  }

  /** Drops the oldest messages held (failed ones, then waiting ones) past the byte bound. */
  #trim(): void {
    for (const held of [this.#failed, this.#waiting]) {
      let n = 0;
      while (this.#bytes > this.#limits.maxBytes && n < held.length) {
        this.#bytes -= held[n].text.length;
        n++;
      }
      held.splice(0, n);
      this.dropped += n;
    }
  }
}
