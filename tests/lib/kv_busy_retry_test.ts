import assert from "node:assert/strict";

const WRITES = 300;

/** Two workers write to one KV file at once; resolves with each worker's failures. */
async function twoWriters(retry: boolean): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/shared.kv`;
  try {
    // Create the file first, as the server's main isolate does before its workers start.
    (await Deno.openKv(path)).close();
    const runs = ["a", "b"].map((name) => {
      const worker = new Worker(new URL("../_util/kv_busy_writer.ts", import.meta.url), {
        type: "module",
      });
      return new Promise<string[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`writer ${name} timed out`)), 60_000);
        worker.onmessage = (e: MessageEvent<string[]>) => {
          clearTimeout(timer);
          worker.terminate();
          resolve(e.data);
        };
        worker.onerror = (e) => {
          clearTimeout(timer);
          worker.terminate();
          reject(new Error(e.message));
        };
        worker.postMessage({ path, writes: WRITES, retry, name });
      });
    });
    return (await Promise.all(runs)).flat();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("kv busy retry: two isolates writing one KV file at once lose no write", async () => {
  const failures = await twoWriters(true);
  assert.deepEqual(failures, []);
});

Deno.test("kv busy retry: without it the same writes meet 'database is locked' (why it exists)", async () => {
  // If Deno KV ever waits for the lock itself, this fails and the retry can go.
  let failures: string[] = [];
  for (let round = 0; round < 5 && failures.length === 0; round++) {
    failures = await twoWriters(false);
  }
  assert.ok(failures.length > 0, "no write met a locked database in 5 rounds");
  assert.match(failures[0], /database is locked/);
});
