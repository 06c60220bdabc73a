/**
 * Channels across isolates: a publish on one server reaches subscribers on the others, native
 * (`/_ws`) and wsify (`/ws`) alike, in publish order, over BroadcastChannel and over Redis.
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import { BinaryKind, decodeBinaryHeader, encodeBinaryHeader } from "../../../lib/binary_frame.ts";
import { defaultConfig } from "../../../lib/config.ts";
import { createServer } from "../../../routes/app.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { startCluster, TEST_HEARTBEAT_MS } from "../../_util/cluster/cluster.ts";
import { LossyBridge } from "../../_util/cluster/lossy_bridge.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { waitFor } from "../../_util/wait_for.ts";

const KEY = "broadcast-key";

async function waitForSubscribers(base: string, channel: string, count: number) {
  await waitFor(async () => {
    const list = await (await fetch(`${base}/_api/channels`)).json();
    const found = list.find((c: { name?: string; channel?: string }) =>
      (c.name ?? c.channel) === channel
    );
    return (found?.subscribers ?? 0) >= count;
  }, { what: `${count} subscriber(s) on ${channel}`, everyMs: 10 });
}

Deno.test("channels across isolates: native and wsify subscribers elsewhere get every publish", async () => {
  await using cluster = await startCluster(3, {
    pubsub: { ...defaultConfig().pubsub, broadcastKey: KEY },
  });
  const [a, b, c] = cluster.servers;
  await using publisher = await TestSocket.open(a.wsUrl);
  await using native = await TestSocket.open(b.wsUrl);
  await using wsify = await TestSocket.open(c.wsUrl.replace("/_ws", "/ws"));

  assert.equal((await native.request({ type: "subscribe", channel: "news" })).type, "ok");
  wsify.send({ command: "join", args: { channel: "news" } });
  await waitForSubscribers(c.base, "news", 1);

  assert.equal(
    (await publisher.request({ type: "publish", channel: "news", data: { n: 1 } })).type,
    "ok",
  );
  const got = await native.next();
  assert.deepEqual([got.type, got.channel, got.data], ["message", "news", { n: 1 }]);
  assert.equal(typeof got.from, "string");
  assert.deepEqual(await wsify.next(), { n: 1 });

  // A backend publish on a third server reaches both too.
  const res = await fetch(`${a.base}/broadcast?key=${KEY}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ channel: "news", content: "from the backend" }),
  });
  assert.equal(res.status, 201);
  await res.body?.cancel();
  assert.equal((await native.next()).data, "from the backend");
  assert.equal(await wsify.next(), "from the backend");

  // Binary publishes keep their bytes.
  const header = encodeBinaryHeader(BinaryKind.ChannelData, "news", "");
  const frame = new Uint8Array(header.length + 3);
  frame.set(header);
  frame.set([7, 8, 9], header.length);
  publisher.sendRaw(frame);
  const bytes = await native.nextBinary();
  const decoded = decodeBinaryHeader(bytes);
  assert.ok(typeof decoded !== "string");
  assert.deepEqual([decoded.id, [...bytes.subarray(decoded.payloadOffset)]], ["news", [7, 8, 9]]);
});

Deno.test("channels across isolates: a burst keeps publish order; unsubscribe stops delivery", async () => {
  // Limits off: the burst is about order, not rates.
  await using cluster = await startCluster(2, {
    maxMsgsPerSec: 0,
    pubsub: { ...defaultConfig().pubsub, maxPublishesPerSec: 0 },
  });
  const [a, b] = cluster.servers;
  await using publisher = await TestSocket.open(a.wsUrl);
  await using sub = await TestSocket.open(b.wsUrl);
  await sub.request({ type: "subscribe", channel: "burst" });
  await sub.request({ type: "subscribe", channel: "other" });

  const N = 2000;
  for (let i = 0; i < N; i++) publisher.send({ type: "publish", channel: "burst", data: i });
  for (let i = 0; i < N; i++) {
    const m = await sub.next();
    assert.deepEqual([m.channel, m.data], ["burst", i]);
  }

  assert.equal((await sub.request({ type: "unsubscribe", channel: "burst" })).type, "ok");
  publisher.send({ type: "publish", channel: "burst", data: "not for you" });
  publisher.send({ type: "publish", channel: "other", data: "still here" });
  const next = await sub.next();
  assert.deepEqual([next.channel, next.data], ["other", "still here"]);
  await sub.expectNothingPending();
  assert.equal(a.cluster?.stats.channelMessagesLost, 0);
  assert.equal(b.cluster?.stats.channelMessagesLost, 0);
});

const redisEnabled = await redisAvailable();

Deno.test({
  name: "channels across isolates over Redis: two servers sharing only Redis",
  ignore: !redisEnabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const namespace = `t-${ulid()}`;
    const start = async () => {
      const base = defaultConfig({ hostname: "127.0.0.1", port: 0 });
      const server = await createServer({
        ...base,
        bridge: {
          ...base.bridge,
          mode: "redis",
          redisUrl: redis.url,
          namespace,
          heartbeatMs: TEST_HEARTBEAT_MS,
          timeoutMs: 1000,
        },
      });
      const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
      return {
        wsUrl: `ws://127.0.0.1:${http.addr.port}/_ws`,
        async [Symbol.asyncDispose]() {
          await http.shutdown();
          await server.shutdown();
        },
      };
    };
    await using a = await start();
    await using b = await start();
    await using publisher = await TestSocket.open(a.wsUrl);
    await using sub = await TestSocket.open(b.wsUrl);
    await sub.request({ type: "subscribe", channel: "r" });
    for (let i = 0; i < 100; i++) publisher.send({ type: "publish", channel: "r", data: i });
    const header = encodeBinaryHeader(BinaryKind.ChannelData, "r", "");
    publisher.sendRaw(new Uint8Array([...header, 1, 2, 3]));
    for (let i = 0; i < 100; i++) assert.equal((await sub.next()).data, i);
    const bytes = await sub.nextBinary();
    assert.deepEqual([...bytes.subarray(bytes.length - 3)], [1, 2, 3]);
  },
});

Deno.test("channels across isolates: a publish lost on the bridge is counted, not silent", async () => {
  await using cluster = await startCluster(1);
  const [b] = cluster.servers;
  const lossy = new LossyBridge(cluster.namespace);
  const a = await cluster.add({}, lossy);
  await using publisher = await TestSocket.open(a.wsUrl);
  await using sub = await TestSocket.open(b.wsUrl);
  await sub.request({ type: "subscribe", channel: "c" });
  publisher.send({ type: "publish", channel: "c", data: 1 });
  assert.equal((await sub.next()).data, 1);
  lossy.dropBroadcasts = 1;
  publisher.send({ type: "publish", channel: "c", data: 2 });
  publisher.send({ type: "publish", channel: "c", data: 3 });
  assert.equal((await sub.next()).data, 3);
  assert.equal(lossy.dropped, 1);
  const stats = await (await fetch(`${b.base}/_api/stats`)).json();
  assert.equal(stats.channelMessagesLost, 1);
});
