/**
 * Protocol v1 with the host on one isolate and members on others: every flow, JSON and binary.
 * Each server is a separate hub; they meet only through the BroadcastChannel bridge and the KV
 * directory.
 */
import assert from "node:assert/strict";
import { BinaryKind, decodeBinaryHeader, encodeBinaryHeader } from "../../../lib/binary_frame.ts";
import { createRoom, type Frame, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { raceKeyedCreates } from "../../_util/cluster/keyed_race.ts";
import { waitFor } from "../../_util/wait_for.ts";

function binary(uuid: string, peer: string, payload: number[]): Uint8Array<ArrayBuffer> {
  const header = encodeBinaryHeader(BinaryKind.InstanceData, uuid, peer);
  const out = new Uint8Array(header.length + payload.length);
  out.set(header);
  out.set(payload, header.length);
  return out;
}

function readBinary(bytes: Uint8Array) {
  const frame = decodeBinaryHeader(bytes);
  if (typeof frame === "string") throw new Error(frame);
  return { uuid: frame.id, from: frame.peer, payload: [...bytes.subarray(frame.payloadOffset)] };
}

Deno.test("cross-isolate join: token checked on the owner, failures answered by the ack", async () => {
  await using cluster = await startCluster(2);
  const [a, b] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using member = await TestSocket.open(b.wsUrl);
  const room = await createRoom(host, { token: "s3cret" });

  const wrong = await member.request({ type: "join_instance", uuid: room.uuid, token: "nope" });
  assert.equal(wrong.type, "ack");
  assert.equal(wrong.success, false);
  assert.equal(wrong.error, "unauthorized");
  const none = await member.request({ type: "join_instance", uuid: room.uuid });
  assert.equal(none.error, "unauthorized");
  const unknown = await member.request({ type: "join_instance", uuid: "01NOPE" });
  assert.equal(unknown.error, "unknown_instance");

  const ack = await joinRoom(host, member, room.uuid, "bob", { token: "s3cret" });
  assert.deepEqual(
    { ...ack, ref: undefined, resume: undefined },
    {
      type: "ack",
      success: true,
      uuid: room.uuid,
      userId: "bob",
      instanceName: "Room",
      service: "chat",
      ref: undefined,
      resume: undefined,
    },
  );
  await using other = await TestSocket.open(b.wsUrl);
  const taken = await other.request({
    type: "join_instance",
    uuid: room.uuid,
    userId: "bob",
    token: "s3cret",
  });
  assert.equal(taken.error, "user_id_taken");
  const again = await member.request({
    type: "join_instance",
    uuid: room.uuid,
    userId: "bob2",
    token: "s3cret",
  });
  assert.equal(again.error, "already_member");
  await host.expectNothingPending();
});

Deno.test("cross-isolate data: member to host, host to all, to one, member to member, refs", async () => {
  await using cluster = await startCluster(3);
  const [a, b, c] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using local = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  await using carol = await TestSocket.open(c.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, local, uuid, "ann");
  await joinRoom(host, bob, uuid, "bob");
  await joinRoom(host, carol, uuid, "carol");

  bob.send({ type: "note", uuid, n: 1 });
  assert.deepEqual(await host.next(), { type: "note", uuid, n: 1, from: "bob" });

  host.send({ type: "note", uuid, n: 2 });
  for (const s of [local, bob, carol]) {
    assert.deepEqual(await s.next(), { type: "note", uuid, n: 2, from: "host" });
  }
  host.send({ type: "note", uuid, n: 3, to: "carol" });
  assert.deepEqual(await carol.next(), { type: "note", uuid, n: 3, to: "carol", from: "host" });

  bob.send({ type: "chunk", uuid, to: ["carol", "ann"], n: 4 });
  assert.deepEqual(await carol.next(), {
    type: "chunk",
    uuid,
    to: ["carol", "ann"],
    n: 4,
    from: "bob",
  });
  assert.deepEqual(await local.next(), {
    type: "chunk",
    uuid,
    to: ["carol", "ann"],
    n: 4,
    from: "bob",
  });

  const ok = await carol.request({ type: "note", uuid, n: 5 });
  assert.equal(ok.type, "ok");
  assert.deepEqual(await host.next(), { type: "note", uuid, n: 5, from: "carol", ref: ok.ref });

  const missing = await bob.request({ type: "note", uuid, to: ["carol", "zed"], n: 6 });
  assert.equal(missing.code, "not_member");
  assert.deepEqual(missing.to, ["zed"]);
  assert.equal((await carol.next()).n, 6);

  // A spoofed `from` is replaced with the sender's.
  bob.send({ type: "note", uuid, from: "host", n: 7 });
  assert.deepEqual(await host.next(), { type: "note", uuid, from: "bob", n: 7 });

  // Per-sender order across the bridge.
  for (let n = 0; n < 200; n++) bob.send({ type: "seq", uuid, n });
  for (let n = 0; n < 200; n++) assert.equal((await host.next()).n, n);
  for (const s of [host, local, bob, carol]) await s.expectNothingPending();
});

Deno.test("cross-isolate binary: member to host, host to all and to one", async () => {
  await using cluster = await startCluster(2);
  const [a, b] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  await using cat = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, bob, uuid, "bob");
  await joinRoom(host, cat, uuid, "cat");

  bob.sendRaw(binary(uuid, "", [1, 2, 3]));
  assert.deepEqual(readBinary(await host.nextBinary()), { uuid, from: "bob", payload: [1, 2, 3] });
  host.sendRaw(binary(uuid, "", [4, 5]));
  assert.deepEqual(readBinary(await bob.nextBinary()), { uuid, from: "host", payload: [4, 5] });
  assert.deepEqual(readBinary(await cat.nextBinary()), { uuid, from: "host", payload: [4, 5] });
  host.sendRaw(binary(uuid, "cat", [6]));
  assert.deepEqual(readBinary(await cat.nextBinary()), { uuid, from: "host", payload: [6] });
  bob.sendRaw(binary(uuid, "cat", [7]));
  assert.deepEqual(readBinary(await cat.nextBinary()), { uuid, from: "bob", payload: [7] });
  bob.sendRaw(binary(uuid, "zed", [8]));
  assert.equal((await bob.next()).code, "not_member");
  for (const s of [host, bob, cat]) await s.expectNothingPending();
});

