/**
 * The Redis bridge and directory: two servers that share nothing but one Redis (as two
 * `deno task start` processes on two machines would), every flow across them, and Redis
 * restarted mid-session.
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import { BinaryKind, encodeBinaryHeader } from "../../lib/binary_frame.ts";
import { createRoom, joinRoom, TestSocket } from "../_util/test_socket.ts";
import { startServerOnRedis } from "./cluster.ts";
import { raceKeyedCreates } from "./keyed_race.ts";
import { freePort, startProcess } from "./process.ts";
import { redisAvailable, RedisServer } from "./redis_server.ts";

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
  name: "redis restarted mid-session: clear errors while away, a reported gap, then recovery",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const ns = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, ns);
    await using b = await startServerOnRedis(redis.url, ns);
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
    bob.send({ type: "note", uuid, n: "lost" });

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
    const gap = await host.next(5000);
    assert.equal(gap.code, "bridge_gap", JSON.stringify(gap));
    assert.equal(gap.uuid, uuid);
    assert.deepEqual(await host.next(), { type: "note", uuid, n: "after", from: "bob" });
    host.send({ type: "note", uuid, n: "back" });
    assert.equal((await bob.next()).n, "back");
  },
});

Deno.test({
  name: "redis: two `deno task start` processes on different ports behave as one hub",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const env = {
      WSTUN_REDIS_URL: redis.url,
      WSTUN_BRIDGE_NAMESPACE: `p-${ulid()}`,
    };
    const [portA, portB] = [freePort(), freePort()];
    await using _a = await startProcess({ ...env, PORT: String(portA) });
    await using _b = await startProcess({ ...env, PORT: String(portB) });
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
