/**
 * What `udp-expose` and `udp-connect` do the same way around their tool: run until Ctrl-C (or
 * until the tool ends itself), print the counters on a timer and once more on the way out, and
 * turn a usage error into one line plus the usage text and exit code 2.
 *
 * @module
 */
import { clock, UsageError } from "../lib/udp/tool_options.ts";

/** The part of a running UDP tool the command line drives. */
export interface RunningTool {
  stop(): Promise<void>;
  readonly counters: { summary(): string };
}

/**
 * Prints `tool`'s counters every `reportMs` (0: never) until Ctrl-C or `ended` resolves, then
 * stops the tool and prints them once more.
 */
export async function runUntilInterrupted(
  tool: RunningTool,
  reportMs: number,
  ended: Promise<void> = new Promise(() => {}),
): Promise<void> {
  const report = reportMs
    ? setInterval(() => console.log(`${clock()} ${tool.counters.summary()}`), reportMs)
    : undefined;
  const interrupted = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", interrupted.resolve);
  await Promise.race([interrupted.promise, ended]);
  clearInterval(report);
  await tool.stop();
  console.log(`${clock()} stopped; ${tool.counters.summary()}`);
}

/** Runs `main` as the process: exits with its code, or with 2 and the usage on a bad argument. */
export async function runTool(
  name: string,
  usage: string,
  main: (args: string[]) => Promise<number>,
): Promise<never> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${name}: ${err.message}\n\n${usage}`);
    Deno.exit(2);
  }
}