Deno.test("cross-isolate leave, disconnect, kick and close reach the right sockets", async () => {
  await using cluster = await startCluster(2);
  const [a, b] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  await using cat = await TestSocket.open(b.wsUrl);
  const dan = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, bob, uuid, "bob");
  await joinRoom(host, cat, uuid, "cat");
  await joinRoom(host, dan, uuid, "dan");

  assert.equal((await bob.request({ type: "leave_instance", uuid })).type, "ok");
  assert.deepEqual(await host.next(), {
    type: "client_disconnected",
    uuid,
    userId: "bob",
    reason: "left",
  });
  const after = await bob.request({ type: "note", uuid });
  assert.equal(after.code, "not_member");

  await dan.close();
  assert.deepEqual(await host.next(), {
    type: "client_disconnected",
    uuid,
    userId: "dan",
    reason: "disconnected",
  });

  await joinRoom(host, bob, uuid, "bob");
  host.send({ type: "kick_client", uuid, userId: "bob", reason: "bye", ref: "k" });
  assert.deepEqual(await bob.next(), { type: "kicked", uuid, reason: "bye" });
  assert.deepEqual(await host.next(), {
    type: "client_disconnected",
    uuid,
    userId: "bob",
    reason: "kicked",
  });
  assert.deepEqual(await host.next(), { type: "ok", ref: "k" });
  const forbidden = await cat.request({ type: "kick_client", uuid, userId: "bob" });
  assert.equal(forbidden.code, "forbidden");

  assert.equal((await host.request({ type: "close_instance", uuid })).type, "ok");
  assert.deepEqual(await cat.next(), { type: "instance_closed", uuid, reason: "closed" });
  assert.equal((await cat.request({ type: "note", uuid })).code, "unknown_instance");
  await waitFor(async () => (await b.hub.listEverywhere()).length === 0, {
    what: "the record to go",
    everyMs: 20,
  });
});

Deno.test("cross-isolate host leaving: members elsewhere get instance_closed host_left", async () => {
  await using cluster = await startCluster(2, { hostGraceMs: 0 });
  const [a, b] = cluster.servers;
  const host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, bob, uuid, "bob");
  await host.close();
  assert.deepEqual(await bob.next(), { type: "instance_closed", uuid, reason: "host_left" });
});

