/**
 * Entry point: read the configuration, build the server, listen; or, with `WSTUN_WORKERS` > 1,
 * start that many worker isolates (worker.ts) on one port. Nothing else lives here.
 *
 * @module
 */
import { startWorkerPool } from "./lib/bridge/worker_pool.ts";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { defaultLogFormat, Logger } from "./lib/log.ts";
import { VERSION } from "./lib/version.ts";
import { startupWarnings } from "./lib/startup_warnings.ts";
import { createServer } from "./routes/app.ts";

/** The start-up line; its text stays `WSTun listening on <url> (N worker…)` for scripts. */
function listening(log: Logger, hostname: string, port: number, workers: number) {
  const url = `http://${hostname}:${port}/`;
  const message = `WSTun listening on ${url} (${workers} worker${workers === 1 ? "" : "s"})`;
  log.info("server.listening", { url, workers, version: VERSION, message });
}

try {
  const config = loadConfig(Deno.env.toObject());
  const log = new Logger({
    level: config.logLevel,
    format: config.logFormat ?? defaultLogFormat(),
  });
  for (const warning of startupWarnings(config)) log.warn("config.warning", { warning });
  if (config.bridge.workers > 1) {
    const pool = await startWorkerPool(config, new URL("./worker.ts", import.meta.url));
    const { hostname, port, workers } = pool;
    listening(log, hostname, port, workers.length);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        log.info("server.stopping", { signal });
        pool.stop().finally(() => Deno.exit(0));
      });
    }
  } else {
    const server = await createServer(config, { log });
    Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) => listening(server.log, hostname, port, 1),
    }, server.fetch);
    if (server.cluster) {
      // Say goodbye to the other isolates, so they close our instances now, not at the bound.
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        Deno.addSignalListener(signal, () => {
          server.log.info("server.stopping", { signal });
          server.shutdown().finally(() => Deno.exit(0));
        });
      }
    }
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`wstun: ${err.message}`);
  Deno.exit(1);
}
