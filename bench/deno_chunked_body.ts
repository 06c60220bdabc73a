/**
 * A minimal reproduction, outside WSTun, of the Deno 2.9 HTTP/1 server defect that slows chunked
 * tunnel uploads (docs/tunnels.md, "Known limits"): a `Deno.serve` handler that reads a chunked
 * request body while doing other work between reads (here one macrotask hop per chunk, as a
 * tunnel does while it forwards each chunk) burns CPU that grows with the square of the body size,
 * and its RSS grows, when the client's chunks are small; the same body with a Content-Length, or
 * in 65,524-byte chunks (curl's), is fast and flat.
 *
 *   deno run -A bench/deno_chunked_body.ts [megabytes=32]
 *
 * The client runs in a child process (this file with `--send`), so only the server's work is
 * counted. Cause, read from Deno's source (libs/http_h1/conn.rs, ext/http/http_next.rs): each
 * request-body read first polls the socket for a peer close, which appends whatever bytes are
 * waiting to the connection's `buffered` Vec, then takes one HTTP chunk from its front with
 * `Vec::drain`; while the handler lags, each read appends more than it takes, so the backlog
 * grows and every read copies it.
 *
 * @module
 */

import { rawUpload } from "./raw_upload.ts";

const SERVER_FLAG = "--send";

function send(url: string, megabytes: number, chunkBytes: number): Promise<string> {
  return rawUpload(new URL(url), megabytes * 1024 * 1024, chunkBytes || null);
}

/** This process's user + system CPU time (Linux: /proc/self/stat, in clock ticks of 10 ms). */
function cpuMs(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One macrotask hop, without a timer's minimum delay. */
function hop(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  const done = new Promise<void>((resolve) => port1.onmessage = () => resolve());
  port2.postMessage(null);
  return done.finally(() => {
    port1.close();
    port2.close();
  });
}

async function main(): Promise<void> {
  if (Deno.args[0] === SERVER_FLAG) {
    await send(Deno.args[1], Number(Deno.args[2]), Number(Deno.args[3]));
    return;
  }
  const megabytes = Number(Deno.args[0] ?? 32);
  let reads = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    for await (const _ of request.body!) {
      reads++;
      await hop();
    }
    return new Response("ok");
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  console.log(`${megabytes} MiB per upload; server CPU and RSS are this process's`);
  for (
    const [label, chunkBytes] of [
      ["Content-Length", 0],
      ["chunked, 65524-byte chunks", 65524],
      ["chunked, 65536-byte chunks", 65536],
      ["chunked, 16384-byte chunks", 16384],
    ] as const
  ) {
    reads = 0;
    const rssBefore = Deno.memoryUsage().rss;
    const cpuBefore = cpuMs();
    const t0 = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        import.meta.filename!,
        SERVER_FLAG,
        url,
        String(megabytes),
        String(chunkBytes),
      ],
    }).spawn();
    const status = await child.status;
    if (!status.success) throw new Error(`${label}: the sender failed`);
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `${label.padEnd(28)} ${(megabytes / seconds).toFixed(1).padStart(7)} MiB/s  ` +
        `server CPU ${String(cpuMs() - cpuBefore).padStart(6)} ms  reads ${
          String(reads).padStart(5)
        }  ` +
        `RSS +${((Deno.memoryUsage().rss - rssBefore) / 1048576).toFixed(0)} MiB`,
    );
  }
  await server.shutdown();
}

if (import.meta.main) await main();
