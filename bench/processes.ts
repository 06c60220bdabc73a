/**
 * The processes of a benchmark run: relay servers and load generators, each pinned to its own core
 * with `taskset` when the machine has two or more, plus what /proc says about them (CPU time, RSS).
 *
 * Guarantees: every process started here is stopped by its owner (`stop()`), waits are bounded by
 * timeouts, and a server's or load generator's last output is kept (bounded) to explain a failure.
 *
 * @module
 */

/** Cores to pin to; empty when `taskset` is missing or the machine has one core. */
export interface Pinning {
  server: string;
  load: string;
}

const TAIL_BYTES = 4096;

/** Reads a piped stream to the end, keeping only its last bytes. */
function keepTail(stream: ReadableStream<Uint8Array>): { text: () => string } {
  let tail = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of stream) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-TAIL_BYTES);
    }
  })().catch(() => {});
  return { text: () => tail };
}

function pinned(cpu: string, cmd: string[]): string[] {
  return cpu ? ["taskset", "-c", cpu, ...cmd] : cmd;
}

/** Returns a free TCP port on 127.0.0.1 (closed again, so the server can take it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Reads a file under /proc. Deno grants /proc only with --allow-all, so the benchmark reads it
 * through `cat`, which --allow-run already allows.
 */
export async function readProc(path: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`cannot read ${path}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** CPU time (user + system, all threads) of a process in seconds, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await readProc(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Resident set size of a process in KiB, from /proc/<pid>/status. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readProc(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  return match ? Number(match[1]) : NaN;
}

/** A server under test: started, listening, and stopped by `stop()`. */
export interface RunningServer {
  pid: number;
  port: number;
  stop(): Promise<void>;
  output(): string;
  exited(): boolean;
}

/** Starts `cmd` pinned to `cpu` and waits until it accepts TCP connections on `port`. */
export async function startServer(
  cmd: string[],
  opts: { port: number; cpu: string; env: Record<string, string>; cwd: string },
): Promise<RunningServer> {
  const [program, ...args] = pinned(opts.cpu, cmd);
  const child = new Deno.Command(program, {
    args,
    cwd: opts.cwd,
    env: { ...opts.env, PORT: String(opts.port) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = keepTail(child.stdout);
  const err = keepTail(child.stderr);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const output = () => (out.text() + err.text()).trim().slice(-TAIL_BYTES);
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const timer = setTimeout(() => {
      if (!exited) child.kill("SIGKILL");
    }, 5000);
    await status;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !exited) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: opts.port });
      conn.close();
      return { pid: child.pid, port: opts.port, stop, output, exited: () => exited };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`server ${cmd.join(" ")} did not listen on ${opts.port}: ${output()}`);
}

/** A line the load generator printed (see bench/load/load_generator.mjs). */
export interface LoadLine {
  ready?: boolean;
  stage?: number;
  mark?: "start" | "end";
  result?: Record<string, unknown>;
  error?: string;
}

/** One load generator process, read line by line. */
export class LoadProcess {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #lines: LoadLine[] = [];
  #waiting: ((line: LoadLine | null) => void) | null = null;
  #ended = false;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stderr: { text: () => string };
  #status: Promise<Deno.CommandStatus>;

  constructor(cmd: string[], cpu: string, config: Record<string, unknown>, cwd: string) {
    const [program, ...args] = pinned(cpu, [...cmd, JSON.stringify(config)]);
    this.#child = new Deno.Command(program, {
      args,
      cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#stdin = this.#child.stdin.getWriter();
    this.#stderr = keepTail(this.#child.stderr);
    this.#status = this.#child.status;
    this.#readLines();
  }

  async #readLines() {
    let buffered = "";
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.#child.stdout) {
        buffered += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const text = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (text.trim()) this.#push(JSON.parse(text) as LoadLine);
        }
      }
    } catch (err) {
      this.#push({ error: `unreadable output: ${err}` });
    }
    this.#ended = true;
    this.#waiting?.(null);
    this.#waiting = null;
  }

  #push(line: LoadLine) {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w(line);
    } else this.#lines.push(line);
  }

  /** The next line, or an error line when the process ended or `timeoutMs` passed. */
  async next(timeoutMs: number): Promise<LoadLine> {
    const queued = this.#lines.shift();
    if (queued) return queued;
    if (this.#ended) return { error: `load generator exited: ${this.#stderr.text()}` };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await new Promise<LoadLine | null>((resolve) => {
      this.#waiting = resolve;
      timer = setTimeout(() => {
        this.#waiting = null;
        resolve({ error: `no answer from the load generator within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    clearTimeout(timer);
    return line ?? { error: `load generator exited: ${this.#stderr.text()}` };
  }

  /** Tells the generator to go on (start measuring, or take the next step). */
  async go(): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode("go\n"));
  }

  /** Ends the process if it has not ended by itself within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, graceMs);
    await this.#status;
    clearTimeout(timer);
  }
}

/** Pins server and load to different cores when `taskset` exists and there are two cores. */
export async function choosePinning(): Promise<Pinning> {
  const cores = navigator.hardwareConcurrency;
  if (cores < 2) return { server: "", load: "" };
  try {
    const { success } = await new Deno.Command("taskset", { args: ["-V"], stdout: "null" })
      .output();
    if (!success) return { server: "", load: "" };
  } catch {
    return { server: "", load: "" };
  }
  return { server: "0", load: String(cores - 1) };
}

/** Output of a short command, or null when it cannot run. */
export async function commandOutput(program: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}
