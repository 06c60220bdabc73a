import { assert, assertEquals, assertMatch } from "../../_util/marketplace/assert.ts";
import { MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";
import { MARKETPLACE_CSP } from "../../../routes/marketplace.ts";

Deno.test("install: from an index, the service is listed, in the catalog and its pages are served", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    const installed = await app.api("POST", "/_api/marketplace/install", {
      url: market.indexUrl,
      name: "poll",
    });
    assertEquals(installed, { status: 201, json: { name: "poll", version: "1.0.0" } });

    const list = await app.api("GET", "/_api/marketplace/installed");
    assertEquals(list.status, 200);
    const [entry] = list.json as unknown as Record<string, unknown>[];
    assertEquals(entry.name, "poll");
    assertEquals(entry.version, "1.0.0");
    assertEquals(entry.source, market.indexUrl);
    assertEquals(entry.manifest, market.url("poll/manifest.json"));
    assertMatch(String(entry.installedAt), /^\d{4}-\d\d-\d\dT/);

    assertEquals(app.catalog.get("poll")?.builtin, false);
    assertEquals(app.catalog.get("poll")?.endpoints, {
      service: "/poll/service",
      main: "/poll/main",
    });

    const expected = await Deno.readTextFile(`${market.root}/poll/main.html`);
    for (
      const [path, type, body] of [
        ["/poll/main", "text/html; charset=utf-8", expected],
        ["/poll/service", "text/html; charset=utf-8", undefined],
        ["/poll/host.js", "text/javascript; charset=utf-8", undefined],
        ["/poll/poll.css", "text/css; charset=utf-8", undefined],
      ] as const
    ) {
      const response = await fetch(`${app.origin}${path}`);
      const text = await response.text();
      assertEquals(response.status, 200, path);
      assertEquals(response.headers.get("content-type"), type, path);
      assertEquals(response.headers.get("content-security-policy"), MARKETPLACE_CSP, path);
      assertMatch(MARKETPLACE_CSP, /^sandbox allow-scripts/);
      assert(!MARKETPLACE_CSP.includes("allow-same-origin"), "the page's origin must stay opaque");
      assertEquals(response.headers.get("x-content-type-options"), "nosniff", path);
      if (body !== undefined) assertEquals(text, body);
    }
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("install: from a manifest URL works too and records that source", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    const manifest = market.url("poll/manifest.json");
    assertEquals((await app.api("POST", "/_api/marketplace/install", { manifest })).status, 201);
    const list = await app.api("GET", "/_api/marketplace/installed");
    const [entry] = list.json as unknown as Record<string, unknown>[];
    assertEquals([entry.source, entry.sourceKind], [manifest, "manifest"]);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("install: a second install of the same name is refused with 409 already_installed", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    const again = await app.api("POST", "/_api/marketplace/install", {
      url: market.indexUrl,
      name: "poll",
    });
    assertEquals([again.status, again.json.error], [409, "already_installed"]);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("browse: lists the index with installed and update-available marks", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    const before = await app.api(
      "GET",
      `/_api/marketplace/browse?url=${encodeURIComponent(market.indexUrl)}`,
    );
    assertEquals(before.status, 200);
    assertEquals(before.json.name, "WSTun example marketplace");
    const services = () => (before.json.services as Record<string, unknown>[]);
    assertEquals(services()[0].installed, false);
    assertEquals(services()[0].manifest, market.url("poll/manifest.json"));

    await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    const index = await market.readJson<{ services: { version: string }[] }>("index.json");
    index.services[0].version = "1.1.0";
    await market.writeJson("index.json", index);
    const after = await app.api(
      "GET",
      `/_api/marketplace/browse?url=${encodeURIComponent(market.indexUrl)}`,
    );
    const [poll] = after.json.services as Record<string, unknown>[];
    assertEquals([poll.installed, poll.installedVersion, poll.updateAvailable], [
      true,
      "1.0.0",
      true,
    ]);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("restart: a service installed into a KV file is there again after reopening it", async () => {
  const market = await MarketplaceServer.start();
  const dir = await Deno.makeTempDir({ prefix: "wstun-kv-" });
  const kvPath = `${dir}/wstun.kv`;
  try {
    const first = await MarketplaceApp.start({ kvPath });
    try {
      assertEquals(
        (await first.api("POST", "/_api/marketplace/install", {
          url: market.indexUrl,
          name: "poll",
        })).status,
        201,
      );
    } finally {
      await first.close();
    }
    const second = await MarketplaceApp.start({ kvPath });
    try {
      assertEquals(second.catalog.get("poll")?.version, "1.0.0");
      const response = await fetch(`${second.origin}/poll/main`);
      assertEquals(response.status, 200);
      assertEquals(await response.text(), await Deno.readTextFile(`${market.root}/poll/main.html`));
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await market.close();
  }
});

Deno.test("serve: files larger than one KV value are chunked and come back byte for byte", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    // 200 KiB of varied bytes: four chunks, not a multiple of the chunk size.
    const big = Array.from(
      { length: 200 * 1024 },
      (_, i) => String.fromCharCode(33 + (i * 7919) % 90),
    ).join("");
    await market.writeText("poll/big.txt", big);
    await market.rehash();
    assertEquals(
      (await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" }))
        .status,
      201,
    );
    const response = await fetch(`${app.origin}/poll/big.txt`);
    assertEquals(response.headers.get("content-type"), "text/plain; charset=utf-8");
    assertEquals(await response.text(), big);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("serve: an unknown file of an installed service is 404 JSON; an unknown service falls through", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    const missing = await fetch(`${app.origin}/poll/nope.js`);
    assertEquals(missing.status, 404);
    assertEquals((await missing.json()).error, "not_found");
    const other = await fetch(`${app.origin}/whatever/main`);
    assertEquals(other.status, 404);
    await other.body?.cancel();
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("serve: a revalidation with the current ETag is 304 without reading the file's chunks", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    const first = await fetch(`${app.origin}/poll/host.js`);
    const etag = first.headers.get("etag")!;
    assertMatch(etag, /^"[0-9a-f]{64}"$/);
    await first.body?.cancel();

    // Delete the stored content: a revalidation that matches must not need it.
    for await (const entry of app.kv.list({ prefix: ["marketplace", "chunks", "poll"] })) {
      await app.kv.delete(entry.key);
    }
    for (const ifNoneMatch of [etag, `W/${etag}`, `"${"0".repeat(64)}", ${etag}`]) {
      const again = await fetch(`${app.origin}/poll/host.js`, {
        headers: { "if-none-match": ifNoneMatch },
      });
      assertEquals(again.status, 304, ifNoneMatch);
      assertEquals(again.headers.get("etag"), etag);
      assertEquals(await again.text(), "");
    }
    // Any other tag needs the content, which is gone now.
    const stale = await fetch(`${app.origin}/poll/host.js`, {
      headers: { "if-none-match": `"${"0".repeat(64)}"` },
    });
    assertEquals(stale.status, 404);
    await stale.body?.cancel();
  } finally {
    await app.close();
    await market.close();
  }
});
