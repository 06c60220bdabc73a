/**
 * `deno task bench`: runs every scenario against WSTun, the bare Deno baseline and (when Node is
 * here) Node + ws and Socket.IO rooms, alternating the servers (A B A B …) round after round, and
 * prints medians and the ratios WSTun ÷ each other server, with the targets of issue 4 checked.
 *
 * Options:
 *   --quick            smaller and shorter (under a minute): WSTun and the baseline only, and
 *                      without `workers`, `cross-isolate`, `udp`, `bridge-hop` unless named
 *   --scenario NAME    run one scenario (repeat or comma-separate for several); `loadcheck` is the
 *                      proof that the load generator is not the limit; `workers`,
 *                      `cross-isolate` and `udp` compare WSTun with itself (bench/comparisons.ts);
 *                      `bridge-hop` (only when named) times one hop in process, BroadcastChannel
 *                      too (bench/isolates.ts)
 *   --rounds N         rounds of A B A B (default 2)
 *   --targets LIST     comma-separated subset of wstun,baseline,node-ws,socketio
 *   --load-runtime R   `node` or `deno` for the load generator (default: node when installed)
 *   --no-save          do not write bench/results/<date>.json
 *
 * Servers run pinned to core 0 and load generators to the last core (`taskset`), fresh for every
 * run, on 127.0.0.1 only. Every wait is bounded; a failed run is reported and the run goes on.
 *
 * @module
 */
import {
  choosePinning,
  commandOutput,
  freePort,
  type Pinning,
  readProc,
  startServer,
} from "./processes.ts";
import { type Context, runOnce } from "./measure.ts";
import { LOAD_CHECK, type Mode, type Scenario, SCENARIOS } from "./scenarios.ts";
import { COMPARISONS, UDP_SCENARIO } from "./comparisons.ts";
import { BRIDGE_HOP, runCrossIsolateHops } from "./isolates.ts";
import {
  loadCommand,
  nodeVersion,
  resolveTargets,
  type Target,
  type TargetName,
  WSTUN_UNLIMITED,
  wstunCommand,
} from "./targets.ts";
import { median, renderTable, type RunRecord, type ScenarioReport, summarise } from "./report.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const ALL_TARGETS: TargetName[] = ["wstun", "baseline", "node-ws", "socketio"];

interface Options {
  mode: Mode;
  scenarios: string[];
  rounds: number;
  targets: Set<TargetName>;
  loadRuntime: "node" | "deno" | "auto";
  save: boolean;
}

function parseOptions(args: string[]): Options {
  const opts: Options = {
    mode: "default",
    scenarios: [],
    rounds: 2,
    targets: new Set(ALL_TARGETS),
    loadRuntime: "auto",
    save: true,
  };
  let targetsGiven = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) fail(`${arg} needs a value`);
      return v;
    };
    if (arg === "--quick") opts.mode = "quick";
    else if (arg === "--scenario") opts.scenarios.push(...value().split(","));
    else if (arg === "--rounds") opts.rounds = Math.max(1, Number.parseInt(value(), 10) || 1);
    else if (arg === "--targets") {
      targetsGiven = true;
      opts.targets = new Set(value().split(",") as TargetName[]);
    } else if (arg === "--load-runtime") opts.loadRuntime = value() as Options["loadRuntime"];
    else if (arg === "--no-save") opts.save = false;
    else fail(`unknown option ${arg} (see the top of bench/run.ts)`);
  }
  if (opts.mode === "quick" && !targetsGiven) opts.targets = new Set(["wstun", "baseline"]);
  const known = new Set([
    ...SCENARIOS.map((s) => s.name),
    ...COMPARISONS.map((c) => c.name),
    UDP_SCENARIO.name,
    BRIDGE_HOP,
    LOAD_CHECK,
  ]);
  for (const name of opts.scenarios) if (!known.has(name)) fail(`unknown scenario ${name}`);
  for (const t of opts.targets) if (!ALL_TARGETS.includes(t)) fail(`unknown target ${t}`);
  return opts;
}

function fail(message: string): never {
  console.error(`bench: ${message}`);
  Deno.exit(2);
}

