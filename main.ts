/**
 * Entry point: read the configuration, build the server, listen; or, with `WSTUN_WORKERS` > 1,
 * start that many worker isolates (worker.ts) on one port. Nothing else lives here.
 *
 * @module
 */
import { startWorkerPool } from "./lib/bridge/worker_pool.ts";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { startupWarnings } from "./lib/startup_warnings.ts";
import { createServer } from "./routes/app.ts";

try {
  const config = loadConfig(Deno.env.toObject());
  for (const warning of startupWarnings(config)) console.warn(`wstun: warning: ${warning}`);
  if (config.bridge.workers > 1) {
    const pool = await startWorkerPool(config, new URL("./worker.ts", import.meta.url));
    const { hostname, port, workers } = pool;
    console.log(`WSTun listening on http://${hostname}:${port}/ (${workers.length} workers)`);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => pool.stop().finally(() => Deno.exit(0)));
    }
  } else {
    const server = await createServer(config);
    Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) =>
        console.log(`WSTun listening on http://${hostname}:${port}/`),
    }, server.fetch);
    if (server.cluster) {
      // Say goodbye to the other isolates, so they close our instances now, not at the bound.
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        Deno.addSignalListener(signal, () => server.shutdown().finally(() => Deno.exit(0)));
      }
    }
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`wstun: ${err.message}`);
  Deno.exit(1);
}
