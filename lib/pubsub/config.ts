/**
 * The pub/sub feature's environment variables: one zod schema, parsed once at start-up.
 *
 * Every variable has a documented default (docs/pubsub.md); `0` means "no limit" for the numeric
 * limits, as elsewhere in WSTun. A bad value is reported as one line naming the variable, so the
 * server can stop with a message a user can act on.
 *
 * @module
 */
import { z } from "zod";
import { AUTHORIZER_EVENTS, type AuthorizerEvent } from "./authorizer.ts";

/** Bytes a channel name may take at most: it travels in a u8-length field of the binary header. */
export const CHANNEL_NAME_HARD_MAX = 255;

/** Validated pub/sub settings; built by {@linkcode parsePubSubConfig}. */
export interface PubSubConfig {
  /** Authorizer webhook; undefined = every event allowed (wsify's behaviour without the flag). */
  authorizerUrl?: string;
  authorizerTimeoutMs: number;
  /** Which events are sent to the authorizer; the others are allowed without a call. */
  authorizerEvents: ReadonlySet<AuthorizerEvent>;
  /** Key `POST /broadcast?key=` must present; undefined = the route is refused. */
  broadcastKey?: string;
  /** Longest channel name, in UTF-8 bytes (1..255). */
  channelNameMax: number;
  /** Channels one connection may be subscribed to at once; 0 = no limit. */
  maxChannelsPerConnection: number;
  /** Largest published payload, in bytes (JSON text of the content, or binary payload); 0 = no limit. */
  maxPublishBytes: number;
  /** Publishes one connection may make per second; 0 = no limit. */
  maxPublishesPerSec: number;
}

/** Empty variables count as unset, as in lib/config.ts. */
const unsetIfEmpty = (v: unknown) => (v === "" ? undefined : v);

const intFrom = (min: number, max: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.string().trim().regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
      .transform(Number).pipe(
        z.number().int().min(min, `must be between ${min} and ${max}`).max(
          max,
          `must be between ${min} and ${max}`,
        ),
      ).optional().transform((v) => v ?? fallback),
  );

const eventList = z.string().optional().transform((raw, ctx) => {
  if (raw === undefined || raw.trim() === "") return new Set<AuthorizerEvent>(AUTHORIZER_EVENTS);
  const names = raw.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  const known = new Set<string>(AUTHORIZER_EVENTS);
  for (const name of names) {
    if (!known.has(name)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown event "${name}" (known: ${AUTHORIZER_EVENTS.join(", ")})`,
      });
      return z.NEVER;
    }
  }
  return new Set(names as AuthorizerEvent[]);
});

const optionalText = z.string().optional().transform((v) => (v === "" ? undefined : v));

/**
 * The pub/sub variables keyed by their environment names; lib/config.ts spreads this shape into
 * the server's one schema, so a bad value stops start-up like any other variable.
 */
export const pubsubEnvShape = {
  WSTUN_AUTHORIZER_URL: optionalText.pipe(
    z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  ),
  WSTUN_AUTHORIZER_TIMEOUT_MS: intFrom(1, 60_000, 2_000),
  WSTUN_AUTHORIZER_EVENTS: eventList,
  WSTUN_BROADCAST_KEY: optionalText.pipe(
    z.string().max(1024, "must be at most 1024 characters").optional(),
  ),
  WSTUN_CHANNEL_NAME_MAX: intFrom(1, CHANNEL_NAME_HARD_MAX, 128),
  WSTUN_MAX_CHANNELS: intFrom(0, 1_000_000, 100),
  WSTUN_MAX_PUBLISH_BYTES: intFrom(0, 64 * 1024 * 1024, 64 * 1024),
  WSTUN_MAX_PUBLISHES_PER_SEC: intFrom(0, 1_000_000, 100),
};

const Schema = z.object(pubsubEnvShape);
type PubSubEnv = z.infer<typeof Schema>;

/** A configuration error: one line naming the variable. */
export class PubSubConfigError extends Error {
  override name = "PubSubConfigError";
}

/**
 * Reads the pub/sub variables alone from `env`; the server reads them through lib/config.ts, tests
 * and embedders may call this directly.
 *
 * @example
 * ```ts
 * const config = parsePubSubConfig({ WSTUN_BROADCAST_KEY: "s3cret" });
 * config.maxChannelsPerConnection; // 100
 * ```
 * @throws {PubSubConfigError} naming the first bad variable.
 */
export function parsePubSubConfig(env: Record<string, string | undefined>): PubSubConfig {
  const parsed = Schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PubSubConfigError(`${String(issue?.path[0] ?? "config")}: ${issue?.message}`);
  }
  return pubsubFromEnv(parsed.data);
}

/** The settings from already-validated variables (lib/config.ts parses them with its schema). */
export function pubsubFromEnv(v: PubSubEnv): PubSubConfig {
  return {
    authorizerUrl: v.WSTUN_AUTHORIZER_URL,
    authorizerTimeoutMs: v.WSTUN_AUTHORIZER_TIMEOUT_MS,
    authorizerEvents: v.WSTUN_AUTHORIZER_EVENTS,
    broadcastKey: v.WSTUN_BROADCAST_KEY,
    channelNameMax: v.WSTUN_CHANNEL_NAME_MAX,
    maxChannelsPerConnection: v.WSTUN_MAX_CHANNELS,
    maxPublishBytes: v.WSTUN_MAX_PUBLISH_BYTES,
    maxPublishesPerSec: v.WSTUN_MAX_PUBLISHES_PER_SEC,
  };
}
