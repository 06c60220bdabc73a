/**
 * Tunnel transfer benchmark: moves N bytes down (target → viewer) and up (viewer → target)
 * through a WSTun server running in its own process (main.ts), and samples that process's RSS,
 * to check issue 9's "a 1 GB upload and download move through a tunnel with flat RSS".
 *
 *   deno run -A bench/tunnel_transfer.ts [megabytes=1024]
 *
 * The viewer, the TypeScript tunnel client and the target run in this process; bodies are
 * generated and counted on the fly, never held whole. Prints MiB/s and the server's RSS at start,
 * peak and end, for a download, an upload with a Content-Length, and chunked uploads in curl's
 * chunk size and in 16 KiB chunks (the last shows a Deno defect, see bench/deno_chunked_body.ts). Not part of `deno task test`. `WINDOW=<bytes>` sets the per-stream window on both
 * sides; `SERVER_FLAGS="…"` passes flags to the server's `deno run`.
 *
 * @module
 */
import { fixedToken, startTunnelClient } from "../lib/tunnel/client.ts";
import { signTunnelToken } from "../lib/tunnel/jwt.ts";
import { rawUpload } from "./raw_upload.ts";

const megabytes = Number(Deno.args[0] ?? 1024);
const total = megabytes * 1024 * 1024;
const CHUNK = 64 * 1024;

function generated(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(CHUNK, bytes - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(sent & 0xff));
    },
  });
}

async function count(body: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += chunk.byteLength;
  return n;
}

const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  if (request.method === "POST") return new Response(String(await count(request.body!)));
  return new Response(generated(total), { headers: { "content-length": String(total) } });
});

const server = new Deno.Command(Deno.execPath(), {
  // SERVER_FLAGS passes extra flags to the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  args: [
    "run",
    "-A",
    ...(Deno.env.get("SERVER_FLAGS")?.split(" ") ?? []),
    new URL("../main.ts", import.meta.url).pathname,
  ],
  env: {
    PORT: "0",
    WSTUN_HOSTNAME: "127.0.0.1",
    WSTUN_TUNNEL_SECRET_A: "bench-secret-a-0123456789abcdef0123",
    WSTUN_TUNNEL_SECRET_B: "bench-secret-b-0123456789abcdef0123",
    ...(Deno.env.get("WINDOW") ? { WSTUN_TUNNEL_WINDOW_BYTES: Deno.env.get("WINDOW")! } : {}),
  },
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
let banner = "";
while (!/listening on (http:\/\/\S+?)\/?\s/.test(banner)) {
  const { value, done } = await lines.read();
  if (done) throw new Error(`server exited: ${banner}`);
  banner += value;
}
const origin = /listening on (http:\/\/\S+?)\/?\s/.exec(banner)![1];
const drainLogs = (async () => {
  while (!(await lines.read()).done) { /* tunnel log lines */ }
})();

function rssMiB(): number {
  const status = Deno.readTextFileSync(`/proc/${server.pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const { promise: announced, resolve } = Promise.withResolvers<string>();
const client = startTunnelClient({
  server: origin,
  id: "bench",
  targetPort: target.addr.port,
  tokens: fixedToken(
    await signTunnelToken({
      id: "bench",
      secret: "bench-secret-a-0123456789abcdef0123",
      ttlSeconds: 3600,
      nowSeconds: Date.now() / 1000,
    }),
  ),
  onUrl: resolve,
  windowBytes: Deno.env.get("WINDOW") ? Number(Deno.env.get("WINDOW")) : undefined,
});
const url = await announced;

async function measure(label: string, run: () => Promise<number>, expected = total) {
  const start = rssMiB();
  let peak = start;
  const sampler = setInterval(() => peak = Math.max(peak, rssMiB()), 100);
  const t0 = performance.now();
  const moved = await run();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const end = rssMiB();
  console.log(
    `${label}: ${(moved / 1048576).toFixed(0)} MiB in ${seconds.toFixed(1)} s ` +
      `(${(moved / 1048576 / seconds).toFixed(1)} MiB/s); server RSS start ${start.toFixed(0)} ` +
      `MiB, peak ${peak.toFixed(0)} MiB, end ${end.toFixed(0)} MiB`,
  );
  if (moved !== expected) throw new Error(`${label}: moved ${moved} of ${expected} bytes`);
}

await measure("download", async () => count((await fetch(`${url}/down`)).body!));
/** A viewer upload to the target's counting endpoint; resolves to the bytes it counted. */
async function upload(bytes: number, chunkBytes: number | null): Promise<number> {
  return Number(await rawUpload(new URL(`${url}/up`), bytes, chunkBytes));
}

await measure("upload, Content-Length", () => upload(total, null));
// curl's chunk size for `-T` with `Transfer-Encoding: chunked`.
await measure("upload, chunked (65524-byte chunks)", () => upload(total, 65524));
// Smaller chunks hit a Deno 2.9 HTTP/1 server defect (docs/tunnels.md, bench/deno_chunked_body.ts):
// capped at 32 MiB to keep the run short.
const smallTotal = Math.min(total, 32 * 1024 * 1024);
await measure("upload, chunked (16 KiB chunks)", () => upload(smallTotal, 16384), smallTotal);

await client.close();
server.kill("SIGTERM");
await server.status;
await drainLogs;
await target.shutdown();
