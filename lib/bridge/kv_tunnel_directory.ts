/**
 * A {@link TunnelDirectory} in Deno KV, beside `KvDirectory`'s records: the managed database
 * on Deno Deploy, the file the workers of one machine share, or `:memory:` in tests.
 *
 * Key: `[namespace, "tunnel", id]` → {@link TunnelRecord}, with `expireIn` of
 * {@link TUNNEL_RECORD_TTL_MS}. Every write is an `atomic()` checked against the entry just read
 * (its versionstamp), so a write that lost a race is retried (`claim`) or dropped because a newer
 * record won (`renew`, `release`).
 *
 * @module
 */
import {
  parseTunnelRecord,
  TUNNEL_RECORD_TTL_MS,
  type TunnelDirectory,
  type TunnelRecord,
} from "./tunnel_directory.ts";

/**
 * Claims of one id that lose a race in a row before giving up: each loss means another claim of
 * the same id committed in between, which takes simultaneous registrations of one id.
 */
const MAX_CLAIM_ATTEMPTS = 32;

export class KvTunnelDirectory implements TunnelDirectory {
  constructor(readonly kv: Deno.Kv, readonly namespace = "wstun") {}

  async claim(id: string, record: TunnelRecord): Promise<TunnelRecord | undefined> {
    const key = this.#key(id);
    for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
      const previous = await this.kv.get(key);
      const written = await this.kv.atomic().check(previous)
        .set(key, record, { expireIn: TUNNEL_RECORD_TTL_MS }).commit();
      if (written.ok) return parseTunnelRecord(previous.value);
    }
    throw new Error(`tunnel ${id}: lost ${MAX_CLAIM_ATTEMPTS} claim races in a row`);
  }

  async renew(id: string, record: TunnelRecord): Promise<void> {
    const key = this.#key(id);
    const current = await this.kv.get(key);
    if (current.value !== null && parseTunnelRecord(current.value)?.claim !== record.claim) return;
    // A failed check means a newer claim was written meanwhile: it stays.
    await this.kv.atomic().check(current).set(key, record, { expireIn: TUNNEL_RECORD_TTL_MS })
      .commit();
  }

  async release(id: string, record: TunnelRecord): Promise<void> {
    const key = this.#key(id);
    const current = await this.kv.get(key);
    if (parseTunnelRecord(current.value)?.claim !== record.claim) return;
    await this.kv.atomic().check(current).delete(key).commit();
  }

  async get(id: string): Promise<TunnelRecord | undefined> {
    return parseTunnelRecord((await this.kv.get(this.#key(id))).value);
  }

  #key(id: string): Deno.KvKey {
    return [this.namespace, "tunnel", id];
  }
}
