import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

Deno.test("bad_json and invalid_message keep the connection open", async () => {
  await using server = await startServer();
  await using sock = await TestSocket.open(server.wsUrl);
  sock.sendRaw("{nope");
  assert.equal((await sock.next()).code, "bad_json");
  sock.sendRaw("[1,2]");
  assert.equal((await sock.next()).code, "invalid_message");
  sock.send({ type: 5 });
  assert.match((await sock.next()).message, /^type/);
  sock.send({ type: "kick_client", uuid: "x", ref: "k" });
  const err = await sock.next();
  assert.deepEqual([err.code, err.ref], ["invalid_message", "k"]);
  assert.match(err.message, /^userId/);
  await sock.expectNothingPending();
});

Deno.test("a frame over WSTUN_MAX_FRAME_BYTES closes the connection with 1009", async () => {
  await using server = await startServer({ maxFrameBytes: 1024 });
  await using sock = await TestSocket.open(server.wsUrl);
  sock.send({ type: "ping", pad: "x".repeat(2000) });
  assert.equal((await sock.closed).code, 1009);
  await using bin = await TestSocket.open(server.wsUrl);
  bin.sendRaw(new Uint8Array(1025));
  assert.equal((await bin.closed).code, 1009);
});

Deno.test("multi-byte text is measured in UTF-8 bytes against the frame limit", async () => {
  await using server = await startServer({ maxFrameBytes: 1024 });
  await using sock = await TestSocket.open(server.wsUrl);
  // 400 × "é" is 400 UTF-16 units but 800 bytes: under the limit.
  sock.send({ type: "ping", ref: "é".repeat(100), pad: "é".repeat(300) });
  assert.equal((await sock.next()).type, "pong");
  // 600 × "é" is 1200 bytes: over it.
  sock.send({ type: "ping", pad: "é".repeat(600) });
  assert.equal((await sock.closed).code, 1009);
});

Deno.test("rate limit: over the limit gets rate_limited, flooding closes with 1008", async () => {
  await using server = await startServer({ maxMsgsPerSec: 5 });
  await using sock = await TestSocket.open(server.wsUrl);
  for (let i = 0; i < 6; i++) sock.send({ type: "ping", ref: i });
  for (let i = 0; i < 5; i++) assert.equal((await sock.next()).type, "pong");
  const limited = await sock.next();
  assert.deepEqual([limited.code, limited.ref], ["rate_limited", 5]);
  // Frames 7-10 are refused one by one; the 11th (over twice the limit) closes the socket.
  // (A client that keeps sending after that may see a reset instead of the close frame.)
  for (let i = 6; i < 11; i++) sock.send({ type: "ping", ref: i });
  for (let i = 6; i < 10; i++) assert.equal((await sock.next()).code, "rate_limited");
  assert.equal((await sock.closed).code, 1008);
});

Deno.test("limits: instances per connection and members per instance give limit_reached", async () => {
  await using server = await startServer({
    maxInstancesPerConnection: 1,
    maxMembersPerInstance: 1,
  });
  await using host = await TestSocket.open(server.wsUrl);
  await using a = await TestSocket.open(server.wsUrl);
  await using b = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  const second = await host.request({ type: "create_instance", service: "chat", name: "2" });
  assert.equal(second.code, "limit_reached");
  await joinRoom(host, a, room.uuid, "a");
  const full = await b.request({ type: "join_instance", uuid: room.uuid, userId: "b" });
  assert.deepEqual([full.success, full.error], [false, "limit_reached"]);
});

Deno.test("WSTUN_MAX_CONNECTIONS: the upgrade past the limit is refused with 503 JSON", async () => {
  await using server = await startServer({ maxConnections: 1 });
  await using first = await TestSocket.open(server.wsUrl);
  const res = await fetch(server.wsUrl.replace("ws:", "http:"), {
    headers: {
      upgrade: "websocket",
      connection: "upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    },
  });
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error, "limit_reached");
  await first.expectNothingPending();
});

Deno.test("a consumer that does not read is closed with 1013, not buffered without bound", async () => {
  await using server = await startServer({
    maxBufferedBytes: 64 * 1024,
    maxFrameBytes: 64 * 1024,
    maxMsgsPerSec: 0,
  });
  await using host = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  // A raw TCP member that joins and then never reads: the server's backlog to it must grow.
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(server.base).port),
  });
  const key = btoa("0123456789abcdef");
  await conn.write(new TextEncoder().encode(
    `GET /_ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(4096);
  await conn.read(buf); // the 101 response
  const join = new TextEncoder().encode(
    JSON.stringify({ type: "join_instance", uuid: room.uuid, userId: "slow" }),
  );
  const frame = new Uint8Array(6 + join.length);
  frame.set([0x81, 0x80 | join.length, 0, 0, 0, 0]); // masked with a zero key
  frame.set(join, 6);
  await conn.write(frame);
  assert.equal((await host.next()).type, "client_connected");
  const chunk = "x".repeat(60_000);
  const disconnected = () =>
    host.unread().some((f) => "type" in f && f.type === "client_disconnected");
  let sent = 0;
  // Bounded: 2000 × 60 KB is far past any kernel buffer; the member never reads a byte.
  while (sent < 2000 && !disconnected()) {
    for (let i = 0; i < 20; i++, sent++) host.send({ type: "blob", uuid: room.uuid, chunk });
    await new Promise((r) => setTimeout(r, 1));
  }
  const note = await host.next();
  assert.deepEqual([note.type, note.userId, note.reason], [
    "client_disconnected",
    "slow",
    "disconnected",
  ]);
  assert.ok(server.stats.limitCloses >= 1);
  conn.close();
});

Deno.test("already_member: joining twice, or the host joining its own instance, is refused", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host);
  await joinRoom(host, member, room.uuid, "a");
  const twice = await member.request({ type: "join_instance", uuid: room.uuid, userId: "b" });
  assert.deepEqual([twice.success, twice.error], [false, "already_member"]);
  const own = await host.request({ type: "join_instance", uuid: room.uuid, userId: "h" });
  assert.deepEqual([own.success, own.error], [false, "already_member"]);
  await host.expectNothingPending();
});

Deno.test("WSTUN_MAX_JOINS: one connection joining too many instances gets limit_reached", async () => {
  await using server = await startServer({ maxJoinsPerConnection: 1 });
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const first = await createRoom(host);
  const second = await createRoom(host);
  await joinRoom(host, member, first.uuid, "a");
  const ack = await member.request({ type: "join_instance", uuid: second.uuid, userId: "a" });
  assert.deepEqual([ack.success, ack.error], [false, "limit_reached"]);
});
