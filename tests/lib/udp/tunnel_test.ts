import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import {
  EchoServer,
  GAME_SIZES,
  GameClient,
  pumpEchoes,
  startConnector,
  startExposer,
} from "../../_util/udp/fixture.ts";

Deno.test("udp: two connectors each get their own echoes; the user server sees two ports; 10,000 mixed datagrams each way arrive intact", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const tunnel = await startExposer(server.base, echo.port);
  const a = await startConnector(server.base, tunnel.serverId);
  const b = await startConnector(server.base, tunnel.serverId);
  const clientA = await GameClient.open(a.listenPort);
  const clientB = await GameClient.open(b.listenPort);

  await Promise.all([pumpEchoes(clientA, 10_000, 0xa), pumpEchoes(clientB, 10_000, 0xb)]);

  assert.equal(echo.sourcePorts.size, 2);
  for (const port of echo.sourcePorts) assert.ok(port >= 40_000, `port ${port} under the minimum`);
  assert.equal(echo.received, 20_000);
  for (const c of [a, b]) {
    assert.deepEqual([c.counters.toRelay, c.counters.fromRelay, c.counters.lost], [
      10_000,
      10_000,
      0,
    ]);
  }
  const e = tunnel.exposer.counters;
  assert.deepEqual([e.toRelay, e.fromRelay, e.lost, e.refusedByRelay], [20_000, 20_000, 0, 0]);
  assert.equal(server.stats.udpDatagramsDropped, 0);

  await clientA.close();
  await clientB.close();
  await a.stop();
  await b.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: several local sources behind one connector are kept apart, each with its own port at the user server", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const tunnel = await startExposer(server.base, echo.port);
  const connector = await startConnector(server.base, tunnel.serverId);
  const clients = await Promise.all([1, 2, 3].map(() => GameClient.open(connector.listenPort)));

  await Promise.all(
    clients.map((client, n) => pumpEchoes(client, 1000, n, { maxBytes: 64 * 1024 })),
  );
  assert.equal(echo.sourcePorts.size, 3);
  assert.equal(tunnel.exposer.clients().length, 3);
  assert.deepEqual([connector.counters.toRelay, connector.counters.lost], [3000, 0]);

  for (const client of clients) await client.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: game traffic of two clients behind one connector (8 to 65,503 bytes, empty ones too, 8 in flight each) comes back complete and in order, nothing lost", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const tunnel = await startExposer(server.base, echo.port);
  const connector = await startConnector(server.base, tunnel.serverId);
  const clients = await Promise.all([1, 2].map(() => GameClient.open(connector.listenPort)));

  const size = (i: number) => GAME_SIZES[i % GAME_SIZES.length];
  await Promise.all(
    clients.map((client, n) => pumpEchoes(client, 900, n, { maxInFlight: 8, size })),
  );
  assert.equal(echo.received, 1800);
  const c = connector.refreshCounters(), e = tunnel.exposer.refreshCounters();
  assert.deepEqual([c.fromLocal, c.toRelay, c.fromRelay, c.lost], [1800, 1800, 1800, 0]);
  assert.deepEqual([e.fromLocal, e.toRelay, e.fromRelay, e.lost], [1800, 1800, 1800, 0]);
  assert.equal(server.stats.udpDatagramsDropped, 0);

  for (const client of clients) await client.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: IPv6 on both ends (user server and game client on ::1)", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start("::1");
  const tunnel = await startExposer(server.base, echo.port, { userHost: "::1", bindHost: "::1" });
  const connector = await startConnector(server.base, tunnel.serverId, { listenHost: "::1" });
  const client = await GameClient.open(connector.listenPort, "::1");
  await pumpEchoes(client, 100, 6);
  assert.equal(echo.sourcePorts.size, 1);

  await client.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});
