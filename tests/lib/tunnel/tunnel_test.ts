/**
 * Tunnels end to end: a real server running the tunnel service, the TypeScript client, a loopback
 * target, and viewers using fetch and WebSocket, all on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { lineTokens, startTunnelClient } from "../../../lib/tunnel/client.ts";
import {
  registrationSocket,
  SECRET_A,
  startClient,
  startSilentServer,
  startTarget,
  startTunnelServer,
  token,
} from "../../_util/tunnel/fixture.ts";
import type { TunnelConfig } from "../../../lib/tunnel/tunnel_config.ts";
import { MuxCloseCode } from "../../../lib/tunnel/wsmux.ts";
import { defaultConfig } from "../../../lib/config.ts";
import { SessionCookies } from "../../../lib/session_cookie.ts";
import { ServerAuth } from "../../../routes/server_auth.ts";

/** Server + target + connected client for one test. */
async function tunnel(overrides: Partial<TunnelConfig> = {}, id = "demo") {
  const server = startTunnelServer(overrides);
  const target = startTarget();
  const { client, url } = await startClient(server, id, target.port);
  return {
    server,
    target,
    client,
    url,
    async close() {
      await client.close();
      await target.close();
      await server.close();
    },
  };
}

Deno.test("tunnel: the client is told its public URL under <origin>/t/<id>", async () => {
  const t = await tunnel();
  assert.deepEqual(t.url, `${t.server.origin}/t/demo`);
  await t.close();
});

Deno.test("tunnel: GET reaches the target with /<id> stripped, Host kept, original path added", async () => {
  const t = await tunnel();
  const response = await fetch(`${t.url}/request?a=1&b=2`);
  assert.deepEqual(response.status, 200);
  const seen = await response.json();
  assert.deepEqual(seen.method, "GET");
  assert.deepEqual(seen.url, "/request?a=1&b=2");
  assert.deepEqual(seen.headers.host, `127.0.0.1:${t.server.port}`);
  assert.deepEqual(seen.headers["x-websocktunnel-original-path"], "/t/demo/request");
  const root = await fetch(t.url);
  assert.deepEqual(root.status, 404); // the target's own answer for "/"
  await root.body?.cancel();
  await t.close();
});

Deno.test("tunnel: POST with a streamed (chunked) body is echoed back intact", async () => {
  const t = await tunnel();
  const chunks = 200, size = 10_000;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      controller.enqueue(new Uint8Array(size).fill(sent++ % 251));
    },
  });
  const response = await fetch(
    `${t.url}/echo`,
    { method: "POST", body, duplex: "half" } as RequestInit,
  );
  const echoed = new Uint8Array(await response.arrayBuffer());
  assert.deepEqual(echoed.byteLength, chunks * size);
  assert.deepEqual([echoed[0], echoed[size], echoed[chunks * size - 1]], [
    0,
    1,
    (chunks - 1) % 251,
  ]);
  assert.deepEqual(response.headers.get("x-echo"), "1");
  await t.close();
});

Deno.test("tunnel: POST with Content-Length arrives with the same length", async () => {
  const t = await tunnel();
  const response = await fetch(`${t.url}/echo`, { method: "POST", body: "x".repeat(300_000) });
  assert.deepEqual((await response.text()).length, 300_000);
  await t.close();
});

Deno.test("tunnel: a chunked response streams through", async () => {
  const t = await tunnel();
  const response = await fetch(`${t.url}/chunked?n=100&size=1000`);
  assert.deepEqual((await response.arrayBuffer()).byteLength, 100_000);
  await t.close();
});

Deno.test("tunnel: HEAD gets headers and no body", async () => {
  const t = await tunnel();
  const response = await fetch(`${t.url}/hello`, { method: "HEAD" });
  assert.deepEqual(response.status, 200);
  assert.deepEqual(await response.text(), "");
  await t.close();
});

Deno.test("tunnel: 100 concurrent requests all get their own answer", async () => {
  const t = await tunnel();
  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const response = await fetch(`${t.url}/request?i=${i}`);
      return (await response.json()).url;
    }),
  );
  assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => `/request?i=${i}`));
  await t.close();
});

