/**
 * What the cluster adds to `/_api/ready` and the log (lib/cluster/liveness.ts): an isolate alive
 * in the directory but silent on the bridge makes the others not ready, with what to do
 * (`WSTUN_REDIS_URL`), until it is heard again; a directory that stops answering heartbeats (a
 * Redis stopped) makes the isolate not ready until it answers again; a peer that drains does not
 * make the survivor look cut off.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import { LogLines } from "../../_util/log_lines.ts";
import { startCluster, startServerOnRedis } from "../../_util/cluster/cluster.ts";
import { LossyBridge } from "../../_util/cluster/lossy_bridge.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { startServerProcess } from "../../_util/server_process.ts";

async function ready(base: string) {
  const response = await fetch(`${base}/_api/ready`);
  return { status: response.status, body: await response.json() };
}

Deno.test("readiness: an isolate alive in the directory but silent on the bridge; then heard again", async () => {
  await using cluster = await startCluster(0);
  const logA = new LogLines();
  const a = await cluster.add({}, undefined, undefined, { log: logA.log });
  const lossy = new LossyBridge(cluster.namespace);
  lossy.partition = true; // B beats in the shared directory, but nothing it sends arrives
  const logB = new LogLines();
  const b = await cluster.add({}, lossy, undefined, { log: logB.log });

  const silent = await logA.next("bridge.silent", { peer: b.isolate });
  assert.match(silent.message, /WSTUN_REDIS_URL/);
  const atA = await ready(a.base);
  assert.equal(atA.status, 503);
  assert.match(
    atA.body.reason,
    new RegExp(
      `^bridge: isolate ${b.isolate} is alive in the directory but never heard on the ` +
        "bridge: .*set WSTUN_REDIS_URL",
    ),
  );
  // B hears no one either: the same answer from its side, once its own silence timer has run.
  await logB.next("bridge.silent", { peer: a.isolate });
  assert.match((await ready(b.base)).body.reason, /^bridge: isolate .* WSTUN_REDIS_URL/);

  lossy.partition = false;
  await logA.next("bridge.heard_again", { peer: b.isolate });
  const again = await ready(a.base);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(logA.of("bridge.silent").length, 1, "logged once, not every heartbeat");
});

Deno.test({
  name: "readiness: a directory that stops answering (Redis stopped) makes the isolate not ready",
  ignore: !(await redisAvailable()),
  fn: async () => {
    await using redis = await RedisServer.start();
    const lines = new LogLines();
    await using server = await startServerOnRedis(redis.url, `t-${ulid()}`, {}, {}, {
      log: lines.log,
    });
    assert.equal((await ready(server.base)).status, 200);

    await redis.stop();
    const failed = await lines.next("bridge.heartbeat_failed");
    assert.ok(failed.error);
    const down = await ready(server.base);
    assert.equal(down.status, 503);
    assert.match(down.body.reason, /^directory: the instance directory \(Redis or Deno KV\) has/);
    await lines.next("redis.unavailable", { role: "directory" });

    await redis.resume();
    await lines.next("bridge.heartbeat_recovered");
    const up = await ready(server.base);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    await lines.next("redis.reconnected", { role: "directory" });
  },
});

Deno.test({
  name: "readiness: a peer that drains (a rolling restart) leaves the survivor ready and quiet",
  ignore: !(await redisAvailable()),
  fn: async () => {
    await using redis = await RedisServer.start();
    const env = redis.serverEnv({ WSTUN_BRIDGE_HEARTBEAT_MS: "300", WSTUN_LOG_FORMAT: "json" });
    await using survivor = await startServerProcess(env);
    await using leaving = await startServerProcess(env);
    // Both long past the point where a quiet peer would count as silent (six heartbeats).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await ready(survivor.base)).status, 200);
    await leaving.stop(); // SIGTERM: a drain, then `bye`
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const { status, body } = await ready(survivor.base);
      assert.equal(status, 200, JSON.stringify(body));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(!survivor.lines.some((l) => l.includes('"bridge.silent"')), "no silent warning");
  },
});
