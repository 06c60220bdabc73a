/**
 * Starts a real WSTun server in-process on an ephemeral loopback port.
 *
 * @module
 */
import { type Config, defaultConfig } from "../../lib/config.ts";
import { createServer, type ServerOptions, type WstunServer } from "../../routes/app.ts";

export interface TestServer extends WstunServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** `ws://127.0.0.1:<port>/_ws` */
  wsUrl: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a server with default limits, overridden field by field. Its log writes errors only
 * (unless `logLevel` says otherwise), so test output stays readable.
 */
export async function startServer(
  overrides: Partial<Config> = {},
  options: ServerOptions = {},
): Promise<TestServer> {
  const config = defaultConfig({ hostname: "127.0.0.1", port: 0, logLevel: "error", ...overrides });
  const server = await createServer(config, options);
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    server.fetch,
  );
  const base = `http://127.0.0.1:${http.addr.port}`;
  const close = async () => {
    await http.shutdown();
    await server.shutdown();
  };
  return {
    ...server,
    base,
    wsUrl: `ws://127.0.0.1:${http.addr.port}/_ws`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
