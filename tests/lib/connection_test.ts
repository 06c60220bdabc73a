/**
 * `Connection` with what it is given: the server's clock decides its rate windows. A real socket
 * on port 0, a real hub; only the clock is swapped.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { Connection } from "../../lib/connection.ts";
import { Hub } from "../../lib/hub/hub.ts";
import { InstanceSecrets } from "../../lib/hub/instance_secrets.ts";
import { ServiceCatalog } from "../../lib/service_catalog.ts";
import { Stats } from "../../lib/stats.ts";
import { TestSocket } from "../_util/test_socket.ts";

Deno.test("connection: the rate window follows the injected clock, not Date.now", async () => {
  let now = 1_000_000;
  const clock = () => now;
  const config = defaultConfig({ maxMsgsPerSec: 2 });
  const stats = new Stats(clock());
  const hub = new Hub({
    config,
    catalog: new ServiceCatalog(),
    stats,
    now: clock,
    instanceSecrets: new InstanceSecrets(crypto.randomUUID()),
  });
  await using server = Deno.serve({ port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    new Connection(socket, hub, config, stats, undefined, { now: clock });
    return response;
  });
  await using client = await TestSocket.open(`ws://127.0.0.1:${server.addr.port}/`);
  assert.equal((await client.request({ type: "ping" })).type, "pong");
  assert.equal((await client.request({ type: "ping" })).type, "pong");
  assert.equal((await client.request({ type: "ping" })).code, "rate_limited");
  now += 1000; // a second on the server's clock, none on the wall's
  assert.equal((await client.request({ type: "ping" })).type, "pong");
});
