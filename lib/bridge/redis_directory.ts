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
import { type Directory, type InstanceRecord, RECORD_TTL_MS } from "./directory.ts";
import { closeRedis, connectRedis, type RedisClient } from "./redis_connection.ts";
import { RedisTunnelDirectory } from "./redis_tunnel_directory.ts";
import type { TunnelDirectory } from "./tunnel_directory.ts";

/**
 * KEYS: the instance key, the set of uuids. ARGV: the record (JSON), its owner, the isolate key
 * prefix, the expiry (ms), the uuid. Returns the record of another live owner, or writes ours.
 */
const CLAIM = `
local current = redis.call('GET', KEYS[1])
if current then
  local owner = cjson.decode(current).owner
  if owner ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. owner) == 1 then return current end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return false`;

export class RedisDirectory implements Directory {
  private constructor(readonly client: RedisClient, readonly namespace: string) {}

  static async connect(url: string, namespace = "wstun"): Promise<RedisDirectory> {
    return new RedisDirectory(await connectRedis(url, "directory"), namespace);
  }

  async put(records: InstanceRecord[]): Promise<void> {
    if (records.length === 0) return;
    const multi = this.client.multi();
    for (const r of records) {
      multi.set(this.#instanceKey(r.uuid), JSON.stringify(r), { PX: RECORD_TTL_MS });
      multi.sAdd(this.#setKey(), r.uuid);
    }
    await multi.exec();
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

  async get(uuid: string): Promise<InstanceRecord | null> {
    const raw = await this.client.get(this.#instanceKey(uuid));
    if (!raw) return null;
    const record = JSON.parse(raw) as InstanceRecord;
    return (await this.alive(record.owner)) ? record : null;
  }

  async list(): Promise<InstanceRecord[]> {
    const uuids = await this.client.sMembers(this.#setKey());
    if (uuids.length === 0) return [];
    const raws = await this.client.mGet(uuids.map((u) => this.#instanceKey(u)));
    const records: InstanceRecord[] = [];
    const gone: string[] = [];
    raws.forEach((raw, i) => raw ? records.push(JSON.parse(raw)) : gone.push(uuids[i]));
    const owners = [...new Set(records.map((r) => r.owner))];
    const alive = owners.length
      ? await this.client.mGet(owners.map((o) => this.#isolateKey(o)))
      : [];
    const live = new Set(owners.filter((_, i) => alive[i] !== null));
    const out: InstanceRecord[] = [];
    for (const r of records) {
      if (live.has(r.owner)) out.push(r);
      else gone.push(r.uuid);
    }
    if (gone.length) {
      await this.client.multi().sRem(this.#setKey(), gone)
        .del(gone.map((u) => this.#instanceKey(u))).exec();
    }
    return out;
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
