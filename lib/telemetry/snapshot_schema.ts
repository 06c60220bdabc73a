/**
 * An {@link IsolateSnapshot}'s types and its zod schema, for snapshots that cross the bridge (a worker's
 * `/metrics` gathers its siblings', lib/cluster/snapshot_requests.ts). A snapshot that does not
 * parse is refused with its envelope, so the Prometheus page is never rendered from one: the
 * bounds keep a page valid (a histogram has one count more than its bounds) and finite.
 *
 * @module
 */
import { z } from "zod";
import type { HistogramState } from "./histogram.ts";

/** Label name → value. */
export type Labels = Record<string, string>;

/** One series of a counter or gauge. */
export interface Sample {
  labels: Labels;
  value: number;
}

/** One series of a histogram. */
export interface HistogramSample extends HistogramState {
  labels: Labels;
}

/** One isolate's values at one moment: plain data, so it can cross a bridge to be rendered. */
export interface IsolateSnapshot {
  isolate: string;
  /** Milliseconds since the epoch. */
  takenAt: number;
  /** Instrument name → series, for counters and gauges. */
  scalars: Record<string, Sample[]>;
  /** Instrument name → series, for histograms. */
  histograms: Record<string, HistogramSample[]>;
}

const name = z.string().min(1).max(128);

const Labels = z.record(z.string().min(1).max(64), z.string().max(256)).refine(
  (labels) => Object.keys(labels).length <= 16,
  "at most 16 labels",
);

const Sample = z.object({ labels: Labels, value: z.number() });

const HistogramSample = z.object({
  labels: Labels,
  bounds: z.array(z.number()).max(64),
  counts: z.array(z.number().int().nonnegative()).max(65),
  sum: z.number(),
  count: z.number().int().nonnegative(),
}).refine((h) => h.counts.length === h.bounds.length + 1, "one count per bound, and +Inf");

/** Instrument name → series, at most 256 instruments of 1,000 series each. */
function byInstrument<T extends z.ZodType>(series: T) {
  return z.record(name, z.array(series).max(1000)).refine(
    (byName) => Object.keys(byName).length <= 256,
    "at most 256 instruments",
  );
}

/** One isolate's instruments, as another isolate sends them. */
export const IsolateSnapshotSchema = z.object({
  isolate: name,
  takenAt: z.number(),
  scalars: byInstrument(Sample),
  histograms: byInstrument(HistogramSample),
}) satisfies z.ZodType<IsolateSnapshot>;
