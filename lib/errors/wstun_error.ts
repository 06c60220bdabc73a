/**
 * The one error value of the whole tree: a code (a row of {@link ErrorTable}), a message for a
 * human, and details the edges carry along. It is raised where a failure is known — thrown, or
 * returned by a check — and turned into a frame, an HTTP status or a close only by
 * lib/errors/error_edges.ts. It knows nothing of sockets or HTTP.
 *
 * @module
 */
import type { ErrorDetails } from "../protocol.ts";
import type { ErrorKey } from "./error_table.ts";

/**
 * What an error carries besides its code and message. Frame edges copy it into the `error` frame
 * (or a failed `ack`'s `retryAfterMs`); the HTTP edge copies it into the JSON body.
 */
export type ErrorExtra = ErrorDetails & {
  /** With `host_away`: when trying again makes sense. */
  retryAfterMs?: number;
  /** The URL that was being fetched or validated (marketplace). */
  url?: string;
  /** The manifest file path concerned (marketplace). */
  path?: string;
};

/**
 * A refusal or failure with a code from the one table.
 *
 * @example
 * ```ts
 * throw new WstunError(ErrorCode.NotMember, `not a member of ${uuid}`, { uuid });
 * ```
 */
export class WstunError extends Error {
  override name = "WstunError";
  constructor(
    readonly code: ErrorKey,
    message: string,
    readonly details?: Readonly<ErrorExtra>,
  ) {
    super(message);
  }
}
