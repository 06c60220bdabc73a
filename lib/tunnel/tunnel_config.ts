/**
 * The tunnel's environment variables (WSTUN_TUNNEL_*): one zod schema, parsed once at start-up.
 *
 * Tunnels are on only when both secrets are set; setting one without the other is a start-up
 * error naming the missing variable (a half-done rotation must not silently turn tunnels off), and
 * so is a secret shorter than 32 bytes (the message names the variable, never the value).
 * Empty variables count as unset, as in lib/config.ts, which calls {@link tunnelConfigFromEnv}
 * and carries the result as `config.tunnel`; tests build a {@link TunnelConfig} directly.
 *
 * @module
 */
import { z } from "zod";
import { viewerPrefixProblem } from "./viewer_urls.ts";

const unsetIfEmpty = (v: unknown) => (v === "" ? undefined : v);

const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce.number().int().min(min, `must be an integer between ${min} and ${max}`)
      .max(max, `must be an integer between ${min} and ${max}`).default(fallback),
  );
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());
const flag = z.preprocess(
  unsetIfEmpty,
  z.enum(["true", "false", "1", "0"], { message: "must be true or false" }).default("false")
    .transform((v) => v === "true" || v === "1"),
);

/**
 * Shortest tunnel secret, in bytes. Secrets are HS256 keys, and RFC 7518 §3.2 requires an HS256 key
 * at least as long as the hash (256 bits): anyone who sees one token can test guesses of the
 * secret offline at billions a second, so a short or memorable secret falls to brute force.
 */
export const MIN_TUNNEL_SECRET_BYTES = 32;

const secretBytes = new TextEncoder();
/** A tunnel secret: unset, or at least {@link MIN_TUNNEL_SECRET_BYTES} bytes (never echoed). */
const secret = optional(
  z.string().refine(
    (s) => secretBytes.encode(s).byteLength >= MIN_TUNNEL_SECRET_BYTES,
    `must be at least ${MIN_TUNNEL_SECRET_BYTES} bytes (an HS256 key as long as the hash, ` +
      "RFC 7518 §3.2); generate one with: openssl rand -base64 32",
  ),
);

/** WSTUN_TUNNEL_* variables, their limits and defaults (documented in docs/tunnels.md). */
export const TunnelEnv = z.object({
  WSTUN_TUNNEL_SECRET_A: secret,
  WSTUN_TUNNEL_SECRET_B: secret,
  WSTUN_TUNNEL_AUDIENCE: optional(z.string()),
  WSTUN_TUNNEL_URL_PREFIX: optional(
    z.url({ protocol: /^https?$/, message: "must be an http(s) URL like https://host/t" })
      .superRefine((prefix, ctx) => {
        const problem = viewerPrefixProblem(prefix);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
  ),
  WSTUN_TUNNEL_VIEWER_TOKEN: flag,
  WSTUN_TUNNEL_MAX_STREAMS: int(1, 100_000, 256),
  WSTUN_TUNNEL_WINDOW_BYTES: int(4096, 64 * 1024 * 1024, 256 * 1024),
  WSTUN_TUNNEL_MAX_FRAME_BYTES: int(64 * 1024, 16 * 1024 * 1024, 64 * 1024),
  WSTUN_TUNNEL_OPEN_TIMEOUT_MS: int(100, 600_000, 30_000),
  WSTUN_TUNNEL_KEEPALIVE_SECONDS: int(1, 3600, 20),
  WSTUN_TUNNEL_MAX_HEAD_BYTES: int(1024, 1024 * 1024, 64 * 1024),
  WSTUN_TUNNEL_MAX_WS_MESSAGE_BYTES: int(1024, 256 * 1024 * 1024, 16 * 1024 * 1024),
});
export type TunnelEnv = z.infer<typeof TunnelEnv>;

/** What the tunnel service needs; `secrets` undefined means tunnels are off. */
export interface TunnelConfig {
  secrets?: { a: string; b: string };
  audience?: string;
  /**
   * Public URL viewers use, without the id, or with `{id}` as the first label of the host (a host
   * per tunnel); undefined = `<request origin>/t` (lib/tunnel/viewer_urls.ts).
   */
  urlPrefix?: string;
  /** Viewers must present the server token (WSTUN_TOKEN); off = unauthenticated, as upstream. */
  requireViewerToken: boolean;
  maxStreamsPerSession: number;
  windowBytes: number;
  maxFramePayloadBytes: number;
  openTimeoutMs: number;
  keepaliveSeconds: number;
  maxHeadBytes: number;
  maxWsMessageBytes: number;
}

/** Defaults for every limit, for tests and embedders. */
export const TUNNEL_DEFAULTS: TunnelConfig = tunnelConfigFromEnv({});

/**
 * Parses the environment; throws an Error whose message is one line naming the variable.
 *
 * @example
 * ```ts
 * const config = tunnelConfigFromEnv(Deno.env.toObject());
 * ```
 */
export function tunnelConfigFromEnv(env: Record<string, string | undefined>): TunnelConfig {
  const parsed = TunnelEnv.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue.path.join(".")}: ${issue.message}`);
  }
  const e = parsed.data;
  if ((e.WSTUN_TUNNEL_SECRET_A === undefined) !== (e.WSTUN_TUNNEL_SECRET_B === undefined)) {
    const missing = e.WSTUN_TUNNEL_SECRET_A === undefined ? "A" : "B";
    throw new Error(
      `WSTUN_TUNNEL_SECRET_${missing}: required when the other tunnel secret is set (tunnels need both)`,
    );
  }
  return {
    secrets: e.WSTUN_TUNNEL_SECRET_A && e.WSTUN_TUNNEL_SECRET_B
      ? { a: e.WSTUN_TUNNEL_SECRET_A, b: e.WSTUN_TUNNEL_SECRET_B }
      : undefined,
    audience: e.WSTUN_TUNNEL_AUDIENCE,
    urlPrefix: e.WSTUN_TUNNEL_URL_PREFIX?.replace(/\/+$/, ""),
    requireViewerToken: e.WSTUN_TUNNEL_VIEWER_TOKEN,
    maxStreamsPerSession: e.WSTUN_TUNNEL_MAX_STREAMS,
    windowBytes: e.WSTUN_TUNNEL_WINDOW_BYTES,
    maxFramePayloadBytes: e.WSTUN_TUNNEL_MAX_FRAME_BYTES,
    openTimeoutMs: e.WSTUN_TUNNEL_OPEN_TIMEOUT_MS,
    keepaliveSeconds: e.WSTUN_TUNNEL_KEEPALIVE_SECONDS,
    maxHeadBytes: e.WSTUN_TUNNEL_MAX_HEAD_BYTES,
    maxWsMessageBytes: e.WSTUN_TUNNEL_MAX_WS_MESSAGE_BYTES,
  };
}
