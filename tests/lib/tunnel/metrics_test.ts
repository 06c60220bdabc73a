/**
 * Tunnel instruments on /metrics: sessions, streams, bytes both ways, refused registrations by
 * reason, and an eviction when a second client takes the id.
 */
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { parsePrometheus, promValue } from "../../_util/prometheus_text.ts";
import { startServer } from "../../_util/server.ts";
import assert from "node:assert/strict";
import {
  SECRET_A,
  SECRET_B,
  startClient,
  startTarget,
  within,
} from "../../_util/tunnel/fixture.ts";

const tunnelOn = { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } };

Deno.test("tunnel metrics: sessions, streams, bytes, refusals and evictions are counted", async () => {
  await using server = await startServer({ tunnel: tunnelOn, metricsToken: "scrape" });
  const scrape = async () => {
    const response = await fetch(`${server.base}/metrics`, {
      headers: { authorization: "Bearer scrape" },
    });
    return parsePrometheus(await response.text());
  };
  const target = startTarget();
  const first = await startClient(server.base, "metered", target.port);
  assert.deepEqual(await (await fetch(`${first.url}/hello`)).text(), "hello from the target");
  const during = await scrape();
  assert.deepEqual(promValue(during, "wstun_tunnel_sessions"), 1);
  assert.deepEqual(promValue(during, "wstun_tunnel_streams_total"), 1);
  const bytes = (direction: string) =>
    promValue(during, "wstun_tunnel_traffic_bytes_total", { direction });
  assert.deepEqual(bytes("to_client") > 20 && bytes("from_client") > 20, true);
  // A second client for the same id evicts the first (close 4905).
  const second = await startClient(server.base, "metered", target.port);
  await within(5000, "the older session closed", first.logged(/session closed \(4905 /));
  await first.client.close();
  const refused = await fetch(`${server.base}/_tunnel`, {
    headers: {
      upgrade: "websocket",
      "x-websocktunnel-id": "metered",
      authorization: "Bearer not.a.jwt",
    },
  });
  assert.deepEqual(refused.status, 401);
  await refused.body?.cancel();

  const after = await scrape();
  assert.deepEqual(promValue(after, "wstun_tunnel_sessions_opened_total"), 2);
  assert.deepEqual(promValue(after, "wstun_tunnel_evictions_total"), 1);
  assert.deepEqual(
    promValue(after, "wstun_tunnel_registrations_refused_total", { reason: "invalid_token" }),
    1,
  );
  await second.client.close();
  await target.close();
});
