import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";
import { EchoServer, GameClient } from "./udp_fixture.ts";

const FLAGS = ["run", "--unstable-net", "--allow-net", "--allow-env=WSTUN_TOKEN"];
const cli = (name: string) => new URL(`../../cli/${name}.ts`, import.meta.url).pathname;

/** A running tool whose stdout lines are awaited by pattern, with a deadline. */
class Tool {
  readonly lines: string[] = [];
  readonly #process: Deno.ChildProcess;
  readonly #stdout: Promise<void>;
  readonly stderr: Promise<string>;

  constructor(script: string, args: string[]) {
    const process = new Deno.Command(Deno.execPath(), {
      args: [...FLAGS, cli(script), ...args],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#process = process;
    this.#stdout = (async () => {
      let rest = "";
      for await (const chunk of process.stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
    })();
    this.stderr = new Response(process.stderr).text();
  }

  async line(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const l of this.lines) {
        const m = l.match(pattern);
        if (m) return m;
      }
      if (Date.now() > deadline) throw new Error(`no line ${pattern} in ${this.lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Ctrl-C, then the exit status once stdout is drained. */
  async interrupt(): Promise<number> {
    this.#process.kill("SIGINT");
    return await this.status();
  }

  async status(): Promise<number> {
    const { code } = await this.#process.status;
    await this.#stdout;
    await this.stderr;
    return code;
  }
}

Deno.test("udp cli: udp-expose prints a Server ID, udp-connect tunnels to it, Ctrl-C prints the counters", async () => {
  await using server = await startServer({ token: "t0ken" });
  const echo = await EchoServer.start();
  const expose = new Tool("udp_expose", [
    "45000",
    server.base,
    String(echo.port),
    "--token",
    "t0ken",
    "--report",
    "0",
  ]);
  const [, serverId] = await expose.line(/Server ID: (\S+)$/);
  const connect = new Tool("udp_connect", ["0", server.base, serverId, "--report", "0"]);
  // Without --token (and no WSTUN_TOKEN in the environment) the relay refuses the start.
  assert.equal(await connect.status(), 1);
  assert.match(await connect.stderr, /refused the server token \(401\)/);

  const ok = new Tool("udp_connect", ["0", server.base, serverId, "--token", "t0ken"]);
  const [, port] = await ok.line(/listening on port (\d+)/);
  const client = await GameClient.open(Number(port));
  const echoed = await client.roundTrip(new TextEncoder().encode("ping"));
  assert.equal(new TextDecoder().decode(echoed), "ping");
  await expose.line(/client user-\S+#1 arrived: local port 45\d\d\d/);

  assert.equal(await ok.interrupt(), 0);
  assert.match(ok.lines.join("\n"), /stopped; from local 1, to relay 1 .* from relay 1 /);
  assert.equal(await expose.interrupt(), 0);
  assert.match(expose.lines.join("\n"), /stopped; from local 1, to relay 1 .* from relay 1 /);
  await client.close();
  await echo.close();
});

Deno.test("udp cli: a bad argument is one line naming it, exit status 2", async () => {
  const tool = new Tool("udp_expose", ["40000", "http://127.0.0.1:1", "70000"]);
  assert.equal(await tool.status(), 2);
  assert.match(
    await tool.stderr,
    /^udp-expose: argument 3: must be a port number between 1 and 65535\n/,
  );
});
