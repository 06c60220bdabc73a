/**
 * Last registration wins across isolates: a client registering an id held by a client on another
 * isolate closes that one's session (4905), and viewers on every isolate then reach the newcomer.
 * The isolate that held the evicted session counts the eviction and logs `tunnel.evicted`. Once
 * with the records in a shared Deno KV (BroadcastChannel cluster), once in Redis (servers that
 * share nothing else).
 */
import { ulid } from "ulid";
import type { Stats } from "../../../lib/stats.ts";
import { LogLines } from "../../_util/log_lines.ts";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { startCluster, startServerOnRedis } from "../../_util/cluster/cluster.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import assert from "node:assert/strict";
import {
  SECRET_A,
  SECRET_B,
  startClient,
  startTarget,
  untilText,
  within,
} from "../../_util/tunnel/fixture.ts";

const tunnelOn = { tunnel: { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } } };

/** A server of the test, with the log lines its logger wrote. */
interface Observed {
  base: string;
  stats: Stats;
  lines: LogLines;
}

/** Client one on `a`, then client two with the same id on `b`; targets tell them apart. */
async function evictAcrossIsolates(onA: Observed, onB: Observed): Promise<void> {
  const [a, b] = [onA.base, onB.base];
  const targetOne = startTarget(), targetTwo = startTarget();
  const [one, two] = [String(targetOne.port), String(targetTwo.port)];
  const first = await startClient(a, "contested", targetOne.port);
  let second: Awaited<ReturnType<typeof startClient>> | undefined;
  try {
    // One's record must be in place first, or two's claim would come first and evict nothing.
    assert.deepEqual(await untilText(`${b}/t/contested/port`, one), one);
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
      assert.deepEqual(await response.text(), two, `viewer on ${base}`);
    }
    // Counted and logged where the evicted session was, once; the newcomer's isolate evicted none.
    assert.deepEqual(onA.stats.tunnels.evictions, 1);
    const evicted = await onA.lines.next("tunnel.evicted", { id: "contested" });
    assert.deepEqual(evicted.why, "replaced by a registration on another isolate");
    assert.deepEqual(onB.stats.tunnels.evictions, 0);
    assert.deepEqual(onB.lines.of("tunnel.evicted").length, 0);
  } finally {
    await first.client.close();
    await second?.client.close();
    await targetOne.close();
    await targetTwo.close();
  }
}

Deno.test("cross-isolate eviction (KV records): the older client gets 4905, every viewer the newer", async () => {
  await using cluster = await startCluster(0, tunnelOn);
  const [linesA, linesB] = [new LogLines(), new LogLines()];
  const a = await cluster.add({}, undefined, undefined, { log: linesA.log });
  const b = await cluster.add({}, undefined, undefined, { log: linesB.log });
  await evictAcrossIsolates({ ...a, lines: linesA }, { ...b, lines: linesB });
});

Deno.test({
  name:
    "cross-isolate eviction (Redis records): the older client gets 4905, every viewer the newer",
  ignore: !(await redisAvailable()),
  fn: async () => {
    await using redis = await RedisServer.start();
    const namespace = `t-${ulid()}`;
    const [linesA, linesB] = [new LogLines(), new LogLines()];
    await using a = await startServerOnRedis(redis.url, namespace, tunnelOn, {}, {
      log: linesA.log,
    });
    await using b = await startServerOnRedis(redis.url, namespace, tunnelOn, {}, {
      log: linesB.log,
    });
    await evictAcrossIsolates({ ...a, lines: linesA }, { ...b, lines: linesB });
  },
});
