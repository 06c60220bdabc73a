/**
 * A fixed-bucket histogram: counts per bucket, a sum and a count, as Prometheus and OpenTelemetry
 * both describe one. Observing is a short scan over the bounds and three additions, so it belongs
 * on per-event paths (a close, a bridge answer, an authorizer call), never per frame.
 *
 * An optional `sink` also receives every value: the OpenTelemetry exporter (otel.ts) sets it to
 * its histogram's `record`, since OpenTelemetry histograms cannot be read back at export time.
 *
 * @module
 */

/** Upper bounds for durations in seconds: 1 ms to 10 s. */
export const SECONDS_BOUNDS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Upper bounds for byte counts: 0 (empty), 1 KiB to 64 MiB by powers of 4. */
export const BYTES_BOUNDS: readonly number[] = [
  0,
  1024,
  4096,
  16384,
  65536,
  262144,
  1048576,
  4194304,
  16777216,
  67108864,
];

/** The plain-data state of a histogram: counts per bucket (not cumulative), last one is +Inf. */
export interface HistogramState {
  bounds: number[];
  counts: number[];
  sum: number;
  count: number;
}

/**
 * Counts of values per bucket.
 *
 * @example
 * ```ts
 * const rtt = new Histogram(SECONDS_BOUNDS);
 * rtt.observe(0.004);
 * rtt.state().count; // 1
 * ```
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  /** Also told every value (the OpenTelemetry histogram's `record`). */
  sink: ((value: number) => void) | null = null;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.#counts[i]++;
    this.#sum += value;
    this.#count++;
    this.sink?.(value);
  }

  state(): HistogramState {
    return {
      bounds: [...this.bounds],
      counts: [...this.#counts],
      sum: this.#sum,
      count: this.#count,
    };
  }
}
