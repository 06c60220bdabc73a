/**
 * What the socket's isolate reports of its requests to other isolates (lib/cluster/socket_side.ts):
 * the round trip of each one the owner answers, refusals from the cluster by their code, a keyed
 * create's directory claims and their conflicts, and instances adopted from a drained isolate.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parsePrometheus, type PromFamily, promValue } from "../../_util/prometheus_text.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { type ClusterServer, startCluster } from "../../_util/cluster/cluster.ts";

const NO_SUCH = "01NOSUCHINSTANCE000000000";
const KEY = "Vq3xL9pTz0aR7mWc2eYh5K-observed";

async function scrape(server: ClusterServer): Promise<Map<string, PromFamily>> {
  const response = await fetch(`${server.base}/metrics`, {
    headers: { authorization: "Bearer scrape" },
  });
  return parsePrometheus(await response.text());
}

Deno.test("socket side: an answered join is one round trip; the cluster's refusals carry their code", async () => {
  await using cluster = await startCluster(2, { metricsToken: "scrape" });
  const [a, b] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, bob, uuid, "bob");
  // Refused on B itself: the directory has no such instance (no owner to ask).
  const ack = await bob.request({ type: "join_instance", uuid: NO_SUCH, userId: "bob" });
  assert.equal(ack.error, "unknown_instance");
  const error = await bob.request({ type: "note", uuid: NO_SUCH });
  assert.equal(error.code, "unknown_instance");
  // Refused by the owner, A: the answer crosses back and is timed like any other.
  const forbidden = await bob.request({ type: "kick_client", uuid, userId: "nobody" });
  assert.equal(forbidden.code, "forbidden");

  const atB = await scrape(b);
  assert.equal(promValue(atB, "wstun_bridge_round_trip_seconds_count"), 2);
  assert.ok(promValue(atB, "wstun_bridge_round_trip_seconds_sum") > 0);
  const refusals = atB.get("wstun_refusals_total")!.samples;
  assert.deepEqual(
    Object.fromEntries(refusals.map((s) => [s.labels.code, s.value])),
    { unknown_instance: 2 },
    "B counts what it refused itself; A counts the owner's refusal",
  );
  assert.equal(promValue(await scrape(a), "wstun_refusals_total", { code: "forbidden" }), 1);
});

Deno.test("socket side: a keyed create claims the uuid; the second isolate's claim conflicts", async () => {
  await using cluster = await startCluster(2, { metricsToken: "scrape" });
  const [a, b] = cluster.servers;
  await using onA = await TestSocket.open(a.wsUrl);
  await using onB = await TestSocket.open(b.wsUrl);
  const created = await createRoom(onA, { key: KEY });
  const taken = await onB.request({
    type: "create_instance",
    service: "chat",
    name: "Room",
    key: KEY,
  });
  assert.deepEqual([taken.type, taken.uuid], ["instance_resumed", created.uuid]);

  const [atA, atB] = [await scrape(a), await scrape(b)];
  assert.equal(promValue(atA, "wstun_directory_claims_total"), 1);
  assert.equal(promValue(atA, "wstun_directory_claim_conflicts_total"), 0);
  assert.equal(promValue(atB, "wstun_directory_claims_total"), 1);
  assert.equal(promValue(atB, "wstun_directory_claim_conflicts_total"), 1);
  // The take-over is a request to A, answered.
  assert.equal(promValue(atB, "wstun_bridge_round_trip_seconds_count"), 1);
});

Deno.test("socket side: a host resuming on another isolate after a drain is counted as an adoption", async () => {
  await using cluster = await startCluster(2, { metricsToken: "scrape", hostGraceMs: 10_000 });
  const [a, b] = cluster.servers;
  const host = await TestSocket.open(a.wsUrl);
  const room = await createRoom(host);
  await a.drain(Date.now() + 2000);
  await host.closed;
  await using back = await TestSocket.open(b.wsUrl);
  const resumed = await back.request({
    type: "resume_instance",
    uuid: room.uuid,
    resume: room.resume,
  });
  assert.equal(resumed.type, "instance_resumed");
  assert.ok(b.hub.instances.has(room.uuid));
  assert.equal(promValue(await scrape(b), "wstun_instances_adopted_total"), 1);
});
