/**
 * Deno KV storage of installed marketplace services. All keys are built here.
 *
 *   ["marketplace", "services", name]                              → InstalledRecord (the current version)
 *   ["marketplace", "chunks", name, versionId, fileIndex, chunk]   → Uint8Array, ≤ CHUNK_BYTES
 *   ["marketplace", "generation"]                                   → KvU64, +1 on every switch or removal
 *
 * Guarantees: a version's chunks are written (in several atomic batches, to stay under KV's 64 KiB
 * value and 800 KiB mutation limits) before the record naming that version is set, and the record
 * is switched in one atomic operation guarded by the versionstamp the caller read, so a reader sees
 * either the old version or the new one, complete — never a mix. Chunks of a version no record
 * names are garbage: removed right after a switch, or by `orphanVersions` after a crash.
 *
 * @module
 */

/** KV values are limited to 64 KiB; stay a little under it. */
export const CHUNK_BYTES = 60 * 1024;
/** Chunks per atomic write: 12 × 60 KiB stays under KV's 800 KiB per-operation limit. */
const CHUNKS_PER_BATCH = 12;
/** Deletes per atomic operation (KV allows 1000 mutations). */
const DELETES_PER_BATCH = 500;

const SERVICES = ["marketplace", "services"] as const;
const CHUNKS = ["marketplace", "chunks"] as const;
/** Bumped in the same atomic operation as every switch and removal, so other isolates can watch it. */
const GENERATION = ["marketplace", "generation"] as const;

/** One stored file: where it is served and what it must hash to. */
export interface StoredFile {
  path: string;
  sha256: string;
  size: number;
}

/** How a service was installed, so an update can fetch it the same way. */
export type InstallSource =
  | { kind: "index"; url: string; name: string }
  | { kind: "manifest"; url: string };

/** The record of an installed service's current version. */
export interface InstalledRecord {
  name: string;
  version: string;
  description: string;
  source: InstallSource;
  /** The manifest URL the current version came from (after resolving it against the index). */
  manifestUrl: string;
  installedAt: string;
  updatedAt: string;
  /** Names this version's chunks; a new one for every install or update. */
  versionId: string;
  endpoints: { service: string; main: string };
  files: StoredFile[];
}

/** A record as read, with the versionstamp an atomic switch must check. */
export interface VersionedRecord {
  record: InstalledRecord;
  versionstamp: string;
}

export class MarketplaceStore {
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  async get(name: string): Promise<VersionedRecord | null> {
    const entry = await this.#kv.get<InstalledRecord>([...SERVICES, name]);
    if (entry.versionstamp === null || entry.value === null) return null;
    return { record: entry.value, versionstamp: entry.versionstamp };
  }

  async list(): Promise<InstalledRecord[]> {
    const records: InstalledRecord[] = [];
    for await (const entry of this.#kv.list<InstalledRecord>({ prefix: [...SERVICES] })) {
      records.push(entry.value);
    }
    return records;
  }

  /** Writes the chunks of a version that no record names yet; nothing is served from them. */
  async writeChunks(name: string, versionId: string, files: readonly Uint8Array[]): Promise<void> {
    let batch = this.#kv.atomic();
    let inBatch = 0;
    for (const [fileIndex, bytes] of files.entries()) {
      // An empty file still gets one (empty) chunk, so every file has at least one key.
      const count = Math.max(1, Math.ceil(bytes.byteLength / CHUNK_BYTES));
      for (let chunk = 0; chunk < count; chunk++) {
        const part = bytes.slice(chunk * CHUNK_BYTES, (chunk + 1) * CHUNK_BYTES);
        batch.set([...CHUNKS, name, versionId, fileIndex, chunk], part);
        if (++inBatch === CHUNKS_PER_BATCH) {
          await commitOrThrow(batch, "writing chunks");
          batch = this.#kv.atomic();
          inBatch = 0;
        }
      }
    }
    if (inBatch > 0) await commitOrThrow(batch, "writing chunks");
  }

  /**
   * Makes `record` the current version of its service, in one atomic operation, if the stored
   * record still has `expected` as its versionstamp (`null`: no record may exist). Returns false,
   * changing nothing, when someone else switched first.
   */
  async switchTo(record: InstalledRecord, expected: string | null): Promise<boolean> {
    const key = [...SERVICES, record.name];
    const result = await this.#kv.atomic()
      .check({ key, versionstamp: expected })
      .set(key, record)
      .sum([...GENERATION], 1n)
      .commit();
    return result.ok;
  }

  /** Removes the record if it still has versionstamp `expected`; its chunks stay until `deleteVersion`. */
  async removeRecord(name: string, expected: string): Promise<boolean> {
    const key = [...SERVICES, name];
    const result = await this.#kv.atomic()
      .check({ key, versionstamp: expected })
      .delete(key)
      .sum([...GENERATION], 1n)
      .commit();
    return result.ok;
  }

  /** A stream that yields once now and again after every switch or removal, from any isolate. */
  watchChanges(): ReadableStream<unknown> {
    return this.#kv.watch([[...GENERATION]]);
  }

  /** Deletes every chunk of one version. */
  async deleteVersion(name: string, versionId: string): Promise<void> {
    let batch = this.#kv.atomic();
    let inBatch = 0;
    for await (const entry of this.#kv.list({ prefix: [...CHUNKS, name, versionId] })) {
      batch.delete(entry.key);
      if (++inBatch === DELETES_PER_BATCH) {
        await commitOrThrow(batch, "deleting chunks");
        batch = this.#kv.atomic();
        inBatch = 0;
      }
    }
    if (inBatch > 0) await commitOrThrow(batch, "deleting chunks");
  }

  /**
   * Reads file `fileIndex` of `record`'s version; `null` when its chunks are gone or incomplete
   * (the version was replaced while reading: the caller re-reads the record).
   */
  async readFile(
    record: InstalledRecord,
    fileIndex: number,
  ): Promise<Uint8Array<ArrayBuffer> | null> {
    const file = record.files[fileIndex];
    if (!file) return null;
    const bytes = new Uint8Array(file.size);
    let offset = 0;
    const prefix = [...CHUNKS, record.name, record.versionId, fileIndex];
    for await (const entry of this.#kv.list<Uint8Array>({ prefix })) {
      const chunk = entry.value;
      if (offset + chunk.byteLength > file.size) return null;
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return offset === file.size ? bytes : null;
  }

  /** Every (name, versionId) that has chunks but is not the current version of its service. */
  async orphanVersions(): Promise<{ name: string; versionId: string }[]> {
    const current = new Map((await this.list()).map((r) => [r.name, r.versionId]));
    const found = new Map<string, { name: string; versionId: string }>();
    for await (const entry of this.#kv.list({ prefix: [...CHUNKS] })) {
      const [, , name, versionId] = entry.key as [string, string, string, string];
      if (current.get(name) === versionId) continue;
      found.set(`${name}\u0000${versionId}`, { name, versionId });
    }
    return [...found.values()];
  }
}

async function commitOrThrow(op: Deno.AtomicOperation, what: string): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error(`Deno KV refused ${what}`);
}
