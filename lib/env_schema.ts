/**
 * The building blocks of every configuration schema: lib/config.ts and each package's own
 * variables (bridge, marketplace, pub/sub, tunnel) are written with these and nothing else, so a
 * variable of one package reads, defaults and fails the way a variable of any other does.
 *
 * Rules every helper keeps:
 * - an empty variable counts as unset (`WSTUN_TOKEN=` in a .env file means "no token");
 * - a number is whole digits only (surrounding blanks ignored): `1e3`, `0x10`, `8000.0` and a
 *   value of only blanks are refused instead of silently becoming 1000, 16, 8000 or 0;
 * - a bad value is reported by {@link parseEnv} as one {@link ConfigError} line naming the
 *   variable, with the value only when it cannot be a secret.
 *
 * @example
 * ```ts
 * const Env = z.object({
 *   WSTUN_X_MAX: integer(0, 1000, 10),
 *   WSTUN_X_TIMEOUT_MS: milliseconds(100, 60_000, 5000),
 *   WSTUN_X_ENABLED: flag(false),
 *   WSTUN_X_URLS: commaList(httpUrl("must be an http(s) URL")),
 * });
 * const env = parseEnv(Env, Deno.env.toObject()); // or throws ConfigError("WSTUN_X_MAX: …")
 * ```
 *
 * @module
 */
import { z } from "zod";

/** A configuration problem, as one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const blankToUnset = (v: unknown) => (v === "" ? undefined : v);

/** `schema`, with an empty variable read as unset (so its default or `optional` applies). */
export function unsetIfEmpty<T extends z.ZodType>(schema: T) {
  return z.preprocess(blankToUnset, schema);
}

const WHOLE_NUMBER = /^\d+$/;

function wholeNumber(min: number, max: number, message: string) {
  return z.string().trim().regex(WHOLE_NUMBER, message).transform(Number)
    .pipe(z.number().min(min, message).max(max, message));
}

/** A whole number in `min..max`, `fallback` when unset. */
export function integer(min: number, max: number, fallback: number) {
  return unsetIfEmpty(
    wholeNumber(min, max, rangeMessage("an integer", min, max)).default(fallback),
  );
}

/** A whole number in `min..max`, undefined when unset (the caller derives a default). */
export function optionalInteger(min: number, max: number) {
  return unsetIfEmpty(wholeNumber(min, max, rangeMessage("an integer", min, max)).optional());
}

/** A duration in whole milliseconds (`…_MS` variables). */
export function milliseconds(min: number, max: number, fallback: number) {
  const message = rangeMessage("a whole number of milliseconds", min, max);
  return unsetIfEmpty(wholeNumber(min, max, message).default(fallback));
}

/** A duration in whole seconds (`…_S` and `…_SECONDS` variables). */
export function seconds(min: number, max: number, fallback: number) {
  const message = rangeMessage("a whole number of seconds", min, max);
  return unsetIfEmpty(wholeNumber(min, max, message).default(fallback));
}

function rangeMessage(what: string, min: number, max: number): string {
  return `must be ${what} between ${min} and ${max}`;
}

/** `true`/`1` or `false`/`0`; `fallback` when unset. */
export function flag(fallback: boolean) {
  return unsetIfEmpty(
    z.enum(["true", "false", "1", "0"], { message: "must be true or false" })
      .default(fallback ? "true" : "false")
      .transform((v) => v === "true" || v === "1"),
  );
}

/** A string, undefined when unset or empty. */
export function optionalText() {
  return unsetIfEmpty(z.string().optional());
}

/** An absolute http(s) URL; `message` says what is expected (it may name the value refused). */
export function httpUrl(message: string | ((refused: unknown) => string)) {
  const error = typeof message === "string"
    ? message
    : (issue: { input?: unknown }) => message(issue.input);
  return z.url({ protocol: /^https?$/, error });
}

/**
 * A comma-separated list, blanks around and between items ignored, `[]` when unset. Each item is
 * parsed with `item`; the first bad one is reported at the variable itself (its message may name
 * the item).
 */
export function commaList<T>(item: z.ZodType<T, string>) {
  return unsetIfEmpty(
    z.string().default("").transform((raw, ctx) => {
      const items: T[] = [];
      for (const text of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
        const parsed = item.safeParse(text);
        if (!parsed.success) {
          ctx.addIssue({ code: "custom", message: parsed.error.issues[0].message });
          return z.NEVER;
        }
        items.push(parsed.data);
      }
      return items;
    }),
  );
}

/** Variables whose value may be a credential: a refusal never echoes it. */
const SECRET_NAME = /TOKEN|KEY|SECRET|AUTHORIZER_URL|REDIS_URL/;

/**
 * Parses `env` with `schema`; the first bad variable throws a {@link ConfigError} of one line:
 * `NAME: what is expected (got "value")`, without the value for secrets and URLs that may carry
 * credentials.
 */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: Record<string, string | undefined>,
): z.output<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = String(issue.path[0] ?? "config");
  const got = env[name];
  const shown = SECRET_NAME.test(name) || got === undefined ? "" : ` (got ${JSON.stringify(got)})`;
  throw new ConfigError(`${name}: ${oneLine(issue.message)}${shown}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
