/**
 * Errors raised by the hub's rules, as values with a protocol error code. The connection turns
 * them into `error` frames (or a failed `ack`) in one place; nothing here knows about sockets.
 *
 * @module
 */
import type { ErrorCode } from "../protocol.ts";

/** A refused request: `code` is a protocol v1 error code, `message` says why for a human. */
export class HubError extends Error {
  override name = "HubError";
  constructor(readonly code: ErrorCode, message: string, readonly extra?: Record<string, unknown>) {
    super(message);
  }
}