function describeRun(target: Target, scenario: Scenario, run: RunRecord): string {
  const head = `  ${scenario.name} round ${run.round + 1} ${target.label}:`;
  const main = scenario.figures[0];
  const value = run.figures[main.key];
  const fig = Number.isFinite(value)
    ? `${Math.round(value * 100) / 100} ${main.unit}`
    : "no figure";
  const cpu = run.serverCpu === null
    ? ""
    : ` (CPU server ${Math.round(run.serverCpu)}%, load ${Math.round(run.loadCpu ?? 0)}%)`;
  return `${head} ${fig}${cpu}${run.error ? ` — ${run.error}` : ""}`;
}

async function runScenario(
  ctx: Context,
  scenario: Scenario,
  targets: Target[],
  rounds: number,
): Promise<ScenarioReport> {
  console.log(`\n${scenario.name}: ${scenario.what}`);
  const skipped: ScenarioReport["skipped"] = {};
  const runnable: Target[] = [];
  for (const t of targets) {
    const why = t.skipped ?? scenario.unsupported?.[t.name];
    if (why) {
      skipped[t.name] = why;
      console.log(`  ${t.label}: skipped: ${why}`);
    } else runnable.push(t);
  }
  const runs: ScenarioReport["runs"] = {};
  for (let round = 0; round < rounds; round++) {
    for (const target of runnable) {
      const run = await runOnce(ctx, target, scenario, round);
      (runs[target.name] ??= []).push(run);
      console.log(describeRun(target, scenario, run));
    }
  }
  return summarise(scenario, runs, skipped);
}

/** Relay on the baseline with one load process and with two: more load must not mean more msg/s. */
async function runLoadCheck(ctx: Context, targets: Target[], rounds: number) {
  const baseline = targets.find((t) => t.name === "baseline");
  const relay = SCENARIOS.find((s) => s.name === "relay")!;
  if (!baseline) return null;
  console.log(`\n${LOAD_CHECK}: relay on the baseline with 1 and with 2 load processes`);
  const one: RunRecord[] = [];
  const two: RunRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [loads, list] of [[1, one], [2, two]] as const) {
      const run = await runOnce(ctx, baseline, relay, round, loads);
      list.push(run);
      console.log(`${describeRun(baseline, relay, run)} with ${loads} load process(es)`);
    }
  }
  const m = (list: RunRecord[], key: string) =>
    median(list.filter((r) => !r.error).map((r) => r.figures[key]));
  const cpu = (list: RunRecord[], key: "serverCpu" | "loadCpu") =>
    median(list.filter((r) => !r.error).map((r) => r[key] ?? NaN));
  const result = {
    oneProcess: {
      msgsPerSec: m(one, "msgsPerSec"),
      serverCpu: cpu(one, "serverCpu"),
      loadCpu: cpu(one, "loadCpu"),
    },
    twoProcesses: {
      msgsPerSec: m(two, "msgsPerSec"),
      serverCpu: cpu(two, "serverCpu"),
      loadCpu: cpu(two, "loadCpu"),
    },
    ratio: m(two, "msgsPerSec") / m(one, "msgsPerSec"),
    runs: { one, two },
  };
  return result;
}

/**
 * The udp scenario: a fresh WSTun pinned like the other servers (UDP rate limit off), and
 * bench/udp.ts's phases, direct and through the tunnel, in one run per round (the tools and the
 * echo server in their own processes, the game clients in this one). Direct goes in the baseline
 * slot; issue 18's targets are checked on the medians.
 */
