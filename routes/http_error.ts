/**
 * HTTP errors as values: routes throw {@link HttpError}; the app's one `onError` turns it into
 * `{"error": code, "message": …}` with its status.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class HttpError extends Error {
  override name = "HttpError";
  constructor(readonly status: ContentfulStatusCode, readonly code: string, message: string) {
    super(message);
  }
}

/** The JSON body of every HTTP error. */
export function errorBody(code: string, message: string): { error: string; message: string } {
  return { error: code, message };
}
