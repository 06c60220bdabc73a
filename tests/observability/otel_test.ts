import assert from "node:assert/strict";
import { INSTRUMENTS } from "../../lib/observability/instruments.ts";
import { prometheusName } from "../../lib/observability/prometheus.ts";
import { parsePrometheus } from "../_util/prometheus_text.ts";
import { startServerProcess } from "../_util/server_process.ts";
import { createRoom, joinRoom, TestSocket } from "../_util/test_socket.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** One data point as the test reads it: attributes flattened to strings, a value or a count. */
interface Point {
  attributes: Record<string, string>;
  value: number;
}

/**
 * An OTLP/HTTP receiver (JSON protocol) on loopback: keeps the latest data points of every
 * `wstun` metric and wakes waiters on each export.
 */
function startReceiver() {
  const latest = new Map<string, { kind: string; points: Point[] }>();
  const waiters = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body: Json = await req.json();
    if (new URL(req.url).pathname === "/v1/metrics") {
      for (const rm of body.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          if (sm.scope?.name !== "wstun") continue;
          for (const m of sm.metrics) latest.set(m.name, readMetric(m));
        }
      }
      for (const wake of [...waiters]) wake();
    }
    return Response.json({});
  });
  /** Resolves once `found()` holds after an export; fails after `ms`. */
  const until = async (what: string, found: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!found()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no export with ${what} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  };
  return { latest, until, port: server.addr.port, close: () => server.shutdown() };
}

function readMetric(m: Json): { kind: string; points: Point[] } {
  const kind = m.histogram ? "histogram" : m.sum ? "counter" : "gauge";
  const data = m.histogram ?? m.sum ?? m.gauge;
  const points = (data.dataPoints as Json[]).map((p) => ({
    attributes: Object.fromEntries(
      (p.attributes as Json[]).map((a) => [a.key, String(Object.values(a.value)[0])]),
    ),
    value: Number(p.asDouble ?? p.asInt ?? p.count),
  }));
  return { kind, points };
}

Deno.test("OpenTelemetry: OTEL_DENO=true exports every documented instrument over OTLP", async () => {
  const receiver = startReceiver();
  try {
    await using server = await startServerProcess({
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      OTEL_SERVICE_NAME: "wstun-test",
      WSTUN_METRICS_TOKEN: "scrape",
    });
    const url = `ws://127.0.0.1:${server.port}/_ws`;
    const host = await TestSocket.open(url);
    const member = await TestSocket.open(url);
    const { uuid } = await createRoom(host);
    await joinRoom(host, member, uuid, "carol");
    for (let i = 0; i < 10; i++) member.send({ type: "chat", uuid, text: `m${i}` });
    for (let i = 0; i < 10; i++) await host.next();
    await member.close();

    const value = (name: string, where: Record<string, string> = {}) =>
      receiver.latest.get(name)?.points.filter((p) =>
        Object.entries(where).every(([k, v]) => p.attributes[k] === v)
      ).reduce((sum, p) => sum + p.value, 0) ?? 0;
    await receiver.until(
      "the traffic counted",
      () =>
        value("wstun.deliveries") >= 10 &&
        value("wstun.connections.closed") >= 1 &&
        value("wstun.outgoing.backlog") >= 1,
    );
    // Every instrument with a value on /metrics is exported, as the same kind (a count by a label
    // with no value yet, such as refused tunnel registrations, and an empty histogram have none).
    const scrape = await fetch(`${server.base}/metrics`, {
      headers: { authorization: "Bearer scrape" },
    });
    const families = parsePrometheus(await scrape.text());
    for (const instrument of INSTRUMENTS) {
      const name = prometheusName(instrument);
      const samples = families.get(name)!.samples;
      const empty = instrument.kind === "histogram"
        ? samples.find((s) => s.name === `${name}_count`)!.value === 0
        : samples.length === 0;
      if (empty) continue;
      const metric = receiver.latest.get(instrument.name);
      assert.ok(metric, `${instrument.name} was not exported`);
      assert.equal(metric.kind, instrument.kind, instrument.name);
    }
    const isolates = new Set(
      receiver.latest.get("wstun.frames")!.points.map((p) => p.attributes.isolate),
    );
    assert.equal(isolates.size, 1);
    assert.match([...isolates][0], /^[0-9A-Z]{26}$/);
    assert.ok(value("wstun.frames", { kind: "text", direction: "in" }) >= 12);
    assert.equal(value("wstun.connections.opened"), 2);
    assert.equal(value("wstun.connections.open"), 1);
    assert.equal(value("wstun.instances"), 1);
    assert.ok(value("wstun.start_time") > Date.now() / 1000 - 600);
    await host.close();
  } finally {
    await receiver.close();
  }
});
