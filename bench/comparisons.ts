/**
 * The scenarios that compare WSTun with itself rather than with other relays: `workers`
 * (`WSTUN_WORKERS=2` against `=1`), `cross-isolate` (a member on another isolate than its host
 * against the same isolate), `against-build` (this tree against another build of WSTun, e.g.
 * the commit before a change, in `WSTUN_BENCH_BASE_DIR`) and `udp` (the UDP tunnel against a
 * direct UDP round trip).
 *
 * Each puts its two variants in the `wstun` (A) and `baseline` (B) slots of a report, so the
 * ratio bench/report.ts prints as "A ÷ B" is the figure the issue asks for (2 workers ÷ 1 worker,
 * cross ÷ same, tunnel ÷ direct). They are left out of `--quick` unless named with `--scenario`.
 *
 * @module
 */
import { fanout, relay, type Scenario } from "./scenarios.ts";
import { type Target, WSTUN_UNLIMITED, wstunCommand } from "./targets.ts";

/** Two variants of WSTun run over the same scenarios, alternating A B A B. */
export interface Comparison {
  name: string;
  what: string;
  heads: { a: string; b: string };
  scenarios: Scenario[];
  /** [A, B]: A fills the `wstun` slot, B the `baseline` slot. */
  targets: (root: string) => [Target, Target];
  /**
   * Pin the server to one core and the load to the other. `workers` runs unpinned: two worker
   * isolates pinned to one core could not show what a second core gives.
   */
  pinned: boolean;
}

function withWorkers(root: string, workers: number): Target {
  return {
    name: workers === 2 ? "wstun" : "baseline",
    label: `${workers} worker${workers === 1 ? "" : "s"}`,
    flavour: "wstun",
    cmd: wstunCommand(root),
    env: { ...WSTUN_UNLIMITED, WSTUN_WORKERS: String(workers) },
  };
}

function twoIsolates(memberPort: "same" | "second"): Target {
  return {
    name: memberPort === "second" ? "wstun" : "baseline",
    label: memberPort === "second" ? "cross-isolate" : "same isolate",
    flavour: "wstun",
    cmd: [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "bench/two_isolates.ts",
    ],
    env: WSTUN_UNLIMITED,
    memberPort,
  };
}

const workers: Comparison = {
  name: "workers",
  what: "relay and fanout-1000 with WSTUN_WORKERS=2 against =1 (unpinned: both cores shared " +
    "by the server and the load generator)",
  heads: { a: "2 workers", b: "1 worker" },
  scenarios: [
    {
      ...relay,
      name: "workers-relay",
      targets: [{ figure: "msgsPerSec", versus: "baseline", bound: "min", ratio: 1.6 }],
    },
    { ...fanout(1000, 40), name: "workers-fanout-1000", targets: [] },
  ],
  targets: (root) => [withWorkers(root, 2), withWorkers(root, 1)],
  pinned: false,
};

const crossIsolate: Comparison = {
  name: "cross-isolate",
  what: "host on the main isolate, members on a worker isolate (MessagePort bridge) against " +
    "members on the host's isolate, same process (bench/two_isolates.ts)",
  heads: { a: "cross-isolate", b: "same isolate" },
  scenarios: [
    { ...relay, name: "cross-isolate-relay", targets: [] },
    { ...fanout(100, 400), name: "cross-isolate-fanout-100", targets: [] },
  ],
  targets: () => [twoIsolates("second"), twoIsolates("same")],
  pinned: true,
};

/**
 * This tree and another build of WSTun (e.g. `git archive <commit> | tar -x -C /tmp/base`), the
 * other run with its own deno.json and lock file. Without `WSTUN_BENCH_BASE_DIR` both are skipped
 * with one line, so a full run spends no time on it.
 */
