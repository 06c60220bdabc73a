/**
 * Tunnels between worker isolates (`WSTUN_WORKERS`): a server in a real Worker
 * (tests/_util/cluster/worker_server.ts) and one in this isolate, joined by the MessagePort bridge and
 * one KV file, as worker_pool.ts joins its workers. Unlike `WSTUN_WORKERS=2 deno task start`,
 * where the kernel picks the worker for each connection, each side has a port of its own, so a
 * test knows which isolate the client and each viewer are on.
 */
import { ulid } from "ulid";
import { MessagePortBridge } from "../../../lib/bridge/message_port_bridge.ts";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { startCluster, TEST_HEARTBEAT_MS } from "../../_util/cluster/cluster.ts";
import type { WorkerServerStart } from "../../_util/cluster/worker_server.ts";
import assert from "node:assert/strict";
import {
  SECRET_A,
  SECRET_B,
  startClient,
  startTarget,
  untilText,
  within,
  wsEcho,
} from "../../_util/tunnel/fixture.ts";

const secrets = { a: SECRET_A, b: SECRET_B };
const HELLO = "hello from the target";

Deno.test("workers (MessagePort bridge): a client on one worker isolate, viewers on another, both ways", async () => {
  // A worker cannot open this isolate's in-memory KV: the directory is a file, as with the pool.
  const kvPath = await Deno.makeTempFile({ suffix: ".kv" });
  const cluster = await startCluster(0, { tunnel: { ...TUNNEL_DEFAULTS, secrets } }, kvPath);
  const worker = new Worker(new URL("../../_util/cluster/worker_server.ts", import.meta.url), {
    type: "module",
  });
  const target = startTarget();
  const clients: Awaited<ReturnType<typeof startClient>>[] = [];
  try {
    const here = `main-${ulid()}`;
    const channel = new MessageChannel();
    const start: WorkerServerStart = {
      namespace: cluster.namespace,
      kvPath,
      heartbeatMs: TEST_HEARTBEAT_MS,
      port: channel.port2,
      peer: here,
      tunnelSecrets: secrets,
    };
    const started = new Promise<{ wsUrl: string; isolate: string }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
    });
    worker.postMessage(start, [channel.port2]);
    // `deno test` type-checks a worker's module graph when it starts; on a cold cache (a fresh CI
    // machine, 2 cores) that alone takes longer than 10 s.
    const { wsUrl, isolate } = await within(90_000, "the worker's server", started);
    const inWorker = wsUrl.replace(/^ws/, "http").replace(/\/_ws$/, "");
    const main = await cluster.add(
      {},
      new MessagePortBridge(new Map([[isolate, channel.port1]])),
      here,
    );

    // Client in the worker, viewers here.
    clients.push(await startClient(inWorker, "worker-box", target.port));
    const via = `${main.base}/t/worker-box`;
    assert.deepEqual(await untilText(`${via}/hello`, HELLO), HELLO);
    const body = "y".repeat(300_000); // more than the relay window
    const echoed = await fetch(`${via}/echo`, { method: "POST", body });
    assert.deepEqual(await echoed.text(), body);
    assert.deepEqual(await wsEcho(`${via}/ws`, "over a MessagePort"), "over a MessagePort");

    // Client here, viewers in the worker.
    clients.push(await startClient(main.base, "main-box", target.port));
    const back = `${inWorker}/t/main-box`;
    assert.deepEqual(await untilText(`${back}/hello`, HELLO), HELLO);
    const big = await fetch(`${back}/bytes?n=1000000`);
    assert.deepEqual((await big.arrayBuffer()).byteLength, 1_000_000);
  } finally {
    for (const c of clients) await c.client.close();
    await target.close();
    worker.terminate();
    await cluster.close();
    await Deno.remove(kvPath);
  }
});
