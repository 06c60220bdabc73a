/**
 * Pub/sub refusals as values: a code and a one-line message. They are raised where they are known
 * (the limits, the registry, the authorizer) and turned into an `error` frame, a close code or an
 * HTTP status at the edge, once per edge.
 *
 * @module
 */
import { ErrorCode } from "../protocol.ts";

/** The protocol error codes channel requests use (their definitions live in protocol.ts). */
export const PubSubErrorCode = {
  /** The authorizer answered something other than 200 (or 5xx). */
  Unauthorized: ErrorCode.Unauthorized,
  /** The authorizer answered 5xx, timed out or could not be reached. */
  AuthorizerUnavailable: ErrorCode.AuthorizerUnavailable,
  /** Channel name empty, too long or with a forbidden character. */
  InvalidChannel: ErrorCode.InvalidChannel,
  /** `unsubscribe` of a channel the connection is not subscribed to. */
  NotSubscribed: ErrorCode.NotSubscribed,
  /** `subscribe` of a channel the connection is already subscribed to; delivery stays single. */
  AlreadySubscribed: ErrorCode.AlreadySubscribed,
  /** Too many channels on one connection. */
  LimitReached: ErrorCode.LimitReached,
  /** A published payload larger than `WSTUN_MAX_PUBLISH_BYTES`. */
  PublishTooLarge: ErrorCode.PublishTooLarge,
  /** More publishes per second than `WSTUN_MAX_PUBLISHES_PER_SEC`. */
  RateLimited: ErrorCode.RateLimited,
  /** A malformed request (a missing field, a bad binary header). */
  InvalidMessage: ErrorCode.InvalidMessage,
} as const;
export type PubSubErrorCode = typeof PubSubErrorCode[keyof typeof PubSubErrorCode];

/** A refused channel request. */
export interface PubSubError {
  code: PubSubErrorCode;
  message: string;
}

export function pubSubError(code: PubSubErrorCode, message: string): PubSubError {
  return { code, message };
}
