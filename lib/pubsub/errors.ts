/**
 * Pub/sub refusals as values: a code and a one-line message. They are raised where they are known
 * (the limits, the registry, the authorizer) and turned into an `error` frame, a close code or an
 * HTTP status at the edge, once per edge.
 *
 * @module
 */

/** Error codes of channel requests; the same strings appear in `error` frames and HTTP bodies. */
export const PubSubErrorCode = {
  /** The authorizer answered something other than 200 (or 5xx). */
  Unauthorized: "unauthorized",
  /** The authorizer answered 5xx, timed out or could not be reached. */
  AuthorizerUnavailable: "authorizer_unavailable",
  /** Channel name empty, too long or with a forbidden character. */
  InvalidChannel: "invalid_channel",
  /** `unsubscribe` of a channel the connection is not subscribed to. */
  NotSubscribed: "not_subscribed",
  /** `subscribe` of a channel the connection is already subscribed to; delivery stays single. */
  AlreadySubscribed: "already_subscribed",
  /** Too many channels on one connection. */
  LimitReached: "limit_reached",
  /** A published payload larger than `WSTUN_MAX_PUBLISH_BYTES`. */
  PublishTooLarge: "publish_too_large",
  /** More publishes per second than `WSTUN_MAX_PUBLISHES_PER_SEC`. */
  RateLimited: "rate_limited",
} as const;
export type PubSubErrorCode = typeof PubSubErrorCode[keyof typeof PubSubErrorCode];

/** A refused channel request. */
export interface PubSubError {
  code: PubSubErrorCode;
  message: string;
}

/**
 * Close code used when the authorizer goes down mid-session: the client should reconnect later
 * (wsify's "the authorizer is down, please close the current connection and reconnect").
 */
export const AUTHORIZER_UNAVAILABLE_CLOSE_CODE = 4503;

/** Close code on `/ws` for a WSTun limit that wsify's protocol has no way to report in-band. */
export const WSIFY_LIMIT_CLOSE_CODE = 4400;

export function pubSubError(code: PubSubErrorCode, message: string): PubSubError {
  return { code, message };
}
