/**
 * OpenTelemetry through `npm:@opentelemetry/api`: Deno registers its own providers with that API
 * when `OTEL_DENO=true` (and on Deno Deploy), so WSTun's instruments are exported over OTLP with
 * Deno's HTTP metrics and traces. Without it the API hands out no-op meters and tracers and all
 * of this costs nothing.
 *
 * Counters and gauges are observable instruments read from one snapshot per export (no call on
 * the per-frame path); histograms cannot be read back, so each {@link Histogram} gets the
 * OpenTelemetry histogram's `record` as its sink. Every data point has an `isolate` attribute,
 * like `/metrics`.
 *
 * @module
 */
import { type BatchObservableResult, metrics, type Observable } from "@opentelemetry/api";
import { VERSION } from "../version.ts";
import type { Histogram } from "../telemetry/histogram.ts";
import { SCOPE } from "../telemetry/spans.ts";
import { INSTRUMENTS, type MetricSources, type ScalarInstrument } from "./instruments.ts";

/** A registration with the global meter; `stop` removes it (a server's shutdown). */
export interface OpenTelemetryExport {
  stop(): void;
}

/**
 * Registers every instrument of {@link INSTRUMENTS} with the global MeterProvider.
 *
 * @example
 * ```ts
 * const otel = exportToOpenTelemetry(isolate, sources);
 * // … on shutdown:
 * otel.stop();
 * ```
 */
export function exportToOpenTelemetry(
  isolate: string,
  sources: MetricSources,
): OpenTelemetryExport {
  const meter = metrics.getMeter(SCOPE, VERSION);
  const observed: [ScalarInstrument, Observable][] = [];
  const fed: Histogram[] = [];
  for (const instrument of INSTRUMENTS) {
    const options = { description: instrument.help, unit: instrument.unit };
    if (instrument.kind !== "histogram") {
      const observable = instrument.kind === "counter"
        ? meter.createObservableCounter(instrument.name, options)
        : meter.createObservableGauge(instrument.name, options);
      observed.push([instrument, observable]);
      continue;
    }
    for (const { labels, histogram } of instrument.histograms(sources)) {
      const advice = { explicitBucketBoundaries: [...histogram.bounds] };
      const otel = meter.createHistogram(instrument.name, { ...options, advice });
      const attributes = { isolate, ...labels };
      histogram.sink = (value) => otel.record(value, attributes);
      fed.push(histogram);
    }
  }
  const observables = observed.map(([, observable]) => observable);
  const callback = (result: BatchObservableResult) => {
    for (const [instrument, observable] of observed) {
      for (const sample of instrument.read(sources)) {
        result.observe(observable, sample.value, { isolate, ...sample.labels });
      }
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return {
    stop() {
      meter.removeBatchObservableCallback(callback, observables);
      for (const histogram of fed) histogram.sink = null;
    },
  };
}
