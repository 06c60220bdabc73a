/**
 * Which marketplace URLs the server may fetch, and where it connects for them. Always: absolute
 * `http:`/`https:` URLs without user:password. With `allowPrivate: false` (the default), also
 * never a host that is, or resolves to, a loopback, private, link-local, shared (CGNAT),
 * multicast or otherwise non-public address in any of its IPv4 or IPv6 spellings (ip_ranges.ts),
 * so a marketplace URL cannot make the server probe its own network (SSRF).
 *
 * {@link AddressPolicy.resolve} returns the addresses it checked, and the fetcher connects to
 * exactly those (pinned_transport.ts): the name is resolved once, so a DNS server that answers a
 * public address to the check and a private one to the connection (rebinding) gets nowhere. Every
 * redirect hop is resolved and checked the same way.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { WstunError } from "../errors/mod.ts";
import { nonPublicReason } from "./ip_ranges.ts";

/** Resolves a host name to its IP addresses; throws when it cannot. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

/**
 * Resolves with the system's resolver (getaddrinfo: /etc/hosts, then DNS), as `fetch` would, so
 * a LAN marketplace named in /etc/hosts keeps working now that the server connects to what this
 * returns.
 */
export const resolveWithSystem: ResolveHost = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  if (answers.length === 0) throw new Error(`${hostname} does not resolve`);
  return answers.map((answer) => answer.address);
};

/** Parses `raw` as an absolute http(s) URL without credentials, or throws `invalid_url`. */
export function parseMarketplaceUrl(raw: string, base?: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new WstunError("invalid_url", `not a URL: ${raw}`, { url: raw });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new WstunError(
      "invalid_url",
      `only http and https URLs are allowed, not ${url.protocol}`,
      {
        url: url.href,
      },
    );
  }
  if (url.username || url.password) {
    throw new WstunError("invalid_url", "URLs with user:password are not allowed", {
      url: `${url.protocol}//${url.host}${url.pathname}`,
    });
  }
  return url;
}

/** The checks every fetched URL passes, and the addresses it may be fetched from. */
export class AddressPolicy {
  readonly #allowPrivate: boolean;
  readonly #resolve: ResolveHost;

  constructor(options: { allowPrivate: boolean; resolve?: ResolveHost }) {
    this.#allowPrivate = options.allowPrivate;
    this.#resolve = options.resolve ?? resolveWithSystem;
  }

  /**
   * The addresses to connect to for `url`: its IP literal, or every address its name resolves
   * to. With private addresses refused, each is checked and one non-public address refuses the
   * host (`private_address`); a name that does not resolve is `unreachable`.
   */
  async resolve(url: URL): Promise<string[]> {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (!this.#allowPrivate && (host === "localhost" || host.endsWith(".localhost"))) {
      throw this.#refusal(url, host, "loopback by name");
    }
    const addresses = isIP(host) ? [host] : await this.#lookUp(url, host);
    if (this.#allowPrivate) return addresses;
    for (const address of addresses) {
      const reason = nonPublicReason(address);
      if (reason !== undefined) {
        throw this.#refusal(url, address === host ? host : `${host} (${address})`, reason);
      }
    }
    return addresses;
  }

  async #lookUp(url: URL, host: string): Promise<string[]> {
    try {
      return await this.#resolve(host);
    } catch (e) {
      throw new WstunError("unreachable", `cannot resolve ${host}: ${(e as Error).message}`, {
        url: url.href,
      });
    }
  }

  #refusal(url: URL, what: string, reason: string): WstunError {
    return new WstunError(
      "private_address",
      `${what} is a loopback or private address (${reason}); marketplaces there are refused ` +
        "unless WSTUN_MARKETPLACE_ALLOW_PRIVATE=true",
      { url: url.href },
    );
  }
}
