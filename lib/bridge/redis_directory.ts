/**
 * A {@link Directory} in Redis, for isolates on several machines (`WSTUN_REDIS_URL`).
 *
 * Keys: `<ns>:isolate:<id>` with a `PX` expiry of three heartbeats (Redis expires exactly, so
 * existence is liveness); `<ns>:instance:<uuid>` → the public record as JSON, with a one-hour
 * backstop expiry; `<ns>:instances`, a set of uuids to list. A listing drops records of dead
 * owners it comes across. Tunnel records live beside them (redis_tunnel_directory.ts). Every
 * call fails at once while Redis is away (see redis_connection.ts).
 *
 * @module
 */
import { randomSecret } from "../secret.ts";
import {
  type Directory,
  type FoundRecord,
  type InstanceRecord,
  RECORD_TTL_MS,
} from "./directory.ts";
import type { Logger } from "../log.ts";
import { closeRedis, connectRedis, type RedisClient } from "./redis_connection.ts";
import { RedisTunnelDirectory } from "./redis_tunnel_directory.ts";
import type { TunnelDirectory } from "./tunnel_directory.ts";

/**
 * KEYS: the instance key, the set of uuids. ARGV: the record (JSON), its owner, the isolate key
 * prefix, the expiry (ms), the uuid. Returns the record of another live owner that is not moving,
 * or writes ours.
 */
const CLAIM = `
local current = redis.call('GET', KEYS[1])
if current then
  local held = cjson.decode(current)
  if held.owner ~= ARGV[2] and held.moving == nil and
    redis.call('EXISTS', ARGV[3] .. held.owner) == 1 then return current end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return false`;

/**
 * KEYS: the instance key, the set of uuids. ARGV: the record (JSON), its owner, the expiry (ms),
 * the uuid. Writes the record if the key is free or names the same owner; returns 1 if written.
 */
const PUT_OWN = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).owner ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1`;

/**
 * KEYS: the instance key, the set of uuids. ARGV: the new record (JSON), the previous owner, the
 * expiry (ms), the uuid. Writes the record if the key still names the previous owner; 1 if so.
 */
const ADOPT = `
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current).owner ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1`;

/**
 * KEYS: the instance key. ARGV: the owner, since when (ms). Marks the record moving if it names
 * that owner and is not moving yet, keeping its expiry; 1 if so.
 */
const MARK_MOVING = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local record = cjson.decode(current)
if record.owner ~= ARGV[1] or record.moving ~= nil then return 0 end
record.moving = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(record), 'KEEPTTL')
return 1`;

export class RedisDirectory implements Directory {
  private constructor(readonly client: RedisClient, readonly namespace: string) {}

  static async connect(
    url: string,
    namespace = "wstun",
    log?: Logger,
  ): Promise<RedisDirectory> {
    return new RedisDirectory(await connectRedis(url, "directory", log), namespace);
  }

  async serverSecret(): Promise<string> {
    const key = `${this.namespace}:server_secret`;
    await this.client.set(key, randomSecret(32), { NX: true });
    const stored = await this.client.get(key);
    if (typeof stored !== "string") throw new Error("Redis lost the server secret just written");
    return stored;
  }

