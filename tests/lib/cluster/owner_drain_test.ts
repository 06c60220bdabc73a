/**
 * A room's owner drains while its members are on other isolates (the `bye` handshake of
 * lib/cluster/node.ts and the moving marks of lib/hub/moving.ts): the host, behind a load
 * balancer (a TCP proxy), is on the owner O; its members are libwstun clients on isolate X and
 * stay connected there. Members and host stream numbered notes at each other; O drains, the
 * balancer sends the host to another isolate, it resumes the room there and the members follow it
 * without reconnecting. Every note reaches its recipient exactly once, in order, both ways.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type BridgedServer, serversOn, startCluster } from "../../_util/cluster/cluster.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { SwitchProxy } from "../../_util/switch_proxy.ts";
import { noteTaker, sendNotes } from "../../_util/restartable_server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { waitFor } from "../../_util/wait_for.ts";
import { WSTunClient } from "../../../static/libwstun.js";
import { BinaryKind, encodeBinaryHeader } from "../../../lib/binary_frame.ts";

const redisEnabled = await redisAvailable();
const port = (server: BridgedServer) => Number(new URL(server.base).port);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A host that records each member's notes apart. */
function hostOn(url: string) {
  const client = new WSTunClient({ url, minBackoffMs: 100, maxBackoffMs: 500 });
  const from = new Map<string, number[]>();
  const errors: unknown[] = [];
  client.on("note", (f: { from: string; n: number }) => {
    from.set(f.from, [...from.get(f.from) ?? [], f.n]);
  });
  client.on("error", (f: unknown) => errors.push(f));
  return { client, from, errors };
}

for (const bridge of ["broadcast_channel", "redis"] as const) {
  for (const back of ["a third isolate", "the members' isolate"] as const) {
    Deno.test({
      name: `owner drain (${bridge}): members elsewhere stay, the host resumes on ${back}; ` +
        "every note once, in order, both ways",
      ignore: bridge === "redis" && !redisEnabled,
      async fn() {
        const { servers: [owner, members, third], close } = await serversOn(bridge, 3, {
          hostGraceMs: 20_000,
        });
        await using proxy = SwitchProxy.start(port(owner));
        const host = hostOn(proxy.url);
        const ann = noteTaker(members.wsUrl);
        const bob = noteTaker(members.wsUrl);
        const memberErrors: unknown[] = [];
        try {
          await host.client.connect();
          const room = await host.client.createInstance({ service: "chat", name: "R" });
          const uuid = room.uuid as string;
          for (const [m, userId] of [[ann, "ann"], [bob, "bob"]] as const) {
            m.client.on("error", (f: unknown) => memberErrors.push(f));
            await m.client.connect();
            await m.client.joinInstance({ uuid, userId });
          }
          const total = 300;
          const sending = Promise.all([
            sendNotes(host.client, uuid, 0, total, 3),
            sendNotes(ann.client, uuid, 0, total, 3),
            sendNotes(bob.client, uuid, 0, total, 3),
          ]);
          await waitFor(() => ann.notes.length >= 40 && (host.from.get("bob")?.length ?? 0) >= 40, {
            timeoutMs: 10_000,
            what: "notes before the drain",
          });
          proxy.backend = port(back === "a third isolate" ? third : members);
          await owner.drain(Date.now() + 3000);
          await sending;
          const all = () => [ann.notes, bob.notes, host.from.get("ann"), host.from.get("bob")];
          await waitFor(() => all().every((notes) => (notes?.length ?? 0) >= total), {
            timeoutMs: 10_000,
            what: `every note after the drain (${all().map((n) => n?.length)})`,
          });
          await new Promise((r) => setTimeout(r, 100)); // nothing more (no duplicate) comes
          for (const notes of all()) assert.deepEqual(notes, range(total));
          assert.ok(!ann.events.some((e) => e.type === "reconnect"), "ann stayed connected");
          assert.deepEqual(memberErrors, [], "no member frame was refused");
          assert.deepEqual(host.errors, [], "no host frame was refused");
        } finally {
          host.client.close();
          ann.client.close();
          bob.client.close();
          await close();
        }
      },
    });
  }
}

