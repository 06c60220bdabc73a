/**
 * Entry point: read the configuration, build the server, listen; or, with `WSTUN_WORKERS` > 1,
 * start that many worker isolates (worker.ts) on one port. On SIGINT or SIGTERM it drains and
 * exits (lib/process_exit.ts). Nothing else lives here.
 *
 * @module
 */
import { startWorkerPool } from "./lib/worker_pool.ts";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { defaultLogFormat, Logger } from "./lib/log.ts";
import { type ExitHooks, exitOnSignals, within } from "./lib/process_exit.ts";
import { VERSION } from "./lib/version.ts";
import { startupWarnings } from "./lib/startup_warnings.ts";
import { createServer } from "./routes/app.ts";

/** The start-up line; its text stays `WSTun listening on <url> (N worker…)` for scripts. */
function listening(log: Logger, hostname: string, port: number, workers: number) {
  const url = `http://${hostname}:${port}/`;
  const message = `WSTun listening on ${url} (${workers} worker${workers === 1 ? "" : "s"})`;
  log.info("server.listening", { url, workers, version: VERSION, message });
}

/** The log lines of a signalled exit: the signal, then how it ended when that is not a clean drain. */
function exitLog(log: Logger, drainMs: number): Omit<ExitHooks, "drain"> {
  return {
    stopping: (signal) => log.info("server.stopping", { signal, drainMs }),
    exiting: (reason, error) => {
      if (reason === "drain_timed_out") log.warn("server.drain_timed_out", { drainMs });
      if (reason === "second_signal") log.warn("server.exit_at_once");
      if (reason === "drain_failed") log.error("server.drain_failed", { error: String(error) });
      log.flush();
    },
  };
}

try {
  const config = loadConfig(Deno.env.toObject());
  const log = new Logger({
    level: config.logLevel,
    format: config.logFormat ?? defaultLogFormat(),
  });
  for (const warning of startupWarnings(config)) log.warn("config.warning", { warning });
  const exit = exitLog(log, config.drainMs);
  if (config.bridge.workers > 1) {
    const pool = await startWorkerPool(config, new URL("./worker.ts", import.meta.url));
    const { hostname, port, workers } = pool;
    listening(log, hostname, port, workers.length);
    exitOnSignals(config.drainMs, { ...exit, drain: (deadline) => pool.drain(deadline) });
  } else {
    const server = await createServer(config, { log });
    const http = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) => listening(server.log, hostname, port, 1),
    }, server.fetch);
    exitOnSignals(config.drainMs, {
      ...exit,
      drain: async (deadline) => {
        await server.drain(deadline);
        const closed = await within(deadline, http.shutdown());
        await server.shutdown();
        return closed;
      },
    });
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`wstun: ${err.message}`);
  Deno.exit(1);
}
