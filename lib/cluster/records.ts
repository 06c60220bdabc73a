/**
 * This isolate's instance records in the directory: written when an instance is created (the
 * create is answered once it is), rewritten shortly after its member count changes (batched per
 * task), removed when it ends, all rewritten every third of their expiry and at once when the
 * store lost them (a restarted Redis), together with any other records kept beside them
 * (tunnels', through {@link Records.onRenew}).
 *
 * Every write is conditional (`Directory.put`): a record another isolate adopted is never written
 * back by this one; that instance is handed to `lost` instead (the hub lets it go). A failed write
 * is logged and left to the next rewrite; nothing waits on the store but `create`.
 *
 * @module
 */
import type { Directory, InstanceRecord } from "../bridge/directory.ts";
import { RECORD_TTL_MS } from "../bridge/directory.ts";
import type { Instance } from "../hub/instance.ts";
import type { Logger } from "../log.ts";

export interface RecordsDeps {
  isolate: string;
  directory: Directory;
  now: () => number;
  /** Every instance on this isolate. */
  instances: () => Iterable<Instance>;
  /** Local instances whose records another isolate holds now (it adopted them). */
  lost: (uuids: string[]) => void;
  log: Logger;
}

export class Records {
  readonly #deps: RecordsDeps;
  readonly #dirty = new Set<Instance>();
  #flushing: Promise<void> | null = null;
  #lastRewrite: number;
  readonly #renewers: (() => Promise<void>)[] = [];
  #stopped = false;

  constructor(deps: RecordsDeps) {
    this.#deps = deps;
    this.#lastRewrite = deps.now();
  }

  /** The record of a local instance: public part, owner, verifiers to adopt it by. */
  record(instance: Instance): InstanceRecord {
    const record: InstanceRecord = {
      ...instance.info(),
      owner: this.#deps.isolate,
      resumeVerifier: instance.resumeVerifier,
    };
    if (instance.tokenVerifier !== undefined) record.tokenVerifier = instance.tokenVerifier;
    if (instance.keyed) record.keyed = true;
    return record;
  }

  /** A new local instance; resolves once other isolates can find it. */
  async published(instance: Instance): Promise<void> {
    await this.#write([this.record(instance)]);
  }

  /** Writes records; the ones another isolate holds now are reported lost. */
  async #write(records: InstanceRecord[]): Promise<void> {
    if (this.#stopped || records.length === 0) return;
    const lost = await this.#deps.directory.put(records);
    if (lost.length > 0) this.#deps.lost(lost);
  }

  /** A local instance's record changed (its member count): rewritten after this task. */
  changed(instance: Instance): void {
    this.#dirty.add(instance);
    this.#flushing ??= Promise.resolve().then(() => this.#flush());
  }

  /** A local instance ended. */
  removed(uuid: string): void {
    for (const instance of this.#dirty) if (instance.uuid === uuid) this.#dirty.delete(instance);
    if (this.#stopped) return;
    this.#deps.directory.remove(uuid).catch((err) => {
      this.#deps.log.warn("directory.write_failed", {
        operation: "remove",
        uuid,
        error: String(err),
      });
    });
  }

  /** Runs `renew` whenever the records are rewritten, so records kept beside them live as long. */
  onRenew(renew: () => Promise<void>): void {
    this.#renewers.push(renew);
  }

  /**
   * Rewrites every record when the store lost them (`continuous` false: this isolate's beat was
   * not there) or a third of their expiry has passed since the last rewrite.
   */
  async renew(continuous: boolean): Promise<void> {
    if (continuous && this.#deps.now() - this.#lastRewrite <= RECORD_TTL_MS / 3) return;
    this.#lastRewrite = this.#deps.now();
    await this.#write([...this.#deps.instances()].map((i) => this.record(i)));
    await Promise.all(this.#renewers.map((renew) => renew()));
  }

  /** Waits for pending writes, then stops writing (shutdown, or a drain handing them over). */
  async stop(): Promise<void> {
    await this.#flushing;
    this.#stopped = true;
  }

  /** Whether writing has stopped. */
  get stopped(): boolean {
    return this.#stopped;
  }

  async #flush(): Promise<void> {
    while (this.#dirty.size > 0) {
      const records = [...this.#dirty].map((i) => this.record(i));
      this.#dirty.clear();
      try {
        await this.#write(records);
      } catch (err) {
        this.#deps.log.warn("directory.write_failed", {
          operation: "update",
          instances: records.length,
          error: String(err),
        });
      }
    }
    this.#flushing = null;
  }
}
