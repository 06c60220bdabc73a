/**
 * The one place a {@link WstunError} leaves the server: as an `error` frame or a failed `ack` on
 * a socket, as an HTTP JSON response (`{"error": code, "message", …details}` with the row's
 * status), or as a close of a socket that cannot carry a frame. Statuses and closes come from
 * {@link ErrorTable} only. Anything thrown that is not a `WstunError` is a fault of the server:
 * {@link asWstunError} makes it `internal` (and logs it), never another code.
 *
 * @module
 */
import {
  type Disconnect,
  Disconnects,
  ErrorCode,
  type Ref,
  type ServerFrameOf,
  withReason,
} from "../protocol.ts";
import { type ErrorStatus, ErrorTable, wireCode } from "./error_table.ts";
import { WstunError } from "./wstun_error.ts";

const FRAME_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/**
 * The protocol code `err` is sent with. A code that has no frame (an HTTP-only row) reaching a
 * socket is a server fault, sent as `internal`.
 */
export function frameCode(err: WstunError): ErrorCode {
  const code = wireCode(err.code);
  return FRAME_CODES.has(code) ? code as ErrorCode : ErrorCode.Internal;
}

/**
 * The `error` frame of `err`: its code, message, `ref` and details.
 *
 * @example
 * ```ts
 * session.send(errorFrame(new WstunError(ErrorCode.NotMember, "not a member", { uuid }), ref));
 * ```
 */
export function errorFrame(err: WstunError, ref?: Ref): ServerFrameOf<"error"> {
  return { type: "error", code: frameCode(err), message: err.message, ref, ...err.details };
}

/** The failed `ack` that refuses a join of `uuid` with `err`. */
export function failedAck(err: WstunError, uuid: string, ref: Ref): ServerFrameOf<"ack"> {
  return {
    type: "ack",
    success: false,
    uuid,
    error: frameCode(err),
    message: err.message,
    retryAfterMs: err.details?.retryAfterMs,
    ref,
  };
}

/** The HTTP status `err` is answered with. */
export function errorStatus(err: WstunError): ErrorStatus {
  return ErrorTable[err.code].status;
}

/** The JSON body of an HTTP error: `error` is the wire code, then the message and details. */
export function errorBody(err: WstunError): Record<string, unknown> {
  return { error: wireCode(err.code), message: err.message, ...err.details };
}

/**
 * The HTTP response of `err`.
 *
 * @example
 * ```ts
 * return errorResponse(new WstunError("not_found", `nothing at ${path}`));
 * ```
 */
export function errorResponse(err: WstunError, headers?: HeadersInit): Response {
  return Response.json(errorBody(err), { status: errorStatus(err), headers });
}

/**
 * The close of a socket whose protocol cannot carry `err` in-band (wsify's `/ws`): the row's
 * close, or by default 4400 with the wire code as the reason.
 */
export function errorClose(err: WstunError): Disconnect {
  return ErrorTable[err.code].close ?? withReason(Disconnects.ChannelLimit, wireCode(err.code));
}

/**
 * `err` if it is a {@link WstunError}; anything else is a server fault: handed to `onFault` (which
 * logs it: its text, never the request that caused it, so no secret) and answered `internal`.
 *
 * @example
 * ```ts
 * const answer = asWstunError(err, (fault) => log.error("hub.internal_error", { error: String(fault) }));
 * ```
 */
export function asWstunError(err: unknown, onFault?: (fault: unknown) => void): WstunError {
  if (err instanceof WstunError) return err;
  onFault?.(err);
  return new WstunError(ErrorCode.Internal, "internal server error");
}
