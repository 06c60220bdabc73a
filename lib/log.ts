/**
 * Structured logs: one line per event, either a JSON object (`ts`, `level`, `event`, then the
 * fields) or, for a person at a terminal, `ts LEVEL event key=value…`.
 *
 * What it guarantees:
 * - **Bounded under floods.** Each event name may write `burst` lines per `windowMs`; the rest of
 *   the window is counted, and one `log.suppressed` line says how many were left out (when the
 *   event next occurs after the window, or at {@link Logger.flush}). Event names are constants of
 *   the code, so the limiter's state stays small whatever clients do.
 * - **No secrets.** Callers pass only what an operator needs (never a token, secret, key or
 *   message content); as a second line of defence any field whose name ends in token, secret,
 *   password, key, authorization or cookie is written as `[redacted]` (`adminTokenSet`, a
 *   boolean, is kept).
 * - **No module state.** A logger is an object (`createServer` makes one per server), so one
 *   process can run many servers with their own loggers.
 *
 * With `OTEL_DENO=true`, Deno exports each line as an OpenTelemetry log record too.
 *
 * @module
 */

/** Levels, least to most severe; `off` writes nothing. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "off"] as const;
export type LogLevel = typeof LOG_LEVELS[number];
export type LogFormat = "json" | "text";

/** Field values a line may carry. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where a finished line goes; default `console.log` (debug, info) and `console.error`. */
  write?: (line: string, level: Exclude<LogLevel, "off">) => void;
  now?: () => number;
  /** Lines one event may write per window; default 20. */
  burst?: number;
  /** The window of `burst`, in milliseconds; default 10 000. */
  windowMs?: number;
  /** Fields every line carries, e.g. `{ isolate }`. */
  base?: LogFields;
}

const SECRET_FIELD = /(token|secret|password|passwd|key|authorization|cookie)$/i;
const RESERVED = new Set(["ts", "level", "event"]);

interface Budget {
  windowStart: number;
  written: number;
  suppressed: number;
}

/**
 * @example
 * ```ts
 * const log = new Logger({ level: "info", format: "json" });
 * log.info("upgrade.refused", { path: "/_ws", reason: "limit_reached" });
 * // {"ts":"…","level":"info","event":"upgrade.refused","path":"/_ws","reason":"limit_reached"}
 * ```
 */
export class Logger {
  readonly #min: number;
  readonly #format: LogFormat;
  readonly #write: NonNullable<LoggerOptions["write"]>;
  readonly #now: () => number;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #base: LogFields;
  readonly #budgets: Map<string, Budget>;

  constructor(options: LoggerOptions = {}, budgets = new Map<string, Budget>()) {
    this.#min = LOG_LEVELS.indexOf(options.level ?? "info");
    this.#format = options.format ?? "json";
    this.#write = options.write ?? writeToConsole;
    this.#now = options.now ?? Date.now;
    this.#burst = options.burst ?? 20;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#base = options.base ?? {};
    this.#budgets = budgets;
  }

  /** A logger whose lines also carry `fields`, sharing this one's rate limits. */
  with(fields: LogFields): Logger {
    return new Logger({
      level: LOG_LEVELS[this.#min],
      format: this.#format,
      write: this.#write,
      now: this.#now,
      burst: this.#burst,
      windowMs: this.#windowMs,
      base: { ...this.#base, ...fields },
    }, this.#budgets);
  }

  /** Whether lines of `level` are written at all (to skip building costly fields). */
  enabled(level: Exclude<LogLevel, "off">): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#min;
  }

  debug(event: string, fields?: LogFields): void {
    this.#log("debug", event, fields);
  }

  info(event: string, fields?: LogFields): void {
    this.#log("info", event, fields);
  }

  warn(event: string, fields?: LogFields): void {
    this.#log("warn", event, fields);
  }

  error(event: string, fields?: LogFields): void {
    this.#log("error", event, fields);
  }

  /** Writes the `log.suppressed` line of every event that has one pending (at shutdown). */
  flush(): void {
    for (const [event, budget] of this.#budgets) this.#summarise(event, budget);
  }

  #log(level: Exclude<LogLevel, "off">, event: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    if (!this.#admit(event)) return;
    this.#emit(level, event, { ...this.#base, ...fields });
  }

  #admit(event: string): boolean {
    const now = this.#now();
    let budget = this.#budgets.get(event);
    if (!budget) {
      budget = { windowStart: now, written: 0, suppressed: 0 };
      this.#budgets.set(event, budget);
    }
    if (now - budget.windowStart >= this.#windowMs) {
      this.#summarise(event, budget);
      budget.windowStart = now;
      budget.written = 0;
    }
    if (budget.written < this.#burst) {
      budget.written++;
      return true;
    }
    budget.suppressed++;
    return false;
  }

  #summarise(event: string, budget: Budget): void {
    if (budget.suppressed === 0) return;
    const fields = { ...this.#base, suppressedEvent: event, count: budget.suppressed };
    budget.suppressed = 0;
    this.#emit("warn", "log.suppressed", fields);
  }

  #emit(level: Exclude<LogLevel, "off">, event: string, fields: LogFields): void {
    const ts = new Date(this.#now()).toISOString();
    const safe: LogFields = {};
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined || RESERVED.has(key)) continue;
      safe[key] = SECRET_FIELD.test(key) ? "[redacted]" : value;
    }
    const line = this.#format === "json"
      ? JSON.stringify({ ts, level, event, ...safe })
      : textLine(ts, level, event, safe);
    this.#write(line, level);
  }
}

function textLine(ts: string, level: string, event: string, fields: LogFields): string {
  const pairs = Object.entries(fields).map(([key, value]) => {
    const text = String(value);
    return `${key}=${/^[\w./:@+-]+$/.test(text) ? text : JSON.stringify(text)}`;
  });
  return [ts, level.toUpperCase().padEnd(5), event, ...pairs].join(" ");
}

function writeToConsole(line: string, level: Exclude<LogLevel, "off">): void {
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
}

/** JSON unless stdout is a terminal (a person reading): the default of `WSTUN_LOG_FORMAT`. */
export function defaultLogFormat(isTerminal = () => Deno.stdout.isTerminal()): LogFormat {
  try {
    return isTerminal() ? "text" : "json";
  } catch {
    // No stdout to ask (some embedders): machines read it, so JSON.
    return "json";
  }
}
