/**
 * What a hostile WebSocket costs the server's memory before `WSTUN_MAX_FRAME_BYTES` can act.
 *
 *   deno run -A bench/frame_memory.ts [scenario…]
 *
 * Deno's WebSocket (fastwebsockets under `Deno.upgradeWebSocket`) reads a whole message before
 * JavaScript sees it, and `Deno.upgradeWebSocket` has no option to bound that (only `protocol` and
 * `idleTimeout`): a frame may be up to 64 MiB − 1, and a message of continuation frames is
 * collected with no bound at all. WSTun's size check (lib/connection.ts) runs afterwards. Each
 * scenario starts a fresh server (main.ts, default limits: 1 MiB frames) in its own process, opens
 * raw TCP sockets to `/_ws` on loopback, writes hand-made frames, and samples the server's RSS
 * from /proc every 20 ms:
 *
 * - `frame`: one socket sends one 60 MiB binary frame; the server closes it with 1009 only after
 *   the last byte.
 * - `held`: 8 sockets each send all but the last byte of a 60 MiB frame and keep it open.
 * - `fragments`: one socket sends a message as 16 MiB fragments, never the final one, 1 GiB in all.
 *
 * Bounded: every scenario ends by itself (at most ~1 GiB sent per scenario) and closes what it
 * opened. Loopback only. Not part of `deno task test`. Linux (/proc).
 *
 * @module
 */

const MiB = 1024 * 1024;
const WRITE = 1 * MiB;

interface Server {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: { PORT: "0", WSTUN_HOSTNAME: "127.0.0.1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!/listening on http:\/\/[^:]+:(\d+)/.test(banner)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`server exited: ${banner}`);
    banner += value;
  }
  const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(banner)![1]);
  const drain = (async () => {
    while (!(await lines.read()).done) { /* log lines */ }
  })();
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drain;
    },
  };
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Samples RSS until stopped; returns the peak. */
function sampler(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => peak = Math.max(peak, rssMiB(pid)), 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMiB(pid));
    },
  };
}

/** A raw socket that has completed the WebSocket handshake on /_ws. */
async function openSocket(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    new TextEncoder().encode(
      `GET /_ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  const buffer = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the server closed the socket during the handshake");
    head += new TextDecoder().decode(buffer.subarray(0, n));
  }
  if (!head.startsWith("HTTP/1.1 101")) {
    throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
  }
  return conn;
}

/** A client frame header (masked with a zero key, so the payload is sent as is). */
function frameHeader(opcode: number, fin: boolean, length: number): Uint8Array {
  const header = new Uint8Array(2 + 8 + 4);
  header[0] = (fin ? 0x80 : 0) | opcode;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header; // the last 4 bytes, the mask key, stay zero
}

/** `conn.write` may write less than it is given. */
async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}

async function writeZeros(conn: Deno.TcpConn, bytes: number): Promise<void> {
  const block = new Uint8Array(WRITE);
  for (let left = bytes; left > 0; left -= WRITE) {
    await writeAll(conn, left >= WRITE ? block : block.subarray(0, left));
  }
}

/** Reads the server's frames until its close frame (or the end); returns the close code. */
async function closeCode(conn: Deno.TcpConn): Promise<number | undefined> {
  const buffer = new Uint8Array(4096);
  let seen = new Uint8Array(0);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return undefined;
    const next = new Uint8Array(seen.byteLength + n);
    next.set(seen);
    next.set(buffer.subarray(0, n), seen.byteLength);
    seen = next;
    // The server's frames are unmasked and small here (pings, errors, the close).
    for (let i = 0; i + 2 <= seen.byteLength;) {
      const opcode = seen[i] & 0x0f;
      const length = seen[i + 1] & 0x7f;
      if (length > 125 || i + 2 + length > seen.byteLength) break;
      if (opcode === 8) return length >= 2 ? (seen[i + 2] << 8) | seen[i + 3] : 1005;
      i += 2 + length;
    }
  }
}

interface Outcome {
  scenario: string;
  sentMiB: number;
  baselineMiB: number;
  peakMiB: number;
  note: string;
}

async function frame(server: Server): Promise<Omit<Outcome, "scenario" | "baselineMiB">> {
  const size = 60 * MiB;
  const conn = await openSocket(server.port);
  await writeAll(conn, frameHeader(2, true, size));
  await writeZeros(conn, size);
  const code = await closeCode(conn);
  conn.close();
  return { sentMiB: 60, peakMiB: 0, note: `closed with ${code ?? "no close frame"}` };
}

async function held(server: Server): Promise<Omit<Outcome, "scenario" | "baselineMiB">> {
  const sockets = 8, size = 60 * MiB;
  const conns = await Promise.all(Array.from({ length: sockets }, () => openSocket(server.port)));
  await Promise.all(conns.map(async (conn) => {
    await writeAll(conn, frameHeader(2, true, size));
    await writeZeros(conn, size - 1);
  }));
  // Give the server a moment to read what is in flight, then look.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const holding = rssMiB(server.pid);
  for (const conn of conns) conn.close();
  return {
    sentMiB: (sockets * size) / MiB,
    peakMiB: 0,
    note: `${sockets} sockets each 1 byte short of a 60 MiB frame; RSS while held ${
      holding.toFixed(0)
    } MiB`,
  };
}

async function fragments(server: Server): Promise<Omit<Outcome, "scenario" | "baselineMiB">> {
  const fragment = 16 * MiB, total = 1024 * MiB;
  const conn = await openSocket(server.port);
  let sent = 0;
  for (let opcode = 2; sent < total; opcode = 0) {
    await writeAll(conn, frameHeader(opcode, false, fragment));
    await writeZeros(conn, fragment);
    sent += fragment;
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const holding = rssMiB(server.pid);
  conn.close();
  return {
    sentMiB: sent / MiB,
    peakMiB: 0,
    note: `no final fragment; RSS while held ${holding.toFixed(0)} MiB, socket still open`,
  };
}

const SCENARIOS = { frame, held, fragments } as const;
const chosen = Deno.args.length ? Deno.args : Object.keys(SCENARIOS);
const outcomes: Outcome[] = [];
for (const name of chosen) {
  const run = SCENARIOS[name as keyof typeof SCENARIOS];
  if (!run) throw new Error(`unknown scenario ${name}; one of ${Object.keys(SCENARIOS)}`);
  const server = await startServer();
  try {
    const baselineMiB = rssMiB(server.pid);
    const peak = sampler(server.pid);
    const outcome = await run(server);
    outcomes.push({ ...outcome, scenario: name, baselineMiB, peakMiB: peak.stop() });
  } finally {
    await server.stop();
  }
}
for (const o of outcomes) {
  console.log(
    `${o.scenario.padEnd(10)} sent ${String(o.sentMiB).padStart(5)} MiB  RSS ${
      o.baselineMiB.toFixed(0)
    } → peak ${o.peakMiB.toFixed(0)} MiB (+${(o.peakMiB - o.baselineMiB).toFixed(0)})  ${o.note}`,
  );
}
