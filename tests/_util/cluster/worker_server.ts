/**
 * Test-only worker: one WSTun server in its own isolate, joined to a test's cluster (same
 * BroadcastChannel namespace, same KV file). Posts its socket URL and its isolate id once listening.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { defaultConfig } from "../../../lib/config.ts";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { MessagePortBridge } from "../../../lib/bridge/message_port_bridge.ts";
import { createServer } from "../../../routes/app.ts";

/** What the test (or bench) tells the worker. */
export interface WorkerServerStart {
  namespace: string;
  kvPath: string;
  heartbeatMs: number;
  maxMsgsPerSec?: number;
  /** With a port: a MessagePort bridge to `peer` (the parent), instead of BroadcastChannel. */
  port?: MessagePort;
  peer?: string;
  /** Turns tunnels on with these secrets. */
  tunnelSecrets?: { a: string; b: string };
}

self.onmessage = async (e: MessageEvent<WorkerServerStart>) => {
  const { kvPath, namespace, heartbeatMs, maxMsgsPerSec, port, peer, tunnelSecrets } = e.data;
  const base = defaultConfig({ hostname: "127.0.0.1", port: 0, kvPath });
  if (tunnelSecrets) base.tunnel = { ...TUNNEL_DEFAULTS, secrets: tunnelSecrets };
  if (maxMsgsPerSec !== undefined) base.maxMsgsPerSec = maxMsgsPerSec;
  const bridge = port && peer ? new MessagePortBridge(new Map([[peer, port]])) : undefined;
  const server = await createServer({
    ...base,
    bridge: { ...base.bridge, mode: "broadcast_channel", namespace, heartbeatMs, timeoutMs: 1000 },
  }, { bridge });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
  self.postMessage({
    wsUrl: `ws://127.0.0.1:${http.addr.port}/_ws`,
    isolate: server.cluster?.isolate,
  });
};
