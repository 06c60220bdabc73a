/**
 * Last registration wins across isolates: a client registering an id held by a client on another
 * isolate closes that one's session (4905), and viewers on every isolate then reach the newcomer.
 * Once with the records in a shared Deno KV (BroadcastChannel cluster), once in Redis (servers
 * that share nothing else).
 */
import { ulid } from "ulid";
import { TUNNEL_DEFAULTS } from "../../lib/tunnel/tunnel_config.ts";
import { startCluster, startServerOnRedis } from "../bridge/cluster.ts";
import { redisAvailable, RedisServer } from "../bridge/redis_server.ts";
import { assertEquals } from "./_assert.ts";
import { SECRET_A, SECRET_B, startClient, startTarget, untilText, within } from "./_fixture.ts";

const tunnelOn = { tunnel: { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } } };

/** Client one on `a`, then client two with the same id on `b`; targets tell them apart. */
async function evictAcrossIsolates(a: string, b: string): Promise<void> {
  const targetOne = startTarget(), targetTwo = startTarget();
  const [one, two] = [String(targetOne.port), String(targetTwo.port)];
  const first = await startClient(a, "contested", targetOne.port);
  let second: Awaited<ReturnType<typeof startClient>> | undefined;
  try {
    // One's record must be in place first, or two's claim would come first and evict nothing.
    assertEquals(await untilText(`${b}/t/contested/port`, one), one);
    second = await startClient(b, "contested", targetTwo.port);
    await within(
      5000,
      "the older session closed with 4905",
      first.logged(/session closed \(4905 /),
    );
    // Before its back-off ends: reconnecting would evict two in turn (last one wins).
    await first.client.close();
    for (const base of [a, b]) {
      const response = await fetch(`${base}/t/contested/port`);
      assertEquals(await response.text(), two, `viewer on ${base}`);
    }
  } finally {
    await first.client.close();
    await second?.client.close();
    await targetOne.close();
    await targetTwo.close();
  }
}

Deno.test("cross-isolate eviction (KV records): the older client gets 4905, every viewer the newer", async () => {
  await using cluster = await startCluster(2, tunnelOn);
  const [a, b] = cluster.servers;
  await evictAcrossIsolates(a.base, b.base);
});

Deno.test({
  name:
    "cross-isolate eviction (Redis records): the older client gets 4905, every viewer the newer",
  ignore: !(await redisAvailable()),
  fn: async () => {
    await using redis = await RedisServer.start();
    const namespace = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, namespace, tunnelOn);
    await using b = await startServerOnRedis(redis.url, namespace, tunnelOn);
    await evictAcrossIsolates(a.base, b.base);
  },
});
