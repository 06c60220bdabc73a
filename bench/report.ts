/**
 * Turns benchmark runs into medians, ratios and target checks, and renders them as the human table
 * (Markdown, so docs/performance.md can keep it as printed) and as the JSON saved in bench/results/.
 *
 * @module
 */
import type { Figures, Scenario, TargetSpec } from "./scenarios.ts";
import type { Target, TargetName } from "./targets.ts";

/** One run of one scenario against one target. */
export interface RunRecord {
  round: number;
  figures: Figures;
  /** CPU use in the measured window, percent of one core (null for `stages` scenarios). */
  serverCpu: number | null;
  loadCpu: number | null;
  /** The measured window on the system's monotonic clock (seconds since boot), for profiles. */
  window?: { from: number; to: number };
  error?: string;
}

/** Everything a scenario produced, per target. */
export interface ScenarioReport {
  name: string;
  what: string;
  runs: Partial<Record<TargetName, RunRecord[]>>;
  medians: Partial<Record<TargetName, Figures & { serverCpu?: number; loadCpu?: number }>>;
  ratios: Record<string, number>;
  checks: CheckResult[];
  skipped: Partial<Record<TargetName, string>>;
}

export interface CheckResult extends TargetSpec {
  actual: number | null;
  met: boolean | null;
  /** For a throughput target: the same ratio per server CPU-second, which noise distorts less. */
  perCpu?: { actual: number | null; met: boolean | null };
}

/** Median of the finite values, NaN when there are none. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Medians per figure, ratios WSTun ÷ each other target, and the targets checked. */
export function summarise(
  scenario: Scenario,
  runs: Partial<Record<TargetName, RunRecord[]>>,
  skipped: Partial<Record<TargetName, string>>,
): ScenarioReport {
  const medians: ScenarioReport["medians"] = {};
  for (const [name, list] of Object.entries(runs) as [TargetName, RunRecord[]][]) {
    const ok = list.filter((r) => !r.error);
    const m: Figures = {};
    for (const f of scenario.figures) m[f.key] = median(ok.map((r) => r.figures[f.key]));
    m.serverCpu = median(ok.map((r) => r.serverCpu ?? NaN));
    m.loadCpu = median(ok.map((r) => r.loadCpu ?? NaN));
    medians[name] = m;
  }
  const ratios: Record<string, number> = {};
  const wstun = medians.wstun;
  for (const versus of ["baseline", "node-ws", "socketio"] as const) {
    const other = medians[versus];
    if (!wstun || !other) continue;
    for (const f of scenario.figures) ratios[`${f.key}/${versus}`] = wstun[f.key] / other[f.key];
  }
  const check = (t: TargetSpec, figure: string) => {
    const actual = ratios[`${figure}/${t.versus}`];
    if (actual === undefined || !Number.isFinite(actual)) return { actual: null, met: null };
    return { actual, met: t.bound === "min" ? actual >= t.ratio : actual <= t.ratio };
  };
  const checks = scenario.targets.map((t): CheckResult => ({
    ...t,
    ...check(t, t.figure),
    ...(t.figure === scenario.throughputKey ? { perCpu: check(t, "perCpu") } : {}),
  }));
  return { name: scenario.name, what: scenario.what, runs, medians, ratios, checks, skipped };
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function ratioText(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "–" : `${v.toFixed(2)}×`;
}

function checkText(c: CheckResult, labels: Map<string, string>): string {
  const sign = c.bound === "min" ? "≥" : "≤";
  const mark = (met: boolean | null) => met === null ? "not measured" : met ? "met" : "MISSED";
  const head = `${sign} ${c.ratio}× ${labels.get(c.versus) ?? c.versus}: ` +
    `${ratioText(c.actual ?? NaN)} ${mark(c.met)}`;
  if (!c.perCpu || c.perCpu.actual === null) return head;
  return `${head} (per CPU-second ${ratioText(c.perCpu.actual)} ${mark(c.perCpu.met)})`;
}

/**
 * The human table: one row per figure, one column per target, ratios against the baseline.
 * `heads` renames the first two columns when a scenario compares WSTun with itself (the
 * `workers` and `cross-isolate` scenarios put the two variants in the wstun and baseline slots).
 */
export function renderTable(
  reports: ScenarioReport[],
  scenarios: Scenario[],
  targets: Target[],
  heads = { a: "WSTun", b: "baseline" },
): string {
  const labels = new Map<string, string>([
    ["baseline", "baseline"],
    ["node-ws", "Node+ws"],
    ["socketio", "Socket.IO"],
    ...targets.map((t) => [t.name, t.label] as [string, string]),
  ]);
  const others = targets.filter((t) => t.name !== "wstun" && t.name !== "baseline");
  const head = ["scenario", "figure", heads.a, heads.b, `${heads.a} ÷ ${heads.b}`];
  for (const t of others) head.push(t.label, `WSTun ÷ ${t.label}`);
  head.push("targets");
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`];
  for (const report of reports) {
    const scenario = scenarios.find((s) => s.name === report.name);
    if (!scenario) continue;
    const cpu = (name: TargetName) => {
      const m = report.medians[name];
      if (!m || !Number.isFinite(m.serverCpu ?? NaN)) return "–";
      return `${fmt(m.serverCpu)} / ${fmt(m.loadCpu)}`;
    };
    const rows = scenario.figures.map((f) => ({
      label: `${f.label} (${f.unit})`,
      value: (name: TargetName) => fmt(report.medians[name]?.[f.key]),
      ratio: (versus: TargetName) => ratioText(report.ratios[`${f.key}/${versus}`]),
      checks: report.checks.filter((c) => c.figure === f.key).map((c) => checkText(c, labels)),
    }));
    if (scenario.kind === "window") {
      rows.push({
        label: "CPU % server / load",
        value: cpu,
        ratio: () => "",
        checks: [],
      });
    }
    for (const [i, row] of rows.entries()) {
      const cells = [
        i === 0 ? report.name : "",
        row.label,
        row.value("wstun"),
        row.value("baseline"),
      ];
      cells.push(row.ratio("baseline"));
      for (const t of others) {
        cells.push(report.skipped[t.name] ? "skipped" : row.value(t.name), row.ratio(t.name));
      }
      cells.push(row.checks.join("; "));
      lines.push(`| ${cells.join(" | ")} |`);
    }
  }
  return lines.join("\n");
}