function thisAndOtherBuild(root: string): [Target, Target] {
  const dir = Deno.env.get("WSTUN_BENCH_BASE_DIR");
  const skipped = dir
    ? undefined
    : "set WSTUN_BENCH_BASE_DIR to a checkout of the build to compare";
  const flags = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];
  return [
    {
      name: "wstun",
      label: "this tree",
      flavour: "wstun",
      cmd: wstunCommand(root),
      env: WSTUN_UNLIMITED,
      skipped,
    },
    {
      name: "baseline",
      label: "other build",
      flavour: "wstun",
      cmd: [Deno.execPath(), "run", "--config", `${dir}/deno.json`, ...flags, `${dir}/main.ts`],
      env: WSTUN_UNLIMITED,
      skipped,
    },
  ];
}

const againstBuild: Comparison = {
  name: "against-build",
  what: "this tree against the build in WSTUN_BENCH_BASE_DIR (relay, fanout-1000 at 120/s), " +
    "e.g. the commit before a change, to measure what the change costs",
  heads: { a: "this tree", b: "other build" },
  scenarios: [
    { ...relay, name: "against-build-relay", targets: [] },
    // 120 broadcasts/s to 1000 members asks more than one core delivers, so the figure is the
    // server's ceiling rather than a CPU percentage at a fixed rate (noisy on a shared machine).
    { ...fanout(1000, 120), name: "against-build-fanout-1000", targets: [] },
  ],
  targets: thisAndOtherBuild,
  pinned: true,
};

/** Every comparison, in the order a full run takes them (after the scenarios). */
export const COMPARISONS: Comparison[] = [workers, crossIsolate, againstBuild];

/** The UDP scenario's figures (bench/udp.ts `figuresOf`); it measures both paths in one call. */
export const UDP_SCENARIO: Scenario = {
  name: "udp",
  what: "game traffic through the UDP tunnel (udp-connect → WSTun → udp-expose, each its own " +
    "process) against the same traffic sent straight to the echo server (bench/udp.ts; the " +
    "clients run in the bench process, the tools and the echo server unpinned)",
  kind: "window",
  load: (mode) => ({ quick: mode === "quick" }),
  figures: [
    { key: "pingP50", label: "ping p50", unit: "ms", higherIsBetter: false },
    { key: "pingP99", label: "ping p99", unit: "ms", higherIsBetter: false },
    {
      key: "throughput",
      label: "1,200 B × 64 in flight",
      unit: "round trips/s",
      higherIsBetter: true,
    },
    { key: "throughputLost", label: "… lost", unit: "datagrams", higherIsBetter: false },
    {
      key: "throughputCpuUs",
      label: "… CPU, all processes",
      unit: "µs/round trip",
      higherIsBetter: false,
    },
    { key: "paced2Lost", label: "paced, 2 clients: lost", unit: "of 800", higherIsBetter: false },
    { key: "paced2OutOfOrder", label: "… out of order", unit: "datagrams", higherIsBetter: false },
    {
      key: "paced16Lost",
      label: "paced, 16 clients: lost",
      unit: "of 6,400",
      higherIsBetter: false,
    },
    { key: "paced16OutOfOrder", label: "… out of order", unit: "datagrams", higherIsBetter: false },
    {
      key: "game64Lost",
      label: "64 clients × 60/s: lost",
      unit: "datagrams",
      higherIsBetter: false,
    },
    { key: "game64P50", label: "… round trip p50", unit: "ms", higherIsBetter: false },
    { key: "game64P99", label: "… round trip p99", unit: "ms", higherIsBetter: false },
    {
      key: "game64CpuUs",
      label: "… CPU, all processes",
      unit: "µs/round trip",
      higherIsBetter: false,
    },
    { key: "overloadPerSec", label: "overload 40,000/s: back", unit: "/s", higherIsBetter: true },
    { key: "overloadLost", label: "… lost", unit: "datagrams", higherIsBetter: false },
    {
      key: "overloadUncounted",
      label: "… lost and counted nowhere",
      unit: "datagrams",
      higherIsBetter: false,
    },
    {
      key: "overloadAnswered",
      label: "… pings answered afterwards",
      unit: "of 50",
      higherIsBetter: true,
    },
  ],
  extract: (r) => r as Record<string, number>,
  targets: [],
};
