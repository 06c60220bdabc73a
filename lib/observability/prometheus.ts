/**
 * Prometheus text exposition (format 0.0.4) of one or more isolates' snapshots. Every series
 * carries an `isolate` label, so a list of snapshots (this isolate's, and on a worker of
 * `WSTUN_WORKERS` its siblings' collected over the bridge) renders as one valid page: one HELP and
 * TYPE per metric, then every isolate's series. {@link renderScrape} adds the scrape's own
 * gauge: how many isolates did not answer in time. Series in a snapshot that this server does not
 * define (an isolate running another version) are left out rather than rendered without their
 * HELP and TYPE.
 *
 * A small renderer of our own rather than prom-client: prom-client keeps its own registry of
 * live metric objects (labels hashed on every `inc`), while ours renders plain snapshots that
 * may come from other isolates; the format itself is a dozen lines.
 *
 * @module
 */
import {
  type HistogramSample,
  type Instrument,
  INSTRUMENTS,
  type IsolateSnapshot,
  type Labels,
  type Scrape,
} from "./instruments.ts";

/** The Content-Type of the exposition. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const UNIT_SUFFIX: Readonly<Record<string, string>> = { s: "_seconds", By: "_bytes" };

/**
 * The Prometheus name of an instrument, as an OpenTelemetry Collector would derive it.
 *
 * @example
 * ```ts
 * prometheusName({ name: "wstun.bridge.round_trip", unit: "s", kind: "histogram" });
 * // "wstun_bridge_round_trip_seconds"
 * ```
 */
export function prometheusName(instrument: Pick<Instrument, "name" | "unit" | "kind">): string {
  let name = instrument.name.replaceAll(".", "_");
  const suffix = UNIT_SUFFIX[instrument.unit];
  if (suffix && !name.endsWith(suffix)) name += suffix;
  return instrument.kind === "counter" ? `${name}_total` : name;
}

/**
 * The scrape's own gauge, not an isolate's instrument (so not in {@link INSTRUMENTS}, nor
 * exported over OpenTelemetry, where every isolate pushes its own series).
 */
export const SCRAPE_MISSING = {
  name: "wstun.scrape.isolates.missing",
  unit: "{isolate}",
  kind: "gauge",
  help: "Isolates of this server asked for their metrics during this scrape that did not " +
    "answer in time (their series are absent from this page).",
} as const;

/**
 * The page of a scrape: every snapshot, then {@link SCRAPE_MISSING} labelled with the answering
 * isolate.
 */
export function renderScrape(scrape: Scrape): string {
  const name = prometheusName(SCRAPE_MISSING);
  const labels = labelSet({ isolate: scrape.isolate });
  return renderPrometheus(scrape.snapshots) +
    `# HELP ${name} ${escapeHelp(SCRAPE_MISSING.help)}\n` +
    `# TYPE ${name} ${SCRAPE_MISSING.kind}\n` +
    `${name}${labels} ${scrape.missing.length}\n`;
}

/** Renders the snapshots; each series is labelled with its snapshot's isolate. */
export function renderPrometheus(
  snapshots: readonly IsolateSnapshot[],
  instruments: readonly Instrument[] = INSTRUMENTS,
): string {
  const lines: string[] = [];
  for (const instrument of instruments) {
    const name = prometheusName(instrument);
    lines.push(`# HELP ${name} ${escapeHelp(instrument.help)}`);
    lines.push(`# TYPE ${name} ${instrument.kind}`);
    for (const snapshot of snapshots) {
      const isolate = { isolate: snapshot.isolate };
      if (instrument.kind === "histogram") {
        for (const h of snapshot.histograms[instrument.name] ?? []) {
          renderHistogram(lines, name, { ...isolate, ...h.labels }, h);
        }
      } else {
        for (const s of snapshot.scalars[instrument.name] ?? []) {
          lines.push(`${name}${labelSet({ ...isolate, ...s.labels })} ${formatValue(s.value)}`);
        }
      }
    }
  }
  return lines.join("\n") + "\n";
}

function renderHistogram(lines: string[], name: string, labels: Labels, h: HistogramSample) {
  let cumulative = 0;
  h.bounds.forEach((bound, i) => {
    cumulative += h.counts[i];
    lines.push(`${name}_bucket${labelSet({ ...labels, le: formatValue(bound) })} ${cumulative}`);
  });
  lines.push(`${name}_bucket${labelSet({ ...labels, le: "+Inf" })} ${h.count}`);
  lines.push(`${name}_sum${labelSet(labels)} ${formatValue(h.sum)}`);
  lines.push(`${name}_count${labelSet(labels)} ${h.count}`);
}

function labelSet(labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return pairs.length ? `{${pairs.join(",")}}` : "";
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
