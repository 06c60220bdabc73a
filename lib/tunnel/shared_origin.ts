/**
 * What a tunnel's responses may do when tunnels share an origin with WSTun (the default
 * `<origin>/t`) or with each other (lib/tunnel/viewer_urls.ts): nothing that reaches past the
 * response itself.
 *
 * - Every response gets `Content-Security-Policy: sandbox …` without `allow-same-origin`, so a
 *   tunnel page runs with an opaque origin: it cannot read this origin's cookies, storage or
 *   responses, cannot register a service worker, and its requests to WSTun carry `Origin: null`
 *   (which the server-token guard never accepts a session cookie from).
 * - Headers that change the state of the whole origin are dropped: cookies (`Set-Cookie`),
 *   service-worker scope (`Service-Worker-Allowed`), `Clear-Site-Data`, transport policy
 *   (`Strict-Transport-Security`, `Alt-Svc`), reporting endpoints that would see every request
 *   of the origin (`NEL`, `Report-To`, `Reporting-Endpoints`), client-hint and login state
 *   (`Accept-CH`, `Critical-CH`, `Set-Login`) and origin trials.
 * - A browser's request for a service-worker script (`Service-Worker: script`) is refused before
 *   it reaches the tunnel.
 *
 * The cost to tunnelled apps, and the way out (a host per tunnel), is in docs/tunnels.md.
 *
 * @module
 */

/** The sandbox every shared-origin tunnel response runs in: scripts yes, this origin no. */
export const TUNNEL_SANDBOX_CSP = "sandbox allow-scripts allow-forms allow-modals " +
  "allow-popups allow-popups-to-escape-sandbox allow-downloads allow-pointer-lock " +
  "allow-presentation allow-orientation-lock";

/** Response headers a shared-origin tunnel may not send (lower case). */
export const ORIGIN_WIDE_HEADERS: ReadonlySet<string> = new Set([
  "set-cookie",
  "set-cookie2",
  "service-worker-allowed",
  "clear-site-data",
  "strict-transport-security",
  "alt-svc",
  "nel",
  "report-to",
  "reporting-endpoints",
  "accept-ch",
  "critical-ch",
  "set-login",
  "origin-trial",
]);

/** Whether `request` is a browser fetching a service-worker script (refused on a shared origin). */
export function isServiceWorkerScript(request: Request): boolean {
  return request.headers.get("service-worker")?.toLowerCase() === "script";
}

/** The headers of a tunnel response as a shared origin serves them. */
export function sandboxedHeaders(headers: Headers): Headers {
  for (const name of [...headers.keys()]) {
    if (ORIGIN_WIDE_HEADERS.has(name)) headers.delete(name);
  }
  headers.append("content-security-policy", TUNNEL_SANDBOX_CSP);
  return headers;
}