Deno.test("tunnel: WebSocket echo through the tunnel keeps the subprotocol, text and binary", async () => {
  const t = await tunnel();
  const ws = new WebSocket(`${t.url.replace("http", "ws")}/ws`, ["wstun.v1", "other"]);
  ws.binaryType = "arraybuffer";
  const messages: (string | ArrayBuffer)[] = [];
  const { promise: gotTwo, resolve } = Promise.withResolvers<void>();
  ws.onmessage = (event) => {
    messages.push(event.data);
    if (messages.length === 2) resolve();
  };
  await new Promise((r) => ws.onopen = r);
  assert.deepEqual(ws.protocol, "wstun.v1");
  ws.send("hello through the tunnel");
  ws.send(new Uint8Array(200_000).fill(3));
  await gotTwo;
  assert.deepEqual(messages[0], "hello through the tunnel");
  assert.deepEqual((messages[1] as ArrayBuffer).byteLength, 200_000);
  const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
  ws.close(1000, "done");
  assert.deepEqual((await closed).code, 1000);
  await t.close();
});

Deno.test("tunnel: a slow viewer does not stall other streams on the same tunnel", async () => {
  const t = await tunnel();
  const slow = await fetch(`${t.url}/bytes?n=${32 * 1024 * 1024}`);
  const slowReader = slow.body!.getReader();
  await slowReader.read(); // one chunk, then this viewer stops reading
  const fast = await Promise.all(
    Array.from(
      { length: 5 },
      () => fetch(`${t.url}/bytes?n=${2 * 1024 * 1024}`).then((r) => r.arrayBuffer()),
    ),
  );
  assert.deepEqual(fast.map((b) => b.byteLength), Array(5).fill(2 * 1024 * 1024));
  await slowReader.cancel();
  await t.close();
});

Deno.test("tunnel: a target that is not listening gets the viewer a 502", async () => {
  const server = startTunnelServer();
  const target = startTarget();
  const port = target.port;
  await target.close();
  const { client, url } = await startClient(server, "gone", port);
  const response = await fetch(`${url}/hello`);
  assert.deepEqual(response.status, 502);
  assert.deepEqual((await response.json()).error, "bad_gateway");
  await client.close();
  await server.close();
});

Deno.test("tunnel: no client for the id is 504 with a JSON body", async () => {
  const server = startTunnelServer();
  const response = await fetch(`${server.origin}/t/nobody/x`);
  assert.deepEqual(response.status, 504);
  assert.deepEqual(await response.json(), {
    error: "tunnel_not_connected",
    message: "No client is connected with that id",
  });
  await server.close();
});

Deno.test("tunnel: registration refusals follow upstream's order and statuses", async () => {
  const server = startTunnelServer();
  const register = (headers: Record<string, string>, path = "/") =>
    fetch(`${server.origin}${path}`, { headers }).then(async (
      r,
    ) => [r.status, (await r.json()).error]);
  const bearer = { "Authorization": `Bearer ${await token("demo")}` };
  assert.deepEqual(await register({ "x-websocktunnel-id": "bad id!", ...bearer }), [
    400,
    "invalid_tunnel_id",
  ]);
  assert.deepEqual(await register({ "x-websocktunnel-id": "demo" }), [400, "missing_token"]);
  assert.deepEqual(await register({ "x-websocktunnel-id": "demo", ...bearer }), [
    404,
    "upgrade_required",
  ]);
  assert.deepEqual(await register(bearer, "/_tunnel"), [400, "missing_tunnel_id"]);
  // "/" without the id header is not a tunnel request: the app answers.
  assert.deepEqual(await (await fetch(`${server.origin}/`)).text(), "app");
  await server.close();
});

Deno.test("tunnel: tunnels off answers 404 tunnels_disabled on every tunnel route", async () => {
  const server = startTunnelServer({ secrets: undefined });
  for (
    const [path, headers] of [
      ["/_tunnel", {}],
      ["/", { "x-websocktunnel-id": "demo" }],
      ["/t/demo/x", {}],
    ] as const
  ) {
    const response = await fetch(`${server.origin}${path}`, { headers });
    assert.deepEqual(response.status, 404);
    const body = await response.json();
    assert.deepEqual(body.error, "tunnels_disabled");
    assert.match(body.message, /WSTUN_TUNNEL_SECRET_A/);
  }
  assert.deepEqual(await (await fetch(`${server.origin}/other`)).text(), "app");
  await server.close();
});

Deno.test("tunnel: registration on /_tunnel works like /", async () => {
  const server = startTunnelServer();
  const ws = registrationSocket(server.origin, {
    "x-websocktunnel-id": "alt",
    "Authorization": `Bearer ${await token("alt")}`,
  }, "/_tunnel");
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const closed = new Promise((r) => ws.onclose = r);
  ws.close();
  await closed;
  await server.close();
});

