/**
 * Tunnels across isolates: several WSTun servers in one process sharing a BroadcastChannel bridge
 * and a KV (tests/_util/cluster/cluster.ts); a viewer on one reaches a client connected to another.
 */
import assert from "node:assert/strict";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { LossyBridge } from "../../_util/cluster/lossy_bridge.ts";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import {
  SECRET_A,
  SECRET_B,
  startClient,
  startTarget,
  untilText,
} from "../../_util/tunnel/fixture.ts";

const tunnelOn = { tunnel: { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } } };

Deno.test("cross-isolate: client on one isolate, viewer on another (GET, POST, stream, WebSocket)", async () => {
  await using cluster = await startCluster(2, tunnelOn);
  const [a, b] = cluster.servers;
  const target = startTarget();
  const started = await startClient(a.base, "far-away", target.port);
  const via = `${b.base}/t/far-away`;
  try {
    assert.deepEqual(await (await fetch(`${via}/hello`)).text(), "hello from the target");
    const body = "x".repeat(100_000);
    const echoed = await fetch(`${via}/echo`, { method: "POST", body });
    assert.deepEqual(echoed.headers.get("x-echo"), "1");
    assert.deepEqual(await echoed.text(), body);
    const streamed = await fetch(`${via}/chunked?n=50&size=1000`);
    assert.deepEqual((await streamed.arrayBuffer()).byteLength, 50_000);
    const big = await fetch(`${via}/bytes?n=1000000`);
    assert.deepEqual((await big.arrayBuffer()).byteLength, 1_000_000);
    // A WebSocket through the tunnel, upgraded on the viewer's isolate.
    const ws = new WebSocket(`${via.replace("http", "ws")}/ws`);
    const echo = new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("ping across");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("websocket failed"));
    });
    assert.deepEqual(await echo, "ping across");
    const closed = new Promise((resolve) => ws.onclose = resolve);
    ws.close();
    await closed;
  } finally {
    await started.client.close();
    await target.close();
  }
});

Deno.test("cross-isolate: the client reconnects to another isolate and the same URL works", async () => {
  await using cluster = await startCluster(2, tunnelOn);
  const [a, b] = cluster.servers;
  const target = startTarget();
  const first = await startClient(a.base, "moving", target.port);
  const url = first.url; // on isolate A
  assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
  await first.client.close();
  const second = await startClient(b.base, "moving", target.port);
  try {
    // Wait for B's record to replace A's (written just after registration).
    let text = "";
    for (let i = 0; i < 100 && text !== "hello from the target"; i++) {
      const response = await fetch(`${url}/hello`);
      text = await response.text();
      if (text !== "hello from the target") {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.deepEqual(text, "hello from the target");
  } finally {
    await second.client.close();
    await target.close();
  }
});

Deno.test("cross-isolate: an unknown id and a dead owning isolate answer 504 tunnel_not_connected", async () => {
  await using cluster = await startCluster(2, tunnelOn);
  const [a, b] = cluster.servers;
  const target = startTarget();
  const unknown = await fetch(`${a.base}/t/nobody/hello`);
  assert.deepEqual(unknown.status, 504);
  assert.deepEqual((await unknown.json()).error, "tunnel_not_connected");
  const started = await startClient(b.base, "doomed", target.port);
  try {
    // The record is written just after the client learns its URL (docs/tunnels.md).
    const hello = await untilText(`${a.base}/t/doomed/hello`, "hello from the target");
    assert.deepEqual(hello, "hello from the target");
    await b.close();
    const response = await fetch(`${a.base}/t/doomed/hello`);
    assert.deepEqual(response.status, 504);
    assert.deepEqual((await response.json()).error, "tunnel_not_connected");
  } finally {
    await started.client.close();
    await target.close();
  }
});

Deno.test("cross-isolate: an owning isolate that stops answering gives the viewer 504 tunnel_timeout", async () => {
  await using cluster = await startCluster(1, tunnelOn);
  const [a] = cluster.servers;
  const lossy = new LossyBridge(cluster.namespace);
  const b = await cluster.add({}, lossy);
  const target = startTarget();
  const started = await startClient(b.base, "silent", target.port);
  try {
    const hello = await untilText(`${a.base}/t/silent/hello`, "hello from the target");
    assert.deepEqual(hello, "hello from the target");
    lossy.dropPosts = Infinity; // B still beats in the directory but its bridge posts are lost
    const began = Date.now();
    const response = await fetch(`${a.base}/t/silent/hello`);
    assert.deepEqual(response.status, 504);
    assert.deepEqual((await response.json()).error, "tunnel_timeout");
    assert.deepEqual(Date.now() - began < 5000, true);
  } finally {
    lossy.dropPosts = 0;
    await started.client.close();
    await target.close();
  }
});
