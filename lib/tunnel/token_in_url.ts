/**
 * A viewer that opens a tunnel page with WSTun's token in the URL (`/t/<id>/?token=…`, the way
 * WSTun's own pages take it) must not leave it there: the tunnel's page can read its own
 * `location.href`. Such a document load is answered with a redirect to the same URL without the
 * token (303 for GET and HEAD, 307 otherwise, so a form keeps its method and body); the viewer
 * session cookie, when `WSTUN_TUNNEL_VIEWER_TOKEN` asks for one, rides on the redirect. Only
 * document loads are redirected (`Sec-Fetch-Mode: navigate`, or no `Sec-Fetch-Mode` and an
 * `Accept` naming `text/html`): a command-line client keeps its answer, and what the tunnel
 * client receives has the token taken out either way (lib/server_credentials.ts).
 *
 * @module
 */
import { type ServerCredentials, TOKEN_PARAM } from "../server_credentials.ts";

/** The path and query of `url` without WSTun's tokens, when `request` is a document load that carries one. */
export function tokenlessDocumentUrl(
  request: Request,
  url: URL,
  credentials: ServerCredentials,
): string | undefined {
  if (!url.searchParams.has(TOKEN_PARAM) || !isDocumentLoad(request)) return undefined;
  const search = new URLSearchParams(url.search);
  const before = search.size;
  credentials.scrubQuery(search);
  if (search.size === before) return undefined;
  return url.pathname + (search.size ? `?${search}` : "");
}

/** A redirect to `location` (a path on this host) that keeps `request`'s method. */
export function redirectTo(request: Request, location: string): Response {
  const keepsMethod = request.method !== "GET" && request.method !== "HEAD";
  return new Response(null, {
    status: keepsMethod ? 307 : 303,
    headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" },
  });
}

function isDocumentLoad(request: Request): boolean {
  if (request.headers.get("upgrade")) return false;
  const mode = request.headers.get("sec-fetch-mode");
  if (mode !== null) return mode === "navigate";
  return request.headers.get("accept")?.includes("text/html") ?? false;
}
