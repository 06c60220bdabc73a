/**
 * Entry point of one worker isolate when `WSTUN_WORKERS` > 1 (see lib/worker_pool.ts):
 * the same configuration as the main isolate, the pool's KV file, MessagePorts to its siblings as the bridge,
 * and a listener that shares the port with its siblings. It drains when the main isolate says so.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { MessagePortBridge } from "./lib/bridge/mod.ts";
import type { WorkerDrain, WorkerReport, WorkerStart } from "./lib/worker_pool.ts";
import { loadConfig } from "./lib/config.ts";
import { within } from "./lib/process_exit.ts";
import { createServer, type WstunServer } from "./routes/app.ts";

let running: { server: WstunServer; http: Deno.HttpServer } | undefined;

self.onmessage = async (e: MessageEvent<WorkerStart | WorkerDrain>) => {
  if ("type" in e.data) return void drain(e.data.deadline);
  try {
    const config = loadConfig({ ...Deno.env.toObject(), WSTUN_KV_PATH: e.data.kvPath });
    const server = await createServer(config, {
      bridge: new MessagePortBridge(new Map(Object.entries(e.data.ports))),
      isolate: e.data.isolate,
    });
    const http = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      reusePort: true,
      onListen: ({ hostname, port }) => {
        self.postMessage({ type: "listening", hostname, port } satisfies WorkerReport);
      },
    }, server.fetch);
    running = { server, http };
  } catch (err) {
    self.postMessage({ type: "failed", message: (err as Error).message } satisfies WorkerReport);
  }
};

async function drain(deadline: number): Promise<void> {
  if (running) {
    await running.server.drain(deadline);
    await within(deadline, running.http.shutdown());
    await running.server.shutdown();
  }
  self.postMessage({ type: "drained" } satisfies WorkerReport);
}
