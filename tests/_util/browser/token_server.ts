/**
 * Test-only: a real WSTun process for browser tests about restarts, set up as a new user would
 * run one: a server token and a Deno KV file (`WSTUN_KV_PATH`) in a temporary directory, so rooms
 * survive a stop (SIGTERM: a drain; SIGKILL: a crash) and a start on the same port.
 *
 * @module
 */
import { freePort } from "../server.ts";
import { RestartableServer } from "../restartable_server.ts";

/** The server token the pages are opened with (`?token=`). */
export const SERVER_TOKEN = "restart-test-token";

/** A started {@link RestartableServer} that kills itself and removes its KV file when disposed. */
export interface TokenServer extends AsyncDisposable {
  server: RestartableServer;
  /** `http://127.0.0.1:<port>` */
  base: string;
}

/**
 * Starts the server. The host's grace is raised from its 5 s default to 20 s so that a restart
 * slowed down by other test runs on a loaded machine still finds the room waiting for its host.
 */
export async function startTokenServer(env: Record<string, string> = {}): Promise<TokenServer> {
  const dir = await Deno.makeTempDir({ prefix: "wstun-browser-restart-" });
  const server = new RestartableServer(freePort(), {
    WSTUN_TOKEN: SERVER_TOKEN,
    WSTUN_KV_PATH: `${dir}/wstun.kv`,
    WSTUN_HOST_GRACE_MS: "20000",
    ...env,
  });
  const dispose = async () => {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await server.start();
  } catch (err) {
    await dispose();
    throw err;
  }
  return { server, base: server.url, [Symbol.asyncDispose]: dispose };
}
