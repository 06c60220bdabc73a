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
 * Starts a server with default limits, overridden field by field, on `port` (default: any free
 * one; a test that must know it before the configuration is built takes one from {@link freePort}).
 * Its log writes errors only (unless `logLevel` says otherwise), so test output stays readable.
 */
export async function startServer(
  overrides: Partial<Config> = {},
  port = 0,
  options: ServerOptions = {},
): Promise<TestServer> {
  const config = defaultConfig({ hostname: "127.0.0.1", port, logLevel: "error", ...overrides });
  const server = await createServer(config, options);
  const http = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
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

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}
