/**
 * The instance directory's adoption rules, against both stores (Deno KV `:memory:` and a private
 * `redis-server`, skipped with one line without it): records are written only by their owner, a
 * drained or dead owner's record is taken over by exactly one of two isolates adopting it at once,
 * the old owner can never write it back, and marking moving leaves adopted records alone.
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import type { Directory, InstanceRecord } from "../../../lib/bridge/directory.ts";
import { KvDirectory } from "../../../lib/bridge/kv_directory.ts";
import { RedisDirectory } from "../../../lib/bridge/redis_directory.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";

const redisEnabled = await redisAvailable();

function record(uuid: string, owner: string, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    uuid,
    name: "Room",
    service: "chat",
    protected: false,
    members: 0,
    createdAt: new Date(0).toISOString(),
    owner,
    resumeVerifier: "v",
    ...extra,
  };
}

async function adoptionRules(directory: Directory) {
  const uuid = ulid();
  assert.deepEqual(await directory.put([record(uuid, "a")]), [], "a new record is written");
  assert.deepEqual(await directory.put([record(uuid, "a", { members: 2 })]), []);
  assert.deepEqual(await directory.put([record(uuid, "b")]), [uuid], "another owner's is refused");
  assert.equal((await directory.find(uuid))?.record.members, 2);

  await directory.markMoving("a", 1234, [uuid]);
  assert.equal((await directory.find(uuid))?.record.moving, 1234);
  await directory.markMoving("a", 9999, [uuid]);
  assert.equal((await directory.find(uuid))?.record.moving, 1234, "moving since the first mark");

  // Two isolates adopt at once: exactly one wins.
  const won = await Promise.all([
    directory.adopt(record(uuid, "b"), "a"),
    directory.adopt(record(uuid, "c"), "a"),
  ]);
  assert.deepEqual(won.filter(Boolean).length, 1);
  const winner = won[0] ? "b" : "c";
  const found = await directory.find(uuid);
  assert.equal(found?.record.owner, winner);
  assert.equal(found?.record.moving, undefined, "an adopted record is not moving");

  // The old owner, cut off and back, can neither write it again nor mark it moving.
  assert.deepEqual(await directory.put([record(uuid, "a")]), [uuid]);
  await directory.markMoving("a", 5555);
  assert.equal((await directory.find(uuid))?.record.owner, winner);
  assert.equal((await directory.find(uuid))?.record.moving, undefined);
  assert.equal(await directory.adopt(record(uuid, "d"), "a"), false, "adopting from a stale owner");

  // A keyed claim takes a moving record like a free one.
  const keyed = ulid();
  await directory.put([record(keyed, "x")]);
  await directory.beat("x", 60_000);
  assert.equal((await directory.claim(record(keyed, "y")))?.owner, "x", "a live owner keeps it");
  await directory.markMoving("x", 1, [keyed]);
  assert.equal(await directory.claim(record(keyed, "y")), null, "a moving one is claimed");
}

Deno.test("instance directory (Deno KV): owners write, one adopter wins, the old owner never", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await adoptionRules(new KvDirectory(kv, `t-${ulid()}`));
  } finally {
    kv.close();
  }
});

Deno.test({
  name: "instance directory (Redis): owners write, one adopter wins, the old owner never",
  ignore: !redisEnabled,
  async fn() {
    await using redis = await RedisServer.start();
    const directory = await RedisDirectory.connect(redis.url, `t-${ulid()}`);
    try {
      await adoptionRules(directory);
    } finally {
      await directory.close();
    }
  },
});
