/**
 * The admin guard, update and uninstall: who may call the API, that an update switches versions
 * atomically (readers see the old or the new version, complete, never a mix), that a failed update
 * leaves the old version serving, and that uninstall closes instances and removes every trace.
 */
import { ulid } from "ulid";
import { assert, assertEquals } from "../../_util/marketplace/assert.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { ADMIN_TOKEN, MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";

async function withInstalled(
  fn: (app: MarketplaceApp, market: MarketplaceServer) => Promise<void>,
): Promise<void> {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    const answer = await app.api("POST", "/_api/marketplace/install", {
      url: market.indexUrl,
      name: "poll",
    });
    assertEquals(answer.status, 201);
    await fn(app, market);
  } finally {
    await app.close();
    await market.close();
  }
}

/** Publishes version `version` of poll whose main.html and host.js both carry `marker`. */
async function publish(market: MarketplaceServer, version: string, marker: string): Promise<void> {
  const main = await Deno.readTextFile(`${market.root}/poll/main.html`);
  await market.writeText(
    "poll/main.html",
    main.replace(/<title>[^<]*<\/title>/, `<title>${marker}</title>`),
  );
  const host = await Deno.readTextFile(`${market.root}/poll/host.js`);
  await market.writeText(
    "poll/host.js",
    host.replace(/^\/\/ version: .*\n/m, "") + `// version: ${marker}\n`,
  );
  const manifest = await market.readJson<{ version: string }>("poll/manifest.json");
  manifest.version = version;
  await market.writeJson("poll/manifest.json", manifest);
  await market.rehash();
}

const ADMIN_ROUTES: [string, string, unknown?][] = [
  ["GET", "/_api/marketplace/installed"],
  ["GET", "/_api/marketplace/browse?url=http://127.0.0.1:1/index.json"],
  ["POST", "/_api/marketplace/install", { manifest: "http://127.0.0.1:1/m.json" }],
  ["POST", "/_api/marketplace/update", { name: "poll" }],
  ["DELETE", "/_api/marketplace/services/poll"],
  ["GET", "/_api/marketplace/config"],
];

Deno.test("admin: every marketplace route refuses a missing or wrong admin token with 401", async () => {
  const app = await MarketplaceApp.start();
  try {
    for (const [method, path, body] of ADMIN_ROUTES) {
      for (const token of [null, "wrong", ADMIN_TOKEN + "x", ""]) {
        const answer = await app.api(method, path, body, token);
        assertEquals(
          [answer.status, answer.json.error],
          [401, "unauthorized"],
          `${method} ${path} ${token}`,
        );
        assert(!JSON.stringify(answer.json).includes(ADMIN_TOKEN), "the token is never echoed");
      }
    }
  } finally {
    await app.close();
  }
});

Deno.test("admin: with WSTUN_ADMIN_TOKEN unset every marketplace route is refused with 403 admin_disabled", async () => {
  const app = await MarketplaceApp.start({ adminToken: null });
  try {
    for (const [method, path, body] of ADMIN_ROUTES) {
      for (const token of [null, "anything", ""]) {
        const answer = await app.api(method, path, body, token);
        assertEquals(
          [answer.status, answer.json.error],
          [403, "admin_disabled"],
          `${method} ${path}`,
        );
        assertEquals(
          answer.json.message,
          "admin operations are disabled on this server: WSTUN_ADMIN_TOKEN is not set",
        );
      }
    }
  } finally {
    await app.close();
  }
});

Deno.test("admin: installed pages are public; they need no admin token", async () => {
  await withInstalled(async (app) => {
    const page = await fetch(`${app.origin}/poll/main`);
    assertEquals(page.status, 200);
    await page.body?.cancel();
  });
});

Deno.test("update: re-fetches from the recorded source, switches version and deletes the old chunks", async () => {
  await withInstalled(async (app, market) => {
    const keysBefore = await app.storedKeys();
    await publish(market, "1.1.0", "v2");
    const answer = await app.api("POST", "/_api/marketplace/update", { name: "poll" });
    assertEquals(answer, {
      status: 200,
      json: { name: "poll", version: "1.1.0", previousVersion: "1.0.0" },
    });
    const page = await fetch(`${app.origin}/poll/main`);
    assert((await page.text()).includes("<title>v2</title>"));
    assertEquals(app.catalog.get("poll")?.version, "1.1.0");
    const keysAfter = await app.storedKeys();
    assertEquals(keysAfter.length, keysBefore.length, "the old version's chunks are gone");
    assert(keysAfter.every((k) => !keysBefore.includes(k) || k === "marketplace/services/poll"));
  });
});

