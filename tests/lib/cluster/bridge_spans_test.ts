/**
 * Each cross-isolate request is an OpenTelemetry span named for it and ended with its outcome
 * (lib/cluster/socket_side.ts): run in a process of its own with `OTEL_DENO=true`
 * (bridge_spans_probe.ts) and a loopback OTLP receiver.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startReceiver } from "../../_util/otlp_receiver.ts";

Deno.test("bridge spans: joins, a time-out and keyed claims each end with their outcome", async () => {
  const receiver = startReceiver();
  try {
    const probe = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../_util/cluster/bridge_spans_probe.ts", import.meta.url).pathname,
      ],
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_SERVICE_NAME: "wstun-test",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const printed = new TextDecoder().decode(probe.stdout) + new TextDecoder().decode(probe.stderr);
    assert.ok(probe.success, printed);
    const outcomes = (name: string) =>
      receiver.spans.filter((s) => s.name === name).map((s) => s.attributes["wstun.outcome"])
        .sort();
    await receiver.until("the claims' spans", () => outcomes("wstun.directory.claim").length >= 2);

    assert.deepEqual(outcomes("wstun.bridge.join_instance"), [
      "bridge_timeout",
      "ok",
      "unknown_instance",
    ]);
    const joins = receiver.spans.filter((s) => s.name === "wstun.bridge.join_instance");
    assert.deepEqual(
      joins.map((s) => [s.attributes["wstun.outcome"], s.error]).sort(),
      [["bridge_timeout", true], ["ok", false], ["unknown_instance", true]],
    );
    const answered = joins.find((s) => s.attributes["wstun.outcome"] === "ok")!;
    assert.match(answered.attributes["wstun.owner"], /^[0-9A-Z]{26}$/);
    assert.match(answered.attributes["wstun.instance"], /^[0-9A-Z]{26}$/);
    const claims = receiver.spans.filter((s) => s.name === "wstun.directory.claim");
    assert.deepEqual(claims.map((s) => s.attributes["wstun.claim"]).sort(), ["held", "won"]);
    assert.deepEqual(outcomes("wstun.bridge.resume_instance"), ["ok"], "the keyed take-over");
  } finally {
    await receiver.close();
  }
});
