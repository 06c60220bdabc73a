import assert from "node:assert/strict";
import { freePort, startServer } from "../../_util/server.ts";
import type { ExposerEvent } from "../../../lib/udp/udp_exposer.ts";
import type { ConnectorEvent } from "../../../lib/udp/udp_connector.ts";
import { endpoint } from "../../../lib/udp/datagram_socket.ts";
import { EchoServer, GameClient, startConnector, startExposer } from "../../_util/udp/fixture.ts";
import { StallingProxy } from "../../_util/udp/stalling_proxy.ts";
import { RestartableServer } from "../../_util/restartable_server.ts";
import { waitFor } from "../../_util/wait_for.ts";

const hello = (n: number) => new TextEncoder().encode(`hello ${n}`);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("udp: the exposer reconnects within the host grace and keeps its Server ID and client ports", async () => {
  await using server = await startServer({ hostGraceMs: 5000 });
  const echo = await EchoServer.start();
  const events: ExposerEvent[] = [];
  const tunnel = await startExposer(server.base, echo.port, { onEvent: (e) => events.push(e) });
  const seen: ConnectorEvent[] = [];
  const connector = await startConnector(server.base, tunnel.serverId, {
    onEvent: (e) => seen.push(e),
  });
  const client = await GameClient.open(connector.listenPort);
  assert.equal(text(await client.roundTrip(hello(1))), "hello 1");

  await tunnel.exposer.dropLink();
  await waitFor(() => events.some((e) => e.type === "ready" && e.resumed), { what: "resumed" });
  await waitFor(() => seen.some((e) => e.type === "host_back"), { what: "host back" });
  assert.equal(tunnel.exposer.serverId, tunnel.serverId);
  assert.equal(text(await client.roundTrip(hello(2))), "hello 2");
  assert.equal(echo.sourcePorts.size, 1, "the same client socket carried both datagrams");

  await client.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: with --id the Server ID survives the relay forgetting the instance, and connectors resume", async () => {
  await using server = await startServer({ hostGraceMs: 0 });
  const echo = await EchoServer.start();
  const key = "correct horse battery staple";
  const events: ExposerEvent[] = [];
  const tunnel = await startExposer(server.base, echo.port, {
    key,
    onEvent: (e) => events.push(e),
  });
  const seen: ConnectorEvent[] = [];
  const connector = await startConnector(server.base, tunnel.serverId, {
    onEvent: (e) => seen.push(e),
  });
  const client = await GameClient.open(connector.listenPort);
  assert.equal(text(await client.roundTrip(hello(1))), "hello 1");

  await tunnel.exposer.dropLink();
  // Grace 0: the relay closes the instance at once; the connector is told and rejoins later.
  await waitFor(() => seen.filter((e) => e.type === "ready").length === 2, {
    what: "connector rejoined",
  });
  assert.ok(
    seen.some((e) => e.type === "relay_lost" && /exposer gone \(host_left\)/.test(e.reason)),
  );
  assert.deepEqual(
    events.filter((e) => e.type === "ready").map((e) => e.type === "ready" && e.changed),
    [false, false],
  );
  assert.equal(tunnel.exposer.serverId, tunnel.serverId);
  assert.equal(text(await client.roundTrip(hello(2))), "hello 2");

  // A second exposer with the same key gets the same ID and takes it over from the first.
  const again = await startExposer(server.base, echo.port, { key, minLocalPort: 41_000 });
  assert.equal(again.serverId, tunnel.serverId);
  await waitFor(() => events.some((e) => e.type === "taken_over"), { what: "first exposer told" });

  await client.close();
  await connector.stop();
  await again.close();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: unknown Server ID, wrong secret and wrong server token are refused with clear errors", async () => {
  await using server = await startServer({ token: "right-token" });
  const echo = await EchoServer.start();
  const tunnel = await startExposer(server.base, echo.port, { token: "right-token" });
  const [uuid, secret] = tunnel.serverId.split(".");

  await assert.rejects(
    startConnector(server.base, `01ARZ3NDEKTSV4RRFFQ69G5FAV.${secret}`, { token: "right-token" }),
    /no UDP server with this Server ID/,
  );
  await assert.rejects(
    startConnector(server.base, `${uuid}.AAAAAAAAAAAAAAAAAAAAAA`, { token: "right-token" }),
    /secret part is wrong/,
  );
  await assert.rejects(startConnector(server.base, "not-an-id"), /looks like <uuid>.<secret>/);
  await assert.rejects(
    startConnector(server.base, tunnel.serverId, { token: "wrong" }),
    /refused the server token \(401\)/,
  );
  await assert.rejects(
    startExposer(server.base, echo.port, { token: "wrong" }),
    /refused the server token \(401\)/,
  );
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: a client's socket is closed after the idle time and reported as departed", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const events: ExposerEvent[] = [];
  const tunnel = await startExposer(server.base, echo.port, {
    idleMs: 150,
    onEvent: (e) => events.push(e),
  });
  const connector = await startConnector(server.base, tunnel.serverId, { idleMs: 150 });
  const client = await GameClient.open(connector.listenPort);
  assert.equal(text(await client.roundTrip(hello(1))), "hello 1");
  const [port] = echo.sourcePorts;
  assert.deepEqual(tunnel.exposer.clients().map((c) => c.localPort), [port]);

  await waitFor(() => events.some((e) => e.type === "departure"), {
    timeoutMs: 2000,
    what: "departure",
  });
  const departure = events.find((e) => e.type === "departure");
  assert.ok(departure?.type === "departure");
  assert.deepEqual(
    [departure.localPort, departure.reason, departure.sent, departure.received],
    [port, "idle", 1, 1],
  );
  assert.deepEqual(tunnel.exposer.clients(), []);
  // The next datagram is a new client with a fresh socket.
  assert.equal(text(await client.roundTrip(hello(2))), "hello 2");
  assert.equal(events.filter((e) => e.type === "arrival").length, 2);

  await client.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: an oversize datagram is counted on either side and never truncated", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const tunnel = await startExposer(server.base, echo.port, { maxDatagramBytes: 2000 });
  const connector = await startConnector(server.base, tunnel.serverId, { maxDatagramBytes: 1000 });
  const client = await GameClient.open(connector.listenPort);

  client.send(new Uint8Array(1500)); // over the connector's limit
  assert.equal(text(await client.roundTrip(hello(1))), "hello 1");
  assert.equal(connector.counters.oversize, 1);
  assert.equal(echo.received, 1);

  const wide = await startConnector(server.base, tunnel.serverId);
  const other = await GameClient.open(wide.listenPort);
  other.send(new Uint8Array(3000)); // passes this connector, over the exposer's limit
  assert.equal(text(await other.roundTrip(hello(2))), "hello 2");
  assert.equal(tunnel.exposer.counters.oversize, 1);
  assert.equal(echo.received, 2);

  await other.close();
  await wide.stop();
  await client.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: when the uplink to the relay stalls, datagrams past the connector's bound are dropped and counted, memory stays bounded", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const tunnel = await startExposer(server.base, echo.port);
  const uplink = StallingProxy.start(Number(new URL(server.base).port));
  const bound = 64 * 1024;
  const connector = await startConnector(uplink.url, tunnel.serverId, { maxBufferedBytes: bound });
  const client = await GameClient.open(connector.listenPort);
  assert.equal(text(await client.roundTrip(hello(1))), "hello 1");

  uplink.stall();
  const big = new Uint8Array(60_000);
  const c = connector.counters;
  // Three at a time fit the kernel's smallest receive buffer, so each one reaches the connector;
  // the kernel's and the proxy's TCP buffers (several MB on loopback) fill first, then the bound.
  for (let round = 0; round < 1000 && c.droppedBackpressure === 0; round++) {
    const read = c.fromLocal;
    for (let i = 0; i < 3; i++) client.send(big);
    await waitFor(() => c.fromLocal >= read + 3, {
      timeoutMs: 2000,
      what: "the connector read them",
    });
  }
  assert.ok(c.droppedBackpressure > 0, `expected drops, got ${c.summary()}`);
  assert.equal(c.fromLocal, c.toRelay + c.droppedBackpressure);

  await client.close();
  await uplink.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: a client socket takes the first free port at or above the minimum, skipping busy ones, and hears only the user server", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  // Occupy a port and ask the exposer to start there.
  const busy = await GameClient.open(1);
  const min = busy.port;
  const events: ExposerEvent[] = [];
  const tunnel = await startExposer(server.base, echo.port, {
    minLocalPort: min,
    onEvent: (e) => events.push(e),
  });
  const connector = await startConnector(server.base, tunnel.serverId);
  const client = await GameClient.open(connector.listenPort);
  assert.equal(text(await client.roundTrip(hello(1))), "hello 1");
  const [port] = echo.sourcePorts;
  assert.ok(port > min, `expected a port above the busy ${min}, got ${port}`);
  assert.ok(events.some((e) => e.type === "arrival" && e.localPort === port));
  // Only the user server may speak on a client's socket: a stranger is counted, not forwarded.
  busy.socket.send(hello(9), endpoint("127.0.0.1", port));
  await waitFor(() => tunnel.exposer.counters.foreign === 1, { what: "foreign counted" });
  assert.equal(tunnel.exposer.counters.toRelay, 1);

  await client.close();
  await busy.close();
  await connector.stop();
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: when the relay closes the tunnel (admin), the exposer is told and stops", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const events: ExposerEvent[] = [];
  const tunnel = await startExposer(server.base, echo.port, { onEvent: (e) => events.push(e) });
  const uuid = tunnel.serverId.split(".")[0];
  assert.equal(server.hub.closeInstanceByUuid(uuid, "closed"), true);
  await waitFor(() => events.some((e) => e.type === "closed_by_relay"), { what: "closed event" });
  assert.deepEqual(events.at(-1), { type: "closed_by_relay", reason: "closed" });
  await tunnel.close();
  await echo.close();
});

