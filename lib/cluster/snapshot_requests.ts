/**
 * Other isolates' instruments, asked for over the bridge: a worker of `WSTUN_WORKERS` answers
 * `/metrics` for the whole server (docs/operations.md, "Several workers").
 *
 * The asker broadcasts one `stats_req`; every isolate that has a snapshot source answers with one
 * `stats` posted back to the asker alone. The asker waits for the isolates heard on the bridge
 * within three heartbeats (the ones that can answer) and for at most `timeoutMs`: an isolate that
 * does not answer in time is left out and named as missing, so a scrape is never held up by a
 * stuck worker and never silently short of one. An answer that comes after its request ended is
 * dropped. Each snapshot is labelled with the isolate it came from on the bridge.
 *
 * @module
 */
import type { IsolateSnapshot } from "../telemetry/snapshot_schema.ts";
import type { Body } from "./envelope.ts";

/** What a collection gathered: the snapshots that came, and who did not answer in time. */
export interface CollectedSnapshots {
  snapshots: IsolateSnapshot[];
  missing: string[];
}

export interface SnapshotRequestsDeps {
  post(isolate: string, body: Body): void;
  broadcast(body: Body): void;
  /** The isolates expected to answer (heard on the bridge lately). */
  expected(): string[];
}

/** One collection under way. */
interface Collecting {
  waiting: Set<string>;
  answered: Map<string, IsolateSnapshot>;
  done(): void;
}

export class SnapshotRequests {
  readonly #deps: SnapshotRequestsDeps;
  readonly #collecting = new Map<number, Collecting>();
  #source: (() => IsolateSnapshot) | null = null;
  #nextId = 1;

  constructor(deps: SnapshotRequestsDeps) {
    this.#deps = deps;
  }

  /** What this isolate answers other isolates' requests with (none until set). */
  answerWith(source: () => IsolateSnapshot): void {
    this.#source = source;
  }

  /** Asks every other isolate for its snapshot; resolves when all expected answered, or later. */
  collect(timeoutMs: number): Promise<CollectedSnapshots> {
    const waiting = new Set(this.#deps.expected());
    if (waiting.size === 0) return Promise.resolve({ snapshots: [], missing: [] });
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<CollectedSnapshots>();
    const collecting: Collecting = {
      waiting,
      answered: new Map(),
      done: () => {
        clearTimeout(timer);
        this.#collecting.delete(id);
        resolve({ snapshots: [...collecting.answered.values()], missing: [...waiting] });
      },
    };
    const timer = setTimeout(collecting.done, timeoutMs);
    this.#collecting.set(id, collecting);
    this.#deps.broadcast({ k: "stats_req", id });
    return promise;
  }

  /** Isolate `from` asks for this isolate's snapshot. */
  requested(from: string, id: number): void {
    if (this.#source) this.#deps.post(from, { k: "stats", id, snapshot: this.#source() });
  }

  /** Isolate `from` answers request `id`. */
  answered(from: string, id: number, snapshot: IsolateSnapshot): void {
    const collecting = this.#collecting.get(id);
    if (!collecting) return; // after its time-out
    // The bridge's sender names the series, so two isolates can never render as one.
    collecting.answered.set(from, { ...snapshot, isolate: from });
    collecting.waiting.delete(from);
    if (collecting.waiting.size === 0) collecting.done();
  }

  /** Ends every collection with what it has (shutdown). */
  stop(): void {
    for (const collecting of [...this.#collecting.values()]) collecting.done();
  }
}
