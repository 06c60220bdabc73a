/**
 * One measured run: a fresh server pinned to its core, one or more load generators pinned to
 * theirs, the measured window (or the RSS steps of `idle`), CPU time sampled at the window's
 * marks, and everything stopped again — whatever happened. A run that fails returns its error as
 * a value, so a full benchmark goes on and reports it next to the figure.
 *
 * @module
 */
import {
  cpuSeconds,
  freePort,
  type LoadLine,
  LoadProcess,
  type Pinning,
  readProc,
  rssKiB,
  startServer,
} from "./processes.ts";
import type { Mode, Scenario } from "./scenarios.ts";
import type { Target } from "./targets.ts";
import type { RunRecord } from "./report.ts";

/** What every run needs: run size, core pinning, the load command, /proc's clock ticks. */
export interface Context {
  mode: Mode;
  pin: Pinning;
  loadCmd: string[];
  ticks: number;
  /** Repository root: servers and load generators run from here. */
  root: string;
  /** Stops whatever is running now; run.ts calls them when it is interrupted. */
  live: Set<() => Promise<void>>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Expects a line of a given shape, or throws with what the generator said instead. */
function expectLine(line: LoadLine, want: keyof LoadLine): LoadLine {
  if (line.error) throw new Error(line.error);
  if (line[want] === undefined) throw new Error(`expected ${want}, got ${JSON.stringify(line)}`);
  return line;
}

/** Sums the throughput figures of several load processes; latency comes from the first. */
function combine(results: Record<string, unknown>[]): Record<string, unknown> {
  const [first, ...rest] = results;
  const merged = { ...first };
  for (const key of ["msgsPerSec", "deliveriesPerSec", "mibPerSec", "joinsPerSec", "lost"]) {
    if (typeof first[key] !== "number") continue;
    merged[key] = results.reduce((sum, r) => sum + (r[key] as number), 0);
  }
  if (rest.length) merged.loadProcesses = results.length;
  return merged;
}

/** Seconds since boot (/proc/uptime, 10 ms steps): the clock V8's profiles use, near enough. */
async function uptime(): Promise<number> {
  return Number((await readProc("/proc/uptime")).split(" ")[0]);
}

/** CPU seconds used so far by the server and by all load processes together. */
async function sampleCpu(
  ctx: Context,
  pid: number,
  procs: LoadProcess[],
): Promise<[number, number]> {
  const [server, ...loads] = await Promise.all(
    [pid, ...procs.map((p) => p.pid)].map((p) => cpuSeconds(p, ctx.ticks)),
  );
  return [server, loads.reduce((a, b) => a + b, 0)];
}

/** One run: a fresh server, `loads` load generators, the measured window, everything stopped. */
export async function runOnce(
  ctx: Context,
  target: Target,
  scenario: Scenario,
  round: number,
  loads = 1,
): Promise<RunRecord> {
  const port = freePort();
  const secondPort = target.memberPort ? freePort() : undefined;
  const server = await startServer(target.cmd, {
    port,
    cpu: ctx.pin.server,
    env: secondPort ? { ...target.env, WSTUN_BENCH_MEMBER_PORT: String(secondPort) } : target.env,
    cwd: ctx.root,
  });
  const memberPort = target.memberPort === "second" ? secondPort : undefined;
  const procs: LoadProcess[] = [];
  const stopAll = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  };
  ctx.live.add(stopAll);
  try {
    const config = scenario.load(ctx.mode);
    for (let i = 0; i < loads; i++) {
      const share = { ...config };
      if (typeof share.instances === "number") share.instances = Math.ceil(share.instances / loads);
      procs.push(
        new LoadProcess(ctx.loadCmd, ctx.pin.load, {
          ...share,
          host: "127.0.0.1",
          port,
          ...(memberPort ? { memberPort } : {}),
          flavour: target.flavour,
          deadlineMs: 120_000,
        }, ctx.root),
      );
    }
    if (scenario.kind === "stages") {
      return await runStages(ctx, scenario, server.pid, procs[0], round);
    }
    for (const p of procs) expectLine(await p.next(60_000), "ready");
    await Promise.all(procs.map((p) => p.go()));
    for (const p of procs) expectLine(await p.next(60_000), "mark");
    const t0 = performance.now();
    const [[srv0, load0], from] = await Promise.all([sampleCpu(ctx, server.pid, procs), uptime()]);
    expectLine(await procs[0].next(90_000), "mark");
    const seconds = (performance.now() - t0) / 1000;
    const [[srv1, load1], to] = await Promise.all([sampleCpu(ctx, server.pid, procs), uptime()]);
    for (const p of procs.slice(1)) expectLine(await p.next(90_000), "mark");
    await Promise.all(procs.map((p) => p.go()));
    const results = [];
    for (const p of procs) results.push(expectLine(await p.next(30_000), "result").result!);
    const serverCpu = ((srv1 - srv0) / seconds) * 100;
    const figures = scenario.extract(combine(results), []);
    if (scenario.throughputKey && serverCpu > 0) {
      figures.perCpu = (figures[scenario.throughputKey] * 100) / serverCpu;
    }
    return {
      round,
      figures,
      window: { from, to },
      serverCpu,
      loadCpu: ((load1 - load0) / seconds) * 100,
      ...problemsOf(results),
    };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { round, figures: {}, serverCpu: null, loadCpu: null, error: firstLine(why, server) };
  } finally {
    ctx.live.delete(stopAll);
    await stopAll();
  }
}

function firstLine(why: string, server: { output(): string; exited(): boolean }): string {
  const out = server.output().split("\n").filter((l) => !l.includes("Warning")).slice(-2).join(" ");
  const state = server.exited() ? "; the server had exited" : "";
  return out ? `${why}${state} (server said: ${out})` : `${why}${state}`;
}

/** A run whose frames were refused or whose sockets closed is suspect: say so next to its figure. */
function problemsOf(results: Record<string, unknown>[]): { error?: string } {
  for (const r of results) {
    if (typeof r.closes === "number" && r.closes > 0) {
      return { error: `${r.closes} sockets closed during the run (first code ${r.firstClose})` };
    }
    if (typeof r.errors === "number" && r.errors > 0) {
      return { error: `${r.errors} error frames, first: ${r.firstError}` };
    }
  }
  return {};
}

async function runStages(
  ctx: Context,
  scenario: Scenario,
  pid: number,
  proc: LoadProcess,
  round: number,
): Promise<RunRecord> {
  const settleMs = Number(scenario.load(ctx.mode).settleMs ?? 1000);
  const stages: { connections: number; rssKiB: number }[] = [];
  for (;;) {
    const line = await proc.next(90_000);
    if (line.error) throw new Error(line.error);
    if (line.result) {
      return {
        round,
        figures: scenario.extract(line.result, stages),
        serverCpu: null,
        loadCpu: null,
      };
    }
    if (line.stage === undefined) throw new Error(`unexpected ${JSON.stringify(line)}`);
    await sleep(settleMs);
    stages.push({ connections: line.stage, rssKiB: await rssKiB(pid) });
    await proc.go();
  }
}
