/**
 * The bridge of a server that runs alone but keeps its instances in a persistent store (one
 * server with `WSTUN_KV_PATH`, no other isolates): there is no one to reach, so nothing is sent;
 * the cluster still keeps the instance records, so rooms survive a restart of the server.
 *
 * @module
 */
import type { Bridge } from "./bridge.ts";

export class LoneBridge implements Bridge {
  listen(): void {}
  post(): void {}
  broadcast(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}
