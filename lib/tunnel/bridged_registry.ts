/**
 * The cross-isolate tunnel registry: a viewer on one isolate reaches a client connected to
 * another through the bridge.
 *
 * Records: `id → { owner isolate, claim }` in the {@link TunnelDirectory} kept beside the instance
 * directory (Deno KV, or Redis across machines), claimed on registration (last one wins) and
 * released when the session closes only if that registration's claim is still the record (no
 * newer session took its place, here or elsewhere). So the public URL stays the same when a
 * client reconnects to another isolate. A claim that displaces a record of another isolate tells
 * that isolate to close the session of that claim (close code 4905, as a same-isolate eviction),
 * which counts it in `evictions` and logs `tunnel.evicted` there, where the session was.
 * One id's record writes run one after the other, in the order of the registrations and closes
 * here, so a close never overtakes its own registration's claim. Records are renewed with the
 * instance records (`onRenew`), so they expire like them once their isolate is gone.
 *
 * Relay: the viewer side posts `open`; the owner opens a wsmux stream on its session and answers
 * `opened` or `fail`. Bytes travel as `data`. Every relay message has one schema
 * (`TunnelRelay` in lib/cluster/envelope.ts), checked on receipt with the envelope around it.
 * Credit is kept end to end: the owner reads from the client's stream only while fewer than
 * {@link RELAY_WINDOW} bytes are unacknowledged by the viewer side, which acknowledges bytes only
 * when its viewer consumed them; the viewer side has one `data` write in flight and resolves it
 * when the owner's wsmux write (which waits for the client's credit) resolved. `fin` ends one
 * direction, `abort` both.
 *
 * Guarantees: the same-isolate path is the local registry's, untouched (`find`); a viewer never
 * hangs on a remote one: `open` fails with a `MuxError` after the bridge's time-out, a record
 * whose isolate is not alive is ignored (the id is not connected), and an open stream whose owner
 * stops being alive in the directory is errored (checked every time-out; an idle stream is fine).
 *
 * @module
 */
import { ulid } from "ulid";
import type { TunnelDirectory, TunnelRecord } from "../bridge/tunnel_directory.ts";
import type { TunnelRelay } from "../cluster/envelope.ts";
import type { Logger } from "../log.ts";
import type { TunnelCounters } from "../stats.ts";
import {
  createLocalRegistry,
  type TunnelEndpoint,
  type TunnelRegistry,
  type TunnelStream,
} from "./registry.ts";
import { MuxCloseCode, MuxError } from "./wsmux.ts";

/** Bytes the owner forwards before the viewer side acknowledges them. */
export const RELAY_WINDOW = 256 * 1024;

/** What the registry needs of the cluster (a `ClusterNode` provides it). */
export interface TunnelBridgePort {
  readonly isolate: string;
  readonly timeoutMs: number;
  onTunnel(deliver: (from: string, m: TunnelRelay) => void): void;
  postTunnel(isolate: string, m: TunnelRelay): void;
  isolateAlive(isolate: string): Promise<boolean>;
  /** Runs `renew` whenever the isolate rewrites its instance records. */
  onRenew(renew: () => Promise<void>): void;
}

export interface BridgedRegistryOptions {
  port: TunnelBridgePort;
  /** Where id → isolate records live (`Directory.tunnels()`: the instance directory's store). */
  records: TunnelDirectory;
  /** Evictions by a registration on another isolate are counted here (`Stats.tunnels`). */
  counters: Pick<TunnelCounters, "evictions">;
  /** Evictions from elsewhere and failed record writes are logged here. */
  log: Logger;
}

/** A registry that also answers for ids whose client is on another isolate. */
export interface CrossIsolateRegistry extends TunnelRegistry {
  /** The endpoint for an id held by another live isolate, if any. */
  locate(id: string): Promise<TunnelEndpoint | undefined>;
  /** Ends every relayed stream and waits for pending record writes (shutdown). */
  close(): Promise<void>;
}

