/**
 * Redis connections for the bridge and the directory, with the npm `redis` client (node-redis:
 * Redis' own, actively maintained, typed, runs on Deno's `node:net`, reconnects by itself and
 * re-subscribes after a reconnect).
 *
 * The offline queue is off: while Redis is away a command fails at once instead of waiting
 * unboundedly, so nothing that needs Redis hangs; the caller turns the failure into an error
 * frame (`bridge_unavailable`) or, on the bridge, into a gap the receiver reports.
 *
 * @module
 */
import { createClient } from "redis";
import { Logger } from "../log.ts";

export type RedisClient = ReturnType<typeof createClient>;

/** Reconnect delays grow to this many ms and stay there. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** How long start-up waits for Redis. */
const FIRST_CONNECT_MS = 5000;

/** The URL without a password, for messages. */
export function redacted(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

/**
 * `message` (a Redis client's error, which may quote the URL it was given) without the
 * credentials of `url`: the user-info part and the password, as written and decoded.
 */
export function withoutCredentials(message: string, url: string): string {
  const userinfo = /\/\/([^@/]*)@/.exec(url)?.[1];
  if (!userinfo) return message;
  const password = userinfo.includes(":") ? userinfo.slice(userinfo.indexOf(":") + 1) : "";
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch { /* not %-encoded */ }
  let out = message;
  for (const secret of [userinfo, password, decoded]) {
    if (secret) out = out.split(secret).join("***");
  }
  return out;
}

/**
 * Opens a client on `url`; connection errors are logged once per outage (`redis.unavailable`,
 * then `redis.reconnected`), not thrown.
 */
export async function connectRedis(
  url: string,
  role: string,
  log: Logger = new Logger(),
): Promise<RedisClient> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
  });
  let down = false;
  client.on("error", (err: Error) => {
    if (down) return;
    down = true;
    log.warn("redis.unavailable", { role, error: err.message, message: "reconnecting" });
  });
  client.on("ready", () => {
    if (down) log.info("redis.reconnected", { role });
    down = false;
  });
  // The client retries a failed first connection forever; start-up should fail instead.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from ${redacted(url)}`)),
      FIRST_CONNECT_MS,
    );
  });
  try {
    await Promise.race([client.connect(), timeout]);
    return client;
  } catch (err) {
    client.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Closes a client whether or not Redis is reachable right now. */
export function closeRedis(client: RedisClient): void {
  client.destroy();
}
