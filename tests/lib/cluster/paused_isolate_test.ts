/**
 * An isolate taken for dead that was only paused (a stopped process, a long pause of the machine)
 * and comes back: the others took it for gone and moved its rooms, and from then on the two must
 * hear each other again, in both directions (lib/cluster/link.ts keeps the numbering of a link
 * across that). Two real processes on one Redis; SIGSTOP and SIGCONT.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { waitFor } from "../../_util/wait_for.ts";

Deno.test({
  name: "cluster: an isolate paused past its heartbeats and resumed is heard again, both ways",
  ignore: !(await redisAvailable()),
  fn: async () => {
    await using redis = await RedisServer.start();
    const env = redis.serverEnv({ WSTUN_BRIDGE_HEARTBEAT_MS: "300", WSTUN_LOG_FORMAT: "json" });
    await using a = await startServerProcess(env);
    await using b = await startServerProcess(env);
    const ws = (port: number) => `ws://127.0.0.1:${port}/_ws`;
    // Traffic both ways first, so each link has numbers to lose; bob, on B, stays in A's room.
    await using host = await TestSocket.open(ws(a.port));
    await using bob = await TestSocket.open(ws(b.port));
    const { uuid } = await createRoom(host);
    await joinRoom(host, bob, uuid, "bob");
    bob.send({ type: "note", uuid, n: 1 });
    assert.equal((await host.next()).n, 1);
    host.send({ type: "note", uuid, n: 2 });
    assert.equal((await bob.next()).n, 2);

    a.signal("SIGSTOP");
    try {
      await waitFor(() => b.lines.some((l) => l.includes('"bridge.isolate_gone"')), {
        timeoutMs: 10_000,
        what: "B taking A for gone",
      });
    } finally {
      a.signal("SIGCONT");
    }

    // Once both say they are ready again, a room on each side with a member from the other:
    // requests and frames cross both ways.
    const ready = async (base: string) => (await fetch(`${base}/_api/ready`)).status === 200;
    await waitFor(async () => await ready(a.base) && await ready(b.base), {
      timeoutMs: 10_000,
      what: "both ready again",
      everyMs: 100,
    });
    for (const [hostPort, memberPort] of [[a.port, b.port], [b.port, a.port]]) {
      await using host = await TestSocket.open(ws(hostPort));
      await using member = await TestSocket.open(ws(memberPort));
      const room = await createRoom(host);
      await joinRoom(host, member, room.uuid, "carol");
      member.send({ type: "note", uuid: room.uuid, n: 3 });
      assert.equal((await host.next()).n, 3);
      host.send({ type: "note", uuid: room.uuid, n: 4 });
      assert.equal((await member.next()).n, 4);
    }
  },
});
