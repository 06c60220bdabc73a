/**
 * `WSTUN_WORKERS=N`: N worker isolates serving one port with `Deno.serve({ reusePort: true })`
 * (Linux spreads incoming connections across them; needs `--unstable-net`), joined by a
 * MessagePort bridge (one MessageChannel per pair of workers) and one Deno KV directory.
 *
 * Workers cannot share an in-memory KV, so without `WSTUN_KV_PATH` the pool keeps its directory
 * (and marketplace installs) in a temporary file that it deletes on exit: that is the only file a
 * multi-worker run writes unasked, and it needs `--allow-write`.
 *
 * @module
 */
import { ulid } from "ulid";
import type { Config } from "./config.ts";
import { within } from "./process_exit.ts";

/** What the main isolate tells each worker. */
export interface WorkerStart {
  index: number;
  kvPath: string;
  /** This worker's isolate id. */
  isolate: string;
  /** Sibling isolate id → the port to it (the bridge, lib/bridge/message_port_bridge.ts). */
  ports: Record<string, MessagePort>;
}

/** What the main isolate tells a running worker: drain until `deadline` (ms since the epoch). */
export interface WorkerDrain {
  type: "drain";
  deadline: number;
}

/** What a worker answers once it listens, when it cannot start, and when it has drained. */
export type WorkerReport =
  | { type: "listening"; hostname: string; port: number }
  | { type: "failed"; message: string }
  | { type: "drained" };

export interface WorkerPool {
  workers: Worker[];
  hostname: string;
  port: number;
  /**
   * Every worker drains at once; resolves when all have (true), or at `deadline` (false); then
   * stops.
   */
  drain(deadline: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** Starts `config.bridge.workers` workers from `entry` and waits until every one listens. */
export async function startWorkerPool(config: Config, entry: URL): Promise<WorkerPool> {
  let tempDir: string | undefined;
  let kvPath = config.kvPath;
  if (kvPath === undefined || kvPath === ":memory:") {
    tempDir = await Deno.makeTempDir({ prefix: "wstun-" });
    kvPath = `${tempDir}/directory.kv`;
  }
  const workers: Worker[] = [];
  const stop = async () => {
    for (const w of workers) w.terminate();
    if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  };
  try {
    const n = config.bridge.workers;
    const ids = Array.from({ length: n }, (_, i) => `w${i}-${ulid()}`);
    const ports: Record<string, MessagePort>[] = ids.map(() => ({}));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const { port1, port2 } = new MessageChannel();
        ports[i][ids[j]] = port1;
        ports[j][ids[i]] = port2;
      }
    }
    const reports = [];
    for (let index = 0; index < n; index++) {
      const worker = new Worker(entry, { type: "module", name: `wstun-${index}` });
      workers.push(worker);
      reports.push(firstReport(worker));
      const start: WorkerStart = { index, kvPath, isolate: ids[index], ports: ports[index] };
      worker.postMessage(start, Object.values(ports[index]));
    }
    const listening = await Promise.all(reports);
    const drain = async (deadline: number) => {
      const drained = workers.map((worker) => drainedReport(worker));
      for (const worker of workers) {
        worker.postMessage({ type: "drain", deadline } satisfies WorkerDrain);
      }
      const inTime = await within(deadline, Promise.all(drained).then(() => {}));
      await stop();
      return inTime;
    };
    return { workers, hostname: listening[0].hostname, port: listening[0].port, drain, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function drainedReport(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    worker.onmessage = (e: MessageEvent<WorkerReport>) => {
      if (e.data.type === "drained") resolve();
    };
  });
}

function firstReport(worker: Worker): Promise<{ hostname: string; port: number }> {
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`${worker}: ${e.message}`));
    };
    worker.onmessage = (e: MessageEvent<WorkerReport>) => {
      if (e.data.type === "listening") resolve(e.data);
      else if (e.data.type === "failed") reject(new Error(e.data.message));
    };
  });
}
