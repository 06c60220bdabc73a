/**
 * The pub/sub feature's environment variables: one zod schema, parsed once at start-up.
 *
 * Every variable has a documented default (docs/pubsub.md); `0` means "no limit" for the numeric
 * limits, as elsewhere in WSTun. Written with lib/env_schema.ts, so a bad value is reported as one
 * line naming the variable, like any other, and the server can stop with a message a user can act
 * on.
 *
 * @module
 */
import { z } from "zod";
import {
  commaList,
  ConfigError,
  httpUrl,
  integer,
  milliseconds,
  parseEnv,
  unsetIfEmpty,
} from "../env_schema.ts";
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

const allEvents = (): Set<AuthorizerEvent> => new Set(AUTHORIZER_EVENTS);
const eventName = z.string().transform((s) => s.toLowerCase()).pipe(
  z.enum(AUTHORIZER_EVENTS, {
    error: (issue) => `unknown event "${issue.input}" (known: ${AUTHORIZER_EVENTS.join(", ")})`,
  }),
);
/** Unset, empty or blank: every event. */
const eventList = commaList(eventName).transform((names) =>
  names.length ? new Set(names) : allEvents()
);

/**
 * The pub/sub variables keyed by their environment names; lib/config.ts spreads this shape into
 * the server's one schema, so a bad value stops start-up like any other variable.
 */
export const pubsubEnvShape = {
  WSTUN_AUTHORIZER_URL: unsetIfEmpty(httpUrl("must be an http(s) URL").optional()),
  WSTUN_AUTHORIZER_TIMEOUT_MS: milliseconds(1, 60_000, 2_000),
  WSTUN_AUTHORIZER_EVENTS: eventList,
  WSTUN_BROADCAST_KEY: unsetIfEmpty(
    z.string().max(1024, "must be at most 1024 characters").optional(),
  ),
  WSTUN_CHANNEL_NAME_MAX: integer(1, CHANNEL_NAME_HARD_MAX, 128),
  WSTUN_MAX_CHANNELS: integer(0, 1_000_000, 100),
  WSTUN_MAX_PUBLISH_BYTES: integer(0, 64 * 1024 * 1024, 64 * 1024),
  WSTUN_MAX_PUBLISHES_PER_SEC: integer(0, 1_000_000, 100),
};

const Schema = z.object(pubsubEnvShape);
type PubSubEnv = z.infer<typeof Schema>;

/** The pub/sub name of {@link ConfigError}, kept for embedders that import it from here. */
export const PubSubConfigError = ConfigError;
export type PubSubConfigError = ConfigError;

/**
 * Reads the pub/sub variables alone from `env`; the server reads them through lib/config.ts, tests
 * and embedders may call this directly.
 *
 * @example
 * ```ts
 * const config = parsePubSubConfig({ WSTUN_BROADCAST_KEY: "s3cret" });
 * config.maxChannelsPerConnection; // 100
 * ```
 * @throws {ConfigError} naming the first bad variable.
 */
export function parsePubSubConfig(env: Record<string, string | undefined>): PubSubConfig {
  return pubsubFromEnv(parseEnv(Schema, env));
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
