/**
 * A {@link TunnelDirectory} in Redis, for servers on several machines (`WSTUN_REDIS_URL`), on the
 * instance directory's connection (`RedisDirectory.tunnels()`; that directory closes it).
 *
 * Key: `<ns>:tunnel:<id>` → the record as JSON, with a `PX` expiry of
 * {@link TUNNEL_RECORD_TTL_MS}. Each operation is one atomic command: `claim` is `SET … GET`
 * (write and read the replaced value at once); `renew` and `release` are small Lua scripts that
 * compare the stored value with the caller's record before writing or deleting, because a
 * compare-and-set is not one Redis command and WATCH would need a connection of its own. Every
 * call fails at once while Redis is away (see redis_connection.ts).
 *
 * @module
 */
import type { RedisClient } from "./redis_connection.ts";
import {
  parseTunnelRecord,
  TUNNEL_RECORD_TTL_MS,
  type TunnelDirectory,
  type TunnelRecord,
} from "./tunnel_directory.ts";

/** Writes ARGV[1] with expiry ARGV[2] ms if the key holds it already or nothing. */
const RENEW = `
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** Deletes the key if it still holds ARGV[1]. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export class RedisTunnelDirectory implements TunnelDirectory {
  constructor(readonly client: RedisClient, readonly namespace = "wstun") {}

  async claim(id: string, record: TunnelRecord): Promise<TunnelRecord | undefined> {
    const previous = await this.client.set(this.#key(id), encode(record), {
      PX: TUNNEL_RECORD_TTL_MS,
      GET: true,
    });
    return decode(previous);
  }

  async renew(id: string, record: TunnelRecord): Promise<void> {
    await this.client.eval(RENEW, {
      keys: [this.#key(id)],
      arguments: [encode(record), String(TUNNEL_RECORD_TTL_MS)],
    });
  }

  async release(id: string, record: TunnelRecord): Promise<void> {
    await this.client.eval(RELEASE, { keys: [this.#key(id)], arguments: [encode(record)] });
  }

  async get(id: string): Promise<TunnelRecord | undefined> {
    return decode(await this.client.get(this.#key(id)));
  }

  #key(id: string): string {
    return `${this.namespace}:tunnel:${id}`;
  }
}

/** Always the same text for the same record, since the scripts compare texts. */
function encode(record: TunnelRecord): string {
  return JSON.stringify({ owner: record.owner, claim: record.claim });
}

function decode(raw: unknown): TunnelRecord | undefined {
  if (typeof raw !== "string") return undefined;
  try {
    return parseTunnelRecord(JSON.parse(raw));
  } catch {
    return undefined; // not JSON: not a record of ours, and a claim replaces it
  }
}