  async claim(record: InstanceRecord): Promise<InstanceRecord | null> {
    // One script, so reading the holder, judging it and writing ours cannot interleave.
    const holder = await this.client.eval(CLAIM, {
      keys: [this.#instanceKey(record.uuid), this.#setKey()],
      arguments: [
        JSON.stringify(record),
        record.owner,
        this.#isolateKey(""),
        String(RECORD_TTL_MS),
        record.uuid,
      ],
    });
    return typeof holder === "string" ? JSON.parse(holder) as InstanceRecord : null;
  }

  async remove(uuid: string): Promise<void> {
    await this.client.multi().del(this.#instanceKey(uuid)).sRem(this.#setKey(), uuid).exec();
  }

  async find(uuid: string): Promise<FoundRecord | null> {
    const raw = await this.client.get(this.#instanceKey(uuid));
    if (!raw) return null;
    const record = JSON.parse(raw) as InstanceRecord;
    return { record, ownerAlive: await this.alive(record.owner) };
  }

  async list(): Promise<FoundRecord[]> {
    const uuids = await this.client.sMembers(this.#setKey());
    if (uuids.length === 0) return [];
    const raws = await this.client.mGet(uuids.map((u) => this.#instanceKey(u)));
    const records: InstanceRecord[] = [];
    const gone: string[] = [];
    raws.forEach((raw, i) => raw ? records.push(JSON.parse(raw)) : gone.push(uuids[i]));
    // Expired records leave their uuid in the set: drop those.
    if (gone.length) await this.client.sRem(this.#setKey(), gone);
    const owners = [...new Set(records.map((r) => r.owner))];
    const alive = owners.length
      ? await this.client.mGet(owners.map((o) => this.#isolateKey(o)))
      : [];
    const live = new Set(owners.filter((_, i) => alive[i] !== null));
    return records.map((record) => ({ record, ownerAlive: live.has(record.owner) }));
  }

  async put(records: InstanceRecord[]): Promise<string[]> {
    const results = await Promise.all(records.map((r) =>
      this.client.eval(PUT_OWN, {
        keys: [this.#instanceKey(r.uuid), this.#setKey()],
        arguments: [JSON.stringify(r), r.owner, String(RECORD_TTL_MS), r.uuid],
      })
    ));
    return records.filter((_, i) => results[i] !== 1).map((r) => r.uuid);
  }

  async adopt(record: InstanceRecord, previousOwner: string): Promise<boolean> {
    const done = await this.client.eval(ADOPT, {
      keys: [this.#instanceKey(record.uuid), this.#setKey()],
      arguments: [JSON.stringify(record), previousOwner, String(RECORD_TTL_MS), record.uuid],
    });
    return done === 1;
  }

  async markMoving(owner: string, since: number, uuids?: string[]): Promise<void> {
    const targets = uuids ?? await this.client.sMembers(this.#setKey());
    await Promise.all(targets.map((uuid) =>
      this.client.eval(MARK_MOVING, {
        keys: [this.#instanceKey(uuid)],
        arguments: [owner, String(since)],
      })
    ));
  }

  async beat(isolate: string, ttlMs: number): Promise<boolean> {
    const previous = await this.client.set(this.#isolateKey(isolate), "1", {
      PX: ttlMs,
      GET: true,
    });
    return previous !== null;
  }

  async alive(isolate: string): Promise<boolean> {
    return (await this.client.exists(this.#isolateKey(isolate))) === 1;
  }

  async isolates(): Promise<string[]> {
    const prefix = this.#isolateKey("");
    const live: string[] = [];
    for await (const batch of this.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
      for (const key of [batch].flat()) live.push(String(key).slice(prefix.length));
    }
    return live;
  }

  async leave(isolate: string, uuids: string[]): Promise<void> {
    const multi = this.client.multi().del(this.#isolateKey(isolate));
    if (uuids.length) {
      multi.del(uuids.map((u) => this.#instanceKey(u))).sRem(this.#setKey(), uuids);
    }
    await multi.exec();
  }

  /** On this directory's connection, so it works until {@link close}. */
  tunnels(): TunnelDirectory {
    return new RedisTunnelDirectory(this.client, this.namespace);
  }

  close(): Promise<void> {
    closeRedis(this.client);
    return Promise.resolve();
  }

  #setKey(): string {
    return `${this.namespace}:instances`;
  }

  #instanceKey(uuid: string): string {
    return `${this.namespace}:instance:${uuid}`;
  }

  #isolateKey(isolate: string): string {
    return `${this.namespace}:isolate:${isolate}`;
  }
}