Deno.test("update: readers during an update see the old or the new version, complete, never a mix", async () => {
  await withInstalled(async (app, market) => {
    await publish(market, "1.0.1", "v1");
    assertEquals((await app.api("POST", "/_api/marketplace/update", { name: "poll" })).status, 200);
    await publish(market, "2.0.0", "v2");
    let done = false;
    const seen = new Set<string>();
    const readers = Array.from({ length: 4 }, async () => {
      while (!done) {
        // Each request reads a version's record and its chunks; a mix would break the marker pair.
        const [main, host] = await Promise.all([
          fetch(`${app.origin}/poll/main`).then((r) => r.text()),
          fetch(`${app.origin}/poll/host.js`).then((r) => r.text()),
        ]);
        const mainMarker = main.match(/<title>(v\d)<\/title>/)?.[1];
        const hostMarker = host.match(/\/\/ version: (v\d)\n$/)?.[1];
        assert(mainMarker && hostMarker, "every response is a complete file");
        seen.add(mainMarker);
      }
    });
    const update = await app.api("POST", "/_api/marketplace/update", { name: "poll" });
    done = true;
    await Promise.all(readers);
    assertEquals(update.status, 200);
    const final = await fetch(`${app.origin}/poll/main`).then((r) => r.text());
    assert(final.includes("<title>v2</title>"));
    assert(seen.size >= 1);
  });
});

Deno.test("update: a failing update leaves the installed version serving and writes nothing", async () => {
  await withInstalled(async (app, market) => {
    const keysBefore = await app.storedKeys();
    await publish(market, "1.1.0", "v2");
    await market.writeText("poll/host.js", "// tampered after hashing\n");
    const answer = await app.api("POST", "/_api/marketplace/update", { name: "poll" });
    assertEquals([answer.status, answer.json.error], [422, "size_mismatch"]);
    assertEquals(await app.storedKeys(), keysBefore);
    assertEquals(app.catalog.get("poll")?.version, "1.0.0");
    const page = await fetch(`${app.origin}/poll/main`).then((r) => r.text());
    assert(page.includes("<title>Poll</title>"));
  });
});

Deno.test("update: two concurrent updates cannot both win; the loser gets 409 conflict and leaves nothing", async () => {
  await withInstalled(async (app, market) => {
    await publish(market, "1.1.0", "v2");
    const answers = await Promise.all([
      app.api("POST", "/_api/marketplace/update", { name: "poll" }),
      app.api("POST", "/_api/marketplace/update", { name: "poll" }),
    ]);
    const statuses = answers.map((a) => a.status).sort();
    assert(statuses[0] === 200, JSON.stringify(answers.map((a) => a.json)));
    if (statuses[1] !== 200) {
      assertEquals(answers.find((a) => a.status !== 200)?.json.error, "conflict");
    }
    const versionIds = new Set(
      (await app.storedKeys()).filter((k) => k.startsWith("marketplace/chunks/")).map((k) =>
        k.split("/")[3]
      ),
    );
    assertEquals(versionIds.size, 1, "only the current version's chunks remain");
  });
});

Deno.test("update: an unknown name is 404 not_installed", async () => {
  const app = await MarketplaceApp.start();
  try {
    const answer = await app.api("POST", "/_api/marketplace/update", { name: "nothing" });
    assertEquals([answer.status, answer.json.error], [404, "not_installed"]);
  } finally {
    await app.close();
  }
});

