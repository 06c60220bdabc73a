/**
 * The reconnect loop of both UDP tools: after the relay link is lost, wait a backoff delay, try
 * again, and so on until an attempt succeeds or the tool stops.
 *
 * Guarantees: every wait is announced (`onWait`) with the last failure's reason and the delay, so
 * a tool never retries silently; `stop()` ends a wait at once and resolves when the loop has
 * finished, so stopping a tool never hangs on a pending retry.
 *
 * @module
 */
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.ts";
import { isLinkError } from "./relay_link.ts";

export interface RetryLoopOptions {
  /** Delays between attempts; {@link DEFAULT_BACKOFF} when unset. */
  backoff?: BackoffOptions;
  /** One attempt to get the link back: a `LinkError` means try again, anything else success. */
  attempt(): Promise<unknown>;
  /** Called before each wait. */
  onWait(reason: string, retryInMs: number): void;
}

export class RetryLoop {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #endWait: (() => void) | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(readonly options: RetryLoopOptions) {}

  /** Starts retrying after a loss described by `reason` (the caller runs one loop at a time). */
  start(reason: string): void {
    if (!this.#stopped) this.#running = this.#run(reason);
  }

  /** Ends the loop, including a wait in progress, and resolves once it has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#endWait?.();
    await this.#running;
  }

  async #run(reason: string): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      const delay = backoffDelay(attempt, this.options.backoff ?? DEFAULT_BACKOFF);
      this.options.onWait(reason, delay);
      await new Promise<void>((resolve) => {
        this.#endWait = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
      if (this.#stopped) return;
      const result = await this.options.attempt();
      if (!isLinkError(result)) return;
      reason = result.message;
    }
  }
}
