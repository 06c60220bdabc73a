/**
 * A drain in one process (routes/app.ts `drain`): while it lasts, new sockets are refused with 503
 * and `Retry-After`, health says so; every open socket is told how many of its frames were taken
 * and closed with 1012 (reconnect now).
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";
import { createRoom, TestSocket } from "../_util/test_socket.ts";
import { UPGRADE_HEADERS } from "../_util/upgrade_request.ts";
import { StalledSocket } from "../_util/stalled_socket.ts";

Deno.test("drain: sockets get draining{received} then 1012; new ones 503 with Retry-After", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await createRoom(host);
  host.send({ type: "note", uuid: "nowhere" });
  await host.next();
  // A socket that never reads keeps the drain going, so the window can be looked at.
  const stalled = await StalledSocket.open(Number(new URL(server.base).port), "/_ws");
  const draining = server.drain(Date.now() + 2000);
  assert.deepEqual(await host.next(), { type: "draining", received: 2 });
  const closed = await host.closed;
  assert.equal(closed.code, 1012);

  const refused = await fetch(server.wsUrl.replace("ws:", "http:"), { headers: UPGRADE_HEADERS });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal((await refused.json()).error, "draining");
  const health = await (await fetch(`${server.base}/_api/health`)).json();
  assert.deepEqual(health, { ok: true, draining: true });
  stalled.close();
  await draining;
});
