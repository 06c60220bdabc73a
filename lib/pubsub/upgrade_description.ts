/**
 * What the authorizer is told about a client's WebSocket upgrade, in wsify's shape: `headers` as
 * Go's `http.Header` (canonical names, every value an array, no `Host`) and `query` as Go's
 * `url.Values`. The server's secrets are removed, whichever way they came (`?token=`,
 * `Authorization: Bearer`, the session cookie): they are WSTun's, not the authorizer's.
 *
 * @module
 */
import { secretEquals } from "../secret.ts";

/** The `headers` and `query` of an upgrade, as the authorizer receives them. */
export interface UpgradeDescription {
  headers: Record<string, string[]>;
  query: Record<string, string[]>;
}

/** What to leave out: the server's tokens and the name of its session cookie. */
export interface HiddenSecrets {
  tokens: readonly string[];
  cookie?: string;
}

/** Describes `req` for the authorizer, without the server's secrets. */
export function describeUpgrade(req: Request, hidden: HiddenSecrets): UpgradeDescription {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of req.headers) {
    const kept = keptHeader(name, value, hidden);
    if (kept !== undefined) (headers[canonicalHeaderName(name)] ??= []).push(kept);
  }
  const query: Record<string, string[]> = {};
  for (const [name, value] of new URL(req.url).searchParams) {
    if (name === "token" && hidden.tokens.length > 0) continue;
    (query[name] ??= []).push(value);
  }
  return { headers, query };
}

/** A header's value as the authorizer may see it, or undefined to leave the header out. */
function keptHeader(name: string, value: string, hidden: HiddenSecrets): string | undefined {
  // Go keeps Host out of the header map.
  if (name === "host") return undefined;
  if (name === "authorization") {
    const bearer = /^Bearer\s+(.+)$/i.exec(value)?.[1].trim();
    const isServerToken = bearer !== undefined &&
      hidden.tokens.some((t) => secretEquals(bearer, t));
    return isServerToken ? undefined : value;
  }
  if (name === "cookie" && hidden.cookie !== undefined) {
    const prefix = `${hidden.cookie}=`;
    const rest = value.split(";").map((c) => c.trim()).filter((c) => !c.startsWith(prefix));
    return rest.length > 0 ? rest.join("; ") : undefined;
  }
  return value;
}

/** Go's `textproto.CanonicalMIMEHeaderKey`: `sec-websocket-key` → `Sec-Websocket-Key`. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash, ch) => dash + ch.toUpperCase());
}
