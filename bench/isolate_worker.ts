/**
 * The second isolate of bench/two_isolates.ts: one WSTun server in a worker, bridged to the main
 * isolate by a MessagePort (the bridge `WSTUN_WORKERS` uses), listening on the port it is given.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { MessagePortBridge } from "../lib/bridge/message_port_bridge.ts";
import { loadConfig } from "../lib/config.ts";
import { createServer } from "../routes/app.ts";

/** What bench/two_isolates.ts tells the worker. */
export interface IsolateWorkerStart {
  port: number;
  kvPath: string;
  isolate: string;
  /** The main isolate's id and the MessagePort to it. */
  peer: string;
  bridgePort: MessagePort;
}

self.onmessage = async (e: MessageEvent<IsolateWorkerStart>) => {
  const { port, kvPath, isolate, peer, bridgePort } = e.data;
  try {
    const config = loadConfig({ ...Deno.env.toObject(), WSTUN_KV_PATH: kvPath });
    const server = await createServer(config, {
      bridge: new MessagePortBridge(new Map([[peer, bridgePort]])),
      isolate,
    });
    Deno.serve({
      port,
      hostname: "127.0.0.1",
      onListen: () => self.postMessage({ listening: port }),
    }, server.fetch);
  } catch (err) {
    self.postMessage({ failed: (err as Error).message });
  }
};
