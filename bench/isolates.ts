/**
 * The `bridge-hop` scenario: host and member on the same isolate, then on two isolates joined by
 * MessagePorts (as `WSTUN_WORKERS`) and by BroadcastChannel (as Deno Deploy): round-trip p50/p99
 * and a one-way burst's frames/s, measured in this process by bench/bridge_hop.ts (a Deno
 * WebSocket client, no load generator). It is the only scenario that shows the BroadcastChannel
 * bridge; the load-generator comparisons (`workers`, `cross-isolate`) are in bench/comparisons.ts.
 *
 * @module
 */
import { runBridgeHop } from "./bridge_hop.ts";

/** Scenario name for `--scenario`. */
export const BRIDGE_HOP = "bridge-hop";

/** Same-isolate and cross-isolate hops, measured in this process. */
export async function runCrossIsolateHops(): Promise<Record<string, unknown>> {
  console.log(
    `\n${BRIDGE_HOP}: host and member on one isolate vs two (MessagePort, BroadcastChannel), ` +
      "in process",
  );
  const figures = await runBridgeHop();
  for (const [placement, f] of Object.entries(figures)) {
    console.log(`  ${placement.padEnd(34)} ${typeof f === "string" ? f : JSON.stringify(f)}`);
  }
  return figures;
}
