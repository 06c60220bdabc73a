/**
 * What the authorizer is told about a client's WebSocket upgrade, in wsify's shape: `headers` as
 * Go's `http.Header` (canonical names, every value an array, no `Host`) and `query` as Go's
 * `url.Values`. WSTun's own credentials are removed, whichever way they came (`?token=`,
 * `Authorization: Bearer`, the session cookie, a `Referer` carrying `?token=`): they are WSTun's,
 * not the authorizer's (lib/server_credentials.ts).
 *
 * @module
 */
import type { ServerCredentials } from "../server_credentials.ts";

/** The `headers` and `query` of an upgrade, as the authorizer receives them. */
export interface UpgradeDescription {
  headers: Record<string, string[]>;
  query: Record<string, string[]>;
}

/** Describes `req` for the authorizer, without WSTun's credentials. */
export function describeUpgrade(req: Request, hidden: ServerCredentials): UpgradeDescription {
  const url = new URL(req.url);
  const host = req.headers.get("host") ?? url.host;
  // Null prototypes: a header or parameter named `constructor` is a key like any other.
  const headers: Record<string, string[]> = Object.create(null);
  for (const [name, value] of req.headers) {
    // Go keeps Host out of the header map.
    const kept = name === "host" ? null : hidden.scrubHeader(name, value, host);
    if (kept !== null) (headers[canonicalHeaderName(name)] ??= []).push(kept);
  }
  const params = new URLSearchParams(url.search);
  hidden.scrubQuery(params);
  const query: Record<string, string[]> = Object.create(null);
  for (const [name, value] of params) (query[name] ??= []).push(value);
  return { headers, query };
}

/** Go's `textproto.CanonicalMIMEHeaderKey`: `sec-websocket-key` → `Sec-Websocket-Key`. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash, ch) => dash + ch.toUpperCase());
}
