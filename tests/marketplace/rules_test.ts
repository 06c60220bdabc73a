/** The small rules under the installer: addresses, paths, versions, content types, the hash script. */
import { assert, assertEquals } from "./assertions.ts";
import { contentTypeFor, filePathProblem, isNonPublicAddress } from "../../lib/marketplace/mod.ts";
import { isUpdate } from "../../lib/marketplace/version_order.ts";
import { MarketplaceEnv } from "../../lib/marketplace/config.ts";
import { hashMarketplace } from "../../examples/marketplace/hash_manifests.ts";
import { EXAMPLE_DIR } from "./marketplace_fixture.ts";

Deno.test("address policy: loopback, private, link-local and mapped addresses are not public", () => {
  for (
    const address of [
      "127.0.0.1",
      "127.8.9.1",
      "10.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "fc12:3456::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:10.0.0.1",
      "64:ff9b::a00:1",
    ]
  ) {
    assert(isNonPublicAddress(address), address);
  }
  for (
    const address of ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
  ) {
    assert(!isNonPublicAddress(address), address);
  }
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
  assertEquals(env.WSTUN_MARKETPLACE_ALLOW_PRIVATE, true);
  assertEquals(env.WSTUN_MARKETPLACE_URLS, []);
  assertEquals(
    MarketplaceEnv.parse({ WSTUN_MARKETPLACE_ALLOW_PRIVATE: "false" })
      .WSTUN_MARKETPLACE_ALLOW_PRIVATE,
    false,
  );
  const bad = MarketplaceEnv.safeParse({ WSTUN_MARKETPLACE_URLS: "ftp://x" });
  assert(!bad.success);
  assertEquals(bad.error.issues[0].path, ["WSTUN_MARKETPLACE_URLS"]);
});

Deno.test("examples: the committed manifests match their files (run deno task marketplace:hash)", async () => {
  assertEquals(await hashMarketplace(EXAMPLE_DIR, { check: true }), { stale: [] });
});
