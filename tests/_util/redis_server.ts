/**
 * Test-only: a private `redis-server` on a free loopback port, with no persistence, that a test
 * can stop and start again on the same port. Absent binary: tests skip with one line, except
 * under CI=true where it is a failure (.ci/run installs it).
 *
 * @module
 */
import { ulid } from "ulid";

const BINARY = "redis-server";

/** Whether redis-server can be started here; logs the one skip line when not. */
export async function redisAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command(BINARY, { args: ["--version"], stdout: "null" }).output();
    if (out.success) return true;
  } catch { /* not installed: reported below */ }
  if (Deno.env.get("CI") === "true") {
    throw new Error("redis-server is not installed, and CI=true requires the Redis tests");
  }
  console.log(
    "skipping Redis bridge tests: redis-server is not installed (apt-get install redis-server)",
  );
  return false;
}

export class RedisServer {
  #child: Deno.ChildProcess | null = null;

  private constructor(readonly port: number) {}

  /** The bridge namespace of the servers a test runs on this Redis (one per Redis). */
  readonly namespace = `t-${ulid()}`;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * The environment of a server process bridged by this Redis (`deno task start` with
   * `WSTUN_REDIS_URL`), every one in {@link namespace}; `more` adds or overrides variables.
   */
  serverEnv(more: Record<string, string> = {}): Record<string, string> {
    return { WSTUN_REDIS_URL: this.url, WSTUN_BRIDGE_NAMESPACE: this.namespace, ...more };
  }

  static async start(): Promise<RedisServer> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const server = new RedisServer(port);
    await server.resume();
    return server;
  }

  /** Starts redis-server (again) on this port and waits until it accepts connections. */
  async resume(): Promise<void> {
    this.#child = new Deno.Command(BINARY, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: this.port })).close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Stops redis-server and waits for it to exit. */
  async stop(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill("SIGKILL");
    await this.#child.status;
    this.#child = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
