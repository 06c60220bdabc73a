import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";
import { createRoom, TestSocket } from "../_util/test_socket.ts";
import { UPGRADE_HEADERS } from "../_util/upgrade_request.ts";

Deno.test("open server: info page, services, health and instances answer without a token", async () => {
  await using server = await startServer();
  const info = await fetch(`${server.base}/`);
  assert.equal(info.status, 200);
  const page = await info.text();
  assert.match(page, /WSTun/);
  assert.match(page, /chat/);
  assert.deepEqual(await (await fetch(`${server.base}/_api/health`)).json(), {
    ok: true,
    draining: false,
  });
  const services = await (await fetch(`${server.base}/_api/services`)).json();
  assert.deepEqual(services.map((s: { name: string }) => s.name), ["chat", "fileshare", "udp"]);
  assert.deepEqual(Object.keys(services[0]).sort(), [
    "builtin",
    "description",
    "endpoints",
    "name",
  ]);
  assert.deepEqual(await (await fetch(`${server.base}/_api/instances`)).json(), []);
});

Deno.test("/_api/instances lists public records, filters by service, never a token", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  const room = await createRoom(host, { token: "pa55word" });
  await createRoom(host, { service: "fileshare", name: "Files" });
  const res = await fetch(`${server.base}/_api/instances?service=chat`);
  const body = await res.text();
  assert.ok(!body.includes("pa55word"));
  const list = JSON.parse(body);
  assert.equal(list.length, 1);
  assert.deepEqual([list[0].uuid, list[0].protected, list[0].members], [room.uuid, true, 0]);
});

Deno.test("server token: requests without it get 401 JSON; libwstun.js and health stay public", async () => {
  await using server = await startServer({ token: "tok-123" });
  for (
    const path of [
      "/",
      "/_api/services",
      "/_api/instances",
      "/_api/stats",
      "/chat/service",
      "/admin",
    ]
  ) {
    const res = await fetch(`${server.base}${path}`);
    assert.equal(res.status, 401, path);
    const body = await res.json();
    assert.equal(body.error, "unauthorized");
    assert.ok(!JSON.stringify(body).includes("tok-123"));
  }
  assert.equal((await fetch(`${server.base}/libwstun.js`)).status, 200);
  assert.equal((await fetch(`${server.base}/_api/health`)).status, 200);
  const wrong = await fetch(`${server.base}/_api/services?token=nope`);
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const viaQuery = await fetch(`${server.base}/_api/services?token=tok-123`);
  assert.equal(viaQuery.status, 200);
  await viaQuery.body?.cancel();
  const viaHeader = await fetch(`${server.base}/_api/services`, {
    headers: { authorization: "Bearer tok-123" },
  });
  assert.equal(viaHeader.status, 200);
  await viaHeader.body?.cancel();
});

Deno.test("server token: a page opened with ?token= sets a cookie that admits its own assets", async () => {
  await using server = await startServer({ token: "tok-123" });
  const page = await fetch(`${server.base}/chat/main?token=tok-123`);
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const cookie = page.headers.get("set-cookie") ?? "";
  assert.match(cookie, /wstun_session=/);
  assert.match(cookie, /HttpOnly/);
  assert.ok(!cookie.includes("tok-123"), "the cookie holds a derived value, not the token");
  const css = await fetch(`${server.base}/static/wstun.css`, {
    headers: { cookie: cookie.split(";")[0] },
  });
  assert.equal(css.status, 200);
  await css.body?.cancel();
});

Deno.test("server token: an upgrade without it is refused with 401 and no socket", async () => {
  await using server = await startServer({ token: "tok-123" });
  const res = await fetch(`${server.base}/_ws`, { headers: UPGRADE_HEADERS });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, "unauthorized");
  await using ok = await TestSocket.open(`${server.wsUrl}?token=tok-123`);
  await ok.expectNothingPending();
});

Deno.test("server_token in create/join must match when present", async () => {
  await using server = await startServer({ token: "tok-123" });
  await using host = await TestSocket.open(`${server.wsUrl}?token=tok-123`);
  const bad = await host.request({
    type: "create_instance",
    service: "chat",
    name: "x",
    server_token: "wrong",
  });
  assert.equal(bad.code, "unauthorized");
  const room = await createRoom(host, { server_token: "tok-123" });
  await using member = await TestSocket.open(`${server.wsUrl}?token=tok-123`);
  const ack = await member.request({
    type: "join_instance",
    uuid: room.uuid,
    server_token: "wrong",
  });
  assert.deepEqual([ack.success, ack.error], [false, "unauthorized"]);
});

Deno.test("origin: foreign browser origins are refused with 403; own and allowed pass", async () => {
  await using server = await startServer({ allowedOrigins: ["https://friend.example"] });
  const foreign = await fetch(`${server.base}/_ws`, {
    headers: { ...UPGRADE_HEADERS, origin: "https://evil.example" },
  });
  assert.equal(foreign.status, 403);
  assert.equal((await foreign.json()).error, "forbidden_origin");
  const { originAllowed } = await import("../../routes/ws.ts");
  const host = new URL(server.base).host;
  assert.equal(originAllowed(server.base, host, server.config), true);
  assert.equal(originAllowed("https://friend.example", host, server.config), true);
  assert.equal(originAllowed(undefined, host, server.config), true);
  // Sandboxed marketplace pages send Origin: null (docs/services.md); an operator may refuse it.
  assert.equal(originAllowed("null", host, server.config), true);
  assert.equal(originAllowed("null", host, { ...server.config, allowNullOrigin: false }), false);
});

Deno.test("/_ws without an upgrade is 426 JSON; unknown paths are 404 JSON", async () => {
  await using server = await startServer();
  const plain = await fetch(`${server.base}/_ws`);
  assert.equal(plain.status, 426);
  assert.equal((await plain.json()).error, "upgrade_required");
  const missing = await fetch(`${server.base}/nope/../../etc/passwd`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error, "not_found");
});

Deno.test("service pages and libwstun.js are served with their content types", async () => {
  await using server = await startServer();
  for (const path of ["/chat/service", "/chat/main", "/fileshare/service", "/fileshare/main"]) {
    const res = await fetch(`${server.base}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await res.text(), /libwstun\.js/);
  }
  const lib = await fetch(`${server.base}/libwstun.js`);
  assert.match(lib.headers.get("content-type") ?? "", /javascript/);
  assert.match(await lib.text(), /export class WSTunClient/);
});
