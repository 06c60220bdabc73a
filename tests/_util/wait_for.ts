/**
 * Waits for state that has no event of its own (a subscription landing in the registry, a counter
 * reaching a value, a record written by another isolate), polling with a deadline: the test fails
 * with a message naming what it waited for instead of sleeping and hoping. Where an event exists,
 * wait on the event (TestSocket.next, nextEvent) instead.
 *
 * @example
 * ```ts
 * await waitFor(() => server.pubsub.registry.list().length === 1, { what: "the subscription" });
 * await waitFor(async () => (await fetch(url)).ok, { timeoutMs: 10_000, what: "the server" });
 * ```
 *
 * @module
 */

/** How long to wait and what for (the error message names it). */
export interface WaitOptions {
  /** Give up after this long; 3000 ms by default. */
  timeoutMs?: number;
  /** What the condition means, for the error: `timed out after 3000 ms waiting for <what>`. */
  what?: string;
  /** How often to check; 5 ms by default. */
  everyMs?: number;
}

/** Resolves once `condition()` (sync or async) is true; rejects after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 3000, what = "the condition", everyMs = 5 }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
