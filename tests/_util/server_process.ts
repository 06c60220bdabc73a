/**
 * Test-only: `main.ts` (or `deno task start`) as a child process whose every printed line (stdout
 * and stderr) is kept, for tests about what the server prints, exports and does on signals. Resolves once it printed its listening line.
 *
 * @module
 */
import { freePort } from "./server.ts";

const ROOT = new URL("../../", import.meta.url);

/** A running `main.ts`; dispose to stop it (SIGTERM, then waits for it to exit). */
export interface ServerProcess extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  base: string;
  port: number;
  /** Every line printed so far, stdout and stderr interleaved as they arrived. */
  lines: string[];
  /** Sends `signal`: with `task`, to every process of the group, as a terminal's Ctrl-C does. */
  signal(signal: Deno.Signal): void;
  /** The exit status, once both streams ended. */
  exited(): Promise<Deno.CommandStatus>;
  /** Stops the process and resolves once both streams ended. */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /**
   * Start it as users do, `deno task start`, leading a process group of its own (`setsid`), so
   * that {@link ServerProcess.signal} reaches `deno task` and the server together.
   */
  task?: boolean;
}

const RUN_MAIN = ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "main.ts"];

/** Starts `deno run … main.ts` (or `deno task start`) with `env`, on `env.PORT` or a free port. */
export async function startServerProcess(
  env: Record<string, string>,
  { task = false }: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : freePort();
  const child = new Deno.Command(task ? "setsid" : Deno.execPath(), {
    args: task ? [Deno.execPath(), "task", "start"] : RUN_MAIN,
    cwd: ROOT,
    env: { WSTUN_HOSTNAME: "127.0.0.1", PORT: String(port), ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const { promise: listening, resolve, reject } = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const bytes of stream) {
      const parts = (rest + decoder.decode(bytes, { stream: true })).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.includes("WSTun listening on")) resolve();
      }
    }
    if (rest) lines.push(rest);
  };
  const ended = Promise.all([collect(child.stdout), collect(child.stderr)]);
  ended.then(() => reject(new Error(`server exited before listening:\n${lines.join("\n")}`)));
  const timer = setTimeout(() => reject(new Error("server did not listen within 20 s")), 20_000);
  const signal = (name: Deno.Signal) => task ? Deno.kill(-child.pid, name) : child.kill(name);
  const exited = async () => {
    const status = await child.status;
    await ended;
    return status;
  };
  // SIGTERM drains (WSTUN_DRAIN_MS, 4 s by default); SIGKILL if it is still there after 10 s.
  const stop = async () => {
    try {
      signal("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        signal("SIGKILL");
      } catch { /* gone meanwhile */ }
    }, 10_000);
    await exited();
    clearTimeout(timer);
  };
  try {
    await listening;
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    lines,
    signal,
    exited,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** One HTTP request on a fresh TCP connection, so the kernel picks a worker for each. */
export async function statsOnFreshConnection(port: number): Promise<{ isolate: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      "GET /_api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    ),
  );
  const text = await new Response(conn.readable).text();
  return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
}
