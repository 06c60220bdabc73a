/**
 * Test-only worker: one WSTun server in its own isolate, joined to a test's cluster (same
 * BroadcastChannel namespace, same KV file). Posts its socket URL once listening.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { defaultConfig } from "../../lib/config.ts";
import { createServer } from "../../routes/app.ts";

self.onmessage = async (
  e: MessageEvent<{ namespace: string; kvPath: string; heartbeatMs: number }>,
) => {
  const base = defaultConfig({ hostname: "127.0.0.1", port: 0, kvPath: e.data.kvPath });
  const server = await createServer({
    ...base,
    bridge: {
      ...base.bridge,
      mode: "broadcast_channel",
      namespace: e.data.namespace,
      heartbeatMs: e.data.heartbeatMs,
      timeoutMs: 1000,
    },
  });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
  self.postMessage({ wsUrl: `ws://127.0.0.1:${http.addr.port}/_ws` });
};
