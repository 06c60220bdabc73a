/**
 * One marketplace GET, connected to addresses the caller already checked. This is what closes
 * the DNS-rebinding window: `fetch` would resolve the name again, and a hostile DNS server could
 * answer a private address the second time.
 *
 * Deno 2.9's `fetch` cannot do this for https: `Deno.createHttpClient` has no resolver option,
 * and its `proxy: { transport: "tcp" }` sends even an https request as plain HTTP to the socket
 * (tried: the server received `GET https://…` in clear text). So the default transport is
 * `node:http`/`node:https` with a `lookup` that answers the checked addresses: the socket goes to
 * one of them, while TLS still sends the URL's host as SNI and verifies the certificate for it,
 * and `Host` is the URL's. One connection per request (`agent: false`), no redirects (the
 * fetcher follows them itself, checking each hop), no content decoding (none is asked for).
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { LookupAddress } from "node:dns";
import { Readable } from "node:stream";

/** One GET: the URL, the addresses its host may be reached at, and the deadline's signal. */
export interface TransportRequest {
  url: URL;
  /** Addresses already checked by the address policy; the connection goes to one of them. */
  addresses: readonly string[];
  signal: AbortSignal;
}

/** Makes one GET and resolves with the response (redirects are not followed). */
export type MarketplaceTransport = (request: TransportRequest) => Promise<Response>;

/** Statuses whose responses have no body (a `Response` refuses one). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

const familyOf = (address: string) => address.includes(":") ? 6 : 4;

/**
 * The default transport: connects only to `addresses`. `caCerts` replaces the trusted roots
 * (tests use a self-signed certificate); unset, the system's roots are used.
 *
 * @example
 * ```ts
 * const get = pinnedTransport();
 * const response = await get({ url, addresses: ["93.184.216.34"], signal });
 * ```
 */
export function pinnedTransport(options: { caCerts?: string[] } = {}): MarketplaceTransport {
  return ({ url, addresses, signal }) =>
    new Promise<Response>((resolve, reject) => {
      if (addresses.length === 0) return reject(new Error(`no address to reach ${url.host}`));
      // Node asks for every address (happy eyeballs) or for one; either way only checked ones.
      const lookup = (
        _host: string,
        opts: { all?: boolean },
        callback: (...args: unknown[]) => void,
      ) => {
        if (opts?.all) {
          const all: LookupAddress[] = addresses.map((address) => ({
            address,
            family: familyOf(address),
          }));
          callback(null, all);
        } else {
          callback(null, addresses[0], familyOf(addresses[0]));
        }
      };
      const client = url.protocol === "https:" ? https : http;
      const request = client.request(url, {
        method: "GET",
        agent: false,
        lookup: lookup as never,
        signal,
        ca: options.caCerts,
        headers: { "accept": "application/json, */*", "user-agent": "WSTun-marketplace" },
      }, (response) => {
        try {
          resolve(toResponse(response));
        } catch (error) {
          response.destroy();
          reject(error);
        }
      });
      request.once("error", reject);
      request.end();
    });
}

/** The node response as a web `Response` whose body streams (and can be cancelled). */
function toResponse(response: http.IncomingMessage): Response {
  const status = response.statusCode ?? 0;
  const headers = new Headers();
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  if (NULL_BODY_STATUSES.has(status)) {
    response.resume();
    return new Response(null, { status, headers });
  }
  return new Response(Readable.toWeb(response) as ReadableStream<Uint8Array>, { status, headers });
}

/**
 * A transport over an injected `fetch` (tests and embedders): not pinned, since `fetch` resolves
 * the name itself; the address policy still checks every hop.
 */
export function fetchTransport(fetchFn: typeof fetch): MarketplaceTransport {
  return ({ url, signal }) => fetchFn(url, { redirect: "manual", signal });
}
