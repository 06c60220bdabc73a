/**
 * `WSTUN_WORKERS=2 deno task start`: the real command, two worker isolates on one port, 50
 * clients spread across them by the kernel, every message delivered.
 */
import assert from "node:assert/strict";
import { TestSocket } from "../_util/test_socket.ts";
import { freePort } from "../_util/server.ts";
import { startServerProcess, statsOnFreshConnection } from "../_util/server_process.ts";

Deno.test("WSTUN_WORKERS=2 deno task start: 50 clients on both workers, every message delivered", async () => {
  const port = freePort();
  await using _server = await startServerProcess({
    PORT: String(port),
    WSTUN_WORKERS: "2",
    WSTUN_MAX_MSGS_PER_SEC: "0",
    WSTUN_MAX_MEMBERS: "0",
  }, { task: true });
  const sockets: TestSocket[] = [];
  try {
    const isolates = new Set<string>();
    for (let i = 0; i < 20; i++) isolates.add((await statsOnFreshConnection(port)).isolate);
    assert.equal(isolates.size, 2, "the kernel should spread connections over both workers");

    const url = `ws://127.0.0.1:${port}/_ws`;
    const host = await TestSocket.open(url);
    sockets.push(host);
    const created = await host.request({ type: "create_instance", service: "chat", name: "big" });
    const uuid = created.uuid;
    const members: TestSocket[] = [];
    for (let i = 0; i < 49; i++) {
      const member = await TestSocket.open(url);
      sockets.push(member);
      members.push(member);
      const ack = await member.request({ type: "join_instance", uuid, userId: `m${i}` });
      assert.equal(ack.success, true, JSON.stringify(ack));
    }
    for (let i = 0; i < 49; i++) assert.equal((await host.next()).type, "client_connected");

    const PER_MEMBER = 10;
    members.forEach((m, i) => {
      for (let n = 0; n < PER_MEMBER; n++) m.send({ type: "note", uuid, n, i });
    });
    const lastSeen = new Map<string, number>();
    for (let k = 0; k < 49 * PER_MEMBER; k++) {
      const frame = await host.next(10_000);
      assert.equal(frame.type, "note", JSON.stringify(frame));
      assert.equal(frame.n, (lastSeen.get(frame.from) ?? -1) + 1, "per-sender order");
      lastSeen.set(frame.from, frame.n);
    }
    for (let n = 0; n < PER_MEMBER; n++) host.send({ type: "news", uuid, n });
    for (const m of members) {
      for (let n = 0; n < PER_MEMBER; n++) {
        const frame = await m.next(10_000);
        assert.equal(frame.n, n, JSON.stringify(frame));
      }
    }
    const listed = await members[0].request({ type: "list_instances" });
    assert.equal(listed.instances.length, 1);
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
  }
});
