/**
 * Per-connection limits count a socket's memberships on every isolate: `WSTUN_MAX_JOINS` is about
 * the socket, not about each isolate it happens to reach.
 */
import assert from "node:assert/strict";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startCluster } from "../../_util/cluster/cluster.ts";

Deno.test("WSTUN_MAX_JOINS counts joins on other isolates, and leaving frees one", async () => {
  await using cluster = await startCluster(2, { maxJoinsPerConnection: 2 });
  const [a, b] = cluster.servers;
  await using hostA = await TestSocket.open(a.wsUrl);
  await using hostB = await TestSocket.open(b.wsUrl);
  const roomsA = [await createRoom(hostA), await createRoom(hostA)];
  const roomB = await createRoom(hostB);
  await using member = await TestSocket.open(b.wsUrl);

  // One join on the other isolate, one here: the limit is reached, wherever the next one goes.
  await joinRoom(hostA, member, roomsA[0].uuid, "m");
  await joinRoom(hostB, member, roomB.uuid, "m");
  const remote = await member.request({ type: "join_instance", uuid: roomsA[1].uuid, userId: "m" });
  assert.equal(remote.success, false);
  assert.equal(remote.error, "limit_reached");

  // A local room counts the remote join too.
  await using hostB2 = await TestSocket.open(b.wsUrl);
  const roomB2 = await createRoom(hostB2);
  const local = await member.request({ type: "join_instance", uuid: roomB2.uuid, userId: "m" });
  assert.equal(local.error, "limit_reached");

  // Leaving the remote room frees a place.
  const left = await member.request({ type: "leave_instance", uuid: roomsA[0].uuid });
  assert.equal(left.type, "ok");
  assert.equal((await hostA.next()).type, "client_disconnected");
  await joinRoom(hostA, member, roomsA[1].uuid, "m");
  for (const s of [hostA, hostB, hostB2, member]) await s.expectNothingPending();
});

Deno.test("WSTUN_MAX_INSTANCES counts an instance a socket took over on another isolate", async () => {
  await using cluster = await startCluster(2, { maxInstancesPerConnection: 1, hostGraceMs: 5000 });
  const [a, b] = cluster.servers;
  const key = "a-stable-key-of-16+chars";
  await using first = await TestSocket.open(a.wsUrl);
  const created = await createRoom(first, { key });
  // The same key from another isolate takes the instance over where it lives (on A).
  await using taker = await TestSocket.open(b.wsUrl);
  const taken = await taker.request({ type: "create_instance", service: "chat", name: "R", key });
  assert.equal(taken.type, "instance_resumed");
  assert.equal(taken.uuid, created.uuid);
  assert.equal((await first.next()).reason, "resumed_elsewhere");
  // That instance counts: a second one, here, is past the limit of 1.
  const second = await taker.request({ type: "create_instance", service: "chat", name: "R2" });
  assert.equal(second.type, "error");
  assert.equal(second.code, "limit_reached");
  // Closing the one on A frees the place.
  const closed = await taker.request({ type: "close_instance", uuid: created.uuid });
  assert.equal(closed.type, "ok");
  const third = await taker.request({ type: "create_instance", service: "chat", name: "R3" });
  assert.equal(third.type, "instance_created");
});
