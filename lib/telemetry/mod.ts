/**
 * What the lower layers count and trace with: {@link Histogram}, {@link Tally}, spans, and the
 * snapshot a worker sends for `/metrics` (its types and zod schema). lib/observability reads them.
 *
 * @example
 * ```ts
 * const latency = new Histogram([1, 5, 25]);
 * latency.observe(3);
 * ```
 *
 * @module
 */
export * from "./histogram.ts";
export * from "./snapshot_schema.ts";
export * from "./spans.ts";
export * from "./tally.ts";
