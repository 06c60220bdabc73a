/**
 * The server of the `cross-isolate` scenario: two WSTun servers in one process, one on the main
 * isolate (listening on `PORT`) and one in a worker (listening on `WSTUN_BENCH_MEMBER_PORT`),
 * joined by a MessagePort bridge and one Deno KV directory — the layout `WSTUN_WORKERS=2` builds,
 * but with a listener per isolate, so the benchmark decides where each socket lands instead of
 * the kernel's reusePort hash. Hosts connect to `PORT`; members to `PORT` (same isolate) or to
 * the worker's port (cross-isolate), so both variants run the same process and bridge.
 *
 *   PORT=8000 WSTUN_BENCH_MEMBER_PORT=8001 deno run -A bench/two_isolates.ts
 *
 * @module
 */
import { ulid } from "ulid";
import { MessagePortBridge } from "../lib/bridge/message_port_bridge.ts";
import { loadConfig } from "../lib/config.ts";
import { createServer } from "../routes/app.ts";
import type { IsolateWorkerStart } from "./isolate_worker.ts";

const env = Deno.env.toObject();
const memberPort = Number(env.WSTUN_BENCH_MEMBER_PORT);
if (!Number.isInteger(memberPort) || memberPort <= 0) {
  console.error("two_isolates: WSTUN_BENCH_MEMBER_PORT must be a port number");
  Deno.exit(1);
}
const dir = await Deno.makeTempDir({ prefix: "wstun-bench-" });
const kvPath = `${dir}/directory.kv`;
const here = `main-${ulid()}`;
const there = `worker-${ulid()}`;
const { port1, port2 } = new MessageChannel();
const worker = new Worker(new URL("./isolate_worker.ts", import.meta.url), { type: "module" });
const started = new Promise<void>((resolve, reject) => {
  worker.onmessage = (e) => e.data.failed ? reject(new Error(e.data.failed)) : resolve();
});
worker.postMessage(
  {
    port: memberPort,
    kvPath,
    isolate: there,
    peer: here,
    bridgePort: port2,
  } satisfies IsolateWorkerStart,
  [port2],
);
const config = loadConfig({ ...env, WSTUN_KV_PATH: kvPath });
const server = await createServer(config, {
  bridge: new MessagePortBridge(new Map([[there, port1]])),
  isolate: here,
});
// The worker listens first: the benchmark starts as soon as `PORT` accepts connections.
await started;
Deno.serve({ port: config.port, hostname: "127.0.0.1", onListen() {} }, server.fetch);
console.log(`two isolates: main on ${config.port}, worker on ${memberPort}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    worker.terminate();
    await server.shutdown().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(0);
  });
}
