import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

Deno.test("host leaving with grace 0: members get instance_closed host_left at once", async () => {
  await using server = await startServer({ hostGraceMs: 0 });
  const host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  await host.close();
  assert.deepEqual(await member.next(), {
    type: "instance_closed",
    uuid: room.uuid,
    reason: "host_left",
  });
  assert.equal(server.hub.instances.size, 0);
});

Deno.test("host away: members get host_away, data to host is refused, then host_left after grace", async () => {
  await using server = await startServer({ hostGraceMs: 150 });
  const host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  await host.close();
  assert.deepEqual(await member.next(), { type: "host_away", uuid: room.uuid });
  member.send({ type: "chat", uuid: room.uuid, text: "anyone?", ref: 1 });
  const err = await member.next();
  assert.deepEqual([err.code, err.ref], ["host_away", 1]);
  assert.deepEqual(await member.next(1000), {
    type: "instance_closed",
    uuid: room.uuid,
    reason: "host_left",
  });
});

Deno.test("resume_instance: the host takes its instance back with members still joined", async () => {
  await using server = await startServer({ hostGraceMs: 5000 });
  const host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  await host.close();
  assert.equal((await member.next()).type, "host_away");

  await using back = await TestSocket.open(server.wsUrl);
  const wrong = await back.request({ type: "resume_instance", uuid: room.uuid, resume: "nope" });
  assert.equal(wrong.code, "unauthorized");
  const resumed = await back.request({
    type: "resume_instance",
    uuid: room.uuid,
    resume: room.resume,
  });
  assert.deepEqual([resumed.type, resumed.members], ["instance_resumed", ["alice"]]);
  assert.deepEqual(await member.next(), { type: "host_back", uuid: room.uuid });
  member.send({ type: "chat", uuid: room.uuid, text: "welcome back" });
  assert.equal((await back.next()).from, "alice");
});

Deno.test("join while the host is away is refused with host_away", async () => {
  await using server = await startServer({ hostGraceMs: 5000 });
  const host = await TestSocket.open(server.wsUrl);
  await using late = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await host.close();
  // The close is processed asynchronously: wait until the instance shows its host away.
  while (server.hub.instances.get(room.uuid)?.host) await new Promise((r) => setTimeout(r, 5));
  const ack = await late.request({ type: "join_instance", uuid: room.uuid, userId: "bob" });
  assert.deepEqual([ack.success, ack.error], [false, "host_away"]);
});
