/**
 * The HTTP answers of the tunnel routes: one table of codes and statuses, one JSON shape
 * (`{"error": code, "message": …}`), so every refusal is mapped in one place.
 *
 * @module
 */

/** Tunnel error codes and the HTTP status each is answered with. */
export const TunnelError = {
  tunnels_disabled: 404,
  not_a_tunnel_url: 404,
  upgrade_required: 404,
  missing_tunnel_id: 400,
  invalid_tunnel_id: 400,
  missing_token: 400,
  invalid_token: 401,
  viewer_token_required: 401,
  service_worker_refused: 403,
  tunnel_not_connected: 504,
  tunnel_timeout: 504,
  tunnel_busy: 503,
  tunnel_refused: 502,
  bad_gateway: 502,
} as const;
export type TunnelErrorCode = keyof typeof TunnelError;

/** The JSON response for a tunnel error. */
export function tunnelErrorResponse(code: TunnelErrorCode, message: string): Response {
  return Response.json({ error: code, message }, { status: TunnelError[code] });
}
