import assert from "node:assert/strict";
import { WSTunClient, WSTunError } from "../../static/libwstun.js";
import { startServer } from "../_util/server.ts";
import { nextEvent } from "../_util/client_events.ts";

async function pair(server: { base: string }, token?: string) {
  const host = new WSTunClient({ url: server.base, token, minBackoffMs: 20 });
  const member = new WSTunClient({ url: server.base, token, minBackoffMs: 20 });
  await host.connect();
  await member.connect();
  return { host, member, close: () => (host.close(), member.close()) };
}

Deno.test("libwstun: create, join, exchange JSON both ways, list, kick, from Deno", async () => {
  await using server = await startServer({ token: "t0k" });
  const { host, member, close } = await pair(server, "t0k");
  const room = await host.createInstance({ service: "chat", name: "Lib", token: "pw" });
  const joined = nextEvent(host, "client_connected");
  const ack = await member.joinInstance({ uuid: room.uuid, userId: "ann", token: "pw" });
  assert.deepEqual([ack.userId, ack.instanceName], ["ann", "Lib"]);
  assert.equal((await joined).userId, "ann");

  const atHost = nextEvent(host, "chat");
  member.send(room.uuid, "chat", { text: "hi" });
  assert.deepEqual(await atHost, { type: "chat", uuid: room.uuid, text: "hi", from: "ann" });
  const atMember = nextEvent(member, "chat");
  host.send(room.uuid, "chat", { text: "yo" }, { to: "ann" });
  assert.equal((await atMember).from, "host");

  const list = await member.listInstances("chat");
  assert.deepEqual(list.map((i: { uuid: string }) => i.uuid), [room.uuid]);

  const kicked = nextEvent(member, "kicked");
  await host.kick(room.uuid, "ann", "bye");
  assert.equal((await kicked).reason, "bye");
  assert.equal(member.joined.size, 0, "a kicked instance is forgotten");
  close();
});

Deno.test("libwstun: refused requests reject with WSTunError carrying the code", async () => {
  await using server = await startServer();
  const { host, member, close } = await pair(server);
  await assert.rejects(
    () => member.joinInstance({ uuid: "NOPE" }),
    (err: WSTunError) => err instanceof WSTunError && err.code === "unknown_instance",
  );
  await assert.rejects(
    () => host.createInstance({ service: "nope", name: "x" }),
    (err: WSTunError) => err.code === "unknown_service",
  );
  assert.equal((await host.ping()).type, "pong");
  close();
});

Deno.test("libwstun: binary frames carry bytes and from, point to point", async () => {
  await using server = await startServer();
  const { host, member, close } = await pair(server);
  const other = new WSTunClient({ url: server.base });
  await other.connect();
  const room = await host.createInstance({ service: "fileshare", name: "F" });
  await member.joinInstance({ uuid: room.uuid, userId: "a" });
  await other.joinInstance({ uuid: room.uuid, userId: "b" });
  const got = nextEvent(other, "binary");
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) % 251);
  member.sendBinary(room.uuid, bytes, { to: "b" });
  const frame = await got;
  assert.deepEqual([frame.uuid, frame.from], [room.uuid, "a"]);
  assert.deepEqual(frame.data, bytes);
  other.close();
  close();
});

Deno.test("libwstun: after a dropped socket the host resumes and the member re-joins as itself", async () => {
  await using server = await startServer({ hostGraceMs: 5000 });
  const { host, member, close } = await pair(server);
  const room = await host.createInstance({ service: "chat", name: "R" });
  await member.joinInstance({ uuid: room.uuid, userId: "ann" });

  const hostBack = nextEvent(host, "reconnect");
  host.socket!.close(); // not client.close(): an unexpected drop
  const result = await hostBack;
  assert.deepEqual(result.instances, [{ uuid: room.uuid, ok: true }]);

  const memberBack = nextEvent(member, "reconnect");
  const rejoined = nextEvent(host, "client_connected");
  member.socket!.close();
  assert.deepEqual((await memberBack).instances, [{ uuid: room.uuid, ok: true }]);
  assert.equal((await rejoined).userId, "ann");

  const atHost = nextEvent(host, "chat");
  member.send(room.uuid, "chat", { text: "still here" });
  assert.equal((await atHost).from, "ann");
  close();
});