Deno.test("owner drain: the member is told what was taken; later frames are refused `moving` until it is back", async () => {
  await using cluster = await startCluster(2, { hostGraceMs: 20_000 });
  const [owner, members] = cluster.servers;
  const host = await TestSocket.open(owner.wsUrl);
  const created = await host.request({ type: "create_instance", service: "chat", name: "R" });
  const uuid = created.uuid as string;
  await using member = await TestSocket.open(members.wsUrl);
  await member.request({ type: "join_instance", uuid, userId: "ann", ref: 1 });
  assert.equal((await host.next()).type, "client_connected");
  member.send({ type: "note", uuid, n: 0 });
  assert.equal((await host.next()).n, 0);

  const draining = owner.drain(Date.now() + 2000);
  // The member hears of the move: its join and its note were taken.
  assert.deepEqual(await member.next(), { type: "instance_moving", uuid, received: 2 });
  assert.equal((await host.next()).type, "draining");
  member.send({ type: "note", uuid, n: 1, ref: 7 });
  const refused = await member.next();
  assert.deepEqual([refused.type, refused.code, refused.uuid, refused.ref], [
    "error",
    "moving",
    uuid,
    7,
  ]);
  await host.close();
  await draining;

  // The host resumes on the members' isolate: the room is here now, and the member's frames are
  // still refused `moving` (not `not_member`), text and binary, until it comes back.
  await using again = await TestSocket.open(members.wsUrl);
  const resumed = await again.request({ type: "resume_instance", uuid, resume: created.resume });
  assert.equal(resumed.type, "instance_resumed");
  member.send({ type: "note", uuid, n: 1, ref: 8 });
  const text = await member.next();
  assert.deepEqual([text.code, text.ref], ["moving", 8]);
  const header = encodeBinaryHeader(BinaryKind.InstanceData, uuid, "");
  member.sendRaw(new Uint8Array([...header, 1, 2, 3]));
  const binary = await member.next();
  assert.deepEqual([binary.type, binary.code, binary.uuid], ["error", "moving", uuid]);
  const back = await member.request({ type: "join_instance", uuid, userId: "ann", rejoin: true });
  assert.equal(back.success, true);
  member.send({ type: "note", uuid, n: 1 });
  assert.deepEqual((await again.next()).type, "client_connected");
  assert.equal((await again.next()).n, 1);
});

Deno.test("owner drain: every member frame the members' isolate took reaches the host before its `draining`", async () => {
  await using cluster = await startCluster(2, { hostGraceMs: 20_000, maxMsgsPerSec: 0 });
  const [owner, members] = cluster.servers;
  await using host = await TestSocket.open(owner.wsUrl);
  const created = await host.request({ type: "create_instance", service: "chat", name: "R" });
  const uuid = created.uuid as string;
  await using member = await TestSocket.open(members.wsUrl);
  await member.request({ type: "join_instance", uuid, userId: "ann", ref: 1 });
  assert.equal((await host.next()).type, "client_connected");

  // The member streams (20 notes a millisecond, at most 20,000) while the owner drains.
  const most = 20_000;
  let sent = 0;
  let streaming = true;
  const stream = (async () => {
    while (streaming && sent < most) {
      for (let i = 0; i < 20; i++) member.send({ type: "note", uuid, n: sent++ });
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  await new Promise((r) => setTimeout(r, 20));
  const draining = owner.drain(Date.now() + 3000);
  let frame = await member.next();
  while (frame.type !== "instance_moving") frame = await member.next();
  streaming = false;
  await stream;
  const taken = (frame.received as number) - 1; // the join was the first frame
  const before: number[] = [];
  for (frame = await host.next(); frame.type === "note"; frame = await host.next()) {
    before.push(frame.n as number);
  }
  assert.equal(frame.type, "draining");
  assert.ok(taken > 0 && taken < sent, `the drain came mid-stream (${taken} of ${sent} taken)`);
  assert.deepEqual(before, range(taken), "what was taken arrived, ahead of `draining`");
  const after: unknown[] = [];
  await draining; // the server closed the host's socket (1012): read what came before that
  for (;;) {
    try {
      after.push((await host.next(500)).n);
    } catch {
      break;
    }
  }
  assert.deepEqual(after, [], "nothing after `draining`");
});

Deno.test({
  name:
    "owner drain: the owner waits for the members' isolate to follow (bye_seen), at most a second",
  ignore: !redisEnabled,
  async fn() {
    await using redis = await RedisServer.start();
    const env = redis.serverEnv({ WSTUN_BRIDGE_HEARTBEAT_MS: "1000", WSTUN_LOG_FORMAT: "json" });
    const ws = (port: number) => `ws://127.0.0.1:${port}/_ws`;
    /** Sends SIGTERM to the owner and says how long its host waited for `draining`. */
    const drainTime = async (pauseMembers: boolean) => {
      await using owner = await startServerProcess(env);
      await using members = await startServerProcess(env);
      await using host = await TestSocket.open(ws(owner.port));
      await using member = await TestSocket.open(ws(members.port));
      const { uuid } = await createRoom(host);
      await joinRoom(host, member, uuid, "ann");
      if (pauseMembers) members.signal("SIGSTOP");
      try {
        const began = Date.now();
        owner.signal("SIGTERM");
        assert.equal((await host.next(5000)).type, "draining");
        return { ms: Date.now() - began, lines: owner.lines };
      } finally {
        if (pauseMembers) members.signal("SIGCONT");
      }
    };
    const answered = await drainTime(false);
    assert.ok(answered.ms < 700, `the members' isolate answered at once (${answered.ms} ms)`);
    assert.ok(!answered.lines.some((l) => l.includes("bridge.bye_unanswered")));
    const paused = await drainTime(true);
    assert.ok(paused.ms >= 950, `waited for the paused isolate (${paused.ms} ms)`);
    assert.ok(paused.ms < 2500, `but not past the bound (${paused.ms} ms)`);
    await waitFor(() => paused.lines.some((l) => l.includes('"bridge.bye_unanswered"')), {
      what: "the owner logged who did not answer",
    });
  },
});
