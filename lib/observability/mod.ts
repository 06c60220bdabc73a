/**
 * Observability: the instruments (counters, gauges, histograms) defined once, their Prometheus
 * and OpenTelemetry exports, readiness checks and the bridge health the admin page
 * shows. The logger is lib/log.ts; the primitives the lower layers count with (histograms, tallies, spans, the snapshot schema) are in lib/telemetry/. What an operator sees: docs/operations.md.
 *
 * @example
 * ```ts
 * const snapshot = takeSnapshot(isolate, sources, Date.now);
 * const text = renderPrometheus([snapshot]);
 * ```
 *
 * @module
 */
export * from "./bridge_health.ts";
export * from "./instruments.ts";
export * from "./otel.ts";
export * from "./prometheus.ts";
export * from "./readiness.ts";
export * from "./config_summary.ts";
export * from "./server_observability.ts";