Deno.test("cross-isolate resume: the host comes back on another isolate and keeps its members", async () => {
  await using cluster = await startCluster(3, { hostGraceMs: 5000 });
  const [a, b, c] = cluster.servers;
  const host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const room = await createRoom(host);
  const uuid = room.uuid;
  await joinRoom(host, bob, uuid, "bob");
  await host.close();
  assert.deepEqual(await bob.next(), { type: "host_away", uuid });
  const away = await bob.request({ type: "note", uuid });
  assert.equal(away.code, "host_away");

  await using back = await TestSocket.open(c.wsUrl);
  const wrong = await back.request({ type: "resume_instance", uuid, resume: "wrong" });
  assert.equal(wrong.code, "unauthorized");
  const resumed = await back.request({ type: "resume_instance", uuid, resume: room.resume });
  assert.deepEqual({ ...resumed, ref: undefined }, {
    type: "instance_resumed",
    uuid,
    members: ["bob"],
    ref: undefined,
  });
  assert.deepEqual(await bob.next(), { type: "host_back", uuid });
  back.send({ type: "note", uuid, n: 1 });
  assert.deepEqual(await bob.next(), { type: "note", uuid, n: 1, from: "host" });
  bob.send({ type: "note", uuid, n: 2 });
  assert.deepEqual(await back.next(), { type: "note", uuid, n: 2, from: "bob" });
  back.send({ type: "kick_client", uuid, userId: "bob", ref: "k" });
  assert.equal((await bob.next()).type, "kicked");
  assert.equal((await back.next()).type, "client_disconnected");
  assert.deepEqual(await back.next(), { type: "ok", ref: "k" });
});

Deno.test("listing: every isolate's instances, member counts, never a token", async () => {
  await using cluster = await startCluster(2);
  const [a, b] = cluster.servers;
  await using hostA = await TestSocket.open(a.wsUrl);
  await using hostB = await TestSocket.open(b.wsUrl);
  await using bob = await TestSocket.open(b.wsUrl);
  const one = await createRoom(hostA, { name: "On A", token: "t0ken" });
  await createRoom(hostB, { name: "On B", service: "fileshare" });
  await joinRoom(hostA, bob, one.uuid, "bob", { token: "t0ken" });

  const list = await bob.request({ type: "list_instances" });
  const names = list.instances.map((i: Frame) => i.name).sort();
  assert.deepEqual(names, ["On A", "On B"]);
  const chat = await hostB.request({ type: "list_instances", service: "chat" });
  assert.deepEqual(chat.instances.map((i: Frame) => i.name), ["On A"]);
  assert.equal(chat.instances[0].protected, true);
  assert.equal(JSON.stringify(list).includes("t0ken"), false);

  await waitFor(async () => {
    const res = await fetch(`${b.base}/_api/instances?service=chat`);
    const body = await res.json();
    return body.length === 1 && body[0].members === 1;
  }, { what: "the member count on B", everyMs: 20 });
  const page = await (await fetch(`${b.base}/`)).text();
  assert.match(page, /<dd id="instances">2<\/dd>/);
});

Deno.test("not a member: data for an instance elsewhere is refused, unknown ones too", async () => {
  await using cluster = await startCluster(2);
  const [a, b] = cluster.servers;
  await using host = await TestSocket.open(a.wsUrl);
  await using eve = await TestSocket.open(b.wsUrl);
  const { uuid } = await createRoom(host);
  const text = await eve.request({ type: "note", uuid });
  assert.equal(text.code, "not_member");
  eve.sendRaw(binary(uuid, "", [1]));
  assert.equal((await eve.next()).code, "not_member");
  assert.equal((await eve.request({ type: "note", uuid: "01NOPE" })).code, "unknown_instance");
  assert.equal((await eve.request({ type: "close_instance", uuid })).code, "forbidden");
  await host.expectNothingPending();
});

Deno.test("keyed create on another isolate takes the live instance over, members kept", async () => {
  await using cluster = await startCluster(3, { hostGraceMs: 5000 });
  const [a, b, c] = cluster.servers;
  const key = "a-stable-key-of-16+chars";
  const host = await TestSocket.open(a.wsUrl);
  await using bob = await TestSocket.open(c.wsUrl);
  const first = await createRoom(host, { key });
  await joinRoom(host, bob, first.uuid, "bob");
  await host.close();
  assert.deepEqual(await bob.next(), { type: "host_away", uuid: first.uuid });

  await using back = await TestSocket.open(b.wsUrl);
  const again = await back.request({ type: "create_instance", service: "chat", name: "Room", key });
  assert.equal(again.type, "instance_resumed", JSON.stringify(again));
  assert.equal(again.uuid, first.uuid);
  assert.deepEqual(again.members, ["bob"]);
  assert.deepEqual(await bob.next(), { type: "host_back", uuid: first.uuid });
  back.send({ type: "note", uuid: first.uuid });
  assert.equal((await bob.next()).from, "host");
});

Deno.test("keyed creates of one new key racing on two isolates end with one instance", async () => {
  await using cluster = await startCluster(2, { hostGraceMs: 5000 });
  await raceKeyedCreates(cluster.servers[0], cluster.servers[1]);
});
