/**
 * One row per error code: the HTTP status it is answered with, the close it becomes on a socket
 * that can only report it by closing (`/ws`), the code that goes on the wire when it differs from
 * the row's name, and whether it is the server's own fault. lib/errors/error_edges.ts reads it;
 * nothing else maps a code to a status or a close.
 *
 * The rows of protocol codes (lib/protocol.ts `ErrorCode`, sent in `error` frames and failed
 * `ack`s) come first; the rest are HTTP-only. A few rows share a wire code but not its status:
 * `connection_limit` is `limit_reached` answered 503, `authorizer_refused` is `unauthorized`
 * answered 403, `tunnel_upgrade_required` is `upgrade_required` answered 404.
 *
 * @module
 */
import { type Disconnect, Disconnects, type ErrorCode } from "../protocol.ts";

/** The HTTP statuses errors are answered with. */
export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 409
  | 410
  | 413
  | 415
  | 422
  | 426
  | 429
  | 500
  | 502
  | 503
  | 504;

/** How one code leaves the server at each edge. */
export interface ErrorRow {
  readonly status: ErrorStatus;
  /** The close of a socket that cannot carry an error frame; by default 4400 with the code. */
  readonly close?: Disconnect;
  /** The code on the wire, when it is not the row's name. */
  readonly wire?: string;
  /** A fault of the server, not a refusal: logged, its details never shown. */
  readonly internal?: true;
}

const protocolRows = {
  bad_json: { status: 400 },
  invalid_message: { status: 400 },
  unknown_instance: { status: 404 },
  unauthorized: { status: 401 },
  forbidden: { status: 403 },
  user_id_taken: { status: 409 },
  unknown_service: { status: 404 },
  not_member: { status: 403 },
  host_away: { status: 503 },
  rate_limited: { status: 429 },
  limit_reached: { status: 409 },
  already_member: { status: 409 },
  internal: { status: 500, close: Disconnects.Internal, internal: true },
  bridge_timeout: { status: 504 },
  bridge_gap: { status: 502 },
  bridge_unavailable: { status: 503 },
  missed_frames: { status: 410 },
  moving: { status: 503 },
  authorizer_unavailable: { status: 403, close: Disconnects.AuthorizerUnavailable },
  invalid_channel: { status: 400 },
  not_subscribed: { status: 409 },
  already_subscribed: { status: 409 },
  publish_too_large: { status: 413 },
} as const satisfies Record<ErrorCode, ErrorRow>;

/** Refusals of HTTP requests and upgrades (routes/). */
const httpRows = {
  upgrade_required: { status: 426 },
  forbidden_origin: { status: 403 },
  connection_limit: { status: 503, wire: "limit_reached" },
  authorizer_refused: { status: 403, wire: "unauthorized" },
  draining: { status: 503 },
  not_found: { status: 404 },
  metrics_disabled: { status: 403 },
  admin_disabled: { status: 403 },
  broadcast_disabled: { status: 403 },
  unsupported_media_type: { status: 415 },
} as const satisfies Record<string, ErrorRow>;

/** Refusals of tunnel registrations and viewers (lib/tunnel, docs/tunnels.md). */
const tunnelRows = {
  tunnels_disabled: { status: 404 },
  not_a_tunnel_url: { status: 404 },
  tunnel_upgrade_required: { status: 404, wire: "upgrade_required" },
  missing_tunnel_id: { status: 400 },
  invalid_tunnel_id: { status: 400 },
  missing_token: { status: 400 },
  invalid_token: { status: 401 },
  viewer_token_required: { status: 401 },
  service_worker_refused: { status: 403 },
  tunnel_not_connected: { status: 504 },
  tunnel_timeout: { status: 504 },
  tunnel_busy: { status: 503 },
  tunnel_refused: { status: 502 },
  bad_gateway: { status: 502 },
} as const satisfies Record<string, ErrorRow>;

/**
 * Marketplace failures (lib/marketplace): what a marketplace sent that fails validation is 422,
 * one that cannot be reached or answers badly 502. `limit_reached` is the protocol row (409).
 */
const marketplaceRows = {
  invalid_request: { status: 400 },
  invalid_url: { status: 422 },
  private_address: { status: 422 },
  invalid_index: { status: 422 },
  invalid_manifest: { status: 422 },
  invalid_name: { status: 422 },
  reserved_name: { status: 422 },
  not_in_index: { status: 422 },
  name_mismatch: { status: 422 },
  invalid_path: { status: 422 },
  file_too_large: { status: 422 },
  bundle_too_large: { status: 422 },
  too_many_files: { status: 422 },
  size_mismatch: { status: 422 },
  hash_mismatch: { status: 422 },
  unreachable: { status: 502 },
  upstream_failed: { status: 502 },
  already_installed: { status: 409 },
  not_installed: { status: 404 },
  conflict: { status: 409 },
} as const satisfies Record<string, ErrorRow>;

/** Every error code the server raises, one row each. */
export const ErrorTable: Readonly<Record<ErrorKey, ErrorRow>> = {
  ...protocolRows,
  ...httpRows,
  ...tunnelRows,
  ...marketplaceRows,
};

/** The name of a row: what {@link WstunError}'s `code` holds. */
export type ErrorKey =
  | keyof typeof protocolRows
  | keyof typeof httpRows
  | keyof typeof tunnelRows
  | keyof typeof marketplaceRows;

/** The tunnel codes (lib/tunnel answers only these). */
export type TunnelErrorKey = keyof typeof tunnelRows;

/** The marketplace codes (lib/marketplace fails only with these, and `limit_reached`). */
export type MarketplaceErrorKey = keyof typeof marketplaceRows | "limit_reached";

/** The code `key` goes on the wire as. */
export function wireCode(key: ErrorKey): string {
  return ErrorTable[key].wire ?? key;
}
