/**
 * Tunnels across machines: WSTun servers that share nothing but one Redis (`WSTUN_BRIDGE=redis`,
 * each with its own in-memory KV), so a viewer on one reaches a client on another only if the
 * tunnel records live in Redis. Needs `redis-server` (skipped with one line without it).
 */
import { ulid } from "ulid";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { startServerOnRedis, TEST_HEARTBEAT_MS } from "../../_util/cluster/cluster.ts";
import { freePort } from "../../_util/server.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import assert from "node:assert/strict";
import {
  SECRET_A,
  SECRET_B,
  startClient,
  startTarget,
  untilText,
  wsEcho,
} from "../../_util/tunnel/fixture.ts";

const enabled = await redisAvailable();
const tunnelOn = { tunnel: { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } } };
const HELLO = "hello from the target";

/** A request body of `count` chunks of `size` bytes, chunk i filled with i, sent chunked. */
function streamedBody(count: number, size: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i === count) return controller.close();
      controller.enqueue(new Uint8Array(size).fill(++i));
    },
  });
}

Deno.test({
  name:
    "redis tunnels: client on one server, viewers on another sharing only Redis; the client moves",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const namespace = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, namespace, tunnelOn);
    await using b = await startServerOnRedis(redis.url, namespace, tunnelOn);
    const target = startTarget();
    const first = await startClient(a.base, "far-box", target.port);
    let second: Awaited<ReturnType<typeof startClient>> | undefined;
    try {
      const via = `${b.base}/t/far-box`;
      assert.deepEqual(await untilText(`${via}/hello`, HELLO), HELLO);
      // An upload streamed in 16 KiB chunks without a length, echoed back as it arrives.
      const echoed = await fetch(`${via}/echo`, { method: "POST", body: streamedBody(40, 16384) });
      const back = new Uint8Array(await echoed.arrayBuffer());
      assert.deepEqual(back.byteLength, 40 * 16384);
      for (let i = 0; i < 40; i++) assert.deepEqual(back[i * 16384], i + 1, `chunk ${i}`);
      // A download four times the relay window, so credit must flow back across Redis.
      const big = await fetch(`${via}/bytes?n=1000000`);
      assert.deepEqual((await big.arrayBuffer()).byteLength, 1_000_000);
      assert.deepEqual(await wsEcho(`${via}/ws`, "ping across machines"), "ping across machines");

      // The client reconnects to B: A's public URL (the one it printed) still works.
      await first.client.close();
      second = await startClient(b.base, "far-box", target.port);
      assert.deepEqual(await untilText(`${first.url}/hello`, HELLO), HELLO);
      const posted = await fetch(`${first.url}/echo`, { method: "POST", body: "back to A" });
      assert.deepEqual(await posted.text(), "back to A");
    } finally {
      await first.client.close();
      await second?.client.close();
      await target.close();
    }
  },
});

Deno.test({
  name: "redis tunnels: the owner's process killed mid-stream ends the viewer's body and WebSocket",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const namespace = `t-${ulid()}`;
    const heartbeatMs = TEST_HEARTBEAT_MS, timeoutMs = 1000;
    const port = freePort();
    // `deno run main.ts` itself (not `deno task`), so SIGKILL kills the server: no goodbye.
    await using owner = await startServerProcess(
      {
        PORT: String(port),
        WSTUN_REDIS_URL: redis.url,
        WSTUN_BRIDGE_NAMESPACE: namespace,
        WSTUN_BRIDGE_HEARTBEAT_MS: String(heartbeatMs),
        WSTUN_BRIDGE_TIMEOUT_MS: String(timeoutMs),
        WSTUN_TUNNEL_SECRET_A: SECRET_A,
        WSTUN_TUNNEL_SECRET_B: SECRET_B,
      },
    );
    await using viewers = await startServerOnRedis(redis.url, namespace, tunnelOn);
    const target = startTarget();
    const started = await startClient(`http://127.0.0.1:${port}`, "doomed", target.port);
    try {
      const via = `${viewers.base}/t/doomed`;
      assert.deepEqual(await untilText(`${via}/hello`, HELLO), HELLO);
      const ws = new WebSocket(`${via.replace(/^http/, "ws")}/ws`);
      const wsClosed = new Promise<number>((resolve) => ws.onclose = () => resolve(Date.now()));
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => ws.send("still there?");
        ws.onmessage = () => resolve();
        ws.onerror = () => reject(new Error("websocket failed before the kill"));
      });
      ws.onerror = null; // its failure is the expected outcome from here on
      // A gigabyte: it is still streaming when the owner dies.
      const response = await fetch(`${via}/chunked?n=1000000&size=1000`);
      const reader = response.body!.getReader();
      assert.ok(((await reader.read()).value?.byteLength ?? 0) > 0, "the stream had begun");

      owner.signal("SIGKILL");
      await owner.exited();
      const killed = Date.now();
      const outcome = await readToEnd(reader, 10_000);
      const bodyEnded = Date.now();
      assert.deepEqual(outcome, "error");
      const closedAt = await wsClosed;
      // The viewer's isolate checks the owner every time-out; its liveness key lasts 3 beats.
      const bound = timeoutMs + 3 * heartbeatMs + 1000;
      assert.ok(bodyEnded - killed < bound, `body ended ${bodyEnded - killed} ms after the kill`);
      assert.ok(
        closedAt - killed < bound,
        `websocket closed ${closedAt - killed} ms after the kill`,
      );
    } finally {
      await started.client.close();
      await target.close();
    }
  },
});

/** Reads until the body ends ("done"), fails ("error"), or `withinMs` pass ("hung"). */
async function readToEnd(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  withinMs: number,
): Promise<"done" | "error" | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) =>
    timer = setTimeout(() => resolve("hung"), withinMs)
  );
  const read = (async () => {
    // Bounded: what was in flight at the kill is at most the relay and socket windows.
    for (let i = 0; i < 1_000_000; i++) {
      if ((await reader.read()).done) return "done" as const;
    }
    return "hung" as const;
  })().catch(() => "error" as const);
  try {
    const outcome = await Promise.race([read, hung]);
    if (outcome === "hung") await reader.cancel().catch(() => {});
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "redis tunnels: after Redis restarts, the owner writes its record again for viewers elsewhere",
  ignore: !enabled,
  fn: async () => {
    await using redis = await RedisServer.start();
    const namespace = `t-${ulid()}`;
    await using a = await startServerOnRedis(redis.url, namespace, tunnelOn);
    await using b = await startServerOnRedis(redis.url, namespace, tunnelOn);
    const target = startTarget();
    const started = await startClient(a.base, "survivor", target.port);
    try {
      const via = `${b.base}/t/survivor/hello`;
      assert.deepEqual(await untilText(via, HELLO), HELLO);
      // A restarted Redis has no records; the client's session on A never noticed.
      await redis.stop();
      await redis.resume();
      assert.deepEqual(await untilText(via, HELLO, { withinMs: 8000 }), HELLO);
    } finally {
      await started.client.close();
      await target.close();
    }
  },
});
