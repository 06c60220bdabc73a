/**
 * The instruments fed by the subsystems (marketplace, pub/sub authorizer), through the real
 * server and `/metrics`, with the log lines they write.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../../lib/config.ts";
import { Logger } from "../../../lib/log.ts";
import { UPGRADE_HEADERS } from "../../_util/upgrade_request.ts";
import { parsePrometheus, type PromFamily, promValue } from "../../_util/prometheus_text.ts";
import { startServer } from "../../_util/server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { LoopbackAuthorizer } from "../../_util/pubsub/loopback_authorizer.ts";
import { ADMIN_TOKEN, MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";

async function scrape(origin: string, token: string): Promise<Map<string, PromFamily>> {
  const response = await fetch(`${origin}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  return parsePrometheus(await response.text());
}

Deno.test("marketplace: installs, updates and uninstalls are counted by outcome and logged", async () => {
  const market = await MarketplaceServer.start();
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ write: (line) => lines.push(JSON.parse(line)) });
  const app = await MarketplaceApp.start({ log });
  try {
    const install = () =>
      app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    assert.equal((await install()).status, 201);
    assert.equal((await install()).status, 409, "already installed");
    assert.equal((await app.api("DELETE", "/_api/marketplace/services/poll")).status, 204);
    assert.equal((await app.api("POST", "/_api/marketplace/update", { name: "poll" })).status, 404);
    const families = await scrape(app.origin, ADMIN_TOKEN);
    const ops = (operation: string, outcome: string) =>
      promValue(families, "wstun_marketplace_operations_total", { operation, outcome });
    assert.deepEqual(
      [
        ops("install", "ok"),
        ops("install", "failed"),
        ops("uninstall", "ok"),
        ops("update", "failed"),
      ],
      [1, 1, 1, 1],
    );
    const events = lines.filter((l) => String(l.event).startsWith("marketplace."));
    assert.deepEqual(events.map((e) => [e.event, e.name, e.code]), [
      ["marketplace.install", "poll", undefined],
      ["marketplace.install_failed", "poll", "already_installed"],
      ["marketplace.uninstall", "poll", undefined],
      ["marketplace.update_failed", "poll", "not_installed"],
    ]);
    assert.match(String(events[0].version), /^\d+\.\d+\.\d+/);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("authorizer: calls by verdict, their duration, and the refused /ws upgrade", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const pubsub = { ...defaultConfig().pubsub, authorizerUrl: authorizer.url };
  await using server = await startServer({ pubsub, metricsToken: "scrape" });
  const wsUrl = `${server.wsUrl.slice(0, -"/_ws".length)}/ws`;
  const allowed = await TestSocket.open(wsUrl);
  authorizer.deny();
  const denied = await fetch(wsUrl.replace("ws:", "http:"), { headers: UPGRADE_HEADERS });
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const families = await scrape(server.base, "scrape");
  const calls = (verdict: string) =>
    promValue(families, "wstun_authorizer_calls_total", { verdict });
  assert.deepEqual([calls("allowed"), calls("denied"), calls("unavailable")], [1, 1, 0]);
  assert.equal(promValue(families, "wstun_authorizer_duration_seconds_count"), 2);
  assert.ok(promValue(families, "wstun_authorizer_duration_seconds_sum") > 0);
  assert.equal(promValue(families, "wstun_upgrades_refused_total", { reason: "unauthorized" }), 1);
  assert.equal(promValue(families, "wstun_connections_open"), 1);
  await allowed.close();
  await authorizer.close();
});

Deno.test("refused upgrades: the server-token guard before /ws and a drain are counted and logged too", async () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", write: (line) => lines.push(line) });
  await using server = await startServer(
    { token: "server-token-123", metricsToken: "scrape", logLevel: "info" },
    0,
    { log },
  );
  const http = server.base;
  const wrong = await fetch(`${http}/ws?token=wrong`, { headers: UPGRADE_HEADERS });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  server.drain(Date.now() + 1000);
  const draining = await fetch(`${http}/_ws?token=server-token-123`, { headers: UPGRADE_HEADERS });
  assert.equal(draining.status, 503);
  await draining.body?.cancel();
  const families = await scrape(http, "scrape");
  const refused = (reason: string) =>
    promValue(families, "wstun_upgrades_refused_total", { reason });
  assert.deepEqual([refused("unauthorized"), refused("draining")], [1, 1]);
  const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.event === "upgrade.refused");
  assert.deepEqual(logged.map((l) => [l.path, l.status, l.reason]), [
    ["/ws", 401, "unauthorized"],
    ["/_ws", 503, "draining"],
  ]);
  assert.ok(!lines.some((l) => l.includes("wrong") || l.includes("server-token-123")));
});
