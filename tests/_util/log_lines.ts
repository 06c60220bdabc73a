/**
 * Test-only: a {@link Logger} whose JSON lines are kept in memory, and a wait for a line of an
 * event that wakes on each new line (no polling, no sleeping).
 *
 * @module
 */
import { Logger, type LogLevel } from "../../lib/log.ts";

/** One log line, parsed. */
// deno-lint-ignore no-explicit-any
export type LogLine = Record<string, any>;

export class LogLines {
  readonly lines: LogLine[] = [];
  readonly log: Logger;
  readonly #waiters = new Set<() => void>();

  constructor(level: Exclude<LogLevel, "off"> = "debug") {
    this.log = new Logger({
      level,
      format: "json",
      write: (line) => {
        this.lines.push(JSON.parse(line));
        for (const wake of [...this.#waiters]) wake();
      },
    });
  }

  /** The lines of `event` so far. */
  of(event: string): LogLine[] {
    return this.lines.filter((line) => line.event === event);
  }

  /** The first line of `event` whose fields include `where`, once written; fails after `ms`. */
  async next(event: string, where: LogLine = {}, ms = 5000): Promise<LogLine> {
    const deadline = Date.now() + ms;
    const matches = (line: LogLine) =>
      line.event === event && Object.entries(where).every(([k, v]) => line[k] === v);
    for (;;) {
      const found = this.lines.find(matches);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event} ${JSON.stringify(where)} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        const waiters = this.#waiters;
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  }
}
