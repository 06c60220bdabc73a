/**
 * The command-line tools as users run them: `cli/tunnel.ts` prints the public URL (and writes
 * `--out-file`), takes tokens from stdin, and `cli/tunnel_token.ts` mints a token the server
 * accepts.
 */
import assert from "node:assert/strict";
import { verifyTunnelToken } from "../../lib/tunnel/jwt.ts";
import {
  SECRET_A,
  SECRET_B,
  startTarget,
  startTunnelServer,
  token,
} from "../_util/tunnel/fixture.ts";

const root = new URL("../../", import.meta.url).pathname;

function deno(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      ...args,
    ],
    cwd: root,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("cli tunnel: reads its token from stdin, prints the public URL and writes --out-file", async () => {
  const server = startTunnelServer();
  const target = startTarget();
  const outFile = await Deno.makeTempFile();
  const child = deno([
    "cli/tunnel.ts",
    server.origin,
    "cli-demo",
    String(target.port),
    "--out-file",
    outFile,
  ]);
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode(`${await token("cli-demo")}\n`));
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await lines.read();
  const url = value!.trim();
  assert.deepEqual(url, `${server.origin}/t/cli-demo`);
  assert.deepEqual(await Deno.readTextFile(outFile), url);
  assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
  child.kill("SIGTERM");
  await stdin.close();
  await lines.cancel();
  const stderr = await new Response(child.stderr).text();
  assert.match(stderr, /connecting to .* \(attempt 1\)/);
  assert.deepEqual((await child.status).code, 0);
  await Deno.remove(outFile);
  await target.close();
  await server.close();
});

/** Closes the child's stdin and waits for it to end: its status and what it wrote on stderr. */
async function ended(child: Deno.ChildProcess): Promise<[Deno.CommandStatus, string]> {
  await child.stdin.close();
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    new Response(child.stdout).text(),
  ]);
  return [status, stderr];
}

Deno.test("cli tunnel: a refused --token exits 1 with the server's reason", async () => {
  const server = startTunnelServer();
  const child = deno([
    "cli/tunnel.ts",
    server.origin,
    "cli-x",
    "1",
    "--token",
    await token("cli-y"),
  ]);
  const [status, stderr] = await ended(child);
  assert.deepEqual(status.code, 1);
  assert.match(stderr, /auth failed: token tid does not match/);
  await server.close();
});

Deno.test("cli tunnel: WSTUN_TUNNEL_TOKEN is used as --token is, so the token stays off the command line", async () => {
  const server = startTunnelServer();
  // A fixed token that is refused ends the client; a token read from stdin would wait instead.
  const child = deno(["cli/tunnel.ts", server.origin, "cli-x", "1"], {
    WSTUN_TUNNEL_TOKEN: await token("cli-y"),
  });
  const [status, stderr] = await ended(child);
  assert.deepEqual(status.code, 1);
  assert.match(stderr, /auth failed: token tid does not match/);
  await server.close();
});

Deno.test("cli tunnel-token: signs with WSTUN_TUNNEL_SECRET_A and refuses a ttl above 31 days", async () => {
  const ok = deno(["cli/tunnel_token.ts", "--id", "tok", "--ttl", "2h"], {
    WSTUN_TUNNEL_SECRET_A: SECRET_A,
  });
  await ok.stdin.close();
  const [printed] = await Promise.all([new Response(ok.stdout).text(), ok.stderr.cancel()]);
  assert.deepEqual((await ok.status).code, 0);
  const verdict = await verifyTunnelToken(printed.trim(), {
    id: "tok",
    secretA: SECRET_A,
    secretB: SECRET_B,
    nowSeconds: Date.now() / 1000,
  });
  assert.deepEqual(
    verdict.ok && (verdict.claims.exp as number) - (verdict.claims.iat as number),
    7200,
  );

  const tooLong = deno(["cli/tunnel_token.ts", "--id", "tok", "--ttl", "32d"], {
    WSTUN_TUNNEL_SECRET_A: SECRET_A,
  });
  await tooLong.stdin.close();
  const [err] = await Promise.all([new Response(tooLong.stderr).text(), tooLong.stdout.cancel()]);
  assert.deepEqual((await tooLong.status).code, 2);
  assert.match(err, /--ttl must be between/);
});
