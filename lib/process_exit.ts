/**
 * How a server process ends on SIGINT or SIGTERM (Deno Deploy sends SIGINT, then SIGKILL 5 s
 * later): it drains within `WSTUN_DRAIN_MS` (docs/protocol.md, "Draining and moving rooms"), then
 * exits; a second signal exits at once. One place for main.ts and the worker pool.
 *
 * @module
 */

/**
 * Runs `drain(deadline)` on the first SIGINT/SIGTERM (after `stopping(signal)`, which logs it)
 * and exits; exits at once on a second.
 */
export function exitOnSignals(
  drainMs: number,
  stopping: (signal: string) => void,
  drain: (deadline: number) => Promise<void>,
): void {
  let draining = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      if (draining) Deno.exit(130);
      draining = true;
      stopping(signal);
      const deadline = Date.now() + drainMs;
      within(deadline, drain(deadline)).catch((err) => {
        console.error(`wstun: drain failed: ${err}`);
      }).finally(() => Deno.exit(0));
    });
  }
}

/** `work`, or a resolution at `deadline`, whichever comes first. */
export async function within(deadline: number, work: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
