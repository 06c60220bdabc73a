/**
 * `deno task tunnel <server> <id> <targetPort> [--token JWT] [--out-file FILE]`
 *
 * Exposes a local port through a WSTun (or websocktunnel) server, with the same arguments as
 * upstream's `wst-client`. The token comes from `WSTUN_TUNNEL_TOKEN` (preferred: a command line
 * shows in `ps`) or `--token`; with neither, each line on stdin is a new token, used for the next
 * (re)connection. Prints the public URL on stdout (and into `--out-file`), logs every attempt and
 * failure on stderr, and exits 1 when the server refuses it for good (a 4xx, or a 401 with a
 * fixed token). Also builds as a single binary:
 * `deno compile --allow-net --allow-read --allow-write -o wstun-tunnel cli/tunnel.ts`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fixedToken, lineTokens, startTunnelClient } from "../lib/tunnel/client.ts";
import { TUNNEL_ID } from "../lib/tunnel/service.ts";

const USAGE = `usage: deno task tunnel <server> <id> <targetPort> [--token JWT] [--out-file FILE]
                       [--target-host HOST]
  server       the WSTun (or websocktunnel) URL, e.g. https://wstun.example.com
  id           the tunnel id the token was issued for (tid)
  targetPort   the local port to expose
  --token      the registration JWT (better: WSTUN_TUNNEL_TOKEN in the environment, which
               ps does not show); with neither, each stdin line is a new token
  --out-file   also write the public URL to this file
  --target-host  where targetPort listens (default 127.0.0.1)`;

function fail(message: string): never {
  console.error(`tunnel: ${message}`);
  Deno.exit(2);
}

function log(line: string): void {
  console.error(`${new Date().toISOString()} ${line}`);
}

async function* stdinLines(): AsyncIterable<string> {
  let pending = "";
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    yield* lines;
  }
  if (pending) yield pending;
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    token: { type: "string" },
    "out-file": { type: "string" },
    "target-host": { type: "string", default: "127.0.0.1" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (positionals.length !== 3) fail(`expected 3 arguments\n${USAGE}`);
const [server, id, portText] = positionals;
if (!/^(https?|wss?):\/\//.test(server)) fail(`server must be an http(s):// or ws(s):// URL`);
if (!TUNNEL_ID.test(id)) fail(`id must match ${TUNNEL_ID.source}`);
const targetPort = Number(portText);
if (!Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) {
  fail(`targetPort must be a port number, got ${portText}`);
}

/** The token from the environment, where `ps` does not show it; unset when not readable. */
function environmentToken(): string | undefined {
  try {
    return Deno.env.get("WSTUN_TUNNEL_TOKEN") || undefined;
  } catch {
    // No --allow-env for it (a binary compiled without): the token must come another way.
    return undefined;
  }
}

const token = values.token ?? environmentToken();
const outFile = values["out-file"];
const client = startTunnelClient({
  server,
  id,
  targetPort,
  targetHost: values["target-host"],
  tokens: token ? fixedToken(token) : lineTokens(stdinLines(), log),
  log,
  onUrl(url) {
    // File first: whoever watches stdout may read the file as soon as the URL appears.
    if (outFile) Deno.writeTextFileSync(outFile, url);
    console.log(url);
  },
});
if (!token) log("no WSTUN_TUNNEL_TOKEN nor --token: reading tokens from stdin, one per line");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    log(`${signal}: closing the tunnel`);
    await client.close();
    Deno.exit(0);
  });
}

const exit = await client.done;
if (exit.code !== "closed") {
  log(exit.message);
  Deno.exit(1);
}
