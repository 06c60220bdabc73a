/**
 * The cost of a cross-isolate hop against a same-isolate hop, and the numbers behind the
 * bridge's channel layout (docs/architecture.md, "Bridge and directory"). Not part of
 * `deno task test`; `deno task bench --scenario bridge-hop` runs it too. Run alone:
 *
 *   deno run --allow-net --allow-env --allow-read --allow-write bench/bridge_hop.ts
 *
 * @module
 */
import { ulid } from "ulid";
import { BroadcastChannelBridge } from "../lib/bridge/broadcast_channel_bridge.ts";
import { MessagePortBridge } from "../lib/bridge/message_port_bridge.ts";
import { defaultConfig } from "../lib/config.ts";
import { createServer } from "../routes/app.ts";
import { TestSocket } from "../tests/_util/test_socket.ts";

const ROUND_TRIPS = 2000;
const BURST = 20000;

async function measure(hostUrl: string, memberUrl: string) {
  const host = await TestSocket.open(hostUrl);
  const member = await TestSocket.open(memberUrl);
  const { uuid } = await host.request({ type: "create_instance", service: "chat", name: "b" });
  await member.request({ type: "join_instance", uuid, userId: "m" });
  await host.next();
  host.ws.onmessage = (e) => host.ws.send(e.data.replace('"type":"p"', '"type":"q"'));
  const samples: number[] = [];
  let t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const sent = performance.now();
    member.send({ type: "p", uuid, i });
    await member.next(2000);
    samples.push(performance.now() - sent);
  }
  const rtt = (performance.now() - t) / ROUND_TRIPS;
  samples.sort((a, b) => a - b);
  const pct = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  let got = 0;
  const done = Promise.withResolvers<void>();
  host.ws.onmessage = () => {
    if (++got === BURST) done.resolve();
  };
  t = performance.now();
  for (let i = 0; i < BURST; i++) member.send({ type: "d", uuid, i });
  const timer = setTimeout(
    () => done.reject(new Error(`${got} of ${BURST} frames arrived`)),
    10000,
  );
  await done.promise.finally(() => clearTimeout(timer));
  const rate = BURST / ((performance.now() - t) / 1000);
  await host.close();
  await member.close();
  return {
    rttMs: Number(rtt.toFixed(3)),
    p50Ms: Number(pct(0.5).toFixed(3)),
    p99Ms: Number(pct(0.99).toFixed(3)),
    framesPerSec: Math.round(rate),
  };
}

/** Round-trip latency and one-way throughput of one placement. */
export type HopFigures = Awaited<ReturnType<typeof measure>>;

/** Host on a worker isolate, member on this one; `kind` picks the bridge between them. */
async function hops(
  kind: "message_port" | "broadcast_channel",
): Promise<Record<string, HopFigures | string>> {
  const out: Record<string, HopFigures | string> = {};
  const kvPath = await Deno.makeTempFile({ suffix: ".kv" });
  const namespace = `bench-${ulid()}`;
  const base = defaultConfig({ hostname: "127.0.0.1", port: 0, kvPath, maxMsgsPerSec: 0 });
  const config = {
    ...base,
    bridge: { ...base.bridge, mode: "broadcast_channel" as const, namespace },
  };
  const worker = new Worker(new URL("../tests/_util/cluster/worker_server.ts", import.meta.url), {
    type: "module",
  });
  const here = `main-${ulid()}`;
  const channel = kind === "message_port" ? new MessageChannel() : undefined;
  const start = { namespace, kvPath, heartbeatMs: 5000, maxMsgsPerSec: 0, peer: here };
  if (channel) worker.postMessage({ ...start, port: channel.port2 }, [channel.port2]);
  else worker.postMessage(start);
  const { wsUrl: remote, isolate } = await new Promise<{ wsUrl: string; isolate: string }>(
    (r) => worker.onmessage = (e) => r(e.data),
  );
  const bridge = channel
    ? new MessagePortBridge(new Map([[isolate, channel.port1]]))
    : new BroadcastChannelBridge(namespace);
  const server = await createServer(config, { bridge, isolate: here });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
  const local = `ws://127.0.0.1:${http.addr.port}/_ws`;
  if (kind === "message_port") out["same isolate"] = await measure(local, local);
  try {
    out[`cross isolate (${kind})`] = await measure(remote, local);
  } catch (err) {
    out[`cross isolate (${kind})`] = (err as Error).message;
  }
  worker.terminate();
  await http.shutdown();
  await server.shutdown();
  await Deno.remove(kvPath);
  return out;
}

/**
 * Host and member on the same isolate, then on two isolates joined by MessagePorts (as
 * `WSTUN_WORKERS`) and by BroadcastChannel (as Deno Deploy): figures per placement.
 */
export async function runBridgeHop(): Promise<Record<string, HopFigures | string>> {
  return { ...await hops("message_port"), ...await hops("broadcast_channel") };
}

/** What a channel per instance would cost that an inbox per isolate does not. */
function layout() {
  const t = performance.now();
  const channels = Array.from({ length: 10000 }, (_, i) => new BroadcastChannel(`bench:${i}`));
  const perChannelUs = ((performance.now() - t) * 1000 / channels.length).toFixed(1);
  for (const c of channels) c.close();
  console.log(`opening a BroadcastChannel: ${perChannelUs} µs each (10000 opened)`);
}

if (import.meta.main) {
  layout();
  for (const [placement, figures] of Object.entries(await runBridgeHop())) {
    console.log(placement.padEnd(34), figures);
  }
}
