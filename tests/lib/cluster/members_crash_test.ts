/**
 * The isolate holding a room's members crashes (SIGKILL) while the room's owner lives on: the
 * members' libwstun clients reconnect elsewhere (a load balancer, here a TCP proxy, sends them to
 * another process) and rejoin with their own secret (the `resume` of their join `ack`), which
 * takes their places back at once, long before the owner counts the crashed process as dead
 * (three heartbeats: 15 s with the default 5 s heartbeat). Delivery across a crash is at most
 * once: frames sent into the dead process are lost with it, none arrives twice.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServerOnRedis } from "../../_util/cluster/cluster.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { SwitchProxy } from "../../_util/switch_proxy.ts";
import { noteTaker, sendNotes } from "../../_util/restartable_server.ts";
import { waitFor } from "../../_util/wait_for.ts";
import { WSTunClient } from "../../../static/libwstun.js";

Deno.test({
  name:
    "members' process killed: they rejoin elsewhere at once with their own secret; at most once",
  ignore: !(await redisAvailable()),
  async fn() {
    await using redis = await RedisServer.start();
    const { namespace } = redis;
    const heartbeat = { heartbeatMs: 5000 }; // the owner would take 15-20 s to count it dead
    await using owner = await startServerOnRedis(redis.url, namespace, {}, heartbeat);
    await using third = await startServerOnRedis(redis.url, namespace, {}, heartbeat);
    await using members = await startServerProcess(
      redis.serverEnv({ WSTUN_BRIDGE_HEARTBEAT_MS: "5000" }),
    );
    await using proxy = SwitchProxy.start(members.port);
    const host = new WSTunClient({ url: owner.wsUrl });
    const seen: string[] = [];
    for (const type of ["client_connected", "client_disconnected"]) {
      host.on(type, (f: { userId: string }) => seen.push(`${type} ${f.userId}`));
    }
    const ann = noteTaker(proxy.url);
    try {
      await host.connect();
      const { uuid } = await host.createInstance({ service: "chat", name: "R" });
      await ann.client.connect();
      await ann.client.joinInstance({ uuid, userId: "ann" });
      const total = 600;
      const sending = sendNotes(host, uuid, 0, total, 5);
      await waitFor(() => ann.notes.length >= 40, { what: "notes before the crash" });
      proxy.backend = Number(new URL(third.base).port);
      const killed = Date.now();
      members.signal("SIGKILL");
      await waitFor(() => ann.events.some((e) => e.type === "reconnect"), {
        timeoutMs: 5000,
        what: "ann back in the room",
      });
      const back = ann.events.find((e) => e.type === "reconnect")!;
      const rooms = back.instances as { uuid: string; ok: boolean }[];
      assert.deepEqual(rooms.map((r) => [r.uuid, r.ok]), [[uuid, true]]);
      assert.ok(Date.now() - killed < 5000, "well before the owner counts the process dead");
      await sending;
      await waitFor(() => ann.notes.at(-1) === total - 1, {
        timeoutMs: 10_000,
        what: `the last note (ann has ${ann.notes.length})`,
      });
      const notes = ann.notes;
      assert.ok(notes.every((n, i) => i === 0 || n > notes[i - 1]), "in order, none twice");
      assert.ok(notes.length > total - 200, `most notes arrived (${notes.length} of ${total})`);
      assert.deepEqual(seen, ["client_connected ann"], "the host never saw ann go");
    } finally {
      host.close();
      ann.client.close();
    }
  },
});
