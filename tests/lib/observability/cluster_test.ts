/**
 * The instruments of a server in a cluster: one isolate id for the bridge, the metrics and the
 * logs; the cluster's envelope counts on /metrics; its liveness view as the admin page's bridge
 * health.
 */
import assert from "node:assert/strict";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { parsePrometheus, promValue } from "../../_util/prometheus_text.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

Deno.test("cluster: bridge envelopes on /metrics, liveness as bridge health, one isolate id", async () => {
  await using cluster = await startCluster(2, { adminToken: "adm", logLevel: "error" });
  const [a, b] = cluster.servers;
  assert.equal(a.isolate, a.cluster!.isolate);
  const host = await TestSocket.open(a.wsUrl);
  const member = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, member, uuid, "erin");
  member.send({ type: "chat", uuid, text: "across" });
  assert.equal((await host.next()).text, "across");

  const scrape = await fetch(`${a.base}/metrics`, { headers: { authorization: "Bearer adm" } });
  const families = parsePrometheus(await scrape.text());
  const envelopes = (direction: string) =>
    promValue(families, "wstun_bridge_messages_total", { isolate: a.isolate, direction });
  assert.ok(envelopes("sent") > 0 && envelopes("received") > 0);
  assert.equal(promValue(families, "wstun_bridge_messages_lost_total"), 0);

  // The liveness view fills as heartbeats (every 100 ms here) arrive: ask until it lists both,
  // for at most 5 s.
  let rows: { isolate: string; self: boolean; silent: boolean }[] = [];
  for (const deadline = Date.now() + 5000; rows.length < 2 && Date.now() < deadline;) {
    const answer = await fetch(`${a.base}/_api/metrics`, {
      headers: { authorization: "Bearer adm" },
    });
    rows = (await answer.json()).bridge;
    if (rows.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const byIsolate = new Map(rows.map((r) => [r.isolate, r]));
  assert.equal(byIsolate.get(a.isolate)?.self, true);
  assert.equal(byIsolate.get(b.isolate)?.self, false);
  assert.equal(byIsolate.get(b.isolate)?.silent, false);
  await member.close();
  await host.close();
});
