/**
 * The two multi-isolate scenarios of issue 4, which compare WSTun with itself rather than with the
 * baseline:
 *
 * - `workers`: the relay scenario against `WSTUN_WORKERS=1` and `=2` (A B A B), figure: 2 workers
 *   ÷ 1 worker. The server is not pinned here (two workers need both cores), so it shares a core
 *   with the load generator: on this 2-core machine the ratio says what a second worker buys when
 *   the load itself needs a core, not what it buys on a machine with cores to spare. With two
 *   workers the kernel spreads sockets, so about half the host–member pairs cross isolates.
 * - `cross-isolate`: host and member on the same isolate, then on two isolates joined by
 *   MessagePorts (as workers) and by BroadcastChannel (as Deno Deploy): round-trip p50/p99 and a
 *   one-way burst's frames/s (bench/bridge_hop.ts, in process).
 *
 * @module
 */
import { runBridgeHop } from "./bridge_hop.ts";
import { type Context, runOnce } from "./measure.ts";
import { median } from "./report.ts";
import { SCENARIOS } from "./scenarios.ts";
import type { Target } from "./targets.ts";

export interface WorkersReport {
  /** Median delivered msg/s and server CPU % per worker count. */
  medians: Record<string, { msgsPerSec: number; serverCpu: number | null }>;
  ratio: number;
  target: string;
}

/** Relay with 1 and 2 workers; the server runs unpinned. */
export async function runWorkers(
  ctx: Context,
  wstun: Target,
  rounds: number,
): Promise<WorkersReport> {
  const relay = SCENARIOS.find((s) => s.name === "relay")!;
  console.log(`\nworkers: ${relay.what}, WSTUN_WORKERS=1 vs 2 (server unpinned)`);
  const unpinned: Context = { ...ctx, pin: { ...ctx.pin, server: "" } };
  const variants = [1, 2].map((n) => ({
    ...wstun,
    label: `WSTun ×${n} worker${n > 1 ? "s" : ""}`,
    env: { ...wstun.env, WSTUN_WORKERS: String(n) },
  }));
  const figures: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const run = await runOnce(unpinned, variant, relay, round);
      (figures[variant.env.WSTUN_WORKERS] ??= []).push(run.figures.msgsPerSec);
      if (run.serverCpu !== null) (cpus[variant.env.WSTUN_WORKERS] ??= []).push(run.serverCpu);
      console.log(
        `  workers round ${round + 1} ${variant.label}: ${Math.round(run.figures.msgsPerSec)} ` +
          `msg/s (CPU server ${Math.round(run.serverCpu ?? 0)}%, load ${
            Math.round(run.loadCpu ?? 0)
          }%)${run.error ? ` — ${run.error}` : ""}`,
      );
    }
  }
  const medians: WorkersReport["medians"] = {};
  for (const n of ["1", "2"]) {
    medians[n] = {
      msgsPerSec: median(figures[n] ?? []),
      serverCpu: cpus[n]?.length ? median(cpus[n]) : null,
    };
  }
  const ratio = medians["2"].msgsPerSec / medians["1"].msgsPerSec;
  const target = `2 workers ≥ 1.6× 1 worker: ${ratio.toFixed(2)}× ${
    ratio >= 1.6 ? "met" : "missed"
  }`;
  console.log(`  workers: 2 ÷ 1 = ${ratio.toFixed(2)}× (${target})`);
  return { medians, ratio, target };
}

/** Same-isolate and cross-isolate hops, measured in this process. */
export async function runCrossIsolate(): Promise<Record<string, unknown>> {
  console.log(
    "\ncross-isolate: host and member on one isolate vs two (MessagePort, BroadcastChannel)",
  );
  const figures = await runBridgeHop();
  for (const [placement, f] of Object.entries(figures)) {
    console.log(`  ${placement.padEnd(34)} ${typeof f === "string" ? f : JSON.stringify(f)}`);
  }
  return figures;
}
