import assert from "node:assert/strict";
import { Histogram } from "../../../lib/telemetry/histogram.ts";
import type { Instrument, IsolateSnapshot } from "../../../lib/observability/instruments.ts";
import { prometheusName, renderPrometheus } from "../../../lib/observability/prometheus.ts";
import { parsePrometheus, promValue } from "../../_util/prometheus_text.ts";

const INSTRUMENTS: Instrument[] = [
  {
    kind: "counter",
    name: "wstun.frames",
    unit: "{frame}",
    help: 'Frames, with a "quote" and a back\\slash',
    labels: ["kind"],
    read: () => [],
  },
  {
    kind: "gauge",
    name: "wstun.connections.open",
    unit: "",
    help: "Open.",
    labels: [],
    read: () => [],
  },
  {
    kind: "histogram",
    name: "wstun.bridge.round_trip",
    unit: "s",
    help: "RTT.",
    labels: [],
    histograms: () => [],
  },
];

function snapshot(isolate: string, frames: number, rtts: number[]): IsolateSnapshot {
  const rtt = new Histogram([0.01, 0.1]);
  for (const v of rtts) rtt.observe(v);
  return {
    isolate,
    takenAt: 0,
    scalars: {
      "wstun.frames": [{ labels: { kind: 'te"x\\t\nx' }, value: frames }],
      "wstun.connections.open": [{ labels: {}, value: 2 }],
      "wstun.unknown.elsewhere": [{ labels: {}, value: 9 }],
    },
    histograms: { "wstun.bridge.round_trip": [{ labels: {}, ...rtt.state() }] },
  };
}

Deno.test("prometheus: names follow the OpenTelemetry Collector's translation", () => {
  assert.equal(prometheusName(INSTRUMENTS[0]), "wstun_frames_total");
  assert.equal(prometheusName(INSTRUMENTS[1]), "wstun_connections_open");
  assert.equal(prometheusName(INSTRUMENTS[2]), "wstun_bridge_round_trip_seconds");
  assert.equal(
    prometheusName({ kind: "counter", name: "wstun.traffic", unit: "By" }),
    "wstun_traffic_bytes_total",
  );
});

Deno.test("prometheus: several isolates render as one valid page, each series labelled", () => {
  const text = renderPrometheus(
    [snapshot("a", 5, [0.005, 0.05, 3]), snapshot("b", 7, [])],
    INSTRUMENTS,
  );
  const families = parsePrometheus(text);
  assert.deepEqual([...families.keys()], [
    "wstun_frames_total",
    "wstun_connections_open",
    "wstun_bridge_round_trip_seconds",
  ]);
  assert.equal(
    families.get("wstun_frames_total")!.help,
    'Frames, with a "quote" and a back\\slash',
  );
  const kind = 'te"x\\t\nx';
  assert.equal(promValue(families, "wstun_frames_total", { isolate: "a", kind }), 5);
  assert.equal(promValue(families, "wstun_frames_total", { isolate: "b", kind }), 7);
  const rtt = "wstun_bridge_round_trip_seconds";
  assert.equal(promValue(families, `${rtt}_bucket`, { isolate: "a", le: "0.01" }), 1);
  assert.equal(promValue(families, `${rtt}_bucket`, { isolate: "a", le: "0.1" }), 2);
  assert.equal(promValue(families, `${rtt}_bucket`, { isolate: "a", le: "+Inf" }), 3);
  assert.equal(promValue(families, `${rtt}_count`, { isolate: "b" }), 0);
  assert.equal(promValue(families, `${rtt}_sum`, { isolate: "a" }), 3.055);
});

Deno.test("prometheus text parser: refuses what Prometheus would refuse", () => {
  const bad = [
    "wstun_x 1\n", // no TYPE
    '# TYPE wstun_x gauge\nwstun_x{a="1"} one\n', // not a number
    "# TYPE wstun_x gauge\nwstun_x{a=1} 1\n", // unquoted label
    "# TYPE wstun_x gauge\nwstun_x 1\nwstun_x 2\n", // series twice
    "# TYPE wstun_x gauge\n# TYPE wstun_x gauge\n", // declared twice
    '# TYPE wstun_x gauge\nwstun_x{a="\\q"} 1\n', // bad escape
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', // +Inf is not _count
    "# TYPE wstun_x gauge\nwstun_x 1", // no final newline
  ];
  for (const text of bad) assert.throws(() => parsePrometheus(text), Error, text);
});
