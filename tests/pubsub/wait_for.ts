/**
 * Waits for server-side state that has no event of its own (a subscription landing in the
 * registry), polling with a deadline: the test fails with a clear message instead of sleeping and
 * hoping.
 *
 * @module
 */
export async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
