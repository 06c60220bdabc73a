/**
 * What `udp-expose` and `udp-connect` do the same way around their tool: run until Ctrl-C (or
 * until the tool ends itself), print a report on a timer — round-trip time to the relay,
 * datagrams per second each way, drops by reason — and the totals once more on the way out, and
 * turn a usage error into one line plus the usage text and exit code 2.
 *
 * @module
 */
import type { LinkError } from "../lib/udp/relay_link.ts";
import type { SocketBuffers } from "../lib/udp/os_socket.ts";
import type { TunnelCounters } from "../lib/udp/tunnel_counters.ts";
import { clock, UsageError } from "../lib/udp/tool_options.ts";

/** The part of a running UDP tool the command line drives. */
export interface RunningTool {
  stop(): Promise<void>;
  refreshCounters(): TunnelCounters;
  pingRelay(): Promise<number | LinkError>;
}

/**
 * Prints `tool`'s report every `reportMs` (0: never) until Ctrl-C or `ended` resolves, then
 * stops the tool and prints its totals.
 */
export async function runUntilInterrupted(
  tool: RunningTool,
  reportMs: number,
  ended: Promise<void> = new Promise(() => {}),
): Promise<void> {
  let before = tool.refreshCounters().snapshot();
  let since = performance.now();
  let reporting = false;
  const report = async () => {
    if (reporting) return;
    reporting = true;
    const rtt = await tool.pingRelay();
    const now = tool.refreshCounters();
    const at = performance.now();
    const relay = typeof rtt === "number" ? `${rtt.toFixed(2)} ms` : `unknown (${rtt.message})`;
    console.log(`${clock()} relay RTT ${relay}; ${now.rates(before, (at - since) / 1000)}`);
    before = now.snapshot();
    since = at;
    reporting = false;
  };
  const timer = reportMs ? setInterval(report, reportMs) : undefined;
  const interrupted = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", interrupted.resolve);
  await Promise.race([interrupted.promise, ended]);
  clearInterval(timer);
  await tool.stop();
  console.log(`${clock()} stopped; ${tool.refreshCounters().summary()}`);
}

/** "receive buffer 8 MiB, send 2 MiB", with what to do when the kernel granted less. */
export function describeBuffers(
  where: string,
  asked: SocketBuffers,
  granted: SocketBuffers | string,
): string {
  if (typeof granted === "string") return `${where}: the kernel's default buffers (${granted})`;
  const text = `${where}: receive buffer ${size(granted.receive)}, send ${size(granted.send)}`;
  // Linux grants twice the request; less means net.core.rmem_max / wmem_max capped it.
  const capped = [
    ["receive", "rmem_max", asked.receive, granted.receive],
    ["send", "wmem_max", asked.send, granted.send],
  ].filter(([, , want, got]) => Number(want) > 0 && Number(got) < 2 * Number(want));
  if (!capped.length) return text;
  return `${text} (the kernel capped ${capped.map(([what]) => what).join(" and ")}: ` +
    capped.map(([, knob, want]) => `sysctl -w net.core.${knob}=${want}`).join("; ") +
    " lets it grant what was asked)";
}

function size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}

/** Runs `main` as the process: exits with its code, or with 2 and the usage on a bad argument. */
export async function runTool(
  name: string,
  usage: string,
  main: (args: string[]) => Promise<number>,
): Promise<never> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${name}: ${err.message}\n\n${usage}`);
    Deno.exit(2);
  }
}
