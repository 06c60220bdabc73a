import assert from "node:assert/strict";
import { INSTRUMENTS } from "../../../lib/observability/instruments.ts";
import { prometheusName } from "../../../lib/observability/prometheus.ts";
import { startReceiver } from "../../_util/otlp_receiver.ts";
import { parsePrometheus } from "../../_util/prometheus_text.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

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
