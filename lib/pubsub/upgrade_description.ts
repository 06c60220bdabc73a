/**
 * What the authorizer is told about a client's WebSocket upgrade, in wsify's shape: `headers` as
 * Go's `http.Header` (canonical names, every value an array, no `Host`) and `query` as Go's
 * `url.Values`. The server token is removed, whichever way it came (`?token=` or
 * `Authorization: Bearer`): it is WSTun's secret, not the authorizer's.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The `headers` and `query` of an upgrade, as the authorizer receives them. */
export interface UpgradeDescription {
  headers: Record<string, string[]>;
  query: Record<string, string[]>;
}

/** Describes `req` for the authorizer; `serverToken` (when set) is left out. */
export function describeUpgrade(req: Request, serverToken?: string): UpgradeDescription {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of req.headers) {
    // Go keeps Host out of the header map.
    if (name === "host") continue;
    if (name === "authorization" && serverToken !== undefined && bearerIs(value, serverToken)) {
      continue;
    }
    (headers[canonicalHeaderName(name)] ??= []).push(value);
  }
  const query: Record<string, string[]> = {};
  for (const [name, value] of new URL(req.url).searchParams) {
    if (name === "token" && serverToken !== undefined) continue;
    (query[name] ??= []).push(value);
  }
  return { headers, query };
}

/** Go's `textproto.CanonicalMIMEHeaderKey`: `sec-websocket-key` → `Sec-Websocket-Key`. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash, ch) => dash + ch.toUpperCase());
}

/** Constant-time equality of two secrets; hashing first makes the lengths equal and hides them. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Whether an `Authorization` header is `Bearer <token>`, compared in constant time. */
export function bearerIs(header: string, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match !== null && sameSecret(match[1].trim(), token);
}
