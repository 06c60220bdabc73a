/**
 * A worker for tests/lib/kv_busy_retry_test.ts (a worker module, so it lives with the helpers): opens the KV file it is given and writes to it as
 * fast as it can (atomic commits checked against a read, as the directory does), with or without
 * the retry, then reports how many writes failed and why.
 */
import { retryWhenBusy } from "../../lib/kv_busy_retry.ts";

interface Start {
  path: string;
  writes: number;
  retry: boolean;
  name: string;
}

self.onmessage = async (e: MessageEvent<Start>) => {
  const { path, writes, retry, name } = e.data;
  const raw = await Deno.openKv(path);
  const kv = retry ? retryWhenBusy(raw) : raw;
  const failures: string[] = [];
  await Promise.all(Array.from({ length: writes }, async (_, i) => {
    try {
      const key = ["room", name, i];
      const current = await kv.get(key);
      await kv.atomic().check(current).set(key, { i }).commit();
      await kv.set(["beat", name], i);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }));
  raw.close();
  self.postMessage(failures);
};