Deno.test("uninstall: 204, its instances are closed with reason uninstalled, its pages 404, nothing stays in KV", async () => {
  await withInstalled(async (app) => {
    await using host = await TestSocket.open(app.wsUrl);
    await using member = await TestSocket.open(app.wsUrl);
    const room = await createRoom(host, { service: "poll", name: "Lunch?" });
    await joinRoom(host, member, room.uuid, "ana");

    const answer = await fetch(`${app.origin}/_api/marketplace/services/poll`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assertEquals(answer.status, 204);
    await answer.body?.cancel();
    const closed = { type: "instance_closed", uuid: room.uuid, reason: "uninstalled" };
    assertEquals(await host.next(), closed);
    assertEquals(await member.next(), closed);
    assertEquals(app.catalog.has("poll"), false);
    const refused = await host.request({ type: "create_instance", service: "poll", name: "Again" });
    assertEquals([refused.type, refused.code], ["error", "unknown_service"]);
    assertEquals(await app.storedKeys(), []);
    for (const path of ["/poll/main", "/poll/service", "/poll/host.js"]) {
      const page = await fetch(`${app.origin}${path}`);
      assertEquals(page.status, 404, path);
      await page.body?.cancel();
    }
    const again = await app.api("DELETE", "/_api/marketplace/services/poll");
    assertEquals([again.status, again.json.error], [404, "not_installed"]);
  });
});

Deno.test("load: chunks left by a crash before the switch are removed once they are old enough", async () => {
  const market = await MarketplaceServer.start();
  let now = Date.UTC(2026, 0, 1);
  const app = await MarketplaceApp.start({ now: () => now });
  try {
    await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    const installedKeys = await app.storedKeys();
    // A crash between writing chunks and switching leaves chunks of a version no record names.
    const orphan = ulid(now - 1000);
    await app.kv.set(
      ["marketplace", "chunks", "poll", orphan, 0, 0],
      new Uint8Array([1]),
    );
    await app.kv.set(
      ["marketplace", "chunks", "ghost", orphan, 0, 0],
      new Uint8Array([1]),
    );
    await app.marketplace.load();
    assertEquals(
      (await app.storedKeys()).length,
      installedKeys.length + 2,
      "young orphans may be an install in progress",
    );
    now += 2 * 60 * 60 * 1000;
    await app.marketplace.load();
    assertEquals(await app.storedKeys(), installedKeys);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("install: at WSTUN_MARKETPLACE_MAX_SERVICES a new install is refused (409 limit_reached) before any file is fetched", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start({ limits: { maxServices: 1 } });
  try {
    assertEquals(
      (await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" }))
        .status,
      201,
    );
    const manifest = await market.readJson<{ name: string }>("poll/manifest.json");
    manifest.name = "poll-two";
    await market.writeJson("poll/manifest.json", manifest);
    market.requests.length = 0;
    const answer = await app.api("POST", "/_api/marketplace/install", {
      manifest: market.url("poll/manifest.json"),
    });
    assertEquals([answer.status, answer.json.error], [409, "limit_reached"]);
    assertEquals(market.requests, ["/poll/manifest.json"]);
    assertEquals(app.catalog.has("poll-two"), false);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("isolates: a server sharing the KV sees installs and uninstalls made by another and closes its instances", async () => {
  const market = await MarketplaceServer.start();
  const dir = await Deno.makeTempDir({ prefix: "wstun-kv-" });
  const one = await MarketplaceApp.start({ kvPath: `${dir}/wstun.kv` });
  const two = await MarketplaceApp.start({ kvPath: `${dir}/wstun.kv` });
  let synced: () => void = () => {};
  const watcher = two.marketplace.watch(() => synced());
  const nextSync = (check: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no sync within 5 s")), 5000);
      synced = () => {
        if (!check()) return;
        clearTimeout(timer);
        resolve();
      };
    });
  try {
    await using host = await TestSocket.open(two.wsUrl);
    const installed = nextSync(() => two.catalog.has("poll"));
    assertEquals(
      (await one.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" }))
        .status,
      201,
    );
    await installed;
    assertEquals(two.catalog.get("poll")?.version, "1.0.0");
    const room = await createRoom(host, { service: "poll", name: "On the other isolate" });

    const removed = nextSync(() => !two.catalog.has("poll"));
    assertEquals((await one.api("DELETE", "/_api/marketplace/services/poll")).status, 204);
    await removed;
    assertEquals(await host.next(), {
      type: "instance_closed",
      uuid: room.uuid,
      reason: "uninstalled",
    });
  } finally {
    await watcher.stop();
    await two.close();
    await one.close();
    await Deno.remove(dir, { recursive: true });
    await market.close();
  }
});
