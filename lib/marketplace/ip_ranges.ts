/**
 * Which IP addresses are public unicast, the ones a marketplace fetch may reach when
 * `WSTUN_MARKETPLACE_ALLOW_PRIVATE=false`. An allow-list in spirit: an IPv6 address must be in
 * global unicast (2000::/3) and outside every special-purpose block below; an IPv4 address
 * outside every block below. Anything that does not parse as an address is not public.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:0:0/96`, IPv4-translated
 * `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address, so
 * `::ffff:7f00:1` and `2002:7f00:1::` are loopback. Forms whose destination cannot be judged are
 * refused whatever they carry: IPv4-compatible `::/96` (deprecated), local-use NAT64
 * `64:ff9b:1::/48`, Teredo `2001::/32` and the rest of the IETF block `2001::/23`.
 *
 * Owned here rather than taken from npm: the only well-kept candidate, ipaddr.js, parses
 * `::127.0.0.1` as `::ffff:127.0.0.1` and calls `::7f00:1` unicast, and its ranges would still
 * need this module's embedded-IPv4 rules; the blocks are one table (IANA's special-purpose
 * registries), and parsing goes through `node:net`'s `isIP` and the WHATWG URL parser.
 *
 * @module
 */
import { isIP } from "node:net";

interface Block {
  /** The block's first address, as bytes. */
  prefix: Uint8Array;
  bits: number;
  /** What the block is, with its CIDR, for messages: `loopback 127.0.0.0/8`. */
  name: string;
}

function v4(cidr: string, kind: string): Block {
  const [address, bits] = cidr.split("/");
  return { prefix: ipv4Bytes(address)!, bits: Number(bits), name: `${kind} ${cidr}` };
}

function v6(cidr: string, kind: string): Block {
  const [address, bits] = cidr.split("/");
  return { prefix: ipv6Bytes(address)!, bits: Number(bits), name: `${kind} ${cidr}` };
}

/** IANA IPv4 special-purpose blocks that are not globally reachable, and multicast/reserved. */
const IPV4_BLOCKS: readonly Block[] = [
  v4("0.0.0.0/8", "this network"),
  v4("10.0.0.0/8", "private"),
  v4("100.64.0.0/10", "shared (CGNAT)"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "link-local"),
  v4("172.16.0.0/12", "private"),
  v4("192.0.0.0/24", "IETF protocol assignments"),
  v4("192.0.2.0/24", "documentation"),
  v4("192.88.99.0/24", "6to4 relay anycast"),
  v4("192.168.0.0/16", "private"),
  v4("198.18.0.0/15", "benchmarking"),
  v4("198.51.100.0/24", "documentation"),
  v4("203.0.113.0/24", "documentation"),
  v4("224.0.0.0/4", "multicast"),
  v4("240.0.0.0/4", "reserved or broadcast"),
];

/** IPv6 forms carrying an IPv4 address in the given bytes, judged by it. */
const IPV6_EMBEDDING: readonly (Block & { at: number })[] = [
  { ...v6("::ffff:0:0/96", "IPv4-mapped"), at: 12 },
  { ...v6("::ffff:0:0:0/96", "IPv4-translated"), at: 12 },
  { ...v6("64:ff9b::/96", "NAT64"), at: 12 },
  { ...v6("2002::/16", "6to4"), at: 2 },
];

/** IPv6 blocks refused whatever they carry (checked in order, so the names are precise). */
const IPV6_BLOCKS: readonly Block[] = [
  v6("::/128", "unspecified"),
  v6("::1/128", "loopback"),
  v6("::/96", "IPv4-compatible"),
  v6("64:ff9b:1::/48", "local-use NAT64"),
  v6("100::/64", "discard-only"),
  v6("2001::/32", "Teredo"),
  v6("2001:db8::/32", "documentation"),
  v6("2001::/23", "IETF protocol assignments"),
  v6("3fff::/20", "documentation"),
  v6("fc00::/7", "unique local"),
  v6("fe80::/10", "link-local"),
  v6("fec0::/10", "site-local"),
  v6("ff00::/8", "multicast"),
];

const GLOBAL_UNICAST = v6("2000::/3", "global unicast");

function within(bytes: Uint8Array, block: Block): boolean {
  if (bytes.byteLength !== block.prefix.byteLength) return false;
  const whole = block.bits >> 3, rest = block.bits & 7;
  for (let i = 0; i < whole; i++) if (bytes[i] !== block.prefix[i]) return false;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole] & mask) === (block.prefix[whole] & mask);
}

/** The 4 bytes of a dotted-decimal IPv4 address (`isIP`'s strict form), or undefined. */
function ipv4Bytes(address: string): Uint8Array | undefined {
  if (isIP(address) !== 4) return undefined;
  return Uint8Array.from(address.split("."), Number);
}

/**
 * The 16 bytes of an IPv6 address, or undefined. The WHATWG URL parser rewrites any valid form
 * (a dotted-quad tail, upper case, leading zeros) as compressed hex, which is then split.
 */
function ipv6Bytes(address: string): Uint8Array | undefined {
  if (isIP(address) !== 6) return undefined;
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [head, tail] = canonical.split("::");
  const groups = (part: string | undefined) => part ? part.split(":") : [];
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [
    ...groups(head),
    ...Array(tail === undefined ? 0 : missing).fill("0"),
    ...groups(tail),
  ];
  if (all.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  return bytes;
}

function ipv4Reason(bytes: Uint8Array): string | undefined {
  return IPV4_BLOCKS.find((block) => within(bytes, block))?.name;
}

function ipv6Reason(bytes: Uint8Array): string | undefined {
  for (const form of IPV6_EMBEDDING) {
    if (!within(bytes, form)) continue;
    const inner = ipv4Reason(bytes.subarray(form.at, form.at + 4));
    return inner === undefined ? undefined : `${form.name} of ${inner}`;
  }
  const block = IPV6_BLOCKS.find((b) => within(bytes, b));
  if (block) return block.name;
  return within(bytes, GLOBAL_UNICAST) ? undefined : "outside global unicast 2000::/3";
}

/**
 * Why `address` is not a public unicast address (`loopback 127.0.0.0/8`, `6to4 of private
 * 10.0.0.0/8`, …), or undefined when it is one. A zone id (`fe80::1%eth0`) or anything that is not
 * an IP address is never public.
 *
 * @example
 * ```ts
 * nonPublicReason("::ffff:0:7f00:1"); // "IPv4-translated ::ffff:0:0:0/96 of loopback 127.0.0.0/8"
 * nonPublicReason("2606:4700::1111"); // undefined
 * ```
 */
export function nonPublicReason(address: string): string | undefined {
  if (address.includes("%")) return "scoped (it has a zone id)";
  const four = ipv4Bytes(address);
  if (four) return ipv4Reason(four);
  const six = ipv6Bytes(address);
  if (six) return ipv6Reason(six);
  return "not an IP address";
}

/** Whether `address` is loopback, private or otherwise not public (see {@link nonPublicReason}). */
export function isNonPublicAddress(address: string): boolean {
  return nonPublicReason(address) !== undefined;
}
