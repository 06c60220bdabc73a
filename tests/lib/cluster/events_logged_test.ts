/**
 * What the cluster notices is logged through the server's logger (lib/cluster/node.ts), as events
 * with fields, rate-limited: isolates that leave, drain or die, envelopes that are not valid.
 * (Lost messages, `bridge.gap`: tests/lib/cluster/failure_test.ts; a silent bridge and the directory:
 * readiness_test.ts.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { LogLines } from "../../_util/log_lines.ts";
import { parsePrometheus, promValue } from "../../_util/prometheus_text.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { LossyBridge } from "../../_util/cluster/lossy_bridge.ts";

Deno.test("cluster log: isolates that leave, drain and die are bridge.isolate_gone with why", async () => {
  await using cluster = await startCluster(0, { hostGraceMs: 10_000 });
  const lines = new LogLines();
  const a = await cluster.add({}, undefined, undefined, { log: lines.log });
  const leaving = await cluster.add();
  const draining = await cluster.add();
  const lossy = new LossyBridge(cluster.namespace);
  const dying = await cluster.add({}, lossy);
  await using host = await TestSocket.open(a.wsUrl);
  const { uuid } = await createRoom(host);
  const member = await TestSocket.open(dying.wsUrl);
  await joinRoom(host, member, uuid, "doomed");

  await leaving.close();
  const left = await lines.next("bridge.isolate_gone", { peer: leaving.isolate });
  assert.deepEqual([left.level, left.why], ["info", "left"]);
  await draining.drain(Date.now() + 1000);
  const drained = await lines.next("bridge.isolate_gone", { peer: draining.isolate });
  assert.equal(drained.why, "drained");
  // Its goodbye never arrives: A finds out from the directory, within the heartbeat bound.
  lossy.partition = true;
  await dying.close();
  const died = await lines.next("bridge.isolate_gone", { peer: dying.isolate });
  assert.deepEqual([died.level, died.why], ["warn", "died"]);
  assert.equal((await host.next()).type, "client_disconnected");
  await member.close();
});

Deno.test("cluster log: envelopes that are not valid are counted each, logged at most 20 per 10 s", async () => {
  await using cluster = await startCluster(0, { metricsToken: "scrape" });
  const lines = new LogLines();
  const a = await cluster.add({}, undefined, undefined, { log: lines.log });
  const inbox = new BroadcastChannel(`${cluster.namespace}:isolate:${a.isolate}`);
  try {
    for (let i = 0; i < 30; i++) {
      inbox.postMessage({ from: "mallory", seq: i + 1, body: { k: "?" } });
    }
    await lines.next("bridge.invalid_envelope");
    // Arriving messages have no event to wait on: scrape until all 30 are counted (50 round trips).
    const invalid = async () => {
      const response = await fetch(`${a.base}/metrics`, {
        headers: { authorization: "Bearer scrape" },
      });
      return promValue(
        parsePrometheus(await response.text()),
        "wstun_bridge_messages_invalid_total",
      );
    };
    let counted = await invalid();
    for (let i = 0; i < 50 && counted < 30; i++) counted = await invalid();
    assert.equal(counted, 30);
    const logged = lines.of("bridge.invalid_envelope");
    assert.equal(logged.length, 20);
    assert.match(logged[0].problem, /^body\.k: /);
    assert.equal(logged[0].count, 1);
  } finally {
    inbox.close();
  }
});
