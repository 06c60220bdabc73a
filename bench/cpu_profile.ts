/**
 * Reads a V8 `.cpuprofile` (as `deno run --cpu-prof` writes it) and says where the time went:
 * self time per function and per source file, as shares of the busy time (idle excluded).
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  /** Microseconds on the monotonic clock. */
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One row of a summary: a function or a file, its self time and share of busy time. */
export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: ProfileRow[];
  files: ProfileRow[];
}

/** Shortens a script URL to a path relative to `root`, or to the runtime module's name. */
function shortUrl(url: string, root: string): string {
  if (!url) return "(native)";
  const local = url.replace(/^file:\/\//, "");
  if (local.startsWith(root + "/")) return local.slice(root.length + 1);
  const npm = url.match(/\/npm\/registry\.npmjs\.org\/([^/]+)\//);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^ext:/, "ext:");
}

/**
 * Self time per function and per file, sorted by self time. With `window` (seconds on the
 * monotonic clock, as /proc/uptime gives them) only samples inside it count, so set-up and
 * teardown do not mix with the measured load.
 */
export function summariseProfile(
  profile: CpuProfile,
  root: string,
  top = 25,
  window?: { from: number; to: number },
): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfByNode = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at / 1e6 < window.from || at / 1e6 > window.to)) continue;
    const id = profile.samples[i];
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  let idleMs = 0;
  const byFunction = new Map<string, ProfileRow>();
  const byFile = new Map<string, ProfileRow>();
  for (const [id, ms] of selfByNode) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    const where = shortUrl(frame.url, root);
    const name = frame.functionName || "(anonymous)";
    const fnKey = `${name} ${where}:${frame.lineNumber + 1}`;
    const fn = byFunction.get(fnKey) ??
      { name, where: `${where}:${frame.lineNumber + 1}`, selfMs: 0, share: 0 };
    fn.selfMs += ms;
    byFunction.set(fnKey, fn);
    const fileKey = frame.url ? where : name;
    const file = byFile.get(fileKey) ?? { name: fileKey, where, selfMs: 0, share: 0 };
    file.selfMs += ms;
    byFile.set(fileKey, file);
  }
  const busyMs = [...byFunction.values()].reduce((s, r) => s + r.selfMs, 0);
  const finish = (rows: ProfileRow[]) =>
    rows.map((r) => ({ ...r, share: r.selfMs / busyMs }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top);
  return {
    busyMs,
    idleMs,
    functions: finish([...byFunction.values()]),
    files: finish([...byFile.values()]),
  };
}

/** Renders a summary as two Markdown tables. */
export function renderProfile(summary: ProfileSummary): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const lines = [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    "",
    "| self time | function | where |",
    "| --- | --- | --- |",
    ...summary.functions.map((r) => `| ${pct(r.share)} | ${r.name} | ${r.where} |`),
    "",
    "| self time | file or category |",
    "| --- | --- |",
    ...summary.files.map((r) => `| ${pct(r.share)} | ${r.name} |`),
  ];
  return lines.join("\n");
}
