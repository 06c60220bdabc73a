import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

Deno.test("create_instance: host gets uuid, name, service and a resume secret, echoing ref", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  host.send({ type: "create_instance", service: "chat", name: "Team", ref: "r1" });
  const created = await host.next();
  assert.deepEqual(created.type, "instance_created");
  assert.deepEqual(created.ref, "r1");
  assert.deepEqual(created.name, "Team");
  assert.deepEqual(created.service, "chat");
  assert.match(created.uuid, /^[0-9A-Z]{26}$/);
  assert.ok(typeof created.resume === "string" && created.resume.length >= 32);
});

Deno.test("create_instance: unknown service is refused with unknown_service", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  const err = await host.request({ type: "create_instance", service: "nope", name: "x" });
  assert.deepEqual([err.type, err.code], ["error", "unknown_service"]);
});

Deno.test("create_instance: name longer than 100 chars is invalid_message naming the field", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  const err = await host.request({
    type: "create_instance",
    service: "chat",
    name: "x".repeat(101),
  });
  assert.deepEqual(err.code, "invalid_message");
  assert.match(err.message, /^name:/);
});

Deno.test("join_instance: host is notified, member gets ack with instanceName", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host, { name: "Team" });
  const ack = await member.request({ type: "join_instance", uuid: room.uuid, userId: "alice" });
  assert.deepEqual(ack, {
    type: "ack",
    success: true,
    uuid: room.uuid,
    userId: "alice",
    instanceName: "Team",
    service: "chat",
    resume: ack.resume,
    ref: ack.ref,
  });
  assert.ok(typeof ack.resume === "string" && ack.resume.length >= 32, "the member's own secret");
  assert.deepEqual(await host.next(), {
    type: "client_connected",
    uuid: room.uuid,
    userId: "alice",
  });
});

Deno.test("join_instance: a userId is generated when absent", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  const ack = await member.request({ type: "join_instance", uuid: room.uuid });
  assert.deepEqual(ack.success, true);
  assert.match(ack.userId, /^user-/);
  assert.deepEqual((await host.next()).userId, ack.userId);
});

Deno.test("join_instance: failures are answered by a failed ack alone", async (t) => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  await using other = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host, { token: "s3cret" });
  await joinRoom(host, member, room.uuid, "alice", { token: "s3cret" });

  const cases: [string, Record<string, unknown>, string][] = [
    ["unknown instance", { uuid: "NOPE" }, "unknown_instance"],
    ["missing token", { uuid: room.uuid, userId: "bob" }, "unauthorized"],
    ["wrong token", { uuid: room.uuid, userId: "bob", token: "guess" }, "unauthorized"],
    ["taken userId", { uuid: room.uuid, userId: "alice", token: "s3cret" }, "user_id_taken"],
    ["reserved userId", { uuid: room.uuid, userId: "host", token: "s3cret" }, "user_id_taken"],
  ];
  for (const [name, fields, code] of cases) {
    await t.step(name, async () => {
      const ack = await other.request({ type: "join_instance", ...fields });
      assert.deepEqual([ack.type, ack.success, ack.error], ["ack", false, code]);
      assert.deepEqual(typeof ack.message, "string");
      assert.ok(!JSON.stringify(ack).includes("s3cret"), "the token is never echoed");
      await other.expectNothingPending();
    });
  }
  await host.expectNothingPending();
});

Deno.test("list_instances: lists public records, filters by service, never shows tokens", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  const a = await createRoom(host, { name: "Open" });
  const b = await createRoom(host, { name: "Locked", token: "hunter2" });
  await createRoom(host, { name: "Files", service: "fileshare" });
  const list = await host.request({ type: "list_instances", service: "chat" });
  assert.deepEqual(list.type, "instance_list");
  const byName = Object.fromEntries(list.instances.map((i: { name: string }) => [i.name, i]));
  assert.deepEqual(Object.keys(byName).sort(), ["Locked", "Open"]);
  assert.deepEqual(byName.Open.uuid, a.uuid);
  assert.deepEqual(byName.Locked, {
    uuid: b.uuid,
    name: "Locked",
    service: "chat",
    protected: true,
    members: 0,
    createdAt: byName.Locked.createdAt,
  });
  assert.ok(!JSON.stringify(list).includes("hunter2"));
  const all = await host.request({ type: "list_instances" });
  assert.deepEqual(all.instances.length, 3);
});

Deno.test("leave_instance: host gets client_disconnected left; ok only with a ref", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  member.send({ type: "leave_instance", uuid: room.uuid });
  assert.deepEqual(await host.next(), {
    type: "client_disconnected",
    uuid: room.uuid,
    userId: "alice",
    reason: "left",
  });
  await member.expectNothingPending();
  const again = await member.request({ type: "leave_instance", uuid: room.uuid });
  assert.deepEqual(again.code, "not_member");
  await joinRoom(host, member, room.uuid, "alice");
  assert.deepEqual((await member.request({ type: "leave_instance", uuid: room.uuid })).type, "ok");
});

Deno.test("kick_client: member gets kicked, host gets client_disconnected kicked", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  host.send({ type: "kick_client", uuid: room.uuid, userId: "alice", reason: "spam" });
  assert.deepEqual(await member.next(), { type: "kicked", uuid: room.uuid, reason: "spam" });
  assert.deepEqual(await host.next(), {
    type: "client_disconnected",
    uuid: room.uuid,
    userId: "alice",
    reason: "kicked",
  });
  // The kicked socket is no longer a member.
  member.send({ type: "chat", uuid: room.uuid, text: "hi" });
  assert.deepEqual((await member.next()).code, "not_member");
});

Deno.test("kick_client and close_instance: only the host may, others get forbidden", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  const kick = await member.request({ type: "kick_client", uuid: room.uuid, userId: "alice" });
  assert.deepEqual(kick.code, "forbidden");
  const close = await member.request({ type: "close_instance", uuid: room.uuid });
  assert.deepEqual(close.code, "forbidden");
  const missing = await host.request({ type: "kick_client", uuid: room.uuid, userId: "zed" });
  assert.deepEqual(missing.code, "not_member");
});

Deno.test("close_instance: members get instance_closed closed; the instance is gone", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  assert.deepEqual((await host.request({ type: "close_instance", uuid: room.uuid })).type, "ok");
  assert.deepEqual(await member.next(), {
    type: "instance_closed",
    uuid: room.uuid,
    reason: "closed",
  });
  const list = await host.request({ type: "list_instances" });
  assert.deepEqual(list.instances, []);
});

Deno.test("ping: answered by pong with the same ref and the frames taken so far", async () => {
  await using server = await startServer();
  await using sock = await TestSocket.open(server.wsUrl);
  sock.send({ type: "ping", ref: 7 });
  assert.deepEqual(await sock.next(), { type: "pong", received: 1, ref: 7 });
  sock.send({ type: "nonsense" });
  await sock.next();
  sock.send({ type: "ping", ref: 8 });
  assert.deepEqual(await sock.next(), { type: "pong", received: 3, ref: 8 });
});

Deno.test("member socket closing: host gets client_disconnected disconnected", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  const member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "alice");
  await member.close();
  assert.deepEqual(await host.next(), {
    type: "client_disconnected",
    uuid: room.uuid,
    userId: "alice",
    reason: "disconnected",
  });
});
