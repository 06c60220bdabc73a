/**
 * The Redis bridge and directory: two servers that share nothing but one Redis (as two
 * `deno task start` processes on two machines would), every flow across them, and Redis
 * restarted mid-session.
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import { BinaryKind, encodeBinaryHeader } from "../../../lib/binary_frame.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startServerOnRedis } from "../../_util/cluster/cluster.ts";
import { raceKeyedCreates } from "../../_util/cluster/keyed_race.ts";
import { freePort } from "../../_util/server.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";

const enabled = await redisAvailable();

Deno.test({
  name: "redis: host on one server, members on another, every flow",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const ns = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, ns);
    await using b = await startServerOnRedis(redis.url, ns);
    await using host = await TestSocket.open(a.wsUrl);
    await using bob = await TestSocket.open(b.wsUrl);
    await using cat = await TestSocket.open(b.wsUrl);
    const { uuid } = await createRoom(host, { token: "pw" });
    const wrong = await bob.request({ type: "join_instance", uuid, token: "x" });
    assert.equal(wrong.error, "unauthorized");
    await joinRoom(host, bob, uuid, "bob", { token: "pw" });
    await joinRoom(host, cat, uuid, "cat", { token: "pw" });

    bob.send({ type: "note", uuid, n: 1 });
    assert.deepEqual(await host.next(), { type: "note", uuid, n: 1, from: "bob" });
    host.send({ type: "note", uuid, n: 2, to: "cat" });
    assert.deepEqual(await cat.next(), { type: "note", uuid, n: 2, to: "cat", from: "host" });
    const header = encodeBinaryHeader(BinaryKind.InstanceData, uuid, "");
    host.sendRaw(new Uint8Array([...header, 9, 8, 7]));
    for (const member of [bob, cat]) {
      const got = await member.nextBinary();
      assert.deepEqual([...got.subarray(got.length - 3)], [9, 8, 7]);
    }

    const list = await cat.request({ type: "list_instances" });
    assert.equal(list.instances.length, 1);
    assert.equal(list.instances[0].protected, true);

    host.send({ type: "kick_client", uuid, userId: "bob" });
    assert.equal((await bob.next()).type, "kicked");
    assert.equal((await host.next()).reason, "kicked");
    host.send({ type: "close_instance", uuid });
    assert.deepEqual(await cat.next(), { type: "instance_closed", uuid, reason: "closed" });
  },
});

Deno.test({
  name:
    "redis restarted mid-session: clear errors for what needs the store, frames wait and arrive",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const ns = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, ns, {}, { timeoutMs: 5000 });
    await using b = await startServerOnRedis(redis.url, ns, {}, { timeoutMs: 5000 });
    await using host = await TestSocket.open(a.wsUrl);
    await using bob = await TestSocket.open(b.wsUrl);
    const { uuid } = await createRoom(host);
    await joinRoom(host, bob, uuid, "bob");

    await redis.stop();
    const created = await bob.request({ type: "create_instance", service: "chat", name: "x" });
    assert.equal(created.code, "bridge_unavailable");
    const listed = await bob.request({ type: "list_instances" });
    assert.equal(listed.code, "bridge_unavailable");
    await using eve = await TestSocket.open(b.wsUrl);
    const join = await eve.request({ type: "join_instance", uuid });
    assert.equal(join.error, "bridge_unavailable");
    bob.send({ type: "note", uuid, n: "while away" });

    await redis.resume();
    // Once both servers are back on Redis, the owner's records are written again.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const again = await eve.request({ type: "list_instances" });
      if (again.type === "instance_list" && again.instances.length === 1) break;
      if (Date.now() > deadline) throw new Error(`not recovered: ${JSON.stringify(again)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    bob.send({ type: "note", uuid, n: "after" });
    assert.deepEqual(await host.next(5000), { type: "note", uuid, n: "while away", from: "bob" });
    assert.deepEqual(await host.next(), { type: "note", uuid, n: "after", from: "bob" });
    host.send({ type: "note", uuid, n: "back" });
    assert.equal((await bob.next()).n, "back");
    assert.equal((await (await fetch(`${a.base}/_api/stats`)).json()).bridge.lost, 0);
  },
});

/** Sends `count` numbered notes on `socket` every `everyMs`; resolves when all are sent. */
async function paced(socket: TestSocket, uuid: string, count: number, everyMs: number) {
  for (let n = 0; n < count; n++) {
    socket.send({ type: "note", uuid, n });
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Collects numbered notes (and any `error`) until `count` notes or `withinMs`. */
async function collect(socket: TestSocket, count: number, withinMs: number) {
  const notes: number[] = [];
  const errors: Record<string, unknown>[] = [];
  const deadline = Date.now() + withinMs;
  while (notes.length < count && Date.now() < deadline) {
    let frame;
    try {
      frame = await socket.next(Math.max(1, deadline - Date.now()));
    } catch {
      break;
    }
    if (frame.type === "note") notes.push(frame.n as number);
    else errors.push(frame);
  }
  return { notes, errors };
}

Deno.test({
  name: "redis: stopped for 2 s under traffic both ways, nothing is lost and order is kept",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const ns = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, ns, {}, { timeoutMs: 5000 });
    await using b = await startServerOnRedis(redis.url, ns, {}, { timeoutMs: 5000 });
    await using host = await TestSocket.open(a.wsUrl);
    await using bob = await TestSocket.open(b.wsUrl);
    const { uuid } = await createRoom(host);
    await joinRoom(host, bob, uuid, "bob");

    const count = 300;
    const toHost = collect(host, count, 20_000);
    const toBob = collect(bob, count, 20_000);
    const sending = Promise.all([paced(bob, uuid, count, 10), paced(host, uuid, count, 10)]);
    await new Promise((r) => setTimeout(r, 800));
    await redis.stop();
    await new Promise((r) => setTimeout(r, 2000));
    await redis.resume();
    await sending;
    const [atHost, atBob] = await Promise.all([toHost, toBob]);
    const all = Array.from({ length: count }, (_, n) => n);
    assert.deepEqual(atHost.errors, []);
    assert.deepEqual(atHost.notes, all, "bob → host: every note, once, in order");
    assert.deepEqual(atBob.errors, []);
    assert.deepEqual(atBob.notes, all, "host → bob: every note, once, in order");
  },
});

