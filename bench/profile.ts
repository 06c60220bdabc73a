/**
 * `deno task bench:profile`: runs one scenario against WSTun (or the baseline) under
 * `deno run --cpu-prof` and prints where the server's time went, by function and by file — the
 * evidence docs/performance.md asks for before a hot-path change.
 *
 * Options: `--scenario NAME` (default relay), `--target wstun|baseline|cross-isolate` (default
 * wstun; `cross-isolate` runs bench/two_isolates.ts with the members on the worker isolate, and
 * writes a profile per isolate),
 * `--quick`, `--whole` (count the whole process, not only the measured window). The raw profile is kept in bench/results/profiles/ (not committed) for Chrome
 * DevTools or any .cpuprofile viewer.
 *
 * @module
 */
import { type Context, runOnce } from "./measure.ts";
import { choosePinning, commandOutput } from "./processes.ts";
import { renderProfile, summariseProfile } from "./cpu_profile.ts";
import { SCENARIOS } from "./scenarios.ts";
import { COMPARISONS } from "./comparisons.ts";
import { loadCommand, resolveTargets } from "./targets.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(name);
  return at >= 0 && Deno.args[at + 1] ? Deno.args[at + 1] : fallback;
}

async function main() {
  const scenarioName = option("--scenario", "relay");
  const targetName = option("--target", "wstun");
  const scenario = SCENARIOS.find((s) => s.name === scenarioName);
  if (!scenario) throw new Error(`unknown scenario ${scenarioName}`);
  if (targetName === "cross-isolate") return await profileCrossIsolate(scenario);
  if (targetName !== "wstun" && targetName !== "baseline") {
    throw new Error("--target must be wstun, baseline or cross-isolate");
  }
  const [target] = await resolveTargets(ROOT, new Set([targetName]));
  if (target.skipped) throw new Error(`${target.label}: ${target.skipped}`);
  const dir = `${ROOT}/bench/results/profiles`;
  await Deno.mkdir(dir, { recursive: true });
  const before = new Set([...Deno.readDirSync(dir)].map((e) => e.name));
  const script = targetName === "wstun" ? "bench/profile_entry.ts" : target.cmd.at(-1)!;
  const permissions = target.cmd.filter((a) => a.startsWith("--allow"));
  target.cmd = [
    Deno.execPath(),
    "run",
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    ...permissions,
    script,
  ];
  const load = await loadCommand("auto");
  const ctx: Context = {
    mode: Deno.args.includes("--quick") ? "quick" : "default",
    pin: await choosePinning(),
    loadCmd: load.cmd,
    ticks: Number(await commandOutput("getconf", ["CLK_TCK"])) || 100,
    root: ROOT,
    live: new Set(),
  };
  console.log(`profiling ${target.label} on ${scenario.name}: ${scenario.what}`);
  const run = await runOnce(ctx, target, scenario, 0);
  const main = scenario.figures[0];
  console.log(
    `${main.label}: ${run.figures[main.key]?.toFixed(1)} ${main.unit}, server CPU ` +
      `${run.serverCpu?.toFixed(0)}%${run.error ? ` — ${run.error}` : ""}`,
  );
  const fresh = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !before.has(n));
  const file = fresh.find((n) => n.endsWith(".cpuprofile"));
  if (!file) throw new Error("the server wrote no profile (did it exit through SIGTERM?)");
  const profile = JSON.parse(await Deno.readTextFile(`${dir}/${file}`));
  console.log(`profile: bench/results/profiles/${file}\n`);
  const all = Deno.args.includes("--whole");
  console.log(
    all || !run.window
      ? "whole process, set-up included:"
      : "measured window only (--whole for the whole process):",
  );
  console.log(renderProfile(summariseProfile(profile, ROOT, 25, all ? undefined : run.window)));
}

/** The cross-isolate server (bench/two_isolates.ts) under `--cpu-prof`: one profile per isolate. */
async function profileCrossIsolate(scenario: (typeof SCENARIOS)[number]) {
  const cross = COMPARISONS.find((c) => c.name === "cross-isolate")!;
  const [target] = cross.targets(ROOT);
  const dir = `${ROOT}/bench/results/profiles`;
  await Deno.mkdir(dir, { recursive: true });
  const before = new Set([...Deno.readDirSync(dir)].map((e) => e.name));
  target.cmd = [
    Deno.execPath(),
    "run",
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    ...target.cmd.filter((a) => a.startsWith("--allow")),
    "bench/two_isolates.ts",
  ];
  const load = await loadCommand("auto");
  const ctx: Context = {
    mode: Deno.args.includes("--quick") ? "quick" : "default",
    pin: await choosePinning(),
    loadCmd: load.cmd,
    ticks: Number(await commandOutput("getconf", ["CLK_TCK"])) || 100,
    root: ROOT,
    live: new Set(),
  };
  console.log(`profiling ${target.label} on ${scenario.name}: ${scenario.what}`);
  const run = await runOnce(ctx, target, scenario, 0);
  const main = scenario.figures[0];
  console.log(`${main.label}: ${run.figures[main.key]?.toFixed(1)} ${main.unit}`);
  const fresh = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !before.has(n));
  for (const file of fresh.filter((n) => n.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${file}`));
    console.log(`\nprofile: bench/results/profiles/${file}`);
    console.log(renderProfile(summariseProfile(profile, ROOT, 25, run.window)));
  }
}

if (import.meta.main) await main();