Deno.test("tunnel: a new registration for the same id closes the old session with 4905", async () => {
  const server = startTunnelServer();
  const headers = { "x-websocktunnel-id": "dup", "Authorization": `Bearer ${await token("dup")}` };
  const first = registrationSocket(server.origin, headers);
  await new Promise((r) => first.onopen = r);
  const firstClosed = new Promise<CloseEvent>((r) => first.onclose = r);
  const second = registrationSocket(server.origin, headers);
  await new Promise((r) => second.onopen = r);
  const event = await firstClosed;
  assert.deepEqual(event.code, MuxCloseCode.Replaced);
  const secondClosed = new Promise((r) => second.onclose = r);
  second.close();
  await secondClosed;
  await server.close();
});

Deno.test("tunnel: with the viewer token required, viewers need it and the client never sees it", async () => {
  const serverToken = "server-token-0123456789";
  const auth = new ServerAuth(defaultConfig({ token: serverToken }), Date.now);
  const server = startTunnelServer({ requireViewerToken: true }, {
    viewerAuth: auth,
    credentials: auth.credentials,
  });
  const target = startTarget();
  const { client, url } = await startClient(server, "guarded", target.port);
  const denied = await fetch(`${url}/request`);
  assert.deepEqual(denied.status, 401);
  assert.deepEqual((await denied.json()).error, "viewer_token_required");
  const wrong = await fetch(`${url}/request?token=nope`);
  assert.deepEqual(wrong.status, 401);
  await wrong.body?.cancel();
  const byQuery = await fetch(`${url}/request?token=${serverToken}&k=v`);
  assert.deepEqual((await byQuery.json()).url, "/request?k=v");
  const byBearer = await fetch(`${url}/request`, {
    headers: { "authorization": `Bearer ${serverToken}` },
  });
  assert.deepEqual((await byBearer.json()).headers.authorization, undefined);
  const session = new SessionCookies(serverToken, 3600).mint(Date.now());
  const byCookie = await fetch(`${url}/request`, {
    headers: { "cookie": `a=1; wstun_session=${session}; b=2` },
  });
  assert.deepEqual((await byCookie.json()).headers.cookie, "a=1; b=2");
  await client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel: every WSTun credential a viewer carries is removed, not only the one that let it in", async () => {
  const serverToken = "server-token-0123456789";
  const adminToken = "admin-token-0123456789";
  const auth = new ServerAuth(defaultConfig({ token: serverToken, adminToken }), Date.now);
  const server = startTunnelServer({}, { credentials: auth.credentials });
  const target = startTarget();
  const { client, url } = await startClient(server, "scrubbed", target.port);
  const session = new SessionCookies(serverToken, 3600).mint(Date.now());
  const seen = await (await fetch(`${url}/request?token=${serverToken}&k=v`, {
    headers: {
      "authorization": `Bearer ${adminToken}`,
      "cookie": `app=1; wstun_session=${session}`,
      "referer": `${server.origin}/chat/main?token=${serverToken}&room=x`,
    },
  })).json();
  assert.deepEqual(seen.url, "/request?k=v");
  assert.deepEqual(seen.headers.authorization, undefined);
  assert.deepEqual(seen.headers.cookie, "app=1");
  assert.deepEqual(seen.headers.referer, `${server.origin}/chat/main`);
  const elsewhere = await (await fetch(`${url}/request?token=not-ours`, {
    headers: {
      "authorization": "Bearer the-app-s-own",
      "referer": `https://elsewhere.example/p?token=${adminToken}`,
    },
  })).json();
  assert.deepEqual(
    elsewhere.url,
    "/request?token=not-ours",
    "a token that is not WSTun's is the app's",
  );
  assert.deepEqual(elsewhere.headers.authorization, "Bearer the-app-s-own");
  assert.deepEqual(elsewhere.headers.referer, "https://elsewhere.example/p");
  await client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel: viewers need no token by default, as upstream", async () => {
  const t = await tunnel();
  const response = await fetch(`${t.url}/request`, { headers: { authorization: "Bearer app" } });
  assert.deepEqual((await response.json()).headers.authorization, "Bearer app");
  await t.close();
});

Deno.test("tunnel: more streams than the session limit get 503 tunnel_busy", async () => {
  const t = await tunnel({ maxStreamsPerSession: 1 });
  const slow = await fetch(`${t.url}/bytes?n=${16 * 1024 * 1024}`);
  const reader = slow.body!.getReader();
  await reader.read();
  const busy = await fetch(`${t.url}/hello`);
  assert.deepEqual(busy.status, 503);
  assert.deepEqual((await busy.json()).error, "tunnel_busy");
  await reader.cancel();
  await t.close();
});

