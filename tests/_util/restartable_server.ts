/**
 * Test-only: WSTun as a real process (`deno run … main.ts`, so a signal reaches the server
 * itself) that a test stops with SIGTERM or SIGKILL and starts again on the same port and store,
 * and libwstun clients that count what they receive.
 *
 * @module
 */
import { WSTunClient } from "../../static/libwstun.js";
import { type ServerProcess, startServerProcess } from "./server_process.ts";
import { REPEAT_WINDOW_MS } from "../../lib/process_exit.ts";

/** A server process that can be stopped and started again with the same environment. */
export class RestartableServer {
  #child: ServerProcess | null = null;

  constructor(readonly port: number, readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#child = await startServerProcess({ ...this.env, PORT: String(this.port) });
  }

  /**
   * Sends `signal` (and `then`, 400 ms later, if given) and waits for the process to exit;
   * resolves how long that took after the last signal (ms).
   */
  async stop(signal: "SIGTERM" | "SIGKILL", then?: "SIGTERM"): Promise<number> {
    const child = this.#child;
    if (!child) return 0;
    this.#child = null;
    child.signal(signal);
    if (then) {
      // Later than REPEAT_WINDOW_MS: sooner, it would count as a copy of the first.
      await new Promise((r) => setTimeout(r, REPEAT_WINDOW_MS + 150));
      try {
        child.signal(then);
      } catch { /* already gone */ }
    }
    const began = Date.now();
    await child.exited();
    return Date.now() - began;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}

/** A libwstun client that records the `n` of every `note` it receives, and a few events. */
export function noteTaker(url: string) {
  const client = new WSTunClient({ url, minBackoffMs: 100, maxBackoffMs: 500 });
  const notes: number[] = [];
  const events: { type: string; [key: string]: unknown }[] = [];
  client.on("note", (frame) => notes.push(frame.n));
  for (const type of ["reconnect", "instance_closed", "instance_moving", "close"]) {
    client.on(type, (frame) => events.push({ ...frame, type: type }));
  }
  return { client, notes, events };
}

/** Sends notes `from`..`to`-1 every `everyMs`, through libwstun (held while reconnecting). */
export async function sendNotes(
  client: WSTunClient,
  uuid: string,
  from: number,
  to: number,
  everyMs: number,
): Promise<void> {
  for (let n = from; n < to; n++) {
    client.send(uuid, "note", { n });
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
