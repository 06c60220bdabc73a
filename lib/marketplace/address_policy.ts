/**
 * Which marketplace URLs the server may fetch. Always: absolute `http:`/`https:` URLs without
 * user:password. With `allowPrivate: false`, also never a host that is, or resolves to, a loopback,
 * private, link-local, shared (CGNAT), multicast or otherwise non-public address — so a marketplace
 * URL cannot be used to make the server probe its own network (SSRF).
 *
 * Limit: the address is checked when the URL is checked, and `fetch` resolves the name again. A DNS
 * server that answers differently the second time (rebinding) can slip past; operators who need a
 * hard guarantee also restrict the server's egress. Every redirect hop is checked the same way.
 *
 * @module
 */
import { isIP } from "node:net";
import { MarketplaceError } from "./errors.ts";

/** Resolves a host name to its IP addresses (A and AAAA); throws when it cannot. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

/** Resolves with `Deno.resolveDns`, A and AAAA together. */
export const resolveWithDns: ResolveHost = async (hostname) => {
  const [v4, v6] = await Promise.allSettled([
    Deno.resolveDns(hostname, "A"),
    Deno.resolveDns(hostname, "AAAA"),
  ]);
  const addresses = [
    ...(v4.status === "fulfilled" ? v4.value : []),
    ...(v6.status === "fulfilled" ? v6.value : []),
  ];
  if (addresses.length === 0) throw new Error(`${hostname} does not resolve`);
  return addresses;
};

function ipv4Octets(address: string): number[] {
  return address.split(".").map(Number);
}

/** Whether an IPv4 address is outside the public unicast space. */
function isNonPublicIpv4(address: string): boolean {
  const [a, b] = ipv4Octets(address);
  return a === 0 || // "this network"
    a === 10 ||
    (a === 100 && b >= 64 && b <= 127) || // shared address space (CGNAT)
    a === 127 ||
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && ipv4Octets(address)[2] === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224; // multicast, reserved, broadcast
}

/** Expands an IPv6 address to its eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const [a, b, c, d] = ipv4Octets(dotted[1]);
    text = text.slice(0, -dotted[1].length) +
      `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(":") : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...Array(zeros).fill("0"), ...tailGroups].map((g) => parseInt(g, 16));
}

/** Whether an IPv6 address is outside the public unicast space (v4-mapped ones judged as IPv4). */
function isNonPublicIpv6(address: string): boolean {
  const g = ipv6Groups(address);
  const allZeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (allZeroUpTo(5) && g[5] === 0xffff) {
    return isNonPublicIpv4(`${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`);
  }
  if (allZeroUpTo(7) && (g[7] === 0 || g[7] === 1)) return true; // :: and ::1
  return (g[0] & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (g[0] & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (g[0] & 0xff00) === 0xff00 || // multicast
    g[0] === 0x2001 && g[1] === 0x0db8 || // documentation
    g[0] === 0x0064 && g[1] === 0xff9b; // NAT64 can reach IPv4 private space
}

/** Whether `address` (an IP literal) is loopback, private or otherwise not public. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return isNonPublicIpv4(address);
  if (family === 6) return isNonPublicIpv6(address);
  return false;
}

/** Parses `raw` as an absolute http(s) URL without credentials, or throws `invalid_url`. */
export function parseMarketplaceUrl(raw: string, base?: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new MarketplaceError("invalid_url", `not a URL: ${raw}`, { url: raw });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new MarketplaceError(
      "invalid_url",
      `only http and https URLs are allowed, not ${url.protocol}`,
      {
        url: url.href,
      },
    );
  }
  if (url.username || url.password) {
    throw new MarketplaceError("invalid_url", "URLs with user:password are not allowed", {
      url: `${url.protocol}//${url.host}${url.pathname}`,
    });
  }
  return url;
}

/** The checks every fetched URL passes. */
export class AddressPolicy {
  readonly #allowPrivate: boolean;
  readonly #resolve: ResolveHost;

  constructor(options: { allowPrivate: boolean; resolve?: ResolveHost }) {
    this.#allowPrivate = options.allowPrivate;
    this.#resolve = options.resolve ?? resolveWithDns;
  }

  /** Throws `private_address` (or `unreachable` when the name does not resolve) for a refused host. */
  async check(url: URL): Promise<void> {
    if (this.#allowPrivate) return;
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (host === "localhost" || host.endsWith(".localhost")) throw this.#refusal(url, host);
    if (isIP(host)) {
      if (isNonPublicAddress(host)) throw this.#refusal(url, host);
      return;
    }
    let addresses: string[];
    try {
      addresses = await this.#resolve(host);
    } catch (e) {
      throw new MarketplaceError("unreachable", `cannot resolve ${host}: ${(e as Error).message}`, {
        url: url.href,
      });
    }
    const bad = addresses.find(isNonPublicAddress);
    if (bad) throw this.#refusal(url, `${host} (${bad})`);
  }

  #refusal(url: URL, what: string): MarketplaceError {
    return new MarketplaceError(
      "private_address",
      `${what} is a loopback or private address; WSTUN_MARKETPLACE_ALLOW_PRIVATE=false refuses it`,
      { url: url.href },
    );
  }
}
