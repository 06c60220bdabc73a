/**
 * Which isolates are alive: this one proves it every heartbeat (a key in the directory with an
 * expiry of three heartbeats, and a `beat` broadcast on the bridge), and judges the isolates it
 * shares instances with; one found dead is reported once through `gone`.
 *
 * An isolate that spoke on the bridge within three heartbeats counts as alive even if its beat in
 * the store is late. After the store itself was unreachable (a Redis restart), isolates wait three
 * heartbeats before judging others, so an outage of the store does not look like everyone dying.
 *
 * Bridge health ({@link Liveness.health}): every isolate the directory says is alive should be
 * heard on the bridge at least once a heartbeat (its `beat`). One alive in the directory for three
 * heartbeats but silent on the bridge for six means this bridge does not reach it (six: a peer
 * that died stops beating and speaking at once, and its key lasts three heartbeats more; it must
 * leave the directory before it can look silent) — on Deno Deploy,
 * where `BroadcastChannel` does not cross instances, set `WSTUN_REDIS_URL`. An isolate turning
 * silent is logged once (`bridge.silent`), and again when it is heard (`bridge.heard_again`).
 *
 * Directory health ({@link Liveness.directoryState}): whether the store answered the last
 * heartbeat; a failure is logged once per outage (`bridge.heartbeat_failed`, then
 * `bridge.heartbeat_recovered`).
 *
 * @module
 */
import { type Directory, isolateTtlMs } from "../bridge/directory.ts";
import type { Logger } from "../log.ts";
import type { Records } from "./records.ts";

/** What an operator should do about a silent isolate (logs, `/_api/ready`). */
export const SILENT_ADVICE = "this bridge does not reach it; isolates that share a directory " +
  "must share a bridge: on Deno Deploy, or with servers on several machines, set " +
  "WSTUN_REDIS_URL (docs/deploy.md)";

export interface LivenessDeps {
  isolate: string;
  directory: Directory;
  heartbeatMs: number;
  now: () => number;
  records: Records;
  /** Isolates this one shares instances or requests with. */
  peers(): Set<string>;
  /** `isolate` is dead: forget it. */
  gone(isolate: string): void;
  /** Broadcasts this isolate's `beat` on the bridge. */
  announce(): void;
  log: Logger;
}

/** What this isolate knows of another one. */
export interface IsolateHealth {
  isolate: string;
  /** This isolate. */
  self: boolean;
  /** Milliseconds since it was last heard on the bridge; null when never. */
  lastHeardMsAgo: number | null;
  /** Alive in the directory for three heartbeats, and not heard on the bridge for six. */
  silent: boolean;
}

/** Whether the directory answered this isolate's last heartbeat. */
export interface DirectoryState {
  reachable: boolean;
  /** When the heartbeats began to fail (ms since the epoch); null while reachable. */
  failingSince: number | null;
  /** The last failure's message; null while reachable. */
  error: string | null;
}

export class Liveness {
  readonly #deps: LivenessDeps;
  /** Heard since the last heartbeat (a set add per envelope; times are taken once a beat). */
  readonly #heard = new Set<string>();
  readonly #lastHeard = new Map<string, number>();
  /** When each isolate alive in the directory was first seen there. */
  readonly #seen = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<void> = Promise.resolve();
  /** When the directory last became reachable; null while it is not. */
  #reachableSince: number | null = 0;
  #failure: { since: number; error: string } | null = null;
  /** When the directory last answered a whole heartbeat. */
  #answeredAt = 0;
  /** Isolates reported silent (logged once until they are heard again). */
  readonly #silent = new Set<string>();
  #stopped = false;

  constructor(deps: LivenessDeps) {
    this.#deps = deps;
  }

  /** Beats once (so other isolates see this one at once), then every heartbeat. */
  async start(): Promise<void> {
    const { directory, isolate, heartbeatMs } = this.#deps;
    await directory.beat(isolate, isolateTtlMs(heartbeatMs));
    this.#answeredAt = this.#deps.now();
    this.#deps.announce();
    this.#timer = setInterval(() => this.#beating = this.#beat(), heartbeatMs);
  }

  /** `isolate` sent something on the bridge. */
  heard(isolate: string): void {
    this.#heard.add(isolate);
  }

  /** Whether `isolate` is alive according to the directory. */
  alive(isolate: string): Promise<boolean> {
    return isolate === this.#deps.isolate
      ? Promise.resolve(true)
      : this.#deps.directory.alive(isolate);
  }

  /**
   * Forgets an isolate that is gone. It leaves the directory's list of the living too: one that
   * drained stays listed until its key expires, and must not look silent meanwhile.
   */
  forget(isolate: string): void {
    this.#heard.delete(isolate);
    this.#lastHeard.delete(isolate);
    this.#seen.delete(isolate);
    this.#silent.delete(isolate);
  }

