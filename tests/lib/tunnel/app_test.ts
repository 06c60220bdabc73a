/**
 * The tunnel service mounted in the WSTun app (routes/app.ts): tunnel routes answer before the
 * server-token guard, the rest of the app is untouched, and the WSTUN_TUNNEL_* variables are read
 * by lib/config.ts.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../lib/config.ts";
import { startServer } from "../../_util/server.ts";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { SECRET_A, SECRET_B, startTarget, token } from "../../_util/tunnel/fixture.ts";
import { fixedToken, startTunnelClient } from "../../../lib/tunnel/client.ts";

const tunnelOn = { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } };

async function connect(base: string, id: string, port: number) {
  const { promise, resolve } = Promise.withResolvers<string>();
  const client = startTunnelClient({
    server: base,
    id,
    targetPort: port,
    tokens: fixedToken(await token(id)),
    onUrl: resolve,
  });
  return { client, url: await promise };
}

Deno.test("app: a tunnel registers on / and serves viewers under /t, even with WSTUN_TOKEN set", async () => {
  await using server = await startServer({ token: "hub-token-123", tunnel: tunnelOn });
  const target = startTarget();
  const { client, url } = await connect(server.base, "app-demo", target.port);
  assert.deepEqual(url, `${server.base}/t/app-demo`);
  assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
  // The rest of the app still wants its token.
  const api = await fetch(`${server.base}/_api/instances`);
  assert.deepEqual(api.status, 401);
  await api.body?.cancel();
  await client.close();
  await target.close();
});

Deno.test("app: with WSTUN_TUNNEL_VIEWER_TOKEN, viewers present the server token", async () => {
  await using server = await startServer({
    token: "hub-token-123",
    tunnel: { ...tunnelOn, requireViewerToken: true },
  });
  const target = startTarget();
  const { client, url } = await connect(server.base, "guarded", target.port);
  const denied = await fetch(`${url}/hello`);
  assert.deepEqual(denied.status, 401);
  assert.deepEqual((await denied.json()).error, "viewer_token_required");
  const allowed = await fetch(`${url}/request?token=hub-token-123`);
  assert.deepEqual((await allowed.json()).url, "/request");
  await client.close();
  await target.close();
});

Deno.test("app: tunnels off by default; their routes answer 404 tunnels_disabled", async () => {
  await using server = await startServer();
  const response = await fetch(`${server.base}/t/x/`);
  assert.deepEqual(response.status, 404);
  assert.deepEqual((await response.json()).error, "tunnels_disabled");
  const home = await fetch(`${server.base}/`);
  assert.deepEqual(home.status, 200);
  await home.body?.cancel();
});

/** The start-up error's one line for `env`, or "accepted". */
function configRefusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return "accepted";
}

Deno.test("config: tunnel variables are validated with one line naming the variable", () => {
  assert.match(configRefusal({ WSTUN_TUNNEL_SECRET_A: SECRET_A }), /^WSTUN_TUNNEL_SECRET_B: /);
  assert.match(configRefusal({ WSTUN_TUNNEL_MAX_STREAMS: "0" }), /^WSTUN_TUNNEL_MAX_STREAMS: /);
  assert.match(configRefusal({ WSTUN_TUNNEL_URL_PREFIX: "nope" }), /^WSTUN_TUNNEL_URL_PREFIX: /);
  assert.match(
    configRefusal({ WSTUN_TUNNEL_VIEWER_TOKEN: "true" }),
    /^WSTUN_TUNNEL_VIEWER_TOKEN: needs WSTUN_TOKEN/,
  );
  const config = loadConfig({
    WSTUN_TUNNEL_SECRET_A: SECRET_A,
    WSTUN_TUNNEL_SECRET_B: SECRET_B,
    WSTUN_TUNNEL_AUDIENCE: "wstun",
    WSTUN_TUNNEL_URL_PREFIX: "https://tunnels.example.com/",
  });
  assert.deepEqual(config.tunnel.secrets, { a: SECRET_A, b: SECRET_B });
  assert.deepEqual(config.tunnel.urlPrefix, "https://tunnels.example.com");
});

Deno.test("config: a tunnel secret shorter than 32 bytes stops start-up, naming the variable and never the secret", () => {
  const short = "0123456789abcdef0123456789abcde"; // 31 bytes
  const a = configRefusal({ WSTUN_TUNNEL_SECRET_A: short, WSTUN_TUNNEL_SECRET_B: SECRET_B });
  assert.match(a, /^WSTUN_TUNNEL_SECRET_A: must be at least 32 bytes/);
  assert.deepEqual(a.includes(short), false);
  assert.deepEqual(a.includes("\n"), false);
  const b = configRefusal({ WSTUN_TUNNEL_SECRET_A: SECRET_A, WSTUN_TUNNEL_SECRET_B: "hunter2" });
  assert.match(b, /^WSTUN_TUNNEL_SECRET_B: must be at least 32 bytes/);
  // Bytes, not characters: 16 two-byte characters are 32 bytes.
  assert.deepEqual(
    configRefusal({ WSTUN_TUNNEL_SECRET_A: "é".repeat(16), WSTUN_TUNNEL_SECRET_B: SECRET_B }),
    "accepted",
  );
  assert.match(
    configRefusal({ WSTUN_TUNNEL_SECRET_A: "é".repeat(15), WSTUN_TUNNEL_SECRET_B: SECRET_B }),
    /^WSTUN_TUNNEL_SECRET_A: /,
  );
});
