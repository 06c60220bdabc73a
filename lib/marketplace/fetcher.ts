/**
 * Fetches marketplace documents and files under firm limits: one deadline per fetch covering the
 * redirects and the body, at most `maxRedirects` redirects (each hop resolved and checked again by
 * the address policy, so a public URL cannot bounce the server onto its own network), http(s)
 * only, and a byte cap enforced while the body streams (a lying or missing Content-Length cannot
 * make it read more). Each hop connects to the addresses the policy checked (the transport is
 * pinned), never to a second resolution of the name.
 *
 * Every failure is a `WstunError`: `unreachable` for network errors and time-outs,
 * `upstream_failed` for bad statuses and redirect loops, and the caller's own code when the body is
 * larger than allowed. Every response body is consumed or cancelled.
 *
 * @module
 */
import { type AddressPolicy, parseMarketplaceUrl } from "./address_policy.ts";
import { WstunError } from "../errors/mod.ts";
import type { MarketplaceTransport } from "./pinned_transport.ts";

export interface FetcherOptions {
  /** Makes one GET to checked addresses; `pinnedTransport()` unless a test injects another. */
  transport: MarketplaceTransport;
  policy: AddressPolicy;
  /** Deadline for one fetch, redirects and body included. */
  timeoutMs: number;
  maxRedirects: number;
}

/** A fetched body and the URL it finally came from (after redirects). */
export interface Fetched {
  url: URL;
  bytes: Uint8Array;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export class MarketplaceFetcher {
  readonly #options: FetcherOptions;

  constructor(options: FetcherOptions) {
    this.#options = options;
  }

  /**
   * GETs `url` and returns at most `maxBytes` bytes of body; a longer body throws `tooLarge()`.
   */
  async fetchBytes(url: URL, maxBytes: number, tooLarge: () => WstunError): Promise<Fetched> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    try {
      const { response, finalUrl } = await this.#follow(url, controller.signal);
      return { url: finalUrl, bytes: await readCapped(response, maxBytes, tooLarge) };
    } catch (e) {
      if (e instanceof WstunError) throw e;
      if (controller.signal.aborted) {
        throw new WstunError(
          "unreachable",
          `${url.href} timed out after ${this.#options.timeoutMs} ms`,
          {
            url: url.href,
          },
        );
      }
      throw new WstunError(
        "unreachable",
        `cannot reach ${url.href}: ${(e as Error).message}`,
        {
          url: url.href,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Follows redirects by hand so every hop passes the URL rules and the address policy. */
  async #follow(start: URL, signal: AbortSignal): Promise<{ response: Response; finalUrl: URL }> {
    let url = start;
    for (let hop = 0;; hop++) {
      const addresses = await this.#options.policy.resolve(url);
      const response = await this.#options.transport({ url, addresses, signal });
      if (REDIRECT_STATUSES.has(response.status)) {
        await response.body?.cancel();
        const location = response.headers.get("location");
        if (!location) {
          throw new WstunError(
            "upstream_failed",
            `${url.href} redirected without a Location`,
            {
              url: url.href,
            },
          );
        }
        if (hop >= this.#options.maxRedirects) {
          throw new WstunError(
            "upstream_failed",
            `${start.href} redirected more than ${this.#options.maxRedirects} times`,
            { url: start.href },
          );
        }
        url = parseMarketplaceUrl(location, url);
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new WstunError(
          "upstream_failed",
          `${url.href} answered HTTP ${response.status}`,
          {
            url: url.href,
          },
        );
      }
      return { response, finalUrl: url };
    }
  }
}

/** Reads a body, refusing (and cancelling) as soon as it passes `maxBytes`. */
async function readCapped(
  response: Response,
  maxBytes: number,
  tooLarge: () => WstunError,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
