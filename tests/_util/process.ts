/**
 * Test-only: runs `deno task start` as a real child process and waits until it listens.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url);

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

export async function waitForLine(stream: ReadableStream<Uint8Array>, pattern: RegExp) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const timer = setTimeout(() => reader.cancel(), 20_000);
  try {
    while (!pattern.test(seen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before ${pattern}: ${seen}`);
      seen += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

/** The server without `deno task` in between: a SIGKILL then kills the server itself. */
export const RUN_MAIN = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "main.ts",
];

/** `deno task start` (or `deno <args>`) with `env`; resolves once it printed its listening line. */
export async function startProcess(
  env: Record<string, string>,
  listening: RegExp = /listening on/,
  args: string[] = ["task", "start"],
): Promise<Deno.ChildProcess & AsyncDisposable> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { WSTUN_HOSTNAME: "127.0.0.1", ...env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    await waitForLine(child.stdout, listening);
  } catch (err) {
    await stopTask(child);
    throw err;
  }
  return Object.assign(child, {
    [Symbol.asyncDispose]: () => stopTask(child),
  });
}

/**
 * Stops a `deno task` child and the server under it: SIGTERM is forwarded to the server, a SIGKILL
 * would only reach `deno task` and leave the server running. SIGKILL after 10 s (a drain takes
 * WSTUN_DRAIN_MS, 4 s by default) if it is still there.
 */
async function stopTask(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone meanwhile */ }
  }, 10_000);
  await child.status;
  clearTimeout(timer);
  await child.stdout.cancel().catch(() => {});
}
