/**
 * Rooms move between servers: two processes sharing one Redis behind a load balancer (a TCP
 * proxy). The process that owns a room is stopped — drained with SIGTERM, or killed with SIGKILL
 * — the balancer sends new connections to the other one, and libwstun clients carry on there: the
 * host's resume adopts the room (one claim wins), the member rejoins.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SwitchProxy } from "../_util/switch_proxy.ts";
import { freePort } from "../_util/server.ts";
import { redisAvailable, RedisServer } from "../_util/redis_server.ts";
import { noteTaker, RestartableServer, sendNotes } from "../_util/restartable_server.ts";
import { waitFor } from "../_util/wait_for.ts";

const enabled = await redisAvailable();

async function twoServers(fn: (a: RestartableServer, b: RestartableServer) => Promise<void>) {
  await using redis = await RedisServer.start();
  const env = redis.serverEnv({
    WSTUN_BRIDGE_HEARTBEAT_MS: "200",
    WSTUN_BRIDGE_TIMEOUT_MS: "1000",
    WSTUN_HOST_GRACE_MS: "20000",
  });
  await using a = new RestartableServer(freePort(), env);
  await using b = new RestartableServer(freePort(), env);
  await a.start();
  await b.start();
  await fn(a, b);
}

Deno.test({
  name: "move: the owning process drains (SIGTERM); the room goes on on the other, nothing lost",
  ignore: !enabled,
  async fn() {
    await twoServers(async (a, b) => {
      await using proxy = SwitchProxy.start(a.port);
      const host = noteTaker(proxy.url);
      const member = noteTaker(proxy.url);
      try {
        await host.client.connect();
        await member.client.connect();
        const room = await host.client.createInstance({ service: "chat", name: "R", token: "pw" });
        await member.client.joinInstance({ uuid: room.uuid, userId: "ann", token: "pw" });
        const sending = sendNotes(member.client, room.uuid, 0, 200, 10);
        await waitFor(() => host.notes.length >= 40, {
          timeoutMs: 20_000,
          what: "notes before the move",
          everyMs: 20,
        });
        proxy.backend = b.port;
        await a.stop("SIGTERM");
        await sending;
        await waitFor(() => host.notes.length >= 200, {
          timeoutMs: 20_000,
          what: "every note after the move",
          everyMs: 20,
        });
        assert.deepEqual(host.notes, Array.from({ length: 200 }, (_, n) => n));
        const listed = await (await fetch(`${b.url}/_api/instances`)).json();
        assert.deepEqual(listed.map((i: { uuid: string }) => i.uuid), [room.uuid]);
        assert.equal(listed[0].protected, true, "the join token came along (as a verifier)");
      } finally {
        host.client.close();
        member.client.close();
      }
    });
  },
});

Deno.test({
  name: "move: the owning process is killed (SIGKILL); the host's resume adopts the room elsewhere",
  ignore: !enabled,
  async fn() {
    await twoServers(async (a, b) => {
      await using proxy = SwitchProxy.start(a.port);
      const host = noteTaker(proxy.url);
      const member = noteTaker(proxy.url);
      try {
        await host.client.connect();
        await member.client.connect();
        const room = await host.client.createInstance({ service: "chat", name: "R" });
        await member.client.joinInstance({ uuid: room.uuid, userId: "ann" });
        await sendNotes(member.client, room.uuid, 0, 10, 5);
        await waitFor(() => host.notes.length === 10, {
          timeoutMs: 20_000,
          what: "the first notes",
          everyMs: 20,
        });
        proxy.backend = b.port;
        await a.stop("SIGKILL");
        // A crash has no `draining`: what is sent into the dying socket is lost with it, so the
        // member sends once it knows; libwstun holds those and sends them once it is back.
        await waitFor(() => member.events.some((e) => e.type === "close"), {
          timeoutMs: 20_000,
          what: "the member noticed",
          everyMs: 20,
        });
        await sendNotes(member.client, room.uuid, 10, 20, 5);
        await waitFor(() => host.notes.length === 20, {
          timeoutMs: 20_000,
          what: "the notes after the crash",
          everyMs: 20,
        });
        assert.deepEqual(host.notes, Array.from({ length: 20 }, (_, n) => n));
        const back = member.events.find((e) => e.type === "reconnect");
        assert.equal(back?.unconfirmed, 10, "frames the dead server never confirmed are reported");
        const stats = await (await fetch(`${b.url}/_api/instances`)).json();
        assert.deepEqual(stats.map((i: { uuid: string }) => i.uuid), [room.uuid]);
      } finally {
        host.client.close();
        member.client.close();
      }
    });
  },
});
