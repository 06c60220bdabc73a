/**
 * `WSTUN_WORKERS=N`: N worker isolates serving one port with `Deno.serve({ reusePort: true })`
 * (Linux spreads incoming connections across them; needs `--unstable-net`), joined by the
 * BroadcastChannel bridge and one Deno KV directory.
 *
 * Workers cannot share an in-memory KV, so without `WSTUN_KV_PATH` the pool keeps its directory
 * (and marketplace installs) in a temporary file that it deletes on exit: that is the only file a
 * multi-worker run writes unasked, and it needs `--allow-write`.
 *
 * @module
 */
import type { Config } from "../config.ts";

/** What the main isolate tells each worker. */
export interface WorkerStart {
  index: number;
  kvPath: string;
}

/** What a worker answers once it listens, or when it cannot start. */
export type WorkerReport =
  | { type: "listening"; hostname: string; port: number }
  | { type: "failed"; message: string };

export interface WorkerPool {
  workers: Worker[];
  hostname: string;
  port: number;
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
    const reports = [];
    for (let index = 0; index < config.bridge.workers; index++) {
      const worker = new Worker(entry, { type: "module", name: `wstun-${index}` });
      workers.push(worker);
      reports.push(firstReport(worker));
      worker.postMessage({ index, kvPath } satisfies WorkerStart);
    }
    const listening = await Promise.all(reports);
    return { workers, hostname: listening[0].hostname, port: listening[0].port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function firstReport(worker: Worker): Promise<{ hostname: string; port: number }> {
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`${worker}: ${e.message}`));
    };
    worker.onmessage = (e: MessageEvent<WorkerReport>) => {
      if (e.data.type === "listening") resolve(e.data);
      else reject(new Error(e.data.message));
    };
  });
}
