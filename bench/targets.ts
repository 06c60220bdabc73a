/**
 * The servers a benchmark compares: WSTun itself, the bare Deno baseline, and the relays users would
 * pick instead (Node + `ws`, Socket.IO rooms). Each says how to start it, which framing its clients
 * speak, and why it is skipped when it cannot run here (one line).
 *
 * @module
 */
import { commandOutput } from "./processes.ts";

export type TargetName = "wstun" | "baseline" | "node-ws" | "socketio";

export interface Target {
  name: TargetName;
  label: string;
  /** `wstun`: protocol v1 frames as they are; `socketio`: inside Socket.IO's event envelope. */
  flavour: "wstun" | "socketio";
  cmd: string[];
  env: Record<string, string>;
  /** Set when the target cannot run on this machine, with the reason. */
  skipped?: string;
  /**
   * bench/two_isolates.ts only: the server gets a second port (`WSTUN_BENCH_MEMBER_PORT`, the
   * worker isolate's) and members connect to the host's port (`same`) or to that one (`second`).
   */
  memberPort?: "same" | "second";
}

/** WSTun's limits switched off, as the benchmark issue asks (0 = no limit). */
export const WSTUN_UNLIMITED = {
  WSTUN_MAX_MSGS_PER_SEC: "0",
  WSTUN_MAX_MEMBERS: "0",
  WSTUN_MAX_INSTANCES: "0",
  WSTUN_MAX_CONNECTIONS: "0",
  WSTUN_MAX_JOINS: "0",
  WSTUN_MAX_CHANNELS: "0",
  WSTUN_MAX_PUBLISHES_PER_SEC: "0",
};

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Installs bench/node's packages from its lock file when they are missing; returns a problem. */
async function ensureNodePackages(root: string): Promise<string | null> {
  const dir = `${root}/bench/node`;
  if (exists(`${dir}/node_modules/ws`) && exists(`${dir}/node_modules/socket.io`)) return null;
  console.log("installing bench/node packages (npm ci)…");
  try {
    const out = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(180_000),
    }).output();
    if (out.success) return null;
    return `npm ci failed: ${new TextDecoder().decode(out.stderr).trim().split("\n")[0]}`;
  } catch (err) {
    return `npm ci failed: ${err instanceof Error ? err.message : err}`;
  }
}

/** The Node version (e.g. "v20.20.2"), or null when Node is not installed. */
export function nodeVersion(): Promise<string | null> {
  return commandOutput("node", ["--version"]);
}

/**
 * WSTun's command: deno.json's `start` task, so the benchmark runs the server exactly as users
 * start it (its permissions follow the task when features add some).
 */
export function wstunCommand(root: string): string[] {
  const fallback = ["deno", "run", "--allow-net", "--allow-env", "--allow-read", "main.ts"];
  let cmd = fallback;
  try {
    const start = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`)).tasks?.start;
    if (typeof start === "string" && start.startsWith("deno run ")) cmd = start.split(/\s+/);
  } catch { /* no readable deno.json: the plain command */ }
  return [Deno.execPath(), ...cmd.slice(1)];
}

/** Every target, with `skipped` set on those that cannot run here. */
export async function resolveTargets(root: string, wanted: Set<TargetName>): Promise<Target[]> {
  const deno = Deno.execPath();
  const targets: Target[] = [
    {
      name: "wstun",
      label: "WSTun",
      flavour: "wstun",
      cmd: wstunCommand(root),
      env: WSTUN_UNLIMITED,
      skipped: exists(`${root}/main.ts`) ? undefined : "needs main.ts (the core hub, issue 3)",
    },
    {
      name: "baseline",
      label: "baseline",
      flavour: "wstun",
      cmd: [deno, "run", "--allow-net", "--allow-env", "bench/baseline_relay.ts"],
      env: {},
    },
    {
      name: "node-ws",
      label: "Node+ws",
      flavour: "wstun",
      cmd: ["node", "bench/node/ws_relay.mjs"],
      env: {},
    },
    {
      name: "socketio",
      label: "Socket.IO",
      flavour: "socketio",
      cmd: ["node", "bench/node/socketio_relay.mjs"],
      env: {},
    },
  ];
  const chosen = targets.filter((t) => wanted.has(t.name));
  if (!chosen.some((t) => t.name === "node-ws" || t.name === "socketio")) return chosen;
  const node = await nodeVersion();
  const nodeProblem = node ? await ensureNodePackages(root) : "needs Node (not installed)";
  for (const t of chosen) {
    if ((t.name === "node-ws" || t.name === "socketio") && nodeProblem) t.skipped = nodeProblem;
  }
  return chosen;
}

/**
 * How to run the load generator: Node when present (libuv sockets, no compatibility layer, and a
 * different runtime from the servers under test), else Deno's `node:net`. `prefer` forces one.
 */
export async function loadCommand(
  prefer: "node" | "deno" | "auto",
): Promise<{ cmd: string[]; runtime: string }> {
  const node = prefer === "deno" ? null : await nodeVersion();
  const script = "bench/load/load_generator.mjs";
  if (node) return { cmd: ["node", script], runtime: `node ${node}` };
  if (prefer === "node") throw new Error("--load-runtime node: Node is not installed");
  return {
    cmd: [Deno.execPath(), "run", "--allow-net", "--allow-env", "--allow-read", script],
    runtime: `deno ${Deno.version.deno}`,
  };
}
