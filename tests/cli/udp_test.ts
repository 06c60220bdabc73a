import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";
import { EchoServer, GameClient } from "../_util/udp/fixture.ts";
import { waitFor } from "../_util/wait_for.ts";

/** The flags of `deno task udp-expose` / `udp-connect` (deno.json). */
const FLAGS = [
  "run",
  "--unstable-net",
  "--allow-net",
  "--allow-env=WSTUN_TOKEN",
  "--allow-ffi",
];
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

  /** Sends a signal (SIGSTOP freezes the tool, as a busy machine might, SIGCONT thaws it). */
  signal(signal: Deno.Signal): void {
    this.#process.kill(signal);
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
  assert.match(
    ok.lines.join("\n"),
    /stopped; from local 1, to relay 1 .* from relay 1 .*; dropped: none$/m,
  );
  assert.equal(await expose.interrupt(), 0);
  assert.match(
    expose.lines.join("\n"),
    /stopped; from local 1, to relay 1 .* from relay 1 .*; dropped: none$/m,
  );
  await client.close();
  await echo.close();
});

Deno.test("udp cli: the listening socket's kernel buffer is set and reported, and datagrams the OS drops while the tool cannot read are counted", async () => {
  await using server = await startServer();
  const echo = await EchoServer.start();
  const expose = new Tool("udp_expose", ["45100", server.base, String(echo.port), "--report", "0"]);
  const [, serverId] = await expose.line(/Server ID: (\S+)$/);
  // 64 KiB asked: Linux grants 128 KiB, which holds two or three datagrams of 60,000 bytes.
  const connect = new Tool("udp_connect", [
    "0",
    server.base,
    serverId,
    "--report",
    "0",
    "--recv-buffer",
    "65536",
  ]);
  const [, port] = await connect.line(/listening on port (\d+)/);
  await connect.line(/listening socket: receive buffer 128 KiB, send 2\.0 MiB$/);
  const client = await GameClient.open(Number(port));
  assert.equal((await client.roundTrip(new Uint8Array(10))).length, 10);

  connect.signal("SIGSTOP");
  for (let i = 0; i < 10; i++) client.send(new Uint8Array(60_000));
  await waitFor(() => client.socket.queuedBytes === 0, { what: "all sent" });
  connect.signal("SIGCONT");
  // The path keeps order: once a marker sent now is echoed, the connector has read all before it.
  client.send(new Uint8Array(3));
  for (let i = 0; i <= 10 && (await client.next()).length !== 3; i++);

  assert.equal(await connect.interrupt(), 0);
  const [, read, byOs] = await connect.line(/stopped; from local (\d+), .*by the OS (\d+)/);
  assert.ok(Number(byOs) >= 7, `the kernel kept at most three, dropped ${byOs}`);
  assert.equal(Number(read) - 2 + Number(byOs), 10, "every datagram was read or counted");
  assert.equal(await expose.interrupt(), 0);
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

Deno.test("udp-expose: a weak --id key is refused by the tool, as the relay would", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...FLAGS,
      cli("udp_expose"),
      "40000",
      "http://127.0.0.1:9",
      "7777",
      "--id",
      "aaaaaaaaaaaaaaaaaaaaaaaa",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.success, false);
  assert.match(new TextDecoder().decode(out.stderr), /--new-id makes one/);
});
