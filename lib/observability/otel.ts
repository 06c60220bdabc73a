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
import {
  type Attributes,
  type BatchObservableResult,
  metrics,
  type Observable,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { VERSION } from "../version.ts";
import type { Histogram } from "./histogram.ts";
import { INSTRUMENTS, type MetricSources, type ScalarInstrument } from "./instruments.ts";

const SCOPE = "wstun";

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

/**
 * Runs `work` inside a span named `name` (a child of the active span, e.g. Deno's HTTP span);
 * a throw or rejection marks the span as an error and is passed on. Attributes must never carry
 * a token, secret or message content.
 *
 * @example
 * ```ts
 * const answer = await withSpan("wstun.bridge.join", { "wstun.owner": owner }, () => ask(owner));
 * ```
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T> | T,
): Promise<T> {
  return trace.getTracer(SCOPE, VERSION).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Ends a span started by {@link startSpan}: `error` is the error code when the work failed
 * (the span's status becomes ERROR); either way `wstun.outcome` says `ok` or that code, and
 * `attributes` are added (what was learnt on the way, e.g. the owner isolate).
 */
export type SpanEnd = (error?: string, attributes?: Attributes) => void;

/**
 * Starts a span for work that ends in a callback rather than a promise (a bridge request answered
 * by a later message or a timer); call the returned {@link SpanEnd} once. Attributes must never
 * carry a token, secret or message content.
 *
 * @example
 * ```ts
 * const end = startSpan("wstun.bridge.resume_instance", { "wstun.instance": uuid });
 * // … when the answer or the time-out comes:
 * end(timedOut ? "bridge_timeout" : undefined, { "wstun.owner": owner });
 * ```
 */
export function startSpan(name: string, attributes: Attributes): SpanEnd {
  const span = trace.getTracer(SCOPE, VERSION).startSpan(name, { attributes });
  return (error, more) => {
    if (more) span.setAttributes(more);
    span.setAttribute("wstun.outcome", error ?? "ok");
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
  };
}
