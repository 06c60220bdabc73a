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

/** Starts `deno run … main.ts` (or `deno task start`) with `env` on a free port. */
export async function startServerProcess(
  env: Record<string, string>,
  { task = false }: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const port = freePort();
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
  const stop = async () => {
    try {
      signal("SIGTERM");
    } catch { /* already gone */ }
    await exited();
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