  /** Every isolate alive in the directory at the last heartbeat, and how it is heard. */
  health(): IsolateHealth[] {
    this.#absorbHeard();
    const now = this.#deps.now();
    const ttl = isolateTtlMs(this.#deps.heartbeatMs);
    return [...this.#seen].map(([isolate, since]) => {
      const self = isolate === this.#deps.isolate;
      const heard = this.#lastHeard.get(isolate);
      const quiet = heard === undefined ? now - since : now - heard;
      return {
        isolate,
        self,
        lastHeardMsAgo: heard === undefined ? null : now - heard,
        silent: !self && now - since >= ttl && quiet >= 2 * ttl,
      };
    });
  }

  /** Isolates heard on the bridge within three heartbeats: those that can answer a request. */
  recentlyHeard(): string[] {
    this.#absorbHeard();
    const now = this.#deps.now();
    const ttl = isolateTtlMs(this.#deps.heartbeatMs);
    const out: string[] = [];
    for (const [isolate, at] of this.#lastHeard) if (now - at < ttl) out.push(isolate);
    return out;
  }

  /**
   * Whether the directory answered the last heartbeat, and if not since when and why. A store
   * that hangs rather than fails counts as unreachable once no heartbeat was answered for three.
   */
  directoryState(): DirectoryState {
    const failure = this.#failure;
    if (failure) return { reachable: false, failingSince: failure.since, error: failure.error };
    const quiet = this.#deps.now() - this.#answeredAt;
    if (this.#stopped || quiet <= isolateTtlMs(this.#deps.heartbeatMs)) {
      return { reachable: true, failingSince: null, error: null };
    }
    const error = `no heartbeat answered for ${quiet} ms`;
    return { reachable: false, failingSince: this.#answeredAt, error };
  }

  /** Stops beating (shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating;
  }

  #absorbHeard(): void {
    const now = this.#deps.now();
    for (const isolate of this.#heard) this.#lastHeard.set(isolate, now);
    this.#heard.clear();
  }

  async #beat(): Promise<void> {
    const { directory, isolate, heartbeatMs, records } = this.#deps;
    this.#absorbHeard();
    this.#deps.announce();
    this.#reportSilence();
    const ttl = isolateTtlMs(heartbeatMs);
    try {
      const continuous = await directory.beat(isolate, ttl);
      // A store that lost us (a restarted Redis, a missed beat) gets every record again.
      await records.renew(continuous);
      await this.#refreshSeen();
      this.#reachable();
      // A store that forgot us was restarted: peers have not beaten into it again yet either, so
      // judge them only once it has been reachable for a whole ttl.
      if (!continuous) this.#reachableSince = this.#deps.now();
      this.#reachableSince ??= this.#deps.now();
      if (this.#deps.now() - this.#reachableSince < ttl) return;
      for (const peer of this.#deps.peers()) {
        if (this.#stopped) return;
        // A busy isolate whose beat is late is still alive if it spoke within the ttl.
        if (this.#deps.now() - (this.#lastHeard.get(peer) ?? 0) < ttl) continue;
        if (!(await directory.alive(peer))) this.#deps.gone(peer);
      }
    } catch (err) {
      this.#unreachable(err);
    }
  }

  /** The directory answered a heartbeat. */
  #reachable(): void {
    this.#answeredAt = this.#deps.now();
    if (!this.#failure) return;
    const { since } = this.#failure;
    this.#failure = null;
    this.#deps.log.info("bridge.heartbeat_recovered", { downMs: this.#deps.now() - since });
  }

  /** A heartbeat failed (the directory, or the records written with it). */
  #unreachable(err: unknown): void {
    this.#reachableSince = null;
    const error = err instanceof Error ? err.message : String(err);
    if (this.#failure) return void (this.#failure.error = error);
    this.#failure = { since: this.#deps.now(), error };
    this.#deps.log.warn("bridge.heartbeat_failed", {
      error,
      message: "the directory did not answer this isolate's heartbeat: it is not ready, and " +
        "creates, listings and requests across isolates fail until the directory is back",
    });
  }

  /** Logs isolates that turned silent since the last heartbeat, and those heard again. */
  #reportSilence(): void {
    const rows = this.health();
    const seen = new Set(rows.map((h) => h.isolate));
    for (const { isolate, silent, lastHeardMsAgo } of rows) {
      if (silent && !this.#silent.has(isolate)) {
        this.#silent.add(isolate);
        this.#deps.log.warn("bridge.silent", {
          peer: isolate,
          lastHeardMsAgo,
          message: `isolate ${isolate} is alive in the directory but not heard on the bridge: ` +
            SILENT_ADVICE,
        });
      } else if (!silent && this.#silent.delete(isolate)) {
        this.#deps.log.info("bridge.heard_again", { peer: isolate });
      }
    }
    for (const isolate of this.#silent) if (!seen.has(isolate)) this.#silent.delete(isolate);
  }

  async #refreshSeen(): Promise<void> {
    const live = new Set(await this.#deps.directory.isolates());
    const now = this.#deps.now();
    for (const isolate of live) if (!this.#seen.has(isolate)) this.#seen.set(isolate, now);
    for (const isolate of [...this.#seen.keys()]) {
      if (!live.has(isolate)) this.#seen.delete(isolate);
    }
  }
}
