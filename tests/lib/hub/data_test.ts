import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

async function roomWithMembers(server: { wsUrl: string }, names: string[]) {
  const host = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  const members: Record<string, TestSocket> = {};
  for (const name of names) {
    members[name] = await TestSocket.open(server.wsUrl);
    await joinRoom(host, members[name], room.uuid, name);
  }
  const closeAll = async () => {
    for (const m of Object.values(members)) await m.close();
    await host.close();
  };
  return { host, room, members, closeAll };
}

Deno.test("data: member → host arrives with from, other fields unchanged", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["alice", "bob"]);
  members.alice.send({
    type: "file_register",
    uuid: room.uuid,
    files: [{ name: "a.txt", size: 3 }],
    n: 1.5,
  });
  assert.deepEqual(await host.next(), {
    type: "file_register",
    uuid: room.uuid,
    files: [{ name: "a.txt", size: 3 }],
    n: 1.5,
    from: "alice",
  });
  await members.bob.expectNothingPending();
  await closeAll();
});

Deno.test("data: host → every member with from host; with to only those", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b", "c"]);
  host.send({ type: "file_list", uuid: room.uuid, files: [] });
  for (const m of Object.values(members)) {
    assert.deepEqual(await m.next(), {
      type: "file_list",
      uuid: room.uuid,
      files: [],
      from: "host",
    });
  }
  host.send({ type: "note", uuid: room.uuid, to: ["a", "c"], x: 1 });
  assert.equal((await members.a.next()).x, 1);
  assert.equal((await members.c.next()).x, 1);
  await members.b.expectNothingPending();
  host.send({ type: "note", uuid: room.uuid, to: "b", x: 2 });
  assert.deepEqual(await members.b.next(), {
    type: "note",
    uuid: room.uuid,
    to: "b",
    x: 2,
    from: "host",
  });
  await closeAll();
});

Deno.test("data: member → member point to point with to; host not involved", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b"]);
  members.a.send({ type: "chunk", uuid: room.uuid, to: "b", seq: 1 });
  assert.deepEqual(await members.b.next(), {
    type: "chunk",
    uuid: room.uuid,
    to: "b",
    seq: 1,
    from: "a",
  });
  await host.expectNothingPending();
  members.b.send({ type: "reply", uuid: room.uuid, to: "host" });
  assert.equal((await host.next()).from, "b");
  await closeAll();
});

Deno.test("data: to naming a non-member gets not_member naming them; valid targets still get it", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b"]);
  host.send({ type: "note", uuid: room.uuid, to: ["a", "ghost"], ref: "n1" });
  const err = await host.next();
  assert.deepEqual([err.type, err.code, err.to, err.ref], ["error", "not_member", ["ghost"], "n1"]);
  assert.match(err.message, /ghost/);
  assert.equal((await members.a.next()).type, "note");
  await members.b.expectNothingPending();
  await closeAll();
});

Deno.test("data: a spoofed from is replaced by the real sender", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a"]);
  members.a.send({ type: "chat", uuid: room.uuid, from: "host", text: "hi" });
  assert.deepEqual(await host.next(), { type: "chat", uuid: room.uuid, from: "a", text: "hi" });
  await closeAll();
});

Deno.test("data: from a non-member is not_member; unknown uuid is unknown_instance", async () => {
  await using server = await startServer();
  const { host, room, closeAll } = await roomWithMembers(server, ["a"]);
  await using stranger = await TestSocket.open(server.wsUrl);
  stranger.send({ type: "chat", uuid: room.uuid, text: "hi" });
  assert.equal((await stranger.next()).code, "not_member");
  stranger.send({ type: "chat", uuid: "NOPE" });
  assert.equal((await stranger.next()).code, "unknown_instance");
  stranger.send({ type: "chat" });
  const err = await stranger.next();
  assert.equal(err.code, "invalid_message");
  assert.match(err.message, /^uuid/);
  await host.expectNothingPending();
  await closeAll();
});

