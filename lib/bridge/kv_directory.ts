/**
 * A {@link Directory} in Deno KV: the managed database on Deno Deploy, a file
 * (`WSTUN_KV_PATH`) shared by the workers of one machine, or `:memory:` in tests.
 *
 * Keys: `[namespace, "isolate", id]` → `{ expiresAt }` with `expireIn`, and
 * `[namespace, "instance", uuid]` → the public record with `expireIn` of {@link RECORD_TTL_MS}
 * as a backstop (the owner rewrites its records well within it). Deno KV deletes expired keys
 * lazily (a read just after expiry may still see them), so `expiresAt` in the value is what
 * readers trust. A listing deletes records of dead owners it comes across. Tunnel records live
 * beside them (kv_tunnel_directory.ts).
 *
 * @module
 */
import { type Directory, type InstanceRecord, RECORD_TTL_MS } from "./directory.ts";
import { randomSecret } from "../secret.ts";
import { claimKey } from "./kv_claim.ts";
import { KvTunnelDirectory } from "./kv_tunnel_directory.ts";
import type { TunnelDirectory } from "./tunnel_directory.ts";

/** Deno KV allows at most this many mutations in one atomic operation. */
const BATCH = 500;

export class KvDirectory implements Directory {
  constructor(
    readonly kv: Deno.Kv,
    readonly namespace = "wstun",
    readonly now: () => number = Date.now,
  ) {}

  async put(records: InstanceRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += BATCH) {
      const op = this.kv.atomic();
      for (const r of records.slice(i, i + BATCH)) {
        op.set(this.#instanceKey(r.uuid), r, { expireIn: RECORD_TTL_MS });
      }
      await op.commit();
    }
  }

  async serverSecret(): Promise<string> {
    const key = [this.namespace, "server_secret"];
    const fresh = randomSecret(32);
    await this.kv.atomic().check({ key, versionstamp: null }).set(key, fresh).commit();
    const stored = await this.kv.get<string>(key);
    if (typeof stored.value !== "string") throw new Error("KV lost the server secret just written");
    return stored.value;
  }

  claim(record: InstanceRecord): Promise<InstanceRecord | null> {
    const key = this.#instanceKey(record.uuid);
    return claimKey<InstanceRecord, InstanceRecord | null>(
      this.kv,
      key,
      RECORD_TTL_MS,
      `instance ${record.uuid}`,
      async ({ value: holder }) =>
        holder && holder.owner !== record.owner && (await this.alive(holder.owner))
          ? { result: holder }
          : { write: record, result: null },
    );
  }

  async remove(uuid: string): Promise<void> {
    await this.kv.delete(this.#instanceKey(uuid));
  }

  async get(uuid: string): Promise<InstanceRecord | null> {
    const entry = await this.kv.get<InstanceRecord>(this.#instanceKey(uuid));
    if (!entry.value || !(await this.alive(entry.value.owner))) return null;
    return entry.value;
  }

  async list(): Promise<InstanceRecord[]> {
    const live = new Set<string>();
    const now = this.now();
    for await (
      const e of this.kv.list<{ expiresAt: number }>({ prefix: this.#prefix("isolate") })
    ) {
      if (e.value.expiresAt > now) live.add(String(e.key[2]));
    }
    const out: InstanceRecord[] = [];
    const dead: Deno.KvKey[] = [];
    for await (const e of this.kv.list<InstanceRecord>({ prefix: this.#prefix("instance") })) {
      if (live.has(e.value.owner)) out.push(e.value);
      else dead.push(e.key);
    }
    await this.#deleteAll(dead);
    return out;
  }

  async beat(isolate: string, ttlMs: number): Promise<boolean> {
    const wasAlive = await this.alive(isolate);
    await this.kv.set(this.#isolateKey(isolate), { expiresAt: this.now() + ttlMs }, {
      expireIn: ttlMs,
    });
    return wasAlive;
  }

  async alive(isolate: string): Promise<boolean> {
    const entry = await this.kv.get<{ expiresAt: number }>(this.#isolateKey(isolate));
    return entry.value !== null && entry.value.expiresAt > this.now();
  }

  async isolates(): Promise<string[]> {
    const live: string[] = [];
    const now = this.now();
    for await (
      const e of this.kv.list<{ expiresAt: number }>({ prefix: this.#prefix("isolate") })
    ) {
      if (e.value.expiresAt > now) live.push(String(e.key[2]));
    }
    return live;
  }

  async leave(isolate: string, uuids: string[]): Promise<void> {
    await this.#deleteAll([this.#isolateKey(isolate), ...uuids.map((u) => this.#instanceKey(u))]);
  }

  tunnels(): TunnelDirectory {
    return new KvTunnelDirectory(this.kv, this.namespace);
  }

  /** The KV belongs to the server, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  async #deleteAll(keys: Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH) {
      const op = this.kv.atomic();
      for (const key of keys.slice(i, i + BATCH)) op.delete(key);
      await op.commit();
    }
  }

  #prefix(kind: string): Deno.KvKey {
    return [this.namespace, kind];
  }

  #instanceKey(uuid: string): Deno.KvKey {
    return [this.namespace, "instance", uuid];
  }

  #isolateKey(isolate: string): Deno.KvKey {
    return [this.namespace, "isolate", isolate];
  }
}
