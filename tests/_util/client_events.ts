/**
 * Waiting on libwstun.js events in tests, with a time-out instead of a sleep.
 *
 * @module
 */
import type { WSTunClient } from "../../static/libwstun.js";

/** Resolves with the next event of `type` on `client`. */
// deno-lint-ignore no-explicit-any
export function nextEvent(client: WSTunClient, type: string, timeoutMs = 3000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(type, (frame: unknown) => {
      clearTimeout(timer);
      off();
      resolve(frame);
    });
  });
}