Deno.test("data: a ref on a data frame is answered with ok, and only then", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a"]);
  members.a.send({ type: "chat", uuid: room.uuid, text: "x", ref: 9 });
  assert.equal((await host.next()).text, "x");
  assert.deepEqual(await members.a.next(), { type: "ok", ref: 9 });
  members.a.send({ type: "chat", uuid: room.uuid, text: "y" });
  assert.equal((await host.next()).text, "y");
  await members.a.expectNothingPending();
  await closeAll();
});

Deno.test("data: server frame types cannot be forged as data", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a"]);
  members.a.send({ type: "instance_closed", uuid: room.uuid, reason: "closed" });
  const err = await members.a.next();
  assert.equal(err.code, "invalid_message");
  assert.match(err.message, /reserved/);
  await host.expectNothingPending();
  await closeAll();
});

Deno.test("data: duplicate keys cannot make a recipient read another type or instance", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a"]);
  const other = await createRoom(host, { name: "Other" });
  // Parsers that keep the first of two keys would read `instance_closed` / the other room.
  members.a.sendRaw(
    `{"type":"instance_closed","uuid":"${other.uuid}","type":"chat","uuid":"${room.uuid}","text":"x"}`,
  );
  const got = await host.next();
  assert.deepEqual(got, { type: "chat", uuid: room.uuid, text: "x", from: "a" });
  const raw = host.texts.at(-1)!;
  assert.equal(raw.split('"type"').length - 1, 1, `one type on the wire: ${raw}`);
  assert.equal(raw.split('"uuid"').length - 1, 1, `one uuid on the wire: ${raw}`);
  // The same with the first keys spelt in \u escapes, which JSON.parse reads as type and uuid.
  members.a.sendRaw(
    `{"typ\\u0065":"instance_closed","\\u0075uid":"${other.uuid}","type":"chat","uuid":"${room.uuid}","text":"z"}`,
  );
  assert.deepEqual(await host.next(), { type: "chat", uuid: room.uuid, text: "z", from: "a" });
  const escaped = host.texts.at(-1)!;
  assert.ok(!escaped.includes("\\u"), `re-serialised, no escaped key left: ${escaped}`);
  assert.equal(escaped.split('"type"').length - 1, 1, `one type on the wire: ${escaped}`);
  assert.equal(escaped.split('"uuid"').length - 1, 1, `one uuid on the wire: ${escaped}`);
  // An ordinary frame keeps its text, `from` spliced on.
  members.a.sendRaw(`{"type":"chat", "uuid":"${room.uuid}", "text":"y"}`);
  await host.next();
  assert.equal(host.texts.at(-1), `{"type":"chat", "uuid":"${room.uuid}", "text":"y","from":"a"}`);
  await closeAll();
});

Deno.test("data: a to naming one member many times delivers once", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b"]);
  members.a.send({
    type: "chat",
    uuid: room.uuid,
    to: Array(1000).fill("b"),
    text: "once",
    ref: 1,
  });
  assert.deepEqual(await members.a.next(), { type: "ok", ref: 1 });
  assert.equal((await members.b.next()).text, "once");
  host.send({ type: "chat", uuid: room.uuid, to: ["b", "host", "b", "host"], text: "again" });
  assert.equal((await members.b.next()).text, "again");
  assert.equal((await host.next()).text, "again");
  await members.b.expectNothingPending();
  members.a.sendRaw(binaryFrame(room.uuid, "b", new Uint8Array([1, 2, 3])));
  await members.b.nextBinary();
  await members.b.expectNothingPending();
  await host.expectNothingPending();
  await closeAll();
});

function binaryFrame(uuid: string, peer: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const id = new TextEncoder().encode(uuid), p = new TextEncoder().encode(peer);
  const out = new Uint8Array(3 + id.length + p.length + payload.length);
  out.set([1, id.length, p.length]);
  out.set(id, 3);
  out.set(p, 3 + id.length);
  out.set(payload, 3 + id.length + p.length);
  return out;
}

