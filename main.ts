/**
 * Entry point: read the configuration, build the server, listen; or, with `WSTUN_WORKERS` > 1,
 * start that many worker isolates (worker.ts) on one port. On SIGINT or SIGTERM it drains and
 * exits (lib/process_exit.ts). Nothing else lives here.
 *
 * @module
 */
import { startWorkerPool } from "./lib/bridge/worker_pool.ts";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { exitOnSignals, within } from "./lib/process_exit.ts";
import { startupWarnings } from "./lib/startup_warnings.ts";
import { createServer } from "./routes/app.ts";

try {
  const config = loadConfig(Deno.env.toObject());
  for (const warning of startupWarnings(config)) console.warn(`wstun: warning: ${warning}`);
  if (config.bridge.workers > 1) {
    const pool = await startWorkerPool(config, new URL("./worker.ts", import.meta.url));
    const { hostname, port, workers } = pool;
    console.log(`WSTun listening on http://${hostname}:${port}/ (${workers.length} workers)`);
    exitOnSignals(config.drainMs, (deadline) => pool.drain(deadline));
  } else {
    const server = await createServer(config);
    const http = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) =>
        console.log(`WSTun listening on http://${hostname}:${port}/`),
    }, server.fetch);
    exitOnSignals(config.drainMs, async (deadline) => {
      await server.drain(deadline);
      await within(deadline, http.shutdown());
      await server.shutdown();
    });
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`wstun: ${err.message}`);
  Deno.exit(1);
}
