/**
 * The `bridge_gap` error a host or member is sent when bridge messages from another isolate were
 * lost on the way (docs/architecture.md, "Bridge and directory"); made here for both sides.
 *
 * @module
 */
import { errorFrame } from "../errors/error_edges.ts";
import { WstunError } from "../errors/wstun_error.ts";
import { ErrorCode, type ServerFrameOf } from "../protocol.ts";

/** The `error` frame telling the sockets of instance `uuid` that `lost` messages were lost. */
export function gapFrame(uuid: string, lost: number): ServerFrameOf<"error"> {
  const message = `${lost} bridge message(s) from another isolate were lost`;
  return errorFrame(new WstunError(ErrorCode.BridgeGap, message, { uuid, lost }));
}
