/**
 * The tunnel directory in both stores, the same cases against each: Deno KV (`:memory:`) and a
 * private `redis-server` (skipped with one line without it). What the cross-isolate tunnel tests
 * rely on: last claim wins and reports exactly what it replaced (also under concurrent claims), a
 * stale release or renew never touches a newer claim, and a renew puts back a record the store lost.
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import { KvTunnelDirectory } from "../../../lib/bridge/kv_tunnel_directory.ts";
import { connectRedis, type RedisClient } from "../../../lib/bridge/redis_connection.ts";
import { RedisTunnelDirectory } from "../../../lib/bridge/redis_tunnel_directory.ts";
import {
  TUNNEL_RECORD_TTL_MS,
  type TunnelDirectory,
  type TunnelRecord,
} from "../../../lib/bridge/tunnel_directory.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";

const redisEnabled = await redisAvailable();

/** One store under test: the directory, a way to write a raw value, and its teardown. */
interface Store {
  directory: TunnelDirectory;
  /** Writes `value` under the id's key as another program (an older WSTun) would. */
  writeRaw(id: string, value: string): Promise<void>;
  /** Deletes the id's key, as a restarted store that lost it. */
  lose(id: string): Promise<void>;
  /** Milliseconds the id's key has left, where the store tells (Redis). */
  ttl(id: string): Promise<number | undefined>;
  close(): Promise<void>;
}

async function kvStore(): Promise<Store> {
  const kv = await Deno.openKv(":memory:");
  const namespace = `t-${ulid()}`;
  return {
    directory: new KvTunnelDirectory(kv, namespace),
    writeRaw: async (id, value) => void await kv.set([namespace, "tunnel", id], value),
    lose: (id) => kv.delete([namespace, "tunnel", id]),
    ttl: () => Promise.resolve(undefined),
    close: () => Promise.resolve(kv.close()),
  };
}

async function redisStore(): Promise<Store> {
  const server = await RedisServer.start();
  let client: RedisClient | undefined;
  try {
    client = await connectRedis(server.url, "test");
    const redis = client;
    const namespace = `t-${ulid()}`;
    const key = (id: string) => `${namespace}:tunnel:${id}`;
    return {
      directory: new RedisTunnelDirectory(redis, namespace),
      writeRaw: async (id, value) => void await redis.set(key(id), value),
      lose: async (id) => void await redis.del(key(id)),
      ttl: (id) => redis.pTTL(key(id)),
      close: async () => {
        redis.destroy();
        await server.stop();
      },
    };
  } catch (err) {
    client?.destroy();
    await server.stop();
    throw err;
  }
}

const stores: [string, () => Promise<Store>, boolean][] = [
  ["kv", kvStore, false],
  ["redis", redisStore, !redisEnabled],
];

const record = (owner: string): TunnelRecord => ({ owner, claim: ulid() });

for (const [name, open, ignore] of stores) {
  Deno.test({
    name: `tunnel directory (${name}): last claim wins and returns the record it replaced`,
    ignore,
    fn: async () => {
      const store = await open();
      try {
        const { directory } = store;
        const a = record("isolate-a"), b = record("isolate-b");
        assert.equal(await directory.get("box"), undefined);
        assert.equal(await directory.claim("box", a), undefined);
        assert.deepEqual(await directory.get("box"), a);
        assert.deepEqual(await directory.claim("box", b), a);
        assert.deepEqual(await directory.get("box"), b);
        const ttl = await store.ttl("box");
        if (ttl !== undefined) assert.ok(ttl > 0 && ttl <= TUNNEL_RECORD_TTL_MS, `ttl ${ttl}`);
      } finally {
        await store.close();
      }
    },
  });

  Deno.test({
    name: `tunnel directory (${name}): a stale release or renew leaves a newer claim alone`,
    ignore,
    fn: async () => {
      const store = await open();
      try {
        const { directory } = store;
        // Same owner twice: a client that reconnected to the same isolate.
        const first = record("isolate-a"), second = record("isolate-a");
        await directory.claim("box", first);
        await directory.claim("box", second);
        await directory.release("box", first);
        await directory.renew("box", first);
        assert.deepEqual(await directory.get("box"), second);
        await directory.release("box", second);
        assert.equal(await directory.get("box"), undefined);
      } finally {
        await store.close();
      }
    },
  });

  Deno.test({
    name: `tunnel directory (${name}): renew writes back a record the store lost`,
    ignore,
    fn: async () => {
      const store = await open();
      try {
        const { directory } = store;
        const a = record("isolate-a");
        await directory.claim("box", a);
        await store.lose("box");
        assert.equal(await directory.get("box"), undefined);
        await directory.renew("box", a);
        assert.deepEqual(await directory.get("box"), a);
        await directory.renew("box", a); // its own record: just a fresh expiry
        assert.deepEqual(await directory.get("box"), a);
      } finally {
        await store.close();
      }
    },
  });

  Deno.test({
    name: `tunnel directory (${name}): concurrent claims each replace a different record`,
    ignore,
    fn: async () => {
      const store = await open();
      try {
        const { directory } = store;
        const claims = Array.from({ length: 8 }, (_, i) => record(`isolate-${i}`));
        const replaced = await Promise.all(claims.map((c) => directory.claim("box", c)));
        // A non-atomic read-then-write lets two claims see (and evict) the same predecessor,
        // and leaves another never evicted. Atomic claims form one chain: exactly one saw no
        // record, and every claim but the final one was replaced exactly once.
        assert.equal(replaced.filter((r) => r === undefined).length, 1);
        const displaced = replaced.filter((r) => r !== undefined).map((r) => r!.claim);
        assert.equal(new Set(displaced).size, claims.length - 1);
        const final = await directory.get("box");
        assert.ok(final && !displaced.includes(final.claim));
      } finally {
        await store.close();
      }
    },
  });

  Deno.test({
    name: `tunnel directory (${name}): a value that is not a record reads as none and is replaced`,
    ignore,
    fn: async () => {
      const store = await open();
      try {
        const { directory } = store;
        await store.writeRaw("box", "isolate-of-an-older-version");
        assert.equal(await directory.get("box"), undefined);
        const a = record("isolate-a");
        assert.equal(await directory.claim("box", a), undefined);
        assert.deepEqual(await directory.get("box"), a);
      } finally {
        await store.close();
      }
    },
  });
}
