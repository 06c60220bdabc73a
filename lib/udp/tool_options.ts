/**
 * Command-line options shared by `udp-expose` and `udp-connect`, validated with zod so that every
 * bad value ends in one line naming the option. Durations read like `300s`, `5m`, `250ms`
 * (a bare number is seconds); sizes are bytes.
 *
 * @module
 */
import { isIP } from "node:net";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { z } from "zod";
import { MAX_DATAGRAM_BYTES } from "./datagram_frame.ts";
import { DEFAULT_SOCKET_BUFFERS } from "./datagram_socket.ts";

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `300s` → 300000; a bare number is seconds. */
export const duration = z.string().regex(DURATION, "must be a duration like 300s, 5m or 250ms")
  .transform((s) => {
    const [, n, unit] = DURATION.exec(s)!;
    return Math.round(Number(n) * UNIT_MS[unit ?? "s"]);
  }).pipe(z.number().int().min(1, "must be at least 1ms"));

export const port = (min: number) =>
  z.coerce.number().int(`must be a port number between ${min} and 65535`).min(
    min,
    `must be a port number between ${min} and 65535`,
  ).max(65535, `must be a port number between ${min} and 65535`);

/** An IP literal: the tools never resolve names, so every datagram goes where it was told. */
export const ipAddress = z.string().refine((s) => isIP(s) !== 0, {
  message: "must be an IP address such as 127.0.0.1 or ::1",
});

/** The usage lines of the options both tools take, after their own. */
export const COMMON_USAGE =
  `  --max-buffered <n>   drop (and count) datagrams while the relay socket has more than n
                       unsent bytes (default 1048576)
  --max-datagram <n>   largest datagram forwarded; larger ones are counted (default 65507)
  --recv-buffer <n>    kernel receive buffer of each local UDP socket, in bytes; 0 = the
                       kernel's default (default 4194304; needs --allow-ffi, Linux)
  --send-buffer <n>    kernel send buffer, likewise (default 1048576)
  --report <duration>  print relay RTT, datagrams/s and drops this often, 0 = never
                       (default 30s)

Runs under deno with --unstable-net (Deno's UDP API) and --allow-ffi (socket buffers and the
OS's drop counts through libc); the task passes both.`;

/** Options both tools take. */
export const COMMON_OPTIONS = {
  token: { type: "string" },
  idle: { type: "string", default: "300s" },
  "max-buffered": { type: "string", default: String(1024 * 1024) },
  "max-datagram": { type: "string", default: String(MAX_DATAGRAM_BYTES) },
  "recv-buffer": { type: "string", default: String(DEFAULT_SOCKET_BUFFERS.receive) },
  "send-buffer": { type: "string", default: String(DEFAULT_SOCKET_BUFFERS.send) },
  report: { type: "string", default: "30s" },
  help: { type: "boolean", short: "h" },
} as const;

export const CommonSchema = z.object({
  token: z.string().min(1).optional(),
  idle: duration,
  "max-buffered": z.coerce.number().int().min(0).max(1024 ** 3),
  "max-datagram": z.coerce.number().int().min(1).max(MAX_DATAGRAM_BYTES),
  "recv-buffer": z.coerce.number().int().min(0).max(1024 ** 3),
  "send-buffer": z.coerce.number().int().min(0).max(1024 ** 3),
  report: z.union([z.literal("0"), duration]).transform((v) => v === "0" ? 0 : v),
  help: z.boolean().optional(),
});

/** A usage problem, as one line. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parses argv with node:util, mapping its errors to {@link UsageError}. */
export function parseCommandLine(
  args: string[],
  options: NonNullable<ParseArgsConfig["options"]>,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true });
    return { values: values as Record<string, unknown>, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Validates with `schema`, turning the first issue into a {@link UsageError} naming the option. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const [name, index] = issue.path;
  // Positionals are validated as one tuple: name the argument by its place, or the whole list.
  const label = name === "positionals"
    ? (typeof index === "number" ? `argument ${index + 1}` : "arguments")
    : `--${String(name ?? "argument")}`;
  throw new UsageError(`${label}: ${issue.message}`);
}

/** The server token: `--token`, else the environment's WSTUN_TOKEN (never printed). */
export function tokenFrom(option: string | undefined): string | undefined {
  if (option !== undefined) return option;
  try {
    return Deno.env.get("WSTUN_TOKEN") || undefined;
  } catch {
    return undefined;
  }
}

/** `12:34:56` for log lines. */
export function clock(): string {
  return new Date().toISOString().slice(11, 19);
}