Deno.test({
  name:
    "redis: an outage longer than the bridge time-out reports what was lost, in order otherwise",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const ns = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, ns, {}, { timeoutMs: 400 });
    await using b = await startServerOnRedis(redis.url, ns, {}, { timeoutMs: 400 });
    await using host = await TestSocket.open(a.wsUrl);
    await using bob = await TestSocket.open(b.wsUrl);
    const { uuid } = await createRoom(host);
    await joinRoom(host, bob, uuid, "bob");

    const count = 150;
    const received = collect(host, count, 12_000);
    const sending = paced(bob, uuid, count, 20);
    await new Promise((r) => setTimeout(r, 500));
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.resume();
    await sending;
    const { notes, errors } = await received;
    const lost = errors.reduce(
      (sum, e) => sum + (e.code === "bridge_gap" ? e.lost as number : 0),
      0,
    );
    assert.ok(lost > 0, `some notes outlived the time-out: ${JSON.stringify(errors)}`);
    assert.ok(errors.every((e) => e.code === "bridge_gap" && e.uuid === uuid));
    assert.equal(notes.length + lost, count, "every note arrived or was reported lost");
    assert.deepEqual(notes, [...notes].sort((x, y) => x - y), "in order");
    assert.equal(new Set(notes).size, notes.length, "none twice");
  },
});

Deno.test({
  name: "redis: two `deno task start` processes on different ports behave as one hub",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const env = redis.serverEnv();
    const [portA, portB] = [freePort(), freePort()];
    await using _a = await startServerProcess({ ...env, PORT: String(portA) }, { task: true });
    await using _b = await startServerProcess({ ...env, PORT: String(portB) }, { task: true });
    await using host = await TestSocket.open(`ws://127.0.0.1:${portA}/_ws`);
    await using bob = await TestSocket.open(`ws://127.0.0.1:${portB}/_ws`);
    const { uuid } = await createRoom(host, { token: "pw" });
    await joinRoom(host, bob, uuid, "bob", { token: "pw" });
    bob.send({ type: "note", uuid, n: 1 });
    assert.deepEqual(await host.next(), { type: "note", uuid, n: 1, from: "bob" });
    host.send({ type: "note", uuid, n: 2 });
    assert.deepEqual(await bob.next(), { type: "note", uuid, n: 2, from: "host" });
    const listed = await (await fetch(`http://127.0.0.1:${portB}/_api/instances`)).json();
    assert.equal(listed.length, 1);
    assert.equal(listed[0].uuid, uuid);
  },
});

Deno.test({
  name: "redis: keyed creates of one new key racing on two servers end with one instance",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const ns = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, ns, { hostGraceMs: 5000 });
    await using b = await startServerOnRedis(redis.url, ns, { hostGraceMs: 5000 });
    await raceKeyedCreates(a, b);
  },
});
