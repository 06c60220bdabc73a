import assert from "node:assert/strict";
import { BinaryKind, encodeBinaryHeader } from "../../lib/binary_frame.ts";
import { INSTRUMENTS } from "../../lib/observability/instruments.ts";
import { prometheusName, SCRAPE_MISSING } from "../../lib/observability/prometheus.ts";
import { parsePrometheus, type PromFamily, promValue } from "../_util/prometheus_text.ts";
import { UPGRADE_HEADERS } from "../_util/upgrade_request.ts";
import { startServer, type TestServer } from "../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../_util/test_socket.ts";

const ADMIN = "admin-secret-for-metrics-test";
const SCRAPER = "scraper-secret-for-metrics-test";

async function scrape(server: TestServer, token = SCRAPER): Promise<Map<string, PromFamily>> {
  const response = await fetch(`${server.base}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheus(await response.text());
}

/** Scrapes until `done` holds (at most 50 scrapes: each is a round trip, no sleeping). */
async function scrapeUntil(
  server: TestServer,
  done: (families: Map<string, PromFamily>) => boolean,
): Promise<Map<string, PromFamily>> {
  for (let i = 0; i < 50; i++) {
    const families = await scrape(server);
    if (done(families)) return families;
  }
  throw new Error("the server never got there");
}

async function status(server: TestServer, path: string, headers: HeadersInit = {}) {
  const response = await fetch(`${server.base}${path}`, { headers });
  return { status: response.status, body: await response.json() };
}

Deno.test("/metrics: only the metrics or admin token opens it; off without either", async () => {
  {
    await using server = await startServer({
      token: "server-token",
      adminToken: ADMIN,
      metricsToken: SCRAPER,
    });
    await scrape(server, SCRAPER);
    await scrape(server, ADMIN);
    const missing = await status(server, "/metrics");
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error, "unauthorized");
    const wrong = await status(server, "/metrics", { authorization: "Bearer server-token" });
    assert.equal(wrong.status, 401);
    assert.ok(!JSON.stringify(wrong.body).includes("server-token"));
    // The JSON form for the admin page takes the admin token only.
    const live = await status(server, "/_api/metrics", { authorization: `Bearer ${SCRAPER}` });
    assert.equal(live.status, 401);
  }
  {
    await using server = await startServer({});
    const off = await status(server, "/metrics", { authorization: "Bearer anything" });
    assert.equal(off.status, 403);
    assert.equal(off.body.error, "metrics_disabled");
  }
});

Deno.test("/metrics: valid Prometheus text naming every instrument, one isolate label", async () => {
  await using server = await startServer({ metricsToken: SCRAPER });
  const families = await scrape(server);
  for (const instrument of INSTRUMENTS) {
    const family = families.get(prometheusName(instrument));
    assert.ok(family, `${prometheusName(instrument)} missing`);
    assert.equal(family.type, instrument.kind);
    for (const sample of family.samples) assert.equal(sample.labels.isolate, server.isolate);
  }
  assert.equal(promValue(families, "wstun_build_info").valueOf(), 1);
});

Deno.test("/metrics: counters move as frames flow, gauges follow the rooms", async () => {
  await using server = await startServer({ metricsToken: SCRAPER });
  const before = await scrape(server);
  const host = await TestSocket.open(server.wsUrl);
  const member = await TestSocket.open(server.wsUrl);
  const { uuid } = await createRoom(host);
  await joinRoom(host, member, uuid, "alice");
  for (let i = 0; i < 5; i++) member.send({ type: "chat", uuid, text: `hello ${i}` });
  for (let i = 0; i < 5; i++) await host.next();
  const header = encodeBinaryHeader(BinaryKind.InstanceData, uuid, "");
  const frame = new Uint8Array(header.length + 100);
  frame.set(header);
  member.sendRaw(frame);
  await host.nextBinary();
  member.send({ type: "chat", uuid: "01NOSUCHINSTANCE000000000", text: "lost" });
  assert.equal((await member.next()).code, "unknown_instance");

  const during = await scrape(server);
  const delta = (name: string, where: Record<string, string> = {}) =>
    promValue(during, name, where) - promValue(before, name, where);
  assert.equal(promValue(during, "wstun_connections_open"), 2);
  assert.equal(delta("wstun_connections_opened_total"), 2);
  assert.equal(promValue(during, "wstun_instances"), 1);
  assert.equal(promValue(during, "wstun_members"), 1);
  assert.equal(delta("wstun_instances_created_total"), 1);
  // create, join, 5 chats and the refused one; the binary frame separately.
  assert.equal(delta("wstun_frames_total", { kind: "text", direction: "in" }), 8);
  assert.equal(delta("wstun_frames_total", { kind: "binary", direction: "in" }), 1);
  assert.equal(delta("wstun_frames_total", { kind: "binary", direction: "out" }), 1);
  assert.ok(delta("wstun_traffic_bytes_total", { kind: "binary", direction: "in" }) > 100);
  assert.ok(delta("wstun_frames_total", { kind: "text", direction: "out" }) >= 9);
  assert.equal(delta("wstun_deliveries_total"), 6);
  assert.ok(delta("wstun_delivered_bytes_total") > 100);
  assert.equal(promValue(during, "wstun_refusals_total", { code: "unknown_instance" }), 1);

  member.ws.close(1000, "bye");
  host.ws.close(4000, "a code of the client's own");
  await Promise.all([member.closed, host.closed]);
  // The server sees a close a moment after the client does: scrape until it has.
  const after = await scrapeUntil(server, (f) => promValue(f, "wstun_connections_open") === 0);
  assert.equal(promValue(after, "wstun_connections_closed_total", { code: "1000" }), 1);
  assert.equal(promValue(after, "wstun_connections_closed_total", { code: "other" }), 1);
  assert.equal(promValue(after, "wstun_outgoing_backlog_bytes_count"), 2);
});

Deno.test("/metrics: rate and size drops, limit closes and refused upgrades are counted", async () => {
  await using server = await startServer({
    metricsToken: SCRAPER,
    maxMsgsPerSec: 3,
    maxFrameBytes: 1024,
    maxConnections: 2,
  });
  const flooder = await TestSocket.open(server.wsUrl);
  for (let i = 0; i < 5; i++) flooder.send({ type: "ping", ref: i });
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await flooder.next()).type);
  assert.deepEqual(codes, ["pong", "pong", "pong", "error", "error"]);
  const big = await TestSocket.open(server.wsUrl);
  // A third socket is one too many: refused with 503 before any upgrade.
  const refused = await fetch(server.wsUrl.replace("ws:", "http:"), { headers: UPGRADE_HEADERS });
  assert.equal(refused.status, 503);
  await refused.body?.cancel();
  big.sendRaw("x".repeat(2000));
  assert.equal((await big.closed).code, 1009);

  const families = await scrape(server);
  assert.equal(promValue(families, "wstun_frames_dropped_total", { reason: "rate" }), 2);
  assert.equal(promValue(families, "wstun_frames_dropped_total", { reason: "size" }), 1);
  assert.equal(promValue(families, "wstun_connections_closed_total", { code: "1009" }), 1);
  assert.equal(
    promValue(families, "wstun_upgrades_refused_total", { reason: "limit_reached" }),
    1,
  );
  await flooder.close();
});

Deno.test("/_api/metrics: the admin page's snapshots and 'bridge off' as null", async () => {
  await using server = await startServer({ adminToken: ADMIN });
  const { status: code, body } = await status(server, "/_api/metrics", {
    authorization: `Bearer ${ADMIN}`,
  });
  assert.equal(code, 200);
  assert.equal(body.isolate, server.isolate);
  assert.equal(body.bridge, null);
  assert.equal(body.snapshots.length, 1);
  assert.equal(body.snapshots[0].isolate, server.isolate);
  assert.deepEqual(body.snapshots[0].scalars["wstun.connections.open"], [{ labels: {}, value: 0 }]);
});

Deno.test("/_api/metrics: bridge health is what the injected source says", async () => {
  const rows = [
    { isolate: "me", self: true, aliveInDirectory: true, lastHeardMsAgo: null, silent: false },
    { isolate: "quiet", self: false, aliveInDirectory: true, lastHeardMsAgo: 30_000, silent: true },
  ];
  await using server = await startServer({ adminToken: ADMIN }, 0, { bridgeHealth: () => rows });
  const { body } = await status(server, "/_api/metrics", { authorization: `Bearer ${ADMIN}` });
  assert.deepEqual(body.bridge, rows);
});

Deno.test("docs/operations.md lists every instrument under its Prometheus name", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/operations.md", import.meta.url));
  for (const instrument of [...INSTRUMENTS, SCRAPE_MISSING]) {
    assert.ok(doc.includes(`\`${prometheusName(instrument)}\``), prometheusName(instrument));
    assert.ok(doc.includes(`\`${instrument.name}\``), instrument.name);
  }
});