Deno.test("tunnel: a client that never accepts a stream gets the viewer 504 tunnel_timeout", async () => {
  const server = startTunnelServer({ openTimeoutMs: 150 });
  const ws = registrationSocket(server.origin, {
    "x-websocktunnel-id": "mute",
    "Authorization": `Bearer ${await token("mute")}`,
  });
  await new Promise((r) => ws.onopen = r);
  const response = await fetch(`${server.origin}/t/mute/`);
  assert.deepEqual(response.status, 504);
  assert.deepEqual((await response.json()).error, "tunnel_timeout");
  const closed = new Promise((r) => ws.onclose = r);
  ws.close();
  await closed;
  await server.close();
});

Deno.test("tunnel client: a refused fixed token ends the client with auth_failed", async () => {
  const server = startTunnelServer();
  const log: string[] = [];
  const client = startTunnelClient({
    server: server.origin,
    id: "demo",
    targetPort: 1,
    tokens: {
      rotates: false,
      current: () => token("other"),
      next: () => Promise.reject(),
    },
    log: (line) => log.push(line),
  });
  const exit = await client.done;
  assert.deepEqual(exit.code, "auth_failed");
  assert.match(exit.message, /tid/);
  await server.close();
});

Deno.test("tunnel client: stdin token rotation replaces a refused token and connects", async () => {
  const server = startTunnelServer();
  const target = startTarget();
  const lines = new TransformStream<string, string>();
  const writer = lines.writable.getWriter();
  const log: string[] = [];
  const { promise: urlSeen, resolve } = Promise.withResolvers<string>();
  const { promise: refused, resolve: onRefused } = Promise.withResolvers<void>();
  const client = startTunnelClient({
    server: server.origin,
    id: "rot",
    targetPort: target.port,
    tokens: lineTokens(lines.readable, () => {}),
    onUrl: resolve,
    log: (line) => {
      log.push(line);
      if (line.startsWith("token refused")) onRefused();
    },
  });
  await writer.write(await token("rot", { secret: "stale-secret" }));
  await refused;
  await writer.write(await token("rot", { secret: SECRET_A }));
  const url = await urlSeen;
  assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
  assert.ok(log.some((l) => l.includes("401")), log.join("\n"));
  await writer.close();
  await client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel client: an unreachable server is retried with logged, growing delays", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const delays: number[] = [];
  const { promise: thirdFailure, resolve } = Promise.withResolvers<void>();
  const client = startTunnelClient({
    server: `http://127.0.0.1:${port}`,
    id: "demo",
    targetPort: 1,
    tokens: {
      rotates: false,
      current: () => Promise.resolve("t.t.t"),
      next: () => Promise.reject(),
    },
    initialDelayMs: 10,
    random: () => 1, // the top of the jitter range: delay × 1.5 × 1.5
    log: (line) => {
      const m = /retrying in (\d+) ms/.exec(line);
      if (m) delays.push(Number(m[1]));
      if (delays.length === 3) resolve();
    },
  });
  await thirdFailure;
  assert.deepEqual(delays, [10, 23, 52]);
  assert.deepEqual((await client.close()).code, "closed");
});

Deno.test("tunnel: the client reconnects after its session is dropped and the URL still works", async () => {
  const server = startTunnelServer();
  const target = startTarget();
  const { client, url, registered } = await startClient(server, "again", target.port);
  // Dropping every session (as a server restart would) makes the client register again.
  await server.service.close();
  assert.deepEqual(await registered(2), url);
  assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
  await client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel client: two clients with one id back off instead of evicting each other in a loop", async () => {
  const server = startTunnelServer();
  const target = startTarget();
  const a = await startClient(server, "shared", target.port);
  const b = await startClient(server, "shared", target.port);
  // B replaced A; A waits (backoff) before registering again instead of evicting B at once.
  await a.logged(/another client uses this id; retrying in \d+ ms/);
  await a.client.close();
  await b.client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel client: a server that stops answering pings is left, and the client reconnects", async () => {
  const silent = startSilentServer();
  const { client, registered, logged } = await startClient(silent.origin, "quiet", 1, {
    keepaliveMs: 50,
  });
  await logged(/session closed \(4904 no pong from the server\); reconnecting/);
  await registered(2);
  await client.close();
  await silent.close();
});