async function runUdp(ctx: Context, rounds: number) {
  console.log(`\n${UDP_SCENARIO.name}: ${UDP_SCENARIO.what}`);
  const { runUdpBench, figuresOf, describeUdpBench, udpTargets } = await import("./udp.ts");
  const runs: { wstun: RunRecord[]; baseline: RunRecord[] } = { wstun: [], baseline: [] };
  const details = [];
  for (let round = 0; round < rounds; round++) {
    const port = freePort();
    let stop = async () => {};
    try {
      const server = await startServer(wstunCommand(ctx.root), {
        port,
        cpu: ctx.pin.server,
        env: { ...WSTUN_UNLIMITED, WSTUN_UDP_MAX_MSGS_PER_SEC: "0" },
        cwd: ctx.root,
      });
      stop = server.stop;
      ctx.live.add(stop);
      const r = await runUdpBench({
        relayUrl: `http://127.0.0.1:${port}`,
        relayPid: server.pid,
        quick: ctx.mode === "quick",
      });
      details.push(r);
      for (const [slot, path] of [["wstun", "tunnel"], ["baseline", "direct"]] as const) {
        runs[slot].push({ round, figures: figuresOf(r, path), serverCpu: null, loadCpu: null });
      }
      console.log(`  udp round ${round + 1}:\n${describeUdpBench(r).replace(/^/gm, "    ")}`);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      for (const slot of ["wstun", "baseline"] as const) {
        runs[slot].push({ round, figures: {}, serverCpu: null, loadCpu: null, error });
      }
      console.log(`  udp round ${round + 1}: ${error}`);
    } finally {
      ctx.live.delete(stop);
      await stop();
    }
  }
  const report = summarise(UDP_SCENARIO, runs, {});
  const { wstun, baseline } = report.medians;
  const targets = wstun && baseline ? udpTargets(wstun, baseline) : [];
  return { ...report, targets, details };
}

/** Ctrl-C or SIGTERM stops the server and load generators of the current run before exiting. */
function stopOnSignal(ctx: Context) {
  const stop = async () => {
    console.log("\ninterrupted: stopping the current run's processes");
    await Promise.all([...ctx.live].map((s) => s()));
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

/**
 * What the load check shows. Two processes giving no more than one proves the generator is not
 * the limit; when they do give more, a single generator that used well under its core was still
 * not the limit: the machine's other work starved both runs unequally.
 */
function loadCheckVerdict(check: NonNullable<Awaited<ReturnType<typeof runLoadCheck>>>): string {
  if (check.ratio <= 1.1) {
    return "a second load process adds nothing: the load generator is not the limit";
  }
  if (check.oneProcess.loadCpu < 85) {
    return `inconclusive on a busy machine: two processes did better, but one used only ` +
      `${
        Math.round(check.oneProcess.loadCpu)
      }% of its core, so it was not what held the server back`;
  }
  return "a second load process adds throughput: the load generator IS a limit in this run";
}

async function machine(pin: Pinning, loadRuntime: string) {
  const cpuinfo = await readProc("/proc/cpuinfo").catch(() => "");
  const meminfo = await readProc("/proc/meminfo").catch(() => "");
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0) / 1048576),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    node: await nodeVersion(),
    loadGenerator: loadRuntime,
    pinning: pin.server ? `server on core ${pin.server}, load on core ${pin.load}` : "none",
  };
}