function parseBinary(bytes: Uint8Array) {
  const dec = new TextDecoder();
  const idEnd = 3 + bytes[1], peerEnd = idEnd + bytes[2];
  return {
    kind: bytes[0],
    id: dec.decode(bytes.subarray(3, idEnd)),
    from: dec.decode(bytes.subarray(idEnd, peerEnd)),
    payload: bytes.subarray(peerEnd),
  };
}

Deno.test("binary: member → member chunk arrives intact with from in the header", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b"]);
  const payload = crypto.getRandomValues(new Uint8Array(60_000));
  members.a.sendRaw(binaryFrame(room.uuid, "b", payload));
  const got = parseBinary(await members.b.nextBinary());
  assert.deepEqual([got.kind, got.id, got.from], [1, room.uuid, "a"]);
  assert.deepEqual(got.payload, payload);
  await host.expectNothingPending();
  await closeAll();
});

Deno.test("binary: member → host by default, host → all members by default", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b"]);
  members.a.sendRaw(binaryFrame(room.uuid, "", new Uint8Array([1, 2, 3])));
  const atHost = parseBinary(await host.nextBinary());
  assert.deepEqual([atHost.from, [...atHost.payload]], ["a", [1, 2, 3]]);
  host.sendRaw(binaryFrame(room.uuid, "", new Uint8Array([9])));
  for (const m of [members.a, members.b]) {
    const got = parseBinary(await m.nextBinary());
    assert.deepEqual([got.from, [...got.payload]], ["host", [9]]);
  }
  await closeAll();
});

Deno.test("binary: malformed header, unknown kind, non-member target get clear errors", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a"]);
  members.a.sendRaw(new Uint8Array([1, 40]));
  assert.equal((await members.a.next()).code, "invalid_message");
  const wrongKind = binaryFrame(room.uuid, "", new Uint8Array([0]));
  wrongKind[0] = 9;
  members.a.sendRaw(wrongKind);
  assert.match((await members.a.next()).message, /kind 9/);
  members.a.sendRaw(binaryFrame(room.uuid, "ghost", new Uint8Array([0])));
  const err = await members.a.next();
  assert.deepEqual([err.code, err.to], ["not_member", ["ghost"]]);
  await host.expectNothingPending();
  await closeAll();
});

Deno.test("stats: delivered messages and bytes are counted", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "b"]);
  host.send({ type: "x", uuid: room.uuid });
  await members.a.next();
  await members.b.next();
  const stats = await (await fetch(`${server.base}/_api/stats`)).json();
  assert.equal(stats.messagesRelayed, 2);
  assert.ok(stats.bytesRelayed > 0);
  assert.equal(stats.connections, 3);
  assert.equal(stats.instances, 1);
  await closeAll();
});

Deno.test("binary: header rewritten in place or copied, the payload arrives intact both ways", async () => {
  await using server = await startServer();
  const { host, room, members, closeAll } = await roomWithMembers(server, ["a", "longer-name"]);
  const payload = new Uint8Array(70_000).map((_, i) => i % 253);
  // "a" → "longer-name": the sender's header fits where the target's was (no copy).
  members.a.sendRaw(binaryFrame(room.uuid, "longer-name", payload));
  const short = parseBinary(await members["longer-name"].nextBinary());
  assert.deepEqual([short.from, short.payload.length], ["a", payload.length]);
  assert.deepEqual(short.payload, payload);
  // "longer-name" → "a": the header grows, so the frame is copied.
  members["longer-name"].sendRaw(binaryFrame(room.uuid, "a", payload));
  const long = parseBinary(await members.a.nextBinary());
  assert.deepEqual([long.from, long.id], ["longer-name", room.uuid]);
  assert.deepEqual(long.payload, payload);
  await host.expectNothingPending();
  await closeAll();
});
