/**
 * Counts by a label value (a close code, an error code, a reason), for events rarer than frames.
 * The keys come from the code's own constants or are bucketed by the caller, so the number of
 * keys, and of series a scrape returns, stays bounded whatever clients send.
 *
 * @module
 */

/**
 * @example
 * ```ts
 * const refusals = new Tally();
 * refusals.add("rate_limited");
 * refusals.get("rate_limited"); // 1
 * ```
 */
export class Tally {
  readonly #counts = new Map<string, number>();

  add(key: string, n = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + n);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** The sum over every key. */
  total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  entries(): [string, number][] {
    return [...this.#counts];
  }
}