async function main() {
  const opts = parseOptions(Deno.args);
  const started = new Date();
  const pin = await choosePinning();
  const load = await loadCommand(opts.loadRuntime);
  const ticks = Number(await commandOutput("getconf", ["CLK_TCK"])) || 100;
  const ctx: Context = {
    mode: opts.mode,
    pin,
    loadCmd: load.cmd,
    ticks,
    root: ROOT,
    live: new Set(),
  };
  stopOnSignal(ctx);
  const targets = await resolveTargets(ROOT, opts.targets);
  const info = await machine(pin, load.runtime);
  const loadAtStart = Deno.loadavg();
  console.log(
    `WSTun bench (${opts.mode}, ${opts.rounds} rounds A B A B) on ${info.cpu}, ${info.cores} cores; ` +
      `Deno ${info.deno}, Node ${info.node ?? "absent"}; load generator: ${load.runtime}; ` +
      `pinning: ${info.pinning}`,
  );
  console.log(`machine load average at start: ${loadAtStart.map((v) => v.toFixed(2)).join(" ")}`);
  if (loadAtStart[0] > 0.5) {
    console.log("  (other work is running on this machine: figures are noisier than usual)");
  }
  for (const t of targets) if (t.skipped) console.log(`${t.label}: skipped: ${t.skipped}`);

  const wanted = (name: string) => opts.scenarios.length === 0 || opts.scenarios.includes(name);
  const reports: ScenarioReport[] = [];
  for (const scenario of SCENARIOS) {
    if (wanted(scenario.name)) reports.push(await runScenario(ctx, scenario, targets, opts.rounds));
  }
  // WSTun against itself: in a default full run, or when named.
  const wantedSelf = (name: string) =>
    opts.scenarios.includes(name) || (opts.scenarios.length === 0 && opts.mode === "default");
  const comparisons: {
    name: string;
    heads: { a: string; b: string };
    reports: ScenarioReport[];
  }[] = [];
  for (const c of COMPARISONS) {
    if (!wantedSelf(c.name)) continue;
    console.log(`\n${c.name}: ${c.what}`);
    const cctx = c.pinned ? ctx : { ...ctx, pin: { server: "", load: "" } };
    const pair = c.targets(ROOT);
    const list = [];
    for (const s of c.scenarios) list.push(await runScenario(cctx, s, pair, opts.rounds));
    comparisons.push({ name: c.name, heads: c.heads, reports: list });
  }
  const udp = wantedSelf(UDP_SCENARIO.name) ? await runUdp(ctx, opts.rounds) : null;
  // Only when named: it repeats cross-isolate's hop in process (plus the lossy BroadcastChannel),
  // and a full run on a busy machine has no 15 s to spare under its 5 minutes.
  const bridgeHop = opts.scenarios.includes(BRIDGE_HOP) ? await runCrossIsolateHops() : null;
  const runCheck = opts.mode === "default"
    ? wanted(LOAD_CHECK)
    : opts.scenarios.includes(LOAD_CHECK);
  const loadCheck = runCheck ? await runLoadCheck(ctx, targets, opts.rounds) : null;
  const loadAtEnd = Deno.loadavg();

  const tables = reports.length ? [renderTable(reports, SCENARIOS, targets)] : [];
  for (const c of comparisons) {
    const found = COMPARISONS.find((x) => x.name === c.name)!;
    const pair = found.targets(ROOT);
    tables.push(renderTable(c.reports, found.scenarios, pair, c.heads));
  }
  if (udp) {
    const direct = { name: "baseline", label: "direct" } as Target;
    tables.push(renderTable([udp], [UDP_SCENARIO], [direct], { a: "tunnel", b: "direct" }));
    tables.push(
      "udp targets (issue 18), on the medians:\n" +
        udp.targets.map((c) => `- ${c.met ? "met" : "MISSED"}: ${c.target}: ${c.actual}`).join(
          "\n",
        ),
    );
  }
  const table = tables.join("\n\n");
  console.log(`\n${table}\n`);
  console.log(
    "CPU % is of one core during the measured window (median); ratios are the first column ÷ " +
      "the other (WSTun ÷ other, 2 workers ÷ 1, cross ÷ same isolate, tunnel ÷ direct).",
  );
  if (loadCheck) {
    const verdict = loadCheckVerdict(loadCheck);
    console.log(
      `load generator check: 1 process ${Math.round(loadCheck.oneProcess.msgsPerSec)} msg/s ` +
        `(load CPU ${Math.round(loadCheck.oneProcess.loadCpu)}%), 2 processes ` +
        `${Math.round(loadCheck.twoProcesses.msgsPerSec)} msg/s ` +
        `(load CPU ${Math.round(loadCheck.twoProcesses.loadCpu)}%): ${
          loadCheck.ratio.toFixed(2)
        }× — ${verdict}`,
    );
  }
  console.log(`machine load average at end: ${loadAtEnd.map((v) => v.toFixed(2)).join(" ")}`);
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(`finished in ${seconds.toFixed(0)} s`);

  if (!opts.save) return;
  const date = started.toISOString().slice(0, 10);
  const suffix = opts.mode === "quick" ? "-quick" : opts.scenarios.length ? "-partial" : "";
  const path = `${ROOT}/bench/results/${date}${suffix}.json`;
  const json = {
    startedAt: started.toISOString(),
    seconds,
    options: { ...opts, targets: [...opts.targets] },
    machine: { ...info, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd },
    scenarios: reports,
    comparisons,
    udp,
    bridgeHop,
    loadCheck,
    table,
  };
  await Deno.mkdir(`${ROOT}/bench/results`, { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(json, null, 2) + "\n");
  console.log(`saved ${path.slice(ROOT.length + 1)}`);
}

if (import.meta.main) await main();
