/**
 * How a server process ends on SIGINT or SIGTERM (Deno Deploy sends SIGINT, then SIGKILL 5 s
 * later): it drains within `WSTUN_DRAIN_MS` (docs/protocol.md, "Draining and moving rooms"), then
 * exits; a second signal exits at once. One place for main.ts and the worker pool.
 *
 * One Ctrl-C often arrives more than once: `deno task` forwards the terminal's SIGINT to a server
 * that already got it from the terminal, and a process-group kill (a supervisor, `kill -- -PGID`)
 * reaches both; the copies land within a few milliseconds. Signals within
 * {@link REPEAT_WINDOW_MS} of the first are that same signal, not a second one.
 *
 * @module
 */

/** Signals this soon after the first are copies of it (measured: 2 ms apart under `deno task`). */
export const REPEAT_WINDOW_MS = 250;

/** How a signalled process ended. */
export type ExitReason = "drained" | "drain_timed_out" | "drain_failed" | "second_signal";

/** What a process does when signalled. */
export interface ExitHooks {
  /** The first signal: log it. */
  stopping(signal: string): void;
  /** Drain, finishing by `deadline` (ms since the epoch) if it can; false: something was late. */
  drain(deadline: number): Promise<boolean>;
  /** Just before the exit: log how it ended (`error` when the drain threw). */
  exiting(reason: ExitReason, error?: unknown): void;
}

/**
 * Runs `hooks.drain(deadline)` on the first SIGINT/SIGTERM and exits 0 when it is done or the
 * deadline passes; a second signal (later than {@link REPEAT_WINDOW_MS}) exits 130 at once.
 */
export function exitOnSignals(drainMs: number, hooks: ExitHooks): void {
  let firstAt: number | undefined;
  const onSignal = (signal: string) => {
    const now = Date.now();
    if (firstAt !== undefined) {
      if (now - firstAt < REPEAT_WINDOW_MS) return;
      hooks.exiting("second_signal");
      Deno.exit(130);
    }
    firstAt = now;
    hooks.stopping(signal);
    const deadline = now + drainMs;
    byDeadline(deadline, hooks.drain(deadline), false).then(
      (inTime) => hooks.exiting(inTime ? "drained" : "drain_timed_out"),
      (error) => hooks.exiting("drain_failed", error),
    ).finally(() => Deno.exit(0));
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => onSignal(signal));
  }
}

/** Whether `work` finished before `deadline` (false: the deadline came first). */
export function within(deadline: number, work: Promise<void>): Promise<boolean> {
  return byDeadline(deadline, work.then(() => true), false);
}

/** What `work` gives, or `late` if `deadline` comes first. */
export async function byDeadline<T>(deadline: number, work: Promise<T>, late: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
