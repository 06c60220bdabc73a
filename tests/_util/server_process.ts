/**
 * Test-only: `main.ts` as a child process whose every printed line (stdout and stderr) is kept,
 * for tests about what the server prints and exports. Resolves once it printed its listening line.
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
  /** Stops the process and resolves once both streams ended. */
  stop(): Promise<void>;
}

/** Starts `deno run … main.ts` with `env` on a free port. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "main.ts"],
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
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await ended;
  };
  try {
    await listening;
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { base: `http://127.0.0.1:${port}`, port, lines, stop, [Symbol.asyncDispose]: stop };
}
