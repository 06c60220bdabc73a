/**
 * The authorizer webhook client, wsify-compatible: each event is POSTed as JSON
 * `{"command", "args"}`; 200 = allowed, 5xx / time-out / unreachable = unavailable, anything else =
 * denied.
 *
 * What it guarantees:
 * - One call per event, never retried (a retry could authorize twice what the client sent once).
 * - Each call ends within `timeoutMs`, body included; a slow authorizer is "unavailable".
 * - Connections are reused: the response body is always read to the end, which is what lets
 *   `fetch` return the connection to its keep-alive pool.
 * - Events not listed in `events` are allowed without a call.
 *
 * `fetch` is injected so a deployment can pass a configured client and tests a counting one.
 *
 * @module
 */
import { Histogram, SECONDS_BOUNDS } from "../telemetry/histogram.ts";

/** Events the authorizer may be asked about, as wsify names them. */
export const AUTHORIZER_EVENTS = ["connect", "join", "leave", "broadcast"] as const;
export type AuthorizerEvent = typeof AUTHORIZER_EVENTS[number];

/** The authorizer's answer. */
export type AuthorizerVerdict = "allowed" | "denied" | "unavailable";

/** The body POSTed to the authorizer: wsify's message shape, plus WSTun's optional extras. */
export interface AuthorizerRequest {
  command: AuthorizerEvent;
  args: unknown;
  /** Native `/_ws` requests only: the upgrade's headers and query, so the client can be identified. */
  client?: { headers: Record<string, string[]>; query: Record<string, string[]> };
}

export interface AuthorizerOptions {
  url?: string;
  timeoutMs: number;
  events: ReadonlySet<AuthorizerEvent>;
  fetch?: typeof fetch;
}

/** Counters for `/_api/stats`. */
export interface AuthorizerStats {
  calls: number;
  denied: number;
  unavailable: number;
}

/** Asks the authorizer webhook whether an event may happen. */
export class Authorizer {
  #url?: string;
  #timeoutMs: number;
  #events: ReadonlySet<AuthorizerEvent>;
  #fetch: typeof fetch;
  #stats: AuthorizerStats = { calls: 0, denied: 0, unavailable: 0 };
  /** How long each call took, body included (`wstun_authorizer_duration_seconds`). */
  readonly latency = new Histogram(SECONDS_BOUNDS);

  constructor(options: AuthorizerOptions) {
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#events = options.events;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Whether a webhook is set at all. */
  get configured(): boolean {
    return this.#url !== undefined;
  }

  /** Whether `event` needs a call; when false, {@linkcode check} answers "allowed" at once. */
  asks(event: AuthorizerEvent): boolean {
    return this.#url !== undefined && this.#events.has(event);
  }

  /** POSTs the event and maps the status to a verdict. Never throws. */
  async check(request: AuthorizerRequest): Promise<AuthorizerVerdict> {
    if (!this.asks(request.command)) return "allowed";
    this.#stats.calls++;
    const started = performance.now();
    const verdict = await this.#call(request);
    this.latency.observe((performance.now() - started) / 1000);
    if (verdict === "denied") this.#stats.denied++;
    if (verdict === "unavailable") this.#stats.unavailable++;
    return verdict;
  }

  stats(): AuthorizerStats {
    return { ...this.#stats };
  }

  async #call(request: AuthorizerRequest): Promise<AuthorizerVerdict> {
    try {
      const response = await this.#fetch(this.#url!, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      // Read to the end so the connection goes back to the pool (and within the time-out).
      await response.arrayBuffer();
      if (response.status === 200) return "allowed";
      if (response.status >= 500) return "unavailable";
      return "denied";
    } catch {
      // Unreachable, refused, reset or timed out: all mean "the authorizer is down".
      return "unavailable";
    }
  }
}