/** A relayed stream's state on either side. */
interface Relay {
  peer: string;
  stream: string;
  /** Viewer side: bytes from the owner. */
  controller?: ReadableStreamDefaultController<Uint8Array>;
  /** Owner side: the client's wsmux stream. */
  local?: TunnelStream;
  /** The single write in flight towards the other side. */
  writeDone?: { resolve(): void; reject(e: Error): void };
  /** Owner side: unacknowledged bytes and a waiter for credit. */
  unacked: number;
  creditWaiter?: () => void;
  timer?: ReturnType<typeof setTimeout>;
  /** Once open: checks that the isolate on the other side is still alive. */
  liveness?: ReturnType<typeof setInterval>;
  opened?: { resolve(s: TunnelStream): void; reject(e: Error): void };
  closed: boolean;
}

/** Creates a registry that keeps local sessions local and relays to other isolates. */
export function createBridgedRegistry(opts: BridgedRegistryOptions): CrossIsolateRegistry {
  const { port, records, counters, log } = opts;
  const local = createLocalRegistry();
  const relays = new Map<string, Relay>();
  /** Each attached endpoint's id and the record its registration claimed. */
  const claims = new Map<TunnelEndpoint, { id: string; record: TunnelRecord }>();
  /** Per id, the last record write queued: the next one starts after it. */
  const queues = new Map<string, Promise<void>>();
  const writes = new Set<Promise<void>>();
  /** Queues a record write for `id`; a failure is logged (the viewer side treats it as a miss). */
  const enqueue = (id: string, operation: string, write: () => Promise<void>): Promise<void> => {
    const done = (queues.get(id) ?? Promise.resolve()).then(write)
      .catch((e) => log.warn("tunnel.record_failed", { id, operation, error: String(e) }));
    queues.set(id, done);
    writes.add(done);
    done.finally(() => {
      writes.delete(done);
      if (queues.get(id) === done) queues.delete(id);
    });
    return done;
  };
  /** Whether `endpoint` is still this isolate's client for its id. */
  const current = (endpoint: TunnelEndpoint) => {
    const claim = claims.get(endpoint);
    return claim !== undefined && local.find(claim.id) === endpoint;
  };
  const relayKey = (peer: string, stream: string) => `${peer} ${stream}`;
  /** The bytes as the relay carries them: a copy, since the sender may reuse its buffer. */
  const copy = (bytes: Uint8Array) => new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;

  function fail(relay: Relay, error: Error): void {
    if (relay.closed) return;
    relay.closed = true;
    clearTimeout(relay.timer);
    clearInterval(relay.liveness);
    relays.delete(relayKey(relay.peer, relay.stream));
    relay.opened?.reject(error);
    relay.writeDone?.reject(error);
    relay.creditWaiter?.();
    try {
      relay.controller?.error(error);
    } catch { /* already closed */ }
    relay.local?.abort();
  }

  /** Errors a relay whose peer stays silent past the time-out. */
  function watch(relay: Relay): void {
    clearTimeout(relay.timer);
    relay.timer = setTimeout(
      () => {
        port.postTunnel(relay.peer, { t: "abort", s: relay.stream });
        fail(
          relay,
          new MuxError("open_timeout", "the isolate holding the tunnel stopped answering"),
        );
      },
      port.timeoutMs,
    );
  }

  /** Ends a relay once the isolate on its other side is no longer alive in the directory. */
  function checkLiveness(relay: Relay): void {
    relay.liveness = setInterval(() => {
      port.isolateAlive(relay.peer).then((alive) => {
        if (!alive) fail(relay, new MuxError("session_closed", "the other isolate is gone"));
      }, () => {});
    }, port.timeoutMs);
  }

  // ---- viewer side ----

  function remoteEndpoint(id: string, { owner, claim }: TunnelRecord): TunnelEndpoint {
    return {
      open() {
        const stream = ulid();
        const relay: Relay = { peer: owner, stream, unacked: 0, closed: false };
        relays.set(relayKey(owner, stream), relay);
        const opened = new Promise<TunnelStream>((resolve, reject) => {
          relay.opened = { resolve, reject };
        });
        watch(relay);
        port.postTunnel(owner, { t: "open", s: stream, id });
        return opened;
      },
      close(code, reason) {
        port.postTunnel(owner, { t: "evict", id, claim, code, reason });
      },
    };
  }

  function viewerStream(relay: Relay): TunnelStream {
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        relay.controller = controller;
      },
      pull() {
        // The viewer consumed what was queued: give the owner its credit back.
        if (relay.unacked > 0 && !relay.closed) {
          port.postTunnel(relay.peer, { t: "ack", s: relay.stream, n: relay.unacked });
          relay.unacked = 0;
        }
      },
      cancel() {
        port.postTunnel(relay.peer, { t: "abort", s: relay.stream });
        fail(relay, new MuxError("stream_closed", "the viewer went away"));
      },
    }, { highWaterMark: 0 });
    return {
      readable,
      write(bytes) {
        if (relay.closed) return Promise.reject(new MuxError("stream_closed", "stream closed"));
        return new Promise<void>((resolve, reject) => {
          relay.writeDone = { resolve, reject };
          port.postTunnel(relay.peer, { t: "data", s: relay.stream, b: copy(bytes) });
        });
      },
      closeWrite() {
        if (!relay.closed) port.postTunnel(relay.peer, { t: "fin", s: relay.stream });
      },
      abort() {
        if (relay.closed) return;
        port.postTunnel(relay.peer, { t: "abort", s: relay.stream });
        fail(relay, new MuxError("stream_closed", "stream aborted"));
      },
    };
  }

  // ---- owner side ----

  async function serveOpen(from: string, stream: string, id: string): Promise<void> {
    const endpoint = local.find(id);
    if (!endpoint) {
      port.postTunnel(from, {
        t: "fail",
        s: stream,
        code: "session_closed",
        message: "No client is connected with that id",
      });
      return;
    }
    const relay: Relay = { peer: from, stream, unacked: 0, closed: false };
    relays.set(relayKey(from, stream), relay);
    let muxStream: TunnelStream;
    try {
      muxStream = await endpoint.open();
    } catch (error) {
      relays.delete(relayKey(from, stream));
      const code = error instanceof MuxError ? error.code : "refused";
      port.postTunnel(from, { t: "fail", s: stream, code, message: String(error) });
      return;
    }
    if (relay.closed) return muxStream.abort();
    relay.local = muxStream;
    checkLiveness(relay); // a viewer's isolate that dies must not hold the client's stream
    port.postTunnel(from, { t: "opened", s: stream });
    // Client → viewer, within the relay window.
    const reader = muxStream.readable.getReader();
    try {
      while (!relay.closed) {
        while (relay.unacked >= RELAY_WINDOW && !relay.closed) {
          await new Promise<void>((resolve) => relay.creditWaiter = resolve);
          relay.creditWaiter = undefined;
        }
        const { value, done } = await reader.read();
        if (done) {
          if (!relay.closed) port.postTunnel(from, { t: "fin", s: stream });
          break;
        }
        relay.unacked += value.byteLength;
        port.postTunnel(from, { t: "data", s: stream, b: copy(value) });
      }
    } catch {
      if (!relay.closed) {
        port.postTunnel(from, { t: "abort", s: stream });
        fail(relay, new MuxError("stream_closed", "client stream failed"));
      }
    } finally {
      reader.releaseLock();
    }
  }

  async function ownerData(relay: Relay, bytes: Uint8Array): Promise<void> {
    try {
      await relay.local?.write(bytes);
      port.postTunnel(relay.peer, { t: "wrote", s: relay.stream });
    } catch {
      port.postTunnel(relay.peer, { t: "abort", s: relay.stream });
      fail(relay, new MuxError("stream_closed", "client stream closed"));
    }
  }

  // ---- both sides ----

  port.onTunnel((from, m) => {
    if (m.t === "open") return void serveOpen(from, m.s, m.id);
    if (m.t === "evict") {
      // Only the session whose claim was displaced: a newer one here has claimed since.
      const endpoint = local.find(m.id);
      if (!endpoint || claims.get(endpoint)?.record.claim !== m.claim) return;
      counters.evictions++;
      log.info("tunnel.evicted", {
        id: m.id,
        why: "replaced by a registration on another isolate",
      });
      endpoint.close(m.code || MuxCloseCode.GoingAway, m.reason || "evicted");
      return;
    }
    const relay = relays.get(relayKey(from, m.s));
    if (!relay || relay.closed) return;
    switch (m.t) {
      case "opened":
        relay.opened?.resolve(viewerStream(relay));
        relay.opened = undefined;
        // An open stream may rightly be idle (a quiet WebSocket): from now on the owner's
        // liveness in the directory, not silence, decides that it is gone.
        clearTimeout(relay.timer);
        checkLiveness(relay);
        return;
      case "fail":
        return fail(relay, new MuxError(m.code, m.message));
      case "data": {
        const bytes = m.b;
        if (relay.local) return void ownerData(relay, bytes);
        relay.unacked += bytes.byteLength;
        relay.controller?.enqueue(bytes);
        // A reader already waiting consumed it at once; pull() acknowledges the rest later.
        if (
          relay.controller && relay.controller.desiredSize !== null &&
          relay.controller.desiredSize >= 0
        ) {
          port.postTunnel(from, { t: "ack", s: m.s, n: relay.unacked });
          relay.unacked = 0;
        }
        return;
      }
      case "wrote": {
        const done = relay.writeDone;
        relay.writeDone = undefined;
        return done?.resolve();
      }
      case "ack":
        relay.unacked -= m.n;
        relay.creditWaiter?.();
        return;
      case "fin":
        if (relay.local) return relay.local.closeWrite();
        try {
          relay.controller?.close();
        } catch { /* already closed */ }
        return;
      case "abort":
        return fail(relay, new MuxError("stream_closed", "the other isolate aborted the stream"));
      default:
        return m satisfies never;
    }
  });

  port.onRenew(async () => {
    const renewals = [...claims].map(([endpoint, { id, record }]) =>
      enqueue(id, "renew", async () => {
        if (current(endpoint)) await records.renew(id, record);
      })
    );
    await Promise.all(renewals);
  });

  return {
    attach(id, endpoint) {
      const displaced = local.attach(id, endpoint);
      const record = { owner: port.isolate, claim: ulid() };
      claims.set(endpoint, { id, record });
      enqueue(id, "claim", async () => {
        // A registration already closed or replaced here claims nothing (its release is a no-op).
        if (!current(endpoint)) return;
        const previous = await records.claim(id, record);
        if (previous && previous.owner !== port.isolate) {
          port.postTunnel(previous.owner, {
            t: "evict",
            id,
            claim: previous.claim,
            code: MuxCloseCode.Replaced,
            reason: "another client registered this id",
          });
        }
      });
      return displaced;
    },
    detach(id, endpoint) {
      local.detach(id, endpoint);
      const claimed = claims.get(endpoint);
      if (!claimed) return;
      claims.delete(endpoint);
      enqueue(id, "release", () => records.release(id, claimed.record));
    },
    find: (id) => local.find(id),
    endpoints: () => local.endpoints(),
    async locate(id) {
      const record = await records.get(id);
      if (!record || record.owner === port.isolate) return undefined;
      if (!(await port.isolateAlive(record.owner))) return undefined;
      return remoteEndpoint(id, record);
    },
    async close() {
      for (const relay of [...relays.values()]) {
        port.postTunnel(relay.peer, { t: "abort", s: relay.stream });
        fail(relay, new MuxError("session_closed", "server shutting down"));
      }
      while (writes.size) await Promise.all(writes);
    },
  };
}
