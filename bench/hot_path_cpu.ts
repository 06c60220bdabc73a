/**
 * The per-frame path in CPU time, this tree against another build (`WSTUN_BENCH_BASE_DIR`, e.g.
 * `git archive <commit> | tar -x -C /tmp/base`): a member's JSON frame through `Connection` → hub
 * → the host's `Connection` (`relay`), and a host's frame to 100 members (`fanout-100`), on stub
 * sockets whose `send` does nothing, so the figure is WSTun's own work per frame with no I/O.
 *
 * CPU time (user + system of the process) rather than wall time: on a shared machine other work
 * stretches wall time but not the CPU time this process spends. Each round runs each build in a
 * fresh process pinned to core 0 (A B A B), and the medians are compared.
 *
 *   WSTUN_BENCH_BASE_DIR=/tmp/base deno run -A bench/hot_path_cpu.ts [rounds]
 *
 * @module
 */
import process from "node:process";

const HERE = new URL(import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

interface Stub {
  sent: unknown[];
  socket: {
    readyState: number;
    bufferedAmount: number;
    send(data: unknown): void;
    close(): void;
    onmessage: null | ((e: { data: unknown }) => void);
  };
}

function stub(): Stub {
  const sent: unknown[] = [];
  return {
    sent,
    socket: {
      readyState: 1,
      bufferedAmount: 0,
      send(data) {
        if (sent.length < 1) sent.push(data);
      },
      close() {},
      onmessage: null,
    },
  };
}

/** A hub of `root`'s build with a host and `members` members joined, on stub sockets. */
async function room(root: string, members: number) {
  const { defaultConfig } = await import(`${root}/lib/config.ts`);
  const { Hub } = await import(`${root}/lib/hub/hub.ts`);
  const { Stats } = await import(`${root}/lib/stats.ts`);
  const { ServiceCatalog } = await import(`${root}/lib/service_catalog.ts`);
  const { Connection } = await import(`${root}/lib/connection.ts`);
  const config = defaultConfig({ maxMsgsPerSec: 0, maxMembersPerInstance: 0 });
  const stats = new Stats(Date.now());
  const hub = new Hub({ config, catalog: new ServiceCatalog(), stats });
  const open = () => {
    const s = stub();
    new Connection(s.socket as unknown as WebSocket, hub, config, stats);
    return s;
  };
  const send = (s: Stub, frame: object) => s.socket.onmessage!({ data: JSON.stringify(frame) });
  const host = open();
  send(host, { type: "create_instance", service: "chat", name: "r" });
  const uuid = JSON.parse(host.sent[0] as string).uuid;
  const joined = [];
  for (let i = 0; i < members; i++) {
    const member = open();
    send(member, { type: "join_instance", uuid, userId: `u${i}` });
    joined.push(member);
  }
  const data = JSON.stringify({ type: "chat", uuid, text: "hello there, a short chat line" });
  return { host, member: joined[0], data };
}

/** CPU nanoseconds per call of `work`. */
function cpuNs(calls: number, work: () => void): number {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) * 1000 / calls;
}

/** One build, one process: prints `{relay, fanout100}` in CPU ns per frame. */
async function measure(root: string) {
  const one = await room(root, 1);
  const many = await room(root, 100);
  const relay = () => one.member.socket.onmessage!({ data: one.data });
  const fanout = () => many.host.socket.onmessage!({ data: many.data });
  cpuNs(300_000, relay);
  cpuNs(30_000, fanout);
  console.log(
    JSON.stringify({ relay: cpuNs(1_000_000, relay), fanout100: cpuNs(100_000, fanout) }),
  );
}

async function runOnce(root: string): Promise<{ relay: number; fanout100: number }> {
  const out = await new Deno.Command("taskset", {
    args: ["-c", "0", Deno.execPath(), "run", "--config", `${ROOT}/deno.json`, "-A", HERE, root],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const base = Deno.env.get("WSTUN_BENCH_BASE_DIR");
  if (!base) throw new Error("set WSTUN_BENCH_BASE_DIR to a checkout of the build to compare");
  const rounds = Number(Deno.args[0] ?? 8);
  const runs: Record<"this" | "base", { relay: number; fanout100: number }[]> = {
    this: [],
    base: [],
  };
  for (let round = 1; round <= rounds; round++) {
    for (const [name, root] of [["base", base], ["this", ROOT]] as const) {
      const r = await runOnce(root);
      runs[name].push(r);
      console.log(
        `round ${round} ${name}: relay ${r.relay.toFixed(0)} ns, fanout-100 ` +
          `${r.fanout100.toFixed(0)} ns CPU per frame`,
      );
    }
  }
  for (const key of ["relay", "fanout100"] as const) {
    const a = median(runs.this.map((r) => r[key])), b = median(runs.base.map((r) => r[key]));
    console.log(
      `${key}: this tree ${a.toFixed(0)} ns, other build ${b.toFixed(0)} ns CPU ` +
        `per frame (medians of ${rounds}); throughput ratio ${(b / a).toFixed(3)}×`,
    );
  }
}

if (import.meta.main) {
  if (Deno.args[0]?.startsWith("/")) await measure(Deno.args[0]);
  else await main();
}
