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
import {
  type Directory,
  type FoundRecord,
  type InstanceRecord,
  RECORD_TTL_MS,
} from "./directory.ts";
import { randomSecret } from "../secret.ts";
import { claimKey } from "./kv_claim.ts";
import { KvTunnelDirectory } from "./kv_tunnel_directory.ts";
import type { TunnelDirectory } from "./tunnel_directory.ts";

/** Deno KV allows at most this many mutations in one atomic operation. */
const BATCH = 500;
/** Write races in a row before a batch of record writes gives up. */
const MAX_PUT_ATTEMPTS = 16;
/** Keys read at once (`getMany` takes at most 10). */
const READ_BATCH = 10;

export class KvDirectory implements Directory {
  constructor(
    readonly kv: Deno.Kv,
    readonly namespace = "wstun",
    readonly now: () => number = Date.now,
  ) {}

  async put(records: InstanceRecord[]): Promise<string[]> {
    const refused: string[] = [];
    for (let i = 0; i < records.length; i += READ_BATCH) {
      const batch = records.slice(i, i + READ_BATCH);
      refused.push(...await this.#putOwn(batch));
    }
    return refused;
  }

  /** Writes records whose key is free or ours, each checked against what was read. */
  async #putOwn(records: InstanceRecord[]): Promise<string[]> {
    for (let attempt = 0; attempt < MAX_PUT_ATTEMPTS; attempt++) {
      const current = await this.kv.getMany<InstanceRecord[]>(
        records.map((r) => this.#instanceKey(r.uuid)),
      );
      const refused: string[] = [];
      const op = this.kv.atomic();
      records.forEach((record, i) => {
        const held = current[i].value;
        if (held && held.owner !== record.owner) return void refused.push(record.uuid);
        op.check(current[i]).set(this.#instanceKey(record.uuid), record, {
          expireIn: RECORD_TTL_MS,
        });
      });
      if ((await op.commit()).ok) return refused;
    }
    throw new Error(`instance records: lost ${MAX_PUT_ATTEMPTS} write races in a row`);
  }

  async adopt(record: InstanceRecord, previousOwner: string): Promise<boolean> {
    const key = this.#instanceKey(record.uuid);
    const current = await this.kv.get<InstanceRecord>(key);
    if (current.value?.owner !== previousOwner) return false;
    const written = await this.kv.atomic().check(current).set(key, record, {
      expireIn: RECORD_TTL_MS,
    }).commit();
    return written.ok;
  }

  async markMoving(owner: string, since: number, uuids?: string[]): Promise<void> {
    const keys = uuids ? uuids.map((u) => this.#instanceKey(u)) : await this.#keysOwnedBy(owner);
    for (let i = 0; i < keys.length; i += READ_BATCH) {
      const entries = await this.kv.getMany<InstanceRecord[]>(keys.slice(i, i + READ_BATCH));
      const op = this.kv.atomic();
      for (const entry of entries) {
        const record = entry.value;
        if (!record || record.owner !== owner || record.moving !== undefined) continue;
        op.check(entry).set(entry.key, { ...record, moving: since }, { expireIn: RECORD_TTL_MS });
      }
      // A lost race means the record changed (adopted, rewritten): nothing to mark then.
      await op.commit();
    }
  }

  async find(uuid: string): Promise<FoundRecord | null> {
    const entry = await this.kv.get<InstanceRecord>(this.#instanceKey(uuid));
    if (!entry.value) return null;
    return { record: entry.value, ownerAlive: await this.alive(entry.value.owner) };
  }

  async #keysOwnedBy(owner: string): Promise<Deno.KvKey[]> {
    const keys: Deno.KvKey[] = [];
    for await (const e of this.kv.list<InstanceRecord>({ prefix: this.#prefix("instance") })) {
      if (e.value.owner === owner) keys.push(e.key);
    }
    return keys;
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
        holder && holder.owner !== record.owner && holder.moving === undefined &&
          (await this.alive(holder.owner))
          ? { result: holder }
          : { write: record, result: null },
    );
  }

  async remove(uuid: string): Promise<void> {
    await this.kv.delete(this.#instanceKey(uuid));
  }

  async list(): Promise<FoundRecord[]> {
    const live = new Set(await this.isolates());
    const out: FoundRecord[] = [];
    for await (const e of this.kv.list<InstanceRecord>({ prefix: this.#prefix("instance") })) {
      out.push({ record: e.value, ownerAlive: live.has(e.value.owner) });
    }
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
