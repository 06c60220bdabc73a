/**
 * The tunnel's environment variables (WSTUN_TUNNEL_*): one zod schema, parsed once at start-up.
 *
 * Tunnels are on only when both secrets are set; setting one without the other is a start-up
 * error naming the missing variable (a half-done rotation must not silently turn tunnels off), and
 * so is a secret shorter than 32 bytes (the message names the variable, never the value).
 * Written with lib/env_schema.ts like every package's variables; lib/config.ts spreads
 * {@link tunnelEnvShape} into the server's schema and carries the result as `config.tunnel`;
 * tests build a {@link TunnelConfig} directly.
 *
 * @module
 */
import { z } from "zod";
import {
  ConfigError,
  flag,
  httpUrl,
  integer,
  milliseconds,
  optionalText,
  parseEnv,
  seconds,
  unsetIfEmpty,
} from "../env_schema.ts";
import { viewerPrefixProblem } from "./viewer_urls.ts";

/**
 * Shortest tunnel secret, in bytes. Secrets are HS256 keys, and RFC 7518 §3.2 requires an HS256 key
 * at least as long as the hash (256 bits): anyone who sees one token can test guesses of the
 * secret offline at billions a second, so a short or memorable secret falls to brute force.
 */
export const MIN_TUNNEL_SECRET_BYTES = 32;

const secretBytes = new TextEncoder();
/** A tunnel secret: unset, or at least {@link MIN_TUNNEL_SECRET_BYTES} bytes (never echoed). */
const secret = unsetIfEmpty(
  z.string().refine(
    (s) => secretBytes.encode(s).byteLength >= MIN_TUNNEL_SECRET_BYTES,
    `must be at least ${MIN_TUNNEL_SECRET_BYTES} bytes (an HS256 key as long as the hash, ` +
      "RFC 7518 §3.2); generate one with: openssl rand -base64 32",
  ).optional(),
);

/**
 * WSTUN_TUNNEL_* variables, their limits and defaults (documented in docs/tunnels.md), keyed by
 * their environment names; lib/config.ts spreads this shape into the server's one schema.
 */
export const tunnelEnvShape = {
  WSTUN_TUNNEL_SECRET_A: secret,
  WSTUN_TUNNEL_SECRET_B: secret,
  WSTUN_TUNNEL_AUDIENCE: optionalText(),
  WSTUN_TUNNEL_URL_PREFIX: unsetIfEmpty(
    httpUrl("must be an http(s) URL like https://host/t").superRefine((prefix, ctx) => {
      const problem = viewerPrefixProblem(prefix);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }).optional(),
  ),
  WSTUN_TUNNEL_VIEWER_TOKEN: flag(false),
  WSTUN_TUNNEL_MAX_STREAMS: integer(1, 100_000, 256),
  WSTUN_TUNNEL_WINDOW_BYTES: integer(4096, 64 * 1024 * 1024, 256 * 1024),
  WSTUN_TUNNEL_MAX_FRAME_BYTES: integer(64 * 1024, 16 * 1024 * 1024, 64 * 1024),
  WSTUN_TUNNEL_OPEN_TIMEOUT_MS: milliseconds(100, 600_000, 30_000),
  WSTUN_TUNNEL_KEEPALIVE_SECONDS: seconds(1, 3600, 20),
  WSTUN_TUNNEL_MAX_HEAD_BYTES: integer(1024, 1024 * 1024, 64 * 1024),
  WSTUN_TUNNEL_MAX_WS_MESSAGE_BYTES: integer(1024, 256 * 1024 * 1024, 16 * 1024 * 1024),
};
export const TunnelEnv = z.object(tunnelEnvShape);
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
 * Parses the tunnel variables alone (lib/config.ts reads them with the server's schema); throws a
 * {@link ConfigError} whose message is one line naming the variable.
 *
 * @example
 * ```ts
 * const config = tunnelConfigFromEnv(Deno.env.toObject());
 * ```
 */
export function tunnelConfigFromEnv(env: Record<string, string | undefined>): TunnelConfig {
  return tunnelFromEnv(parseEnv(TunnelEnv, env));
}

/** The settings from parsed variables; both secrets or neither. */
export function tunnelFromEnv(e: TunnelEnv): TunnelConfig {
  if ((e.WSTUN_TUNNEL_SECRET_A === undefined) !== (e.WSTUN_TUNNEL_SECRET_B === undefined)) {
    const missing = e.WSTUN_TUNNEL_SECRET_A === undefined ? "A" : "B";
    throw new ConfigError(
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
