/**
 * Test-only: a strict parser of the Prometheus text exposition format (0.0.4), so a test can say
 * "this parses as valid Prometheus text" and then read values. It throws, naming the line, on
 * anything a Prometheus server would refuse or misread: a sample before its family's TYPE, a
 * family declared twice, bad names, bad label syntax or escapes, a value that is not a number,
 * the same series twice, histogram buckets that are not cumulative or whose `+Inf` bucket differs
 * from `_count`.
 *
 * @module
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses `text`; families by name. */
export function parsePrometheus(text: string): Map<string, PromFamily> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, PromFamily>();
  const seenSeries = new Set<string>();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === "") return;
    if (line.startsWith("#")) return comment(line, families, where);
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (!family) throw new Error(`${where}: sample of no declared family`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seenSeries.has(key)) throw new Error(`${where}: series repeated`);
    seenSeries.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function comment(line: string, families: Map<string, PromFamily>, where: string): void {
  const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
  if (!m) return; // other comments are allowed
  const [, kind, name, rest] = m;
  if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
  let family = families.get(name);
  if (kind === "TYPE") {
    if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
    if (family?.samples.length) throw new Error(`${where}: TYPE after samples`);
    if (family && family.type !== "untyped") throw new Error(`${where}: second TYPE`);
    family ??= { name, type: "untyped", samples: [] };
    family.type = rest as PromFamily["type"];
  } else {
    if (family?.help !== undefined) throw new Error(`${where}: second HELP`);
    family ??= { name, type: "untyped", samples: [] };
    family.help = unescape(rest, false, where);
  }
  families.set(name, family);
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family?.type === "histogram" || family?.type === "summary") return family;
  }
  return undefined;
}

function parseSample(line: string, where: string): PromSample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`${where}: not a sample line`);
  const [, name, labelText, valueText] = m;
  const value = parseValue(valueText, where);
  return { name, labels: labelText ? parseLabels(labelText, where) : {}, value };
}

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`${where}: bad value ${text}`);
  }
  return Number(text);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1;
  while (i < text.length - 1) {
    const eq = text.indexOf("=", i);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${name}`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value must be quoted`);
    let j = eq + 2;
    let raw = "";
    while (text[j] !== '"') {
      if (j >= text.length) throw new Error(`${where}: unterminated label value`);
      if (text[j] === "\\") raw += text[j++];
      raw += text[j++];
    }
    labels[name] = unescape(raw, true, where);
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i !== text.length - 1) throw new Error(`${where}: expected , or }`);
  }
  return labels;
}

function unescape(raw: string, quotes: boolean, where: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && quotes) return '"';
    throw new Error(`${where}: bad escape \\${c}`);
  });
}

function checkHistogram(family: PromFamily): void {
  const groups = new Map<string, PromSample[]>();
  for (const s of family.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...groups.get(key) ?? [], s]);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    if (!count || !samples.some((s) => s.name === `${family.name}_sum`)) {
      throw new Error(`${family.name}: a histogram series without _sum or _count`);
    }
    let previous = -Infinity;
    let last = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? "", `${family.name}_bucket le`);
      if (le <= previous) throw new Error(`${family.name}: buckets out of order`);
      if (b.value < last) throw new Error(`${family.name}: buckets not cumulative`);
      previous = le;
      last = b.value;
    }
    if (previous !== Infinity) throw new Error(`${family.name}: no +Inf bucket`);
    if (last !== count.value) throw new Error(`${family.name}: +Inf bucket is not _count`);
  }
}

/** The value of the one sample of `name` whose labels include `where`; throws if not one. */
export function promValue(
  families: Map<string, PromFamily>,
  name: string,
  where: Record<string, string> = {},
): number {
  const all = [...families.values()].flatMap((f) => f.samples);
  const found = all.filter((s) =>
    s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)
  );
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name} ${JSON.stringify(where)}`);
  }
  return found[0].value;
}
