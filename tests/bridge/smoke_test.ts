import assert from "node:assert/strict";
import { createRoom, joinRoom, TestSocket } from "../_util/test_socket.ts";
import { startCluster } from "./cluster.ts";

Deno.test("bridge smoke: host on A, member on B, data both ways", async () => {
  await using cluster = await startCluster(2);
  const [a, b] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using member = await TestSocket.open(b.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "bob");
  member.send({ type: "chat", uuid: room.uuid, text: "hi" });
  assert.deepEqual(await host.next(), { type: "chat", uuid: room.uuid, text: "hi", from: "bob" });
  host.send({ type: "chat", uuid: room.uuid, text: "yo" });
  assert.deepEqual(await member.next(), { type: "chat", uuid: room.uuid, text: "yo", from: "host" });
  const list = await member.request({ type: "list_instances" });
  assert.equal(list.instances.length, 1);
});
