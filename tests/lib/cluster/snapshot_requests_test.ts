/**
 * `/metrics` on a worker of `WSTUN_WORKERS` answers for every worker (lib/cluster/snapshot_requests.ts):
 * here three isolates in one process configured as workers of one server, one of which stops
 * answering; `WSTUN_WORKERS=2 deno task start` itself is tests/routes/metrics_workers_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../../lib/config.ts";
import { LogLines } from "../../_util/log_lines.ts";
import { parsePrometheus, type PromFamily, promValue } from "../../_util/prometheus_text.ts";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { LossyBridge } from "../../_util/cluster/lossy_bridge.ts";

const asWorkers = {
  metricsToken: "scrape",
  adminToken: "adm",
  bridge: { ...defaultConfig().bridge, workers: 3 },
};

async function scrape(base: string): Promise<Map<string, PromFamily>> {
  const response = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer scrape" } });
  assert.equal(response.status, 200);
  return parsePrometheus(await response.text());
}

/** The isolates with series on a page. */
function isolatesOf(families: Map<string, PromFamily>): string[] {
  return families.get("wstun_build_info")!.samples.map((s) => s.labels.isolate).sort();
}

Deno.test("workers' /metrics: every worker's series; one that does not answer is named missing", async () => {
  await using cluster = await startCluster(0, asWorkers);
  const lines = new LogLines();
  const a = await cluster.add({}, undefined, undefined, { log: lines.log });
  const b = await cluster.add();
  const lossy = new LossyBridge(cluster.namespace);
  const c = await cluster.add({}, lossy);
  const everyone = [a.isolate, b.isolate, c.isolate].sort();

  // Asked are the isolates A has heard on the bridge: every one, once their first beats are in.
  let page = await scrape(a.base);
  for (let i = 0; i < 50 && isolatesOf(page).length < 3; i++) page = await scrape(a.base);
  assert.deepEqual(isolatesOf(page), everyone);
  assert.equal(promValue(page, "wstun_scrape_isolates_missing", { isolate: a.isolate }), 0);
  for (const isolate of everyone) {
    assert.ok(promValue(page, "wstun_start_time_seconds", { isolate }) > 0, isolate);
  }
  // Each isolate's own figures: only B has a socket open.
  const socket = new WebSocket(b.wsUrl);
  await new Promise((resolve) => socket.onopen = resolve);
  page = await scrape(a.base);
  assert.equal(promValue(page, "wstun_connections_open", { isolate: b.isolate }), 1);
  assert.equal(promValue(page, "wstun_connections_open", { isolate: a.isolate }), 0);
  socket.close();
  await new Promise((resolve) => socket.onclose = resolve);
  // The admin page's live view gets the same snapshots, and who is missing.
  const live = await fetch(`${a.base}/_api/metrics`, { headers: { authorization: "Bearer adm" } });
  const body = await live.json();
  assert.deepEqual(body.snapshots.map((s: { isolate: string }) => s.isolate).sort(), everyone);
  assert.deepEqual(body.missing, []);

  // C stops answering (it was heard a moment ago, so it is still asked).
  lossy.partition = true;
  const began = Date.now();
  page = await scrape(a.base);
  assert.deepEqual(isolatesOf(page), [a.isolate, b.isolate].sort());
  assert.equal(promValue(page, "wstun_scrape_isolates_missing", { isolate: a.isolate }), 1);
  assert.ok(Date.now() - began < 3000, "bounded by the bridge time-out");
  const missing = await lines.next("metrics.isolates_missing");
  assert.equal(missing.missing, c.isolate);
});

Deno.test("servers that are not workers of one process answer for themselves alone", async () => {
  await using cluster = await startCluster(2, { metricsToken: "scrape" });
  const [a, b] = cluster.servers;
  // Even once B would answer A over the bridge, A's page is its own.
  let collected = await a.cluster!.collectSnapshots(1000);
  for (let i = 0; i < 500 && collected.snapshots.length === 0; i++) {
    // Nobody heard yet answers at once: let B's first beat in (a task, not a guess at a time).
    await new Promise((resolve) => setTimeout(resolve, 0));
    collected = await a.cluster!.collectSnapshots(1000);
  }
  assert.deepEqual(collected.snapshots.map((s) => s.isolate), [b.isolate]);
  const page = await scrape(a.base);
  assert.deepEqual(isolatesOf(page), [a.isolate]);
  assert.equal(promValue(page, "wstun_scrape_isolates_missing", { isolate: a.isolate }), 0);
});
