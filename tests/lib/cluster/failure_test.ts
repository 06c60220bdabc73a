/**
 * What the bridge does when things go wrong: lost bridge messages are reported, an owner that
 * does not answer is timed out, and an isolate that dies takes its instances with it (and only
 * those) within the directory's stated bound.
 */
import assert from "node:assert/strict";
import { LogLines } from "../../_util/log_lines.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startCluster, TEST_HEARTBEAT_MS } from "../../_util/cluster/cluster.ts";
import { LossyBridge } from "../../_util/cluster/lossy_bridge.ts";

Deno.test("a lost bridge message is reported to the receiver as error bridge_gap, and logged", async () => {
  await using cluster = await startCluster(0);
  const lines = new LogLines();
  const a = await cluster.add({}, undefined, undefined, { log: lines.log });
  const lossy = new LossyBridge(cluster.namespace);
  const b = await cluster.add({}, lossy);
  await using host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, bob, uuid, "bob");

  bob.send({ type: "note", uuid, n: 1 });
  assert.equal((await host.next()).n, 1);
  lossy.dropPosts = 1;
  bob.send({ type: "note", uuid, n: 2 });
  bob.send({ type: "note", uuid, n: 3 });
  const gap = await host.next();
  assert.equal(gap.type, "error");
  assert.equal(gap.code, "bridge_gap");
  assert.equal(gap.uuid, uuid);
  assert.equal(gap.lost, 1);
  assert.equal((await host.next()).n, 3);
  assert.equal(lossy.dropped, 1);
  await host.expectNothingPending();
  const logged = await lines.next("bridge.gap");
  assert.deepEqual(
    [logged.level, logged.isolate, logged.peer, logged.lost, logged.link],
    ["warn", a.isolate, b.isolate, 1, "direct"],
  );
});

Deno.test("a join the owner never answers fails with bridge_timeout, and does not hang", async () => {
  await using cluster = await startCluster(1);
  const [a] = cluster.servers;
  const lossy = new LossyBridge(cluster.namespace);
  const b = await cluster.add({}, lossy);
  await using host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  lossy.dropPosts = 1; // the join request itself
  const started = Date.now();
  const ack = await bob.request({ type: "join_instance", uuid, userId: "bob" });
  assert.equal(ack.success, false);
  assert.equal(ack.error, "bridge_timeout");
  assert.ok(Date.now() - started < 2000);
  // The next request shows the gap to the owner and then works.
  lossy.dropPosts = 0;
  await joinRoom(host, bob, uuid, "bob");
});

Deno.test("an isolate that shuts down: its instances vanish, its members elsewhere get host_left", async () => {
  await using cluster = await startCluster(3, { hostGraceMs: 60_000 });
  const [a, b, c] = cluster.servers;
  const host = await TestSocket.open(a.wsUrl);
  await using otherHost = await TestSocket.open(c.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const doomed = await createRoom(host, { name: "doomed" });
  const kept = await createRoom(otherHost, { name: "kept" });
  await joinRoom(host, bob, doomed.uuid, "bob");
  await joinRoom(otherHost, bob, kept.uuid, "bob");

  await a.close();
  // The host's socket closes with its server: host_away may come before the isolate's goodbye.
  let frame = await bob.next();
  if (frame.type === "host_away") frame = await bob.next();
  assert.deepEqual(frame, {
    type: "instance_closed",
    uuid: doomed.uuid,
    reason: "host_left",
  });
  const names = (await b.hub.listEverywhere()).map((i) => i.name);
  assert.deepEqual(names, ["kept"]);
  bob.send({ type: "note", uuid: kept.uuid });
  assert.equal((await otherHost.next()).from, "bob");
  await host.closed;
});

Deno.test("an isolate terminated without a word: its room moves within four heartbeats and is adopted", async () => {
  // A worker cannot open the test's in-memory KV, so this cluster's directory is a file.
  const kvPath = await Deno.makeTempFile({ suffix: ".kv" });
  const cluster = await startCluster(1, { hostGraceMs: 60_000 }, kvPath);
  const [local] = cluster.servers;
  const worker = new Worker(new URL("../../_util/cluster/worker_server.ts", import.meta.url), {
    type: "module",
  });
  try {
    worker.postMessage({ namespace: cluster.namespace, kvPath, heartbeatMs: TEST_HEARTBEAT_MS });
    const { wsUrl } = await new Promise<{ wsUrl: string }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
    });
    const host = await TestSocket.open(wsUrl);
    await using bob = await TestSocket.open(local.wsUrl);
    const room = await createRoom(host, { token: "pw" });
    await joinRoom(host, bob, room.uuid, "bob", { token: "pw" });
    worker.terminate();
    const killed = Date.now();
    assert.deepEqual(await bob.next(8 * TEST_HEARTBEAT_MS), {
      type: "instance_moving",
      uuid: room.uuid,
      received: 1, // its join
    });
    assert.ok(Date.now() - killed <= 4 * TEST_HEARTBEAT_MS + 200);
    // It waits for its host: listed, and a member who comes back first is told to try again.
    assert.deepEqual((await local.hub.listEverywhere()).map((i) => i.uuid), [room.uuid]);
    const early = await bob.request({ type: "join_instance", uuid: room.uuid, token: "pw" });
    assert.deepEqual([early.success, early.error, early.retryAfterMs], [false, "host_away", 500]);
    // A wrong or missing password is refused now, not after waiting for the host.
    for (const token of ["nope", undefined]) {
      const refused = await bob.request({ type: "join_instance", uuid: room.uuid, token });
      assert.deepEqual([refused.success, refused.error], [false, "unauthorized"], `token ${token}`);
    }
    await host.closed;

    // A member cannot adopt it; the host with its resume secret does, on this isolate.
    const thief = await bob.request({ type: "resume_instance", uuid: room.uuid, resume: "guess" });
    assert.equal(thief.code, "unauthorized");
    await using host2 = await TestSocket.open(local.wsUrl);
    const resumed = await host2.request({
      type: "resume_instance",
      uuid: room.uuid,
      resume: room.resume,
    });
    assert.deepEqual([resumed.type, resumed.uuid, resumed.members], [
      "instance_resumed",
      room.uuid,
      [],
    ]);
    assert.ok(local.hub.instances.has(room.uuid), "adopted here");
    await joinRoom(host2, bob, room.uuid, "bob", { token: "pw" });
    const wrong = await (await TestSocket.open(local.wsUrl)).request({
      type: "join_instance",
      uuid: room.uuid,
      token: "nope",
    });
    assert.equal(wrong.error, "unauthorized", "the join token is checked by its verifier");
    bob.send({ type: "note", uuid: room.uuid, n: 1 });
    assert.deepEqual(await host2.next(), { type: "note", uuid: room.uuid, n: 1, from: "bob" });
  } finally {
    worker.terminate();
    await cluster.close();
    await Deno.remove(kvPath);
  }
});
