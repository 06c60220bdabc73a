import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";
import { TestSocket } from "../_util/test_socket.ts";

async function ready(base: string) {
  const response = await fetch(`${base}/_api/ready`);
  return { status: response.status, body: await response.json() };
}

Deno.test("/_api/ready: 200 with each check, public even when the server has a token", async () => {
  await using server = await startServer({ token: "server-token" });
  const { status, body } = await ready(server.base);
  assert.equal(status, 200);
  assert.deepEqual(body, {
    isolate: server.isolate,
    ready: true,
    checks: [
      { name: "phase", ready: true },
      { name: "draining", ready: true },
      { name: "connections", ready: true },
    ],
  });
});

Deno.test("/_api/ready: 503 naming the connection limit while the isolate is full", async () => {
  await using server = await startServer({ maxConnections: 1 });
  const socket = await TestSocket.open(server.wsUrl);
  const full = await ready(server.base);
  assert.equal(full.status, 503);
  assert.equal(full.body.ready, false);
  assert.match(
    full.body.reason,
    /^connections: connection limit reached \(1 of WSTUN_MAX_CONNECTIONS=1\)/,
  );
  await socket.close();
  // The server hears the close a moment after the client: ask until it has (bounded, no sleep).
  let again = await ready(server.base);
  for (let i = 0; i < 50 && again.status !== 200; i++) again = await ready(server.base);
  assert.equal(again.status, 200);
});

Deno.test("/_api/ready: injected checks fail it with their reason; a throwing one too", async () => {
  let bridge: string | null = "bridge silent: isolate B alive in the directory, never heard";
  await using server = await startServer({}, 0, {
    readiness: [
      { name: "bridge", check: () => bridge },
      { name: "flaky", check: () => Promise.reject(new Error("store unreachable")) },
    ],
  });
  const first = await ready(server.base);
  assert.equal(first.status, 503);
  assert.equal(first.body.reason, `bridge: ${bridge}`);
  bridge = null;
  const second = await ready(server.base);
  assert.equal(second.body.reason, "flaky: check failed: store unreachable");
  assert.deepEqual(second.body.checks.map((c: { ready: boolean }) => c.ready), [
    true,
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("/_api/ready: 503 'shutting down' once shutdown has begun; health stays 200", async () => {
  const server = await startServer();
  const stopping = server.shutdown();
  const { status, body } = await ready(server.base);
  assert.equal(status, 503);
  assert.match(body.reason, /^phase: shutting down/);
  const health = await fetch(`${server.base}/_api/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  await stopping;
  await server.close();
});

Deno.test("/_api/ready: 503 'draining' once the server drains; health says draining too", async () => {
  await using server = await startServer();
  await server.drain(Date.now() + 1000);
  const { status, body } = await ready(server.base);
  assert.equal(status, 503);
  assert.match(body.reason, /^draining: this isolate is restarting/);
  assert.equal(server.lifecycle.draining, true);
  assert.deepEqual(body.checks.find((c: { name: string }) => c.name === "draining").ready, false);
  const health = await (await fetch(`${server.base}/_api/health`)).json();
  assert.equal(health.draining, true);
});
