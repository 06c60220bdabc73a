/**
 * Reconnect delays: exponential with full jitter, capped, so many tools reconnecting to a relay
 * that just restarted do not arrive in lockstep.
 *
 * @module
 */

export interface BackoffOptions {
  /** First delay, ms. */
  initialMs: number;
  /** Largest delay, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/** The delay before attempt `attempt` (0-based): random in [cap/2, cap], cap doubling. */
export function backoffDelay(attempt: number, options: BackoffOptions, random = Math.random) {
  const cap = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * cap / 2);
}
