/**
 * A host's broadcast to members on another isolate costs one bridge message per isolate, not one
 * per member (lib/cluster/owner_side.ts): a 1,000-member instance whose members are spread over
 * two worker isolates (`WSTUN_WORKERS=2`, the kernel places the sockets) and over two processes
 * on one Redis. Counted in `/_api/stats` (`bridge.sentByKind.out`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { TestSocket } from "../../_util/test_socket.ts";
import { freePort } from "../../_util/server.ts";
import { startServerProcess, statsOnFreshConnection } from "../../_util/server_process.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";

const MEMBERS = 1000;
const BROADCASTS = 5;

interface BridgeStats {
  isolate: string;
  connections: number;
  bridge: { sentByKind: Record<string, number> } | null;
}

/** Every isolate's stats behind `ports` (fresh connections until each isolate has answered). */
async function statsOfIsolates(
  ports: number[],
  isolates: number,
): Promise<Map<string, BridgeStats>> {
  const seen = new Map<string, BridgeStats>();
  for (let attempt = 0; attempt < 200 && seen.size < isolates; attempt++) {
    const stats = await statsOnFreshConnection(ports[attempt % ports.length]) as BridgeStats;
    seen.set(stats.isolate, stats);
  }
  assert.equal(seen.size, isolates, "every isolate answered");
  return seen;
}

function outs(stats: Map<string, BridgeStats>): number {
  let sum = 0;
  for (const s of stats.values()) sum += s.bridge?.sentByKind.out ?? 0;
  return sum;
}

/** Opens the host and MEMBERS members (on `memberUrls` in turn), all joined to one room. */
async function bigRoom(hostUrl: string, memberUrls: string[]) {
  const sockets: TestSocket[] = [];
  const host = await TestSocket.open(hostUrl);
  sockets.push(host);
  const { uuid } = await host.request({ type: "create_instance", service: "chat", name: "big" });
  const members: TestSocket[] = [];
  for (let batch = 0; batch < MEMBERS; batch += 50) {
    const joined = await Promise.all(
      Array.from({ length: Math.min(50, MEMBERS - batch) }, async (_, j) => {
        const i = batch + j;
        const member = await TestSocket.open(memberUrls[i % memberUrls.length]);
        sockets.push(member);
        const ack = await member.request({ type: "join_instance", uuid, userId: `m${i}` });
        assert.equal(ack.success, true, JSON.stringify(ack));
        return member;
      }),
    );
    members.push(...joined);
  }
  for (let i = 0; i < MEMBERS; i++) {
    assert.equal((await host.next(10_000)).type, "client_connected");
  }
  const close = () => Promise.all(sockets.map((s) => s.close()));
  return { host, uuid, members, close };
}

/** The host broadcasts; every member gets every frame, in order. */
async function broadcast(room: Awaited<ReturnType<typeof bigRoom>>) {
  for (let n = 0; n < BROADCASTS; n++) room.host.send({ type: "news", uuid: room.uuid, n });
  await Promise.all(room.members.map(async (member) => {
    for (let n = 0; n < BROADCASTS; n++) assert.equal((await member.next(10_000)).n, n);
  }));
}

Deno.test("cluster fan-out: 1,000 members over two workers, one bridge message per broadcast", async () => {
  const port = freePort();
  await using _server = await startServerProcess({
    PORT: String(port),
    WSTUN_WORKERS: "2",
    WSTUN_MAX_MSGS_PER_SEC: "0",
  }, { task: true });
  const url = `ws://127.0.0.1:${port}/_ws`;
  const room = await bigRoom(url, [url]);
  try {
    const before = await statsOfIsolates([port], 2);
    for (const s of before.values()) assert.ok(s.connections > 100, "members on both workers");
    await broadcast(room);
    const after = await statsOfIsolates([port], 2);
    assert.equal(outs(after) - outs(before), BROADCASTS, "one out envelope per broadcast");
  } finally {
    await room.close();
  }
});

const redisEnabled = await redisAvailable();

Deno.test({
  name: "cluster fan-out: 1,000 members over two processes on Redis, one PUBLISH per broadcast",
  ignore: !redisEnabled,
  async fn() {
    await using redis = await RedisServer.start();
    const env = redis.serverEnv({ WSTUN_MAX_MSGS_PER_SEC: "0" });
    const [portA, portB] = [freePort(), freePort()];
    await using _a = await startServerProcess({ ...env, PORT: String(portA) }, { task: true });
    await using _b = await startServerProcess({ ...env, PORT: String(portB) }, { task: true });
    const [urlA, urlB] = [portA, portB].map((p) => `ws://127.0.0.1:${p}/_ws`);
    const room = await bigRoom(urlA, [urlA, urlB]);
    try {
      const before = await statsOfIsolates([portA, portB], 2);
      await broadcast(room);
      const after = await statsOfIsolates([portA, portB], 2);
      assert.equal(outs(after) - outs(before), BROADCASTS, "one out envelope per broadcast");
    } finally {
      await room.close();
    }
  },
});
