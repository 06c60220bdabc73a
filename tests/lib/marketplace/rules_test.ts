/** The small rules under the installer: addresses, paths, versions, content types, the hash script. */
import { assert, assertEquals } from "../../_util/marketplace/assert.ts";
import {
  contentTypeFor,
  filePathProblem,
  isNonPublicAddress,
} from "../../../lib/marketplace/mod.ts";
import { isUpdate } from "../../../lib/marketplace/version_order.ts";
import { MarketplaceEnv } from "../../../lib/marketplace/config.ts";
import { hashMarketplace } from "../../../examples/marketplace/hash_manifests.ts";
import { EXAMPLE_DIR } from "../../_util/marketplace/fixture.ts";

Deno.test("address policy: every form that reaches loopback, private or reserved space is not public", () => {
  const nonPublic = [
    // IPv4: this network, private, CGNAT, loopback, link-local, IETF, documentation, 6to4
    // relay, benchmarking, multicast, reserved, broadcast.
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "100.127.255.255",
    "127.0.0.1",
    "127.8.9.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    // IPv6: unspecified, loopback, IPv4-compatible (deprecated, ::/96).
    "::",
    "::1",
    "::127.0.0.1",
    "::7f00:1",
    "::8.8.8.8",
    // IPv4-mapped and IPv4-translated (SIIT) forms judged by their IPv4 address.
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:0:7f00:1",
    "::ffff:0:a00:1",
    // NAT64 of private IPv4, and the local-use NAT64 prefix (RFC 8215) whatever it embeds.
    "64:ff9b::a00:1",
    "64:ff9b::127.0.0.1",
    "64:ff9b:1::808:808",
    // 6to4 of private IPv4, Teredo (any), site-local, discard-only, ULA, link-local,
    // multicast, documentation, IETF protocol assignments, outside global unicast.
    "2002:7f00:1::",
    "2002:a00:1::1",
    "2002:c0a8:101::1",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "fec0::1",
    "feff::1",
    "100::1",
    "100::ffff:ffff:ffff:ffff",
    "fc00::1",
    "fd00::1",
    "fc12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    "3fff::1",
    "2001:2::1",
    "2001:10::1",
    "4000::1",
    "1::1",
    // Not an address at all.
    "not-an-ip",
    "1.2.3",
    "01.2.3.4",
  ];
  for (const address of nonPublic) assert(isNonPublicAddress(address), address);
  const publicOnes = [
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "192.0.3.1",
    "223.255.255.255",
    "2606:4700::1111",
    "2a00:1450:4001:80b::200e",
    "2001:200::1", // outside 2001::/23
    "::ffff:8.8.8.8",
    "::ffff:0:808:808",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ];
  for (const address of publicOnes) assert(!isNonPublicAddress(address), address);
});

Deno.test("file paths: canonical relative paths pass, everything else is named", () => {
  for (const ok of ["main.html", "js/app.js", "assets/img/logo-2.svg", "a_b~c.txt"]) {
    assertEquals(filePathProblem(ok), undefined, ok);
  }
  for (
    const [bad, problem] of [
      ["", "must not be empty"],
      ["../x", "must not contain '.' or '..' segments"],
      ["./x", "must not contain '.' or '..' segments"],
      ["/x", "must be relative (no leading '/')"],
      ["a\\b", "must not contain a backslash"],
      ["a//b", "must not contain empty segments ('//' or a trailing '/')"],
      ["a/", "must not contain empty segments ('//' or a trailing '/')"],
      ["a b", "may only contain letters, digits, '.', '_', '~', '-' and '/' between segments"],
      ["%2e%2e/x", "may only contain letters, digits, '.', '_', '~', '-' and '/' between segments"],
    ]
  ) {
    assertEquals(filePathProblem(bad), problem, bad);
  }
});

Deno.test("versions: semver compares numerically, other strings differ = update", () => {
  assert(isUpdate("1.2.10", "1.2.9"));
  assert(!isUpdate("1.2.9", "1.2.10"));
  assert(isUpdate("1.0.0", "1.0.0-beta"));
  assert(!isUpdate("1.0.0-beta", "1.0.0"));
  assert(!isUpdate("1.0.0", "1.0.0"));
  assert(isUpdate("2026-11-26", "2026-11-25"));
});

Deno.test("content types come from the extension; unknown ones are octet-stream", () => {
  assertEquals(contentTypeFor("a/b.HTML"), "text/html; charset=utf-8");
  assertEquals(contentTypeFor("x.mjs"), "text/javascript; charset=utf-8");
  assertEquals(contentTypeFor("x.exe"), "application/octet-stream");
  assertEquals(contentTypeFor("dir.js/noext"), "application/octet-stream");
  // Extensions come from a marketplace's manifest: Object.prototype's names are unknown ones too.
  for (const path of ["a.constructor", "a.__proto__", "a.toString", "a.hasOwnProperty"]) {
    assertEquals(contentTypeFor(path), "application/octet-stream", path);
  }
});

Deno.test("config: defaults, and a bad value names the variable", () => {
  const env = MarketplaceEnv.parse({});
  // Private marketplaces are refused unless the operator says otherwise (a LAN marketplace).
  assertEquals(env.WSTUN_MARKETPLACE_ALLOW_PRIVATE, false);
  assertEquals(env.WSTUN_MARKETPLACE_URLS, []);
  assertEquals(
    MarketplaceEnv.parse({ WSTUN_MARKETPLACE_ALLOW_PRIVATE: "true" })
      .WSTUN_MARKETPLACE_ALLOW_PRIVATE,
    true,
  );
  const bad = MarketplaceEnv.safeParse({ WSTUN_MARKETPLACE_URLS: "ftp://x" });
  assert(!bad.success);
  assertEquals(bad.error.issues[0].path, ["WSTUN_MARKETPLACE_URLS"]);
});

Deno.test("examples: the committed manifests match their files (run deno task marketplace:hash)", async () => {
  assertEquals(await hashMarketplace(EXAMPLE_DIR, { check: true }), { stale: [] });
});
