/**
 * Errors as values: one {@link WstunError} (code, message, details) for every package, one
 * {@link ErrorTable} giving each code its HTTP status and close, and the edges that turn an error
 * into an `error` frame, a failed `ack`, an HTTP response or a close.
 *
 * @example
 * ```ts
 * import { errorFrame, errorResponse, WstunError } from "../lib/errors/mod.ts";
 * import { ErrorCode } from "../lib/protocol.ts";
 *
 * const err = new WstunError(ErrorCode.UnknownInstance, "no instance abc", { uuid: "abc" });
 * errorFrame(err, 7); // {type:"error", code:"unknown_instance", message, ref: 7, uuid: "abc"}
 * errorResponse(err); // 404 {"error":"unknown_instance","message":…,"uuid":"abc"}
 * ```
 *
 * @module
 */
export * from "./wstun_error.ts";
export * from "./error_table.ts";
export * from "./error_edges.ts";
