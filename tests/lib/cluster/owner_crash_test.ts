/**
 * The owner of a room crashes (SIGKILL) while its members are on another process: the host comes
 * back on a third process and adopts the room there, and that process tells every isolate at once
 * (`adopted`), so the members follow it then, not only when their own isolate next checks who is
 * alive (here once every 20 s). Delivery across a crash is at most once: what was sent into the
 * dead process is lost with it, nothing arrives twice.
 *
 * @module
 */
import assert from "node:assert/strict";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { SwitchProxy } from "../../_util/switch_proxy.ts";
import { noteTaker, sendNotes } from "../../_util/restartable_server.ts";
import { waitFor } from "../../_util/wait_for.ts";

Deno.test({
  name:
    "owner killed, members elsewhere: they follow the room as soon as it is adopted; at most once",
  ignore: !(await redisAvailable()),
  async fn() {
    await using redis = await RedisServer.start();
    const env = (heartbeatMs: number) =>
      redis.serverEnv({
        WSTUN_BRIDGE_HEARTBEAT_MS: String(heartbeatMs),
        WSTUN_HOST_GRACE_MS: "20000",
      });
    await using owner = await startServerProcess(env(300));
    await using adopter = await startServerProcess(env(300));
    // The members' process checks who is alive only every 20 s: it learns of the crash from the
    // adoption, or much later.
    await using members = await startServerProcess(env(20_000));
    await using proxy = SwitchProxy.start(owner.port);
    const host = noteTaker(proxy.url);
    const ann = noteTaker(`ws://127.0.0.1:${members.port}/_ws`);
    try {
      await host.client.connect();
      const { uuid } = await host.client.createInstance({ service: "chat", name: "R" });
      await ann.client.connect();
      await ann.client.joinInstance({ uuid, userId: "ann" });
      await sendNotes(ann.client, uuid, 0, 20, 5);
      await waitFor(() => host.notes.length === 20, { what: "notes before the crash" });

      proxy.backend = adopter.port;
      owner.signal("SIGKILL");
      await waitFor(() => host.events.some((e) => e.type === "reconnect"), {
        timeoutMs: 10_000,
        what: "the host resumed the room on the adopter",
      });
      await waitFor(() => ann.events.some((e) => e.type === "instance_moving"), {
        timeoutMs: 3000,
        what: "ann told the room moved (long before her isolate's own check)",
      });
      await sendNotes(ann.client, uuid, 20, 40, 5);
      await waitFor(() => host.notes.at(-1) === 39, {
        timeoutMs: 10_000,
        what: `the notes after the move (host has ${host.notes})`,
      });
      assert.deepEqual(host.notes, Array.from({ length: 40 }, (_, n) => n));
    } finally {
      host.client.close();
      ann.client.close();
    }
  },
});
