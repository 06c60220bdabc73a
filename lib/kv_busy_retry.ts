/**
 * Deno KV over a SQLite file shared by several isolates (the workers of one server,
 * `WSTUN_WORKERS`) answers "database is locked" when two of them write at the same moment:
 * SQLite refuses a lock upgrade at once instead of waiting for it (measured: 50 hosts creating
 * rooms at once on two workers failed with `bridge_unavailable`). Nothing was written then, so the
 * operation can simply run again. {@link retryWhenBusy} wraps a `Deno.Kv` so that its reads,
 * writes and atomic commits do that: up to {@link MAX_BUSY_ATTEMPTS} times, a few milliseconds
 * apart (with jitter, so the writers do not collide again), then the error goes to the caller as
 * before. Any other error is the caller's at once.
 *
 * @module
 */

/** Tries of one KV operation that finds the database locked before its error is passed on. */
export const MAX_BUSY_ATTEMPTS = 40;
/** Longest pause between two tries (ms); the pauses grow from 1 ms up to it. */
const MAX_PAUSE_MS = 25;

/** True for SQLite's "database is locked" (SQLITE_BUSY), as Deno KV reports it. */
export function isBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|SQLITE_BUSY/i.test(err.message);
}

/** Runs `op` again while it fails with {@link isBusy}, at most {@link MAX_BUSY_ATTEMPTS} times. */
export async function whenNotBusy<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isBusy(err) || attempt >= MAX_BUSY_ATTEMPTS) throw err;
      const ceiling = Math.min(MAX_PAUSE_MS, 2 ** Math.min(attempt, 5));
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * ceiling));
    }
  }
}

const RETRIED = new Set<PropertyKey>(["get", "getMany", "set", "delete", "enqueue"]);

/** `kv` with its operations retried while the database is locked (see the module's notes). */
export function retryWhenBusy(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      // deno-lint-ignore no-explicit-any
      const method = value as (...args: any[]) => any;
      if (RETRIED.has(prop)) {
        return (...args: unknown[]) => whenNotBusy(() => method.apply(target, args));
      }
      if (prop === "atomic") return () => retryingAtomic(method.call(target));
      return method.bind(target);
    },
  });
}

/** An atomic operation whose `commit` is retried (a locked commit wrote nothing). */
function retryingAtomic(op: Deno.AtomicOperation): Deno.AtomicOperation {
  const commit = op.commit.bind(op);
  op.commit = () => whenNotBusy(commit);
  return op;
}
