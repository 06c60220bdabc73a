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
import { claimKey } from "./kv_claim.ts";
import {
  parseTunnelRecord,
  TUNNEL_RECORD_TTL_MS,
  type TunnelDirectory,
  type TunnelRecord,
} from "./tunnel_directory.ts";

export class KvTunnelDirectory implements TunnelDirectory {
  constructor(readonly kv: Deno.Kv, readonly namespace = "wstun") {}

  claim(id: string, record: TunnelRecord): Promise<TunnelRecord | undefined> {
    return claimKey(this.kv, this.#key(id), TUNNEL_RECORD_TTL_MS, `tunnel ${id}`, (previous) => ({
      write: record,
      result: parseTunnelRecord(previous.value),
    }));
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