Deno.test("udp: stopping a tool while it waits to reconnect returns at once", async () => {
  await using server = await startServer({ hostGraceMs: 0 });
  const echo = await EchoServer.start();
  const slow = { backoff: { initialMs: 60_000, maxMs: 60_000 } };
  const events: ExposerEvent[] = [];
  const tunnel = await startExposer(server.base, echo.port, {
    ...slow,
    onEvent: (e) => events.push(e),
  });
  const seen: ConnectorEvent[] = [];
  const connector = await startConnector(server.base, tunnel.serverId, {
    ...slow,
    onEvent: (e) => seen.push(e),
  });
  // Both lose the relay and start a wait of 30–60 s before their next attempt.
  await tunnel.exposer.dropLink();
  await waitFor(() => events.some((e) => e.type === "relay_lost"), { what: "exposer waiting" });
  await waitFor(() => seen.some((e) => e.type === "relay_lost"), { what: "connector waiting" });

  const started = performance.now();
  await connector.stop();
  await tunnel.close();
  const took = performance.now() - started;
  assert.ok(took < 2000, `stop took ${took.toFixed(0)} ms`);
  await echo.close();
});

Deno.test("udp: a relay restarted with SIGTERM on its KV file keeps the tunnel: same Server ID, players carry on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wstun-udp-restart-" });
  await using relay = new RestartableServer(freePort(), {
    WSTUN_KV_PATH: `${dir}/wstun.kv`,
    WSTUN_HOST_GRACE_MS: "20000",
  });
  await relay.start();
  const echo = await EchoServer.start();
  const key = "Vq3xL9pTz0aR7mWc2eYh5K-restart";
  const tunnel = await startExposer(relay.url, echo.port, { key });
  const connector = await startConnector(relay.url, tunnel.serverId);
  const client = await GameClient.open(connector.listenPort);
  try {
    assert.equal(text(await client.roundTrip(hello(1))), "hello 1");
    await relay.stop("SIGTERM");
    await relay.start();
    // Datagrams sent while the tunnel is re-forming are dropped (UDP), so try until one returns.
    let answer = "";
    for (let i = 0; i < 200 && answer !== "hello 2"; i++) {
      answer = await client.roundTrip(hello(2), 100).then(text, () => "");
    }
    assert.equal(answer, "hello 2");
    assert.equal(tunnel.exposer.serverId, tunnel.serverId, "the same Server ID");
  } finally {
    await client.close();
    await connector.stop();
    await tunnel.close();
    await echo.close();
    await relay.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
