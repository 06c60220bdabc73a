/**
 * Entry point: read the configuration, build the server, listen. Nothing else lives here.
 *
 * @module
 */
import { ConfigError, loadConfig } from "./lib/config.ts";
import { createServer } from "./routes/app.ts";

try {
  const config = loadConfig(Deno.env.toObject());
  const server = await createServer(config);
  Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => console.log(`WSTun listening on http://${hostname}:${port}/`),
  }, server.fetch);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`wstun: ${err.message}`);
  Deno.exit(1);
}
