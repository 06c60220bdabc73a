/**
 * The server-token guard's session cookie (routes/server_auth.ts, lib/session_cookie.ts): random
 * per session, expiring, `Secure` behind https, and counted only on requests WSTun's own pages
 * make — never from a page of another origin such as a sandboxed tunnel page (`Origin: null`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";
import { UPGRADE_HEADERS } from "../_util/upgrade_request.ts";
import { SessionCookies } from "../../lib/session_cookie.ts";

const TOKEN = "tok-123-server-auth";

async function signIn(base: string, headers: Record<string, string> = {}): Promise<string> {
  const page = await fetch(`${base}/chat/main?token=${TOKEN}`, { headers });
  assert.equal(page.status, 200);
  await page.body?.cancel();
  return page.headers.get("set-cookie") ?? "";
}

async function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers });
  await response.body?.cancel();
  return response.status;
}

Deno.test("session cookie: random per sign-in, expiring, HttpOnly, SameSite=Strict; Secure behind https", async () => {
  await using server = await startServer({ token: TOKEN, sessionTtlS: 3600 });
  const first = await signIn(server.base);
  const second = await signIn(server.base);
  assert.match(first, /^wstun_session=[^;]+; Max-Age=3600; Path=\/; HttpOnly; SameSite=Strict$/);
  assert.notEqual(first.split(";")[0], second.split(";")[0], "each session has its own value");
  assert.ok(!first.includes(TOKEN));
  // Over https the name is `__Host-`: no sibling host (a tunnel's) can set or shadow it.
  const behindTls = await signIn(server.base, { "x-forwarded-proto": "https" });
  assert.match(
    behindTls,
    /^__Host-wstun_session=[^;]+; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
  );
  const stats = `${server.base}/_api/stats`;
  assert.equal(await statusOf(stats, { cookie: behindTls.split(";")[0] }), 200);
});

Deno.test("session cookie: one planted beside the real one (another host's Domain cookie) changes nothing", async () => {
  await using server = await startServer({ token: TOKEN });
  const real = (await signIn(server.base)).split(";")[0];
  const stats = `${server.base}/_api/stats`;
  for (const cookie of [`wstun_session=planted; ${real}`, `${real}; wstun_session=planted`]) {
    assert.equal(await statusOf(stats, { cookie }), 200, cookie);
  }
  assert.equal(await statusOf(stats, { cookie: "wstun_session=planted" }), 401);
  assert.equal(await statusOf(stats, { cookie: "__Host-wstun_session=planted" }), 401);
});

Deno.test("session cookie: a forged, altered or expired value admits nothing", async () => {
  await using server = await startServer({ token: TOKEN });
  const cookie = (await signIn(server.base)).split(";")[0];
  const stats = `${server.base}/_api/stats`;
  assert.equal(await statusOf(stats, { cookie }), 200);
  assert.equal(await statusOf(stats, { cookie: `${cookie.slice(0, -2)}xx` }), 401);
  const [id, , mac] = cookie.split("=")[1].split(".");
  const longer = `wstun_session=${id}.${(Date.now() / 1000 + 1e9).toString(36)}.${mac}`;
  assert.equal(await statusOf(stats, { cookie: longer }), 401, "the expiry is signed");
  const sessions = new SessionCookies(TOKEN, 60);
  const expired = sessions.mint(Date.now() - 61_000);
  assert.equal(sessions.verify(expired, Date.now()), "invalid");
  assert.equal(await statusOf(stats, { cookie: `wstun_session=${expired}` }), 401);
  const aging = sessions.mint(Date.now() - 40_000);
  assert.equal(sessions.verify(aging, Date.now()), "renew");
  const other = new SessionCookies("another-token", 3600).mint(Date.now());
  assert.equal(await statusOf(stats, { cookie: `wstun_session=${other}` }), 401);
});

Deno.test("session cookie: a session past half its life is renewed with a fresh value", async () => {
  await using server = await startServer({ token: TOKEN, sessionTtlS: 3600 });
  const aging = new SessionCookies(TOKEN, 3600).mint(Date.now() - 2000_000);
  const response = await fetch(`${server.base}/_api/stats`, {
    headers: { cookie: `wstun_session=${aging}` },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const renewed = response.headers.get("set-cookie") ?? "";
  assert.match(renewed, /^wstun_session=/);
  assert.ok(!renewed.includes(aging));
});

Deno.test("session cookie: counts only on requests WSTun's own pages make", async () => {
  await using server = await startServer({ token: TOKEN });
  const cookie = (await signIn(server.base)).split(";")[0];
  const stats = `${server.base}/_api/stats`;
  const host = new URL(server.base).host;
  assert.equal(await statusOf(stats, { cookie, origin: `http://${host}` }), 200);
  assert.equal(await statusOf(stats, { cookie, "sec-fetch-site": "same-origin" }), 200);
  assert.equal(await statusOf(stats, { cookie, origin: "null" }), 401);
  assert.equal(await statusOf(stats, { cookie, origin: "https://elsewhere.example" }), 401);
  assert.equal(await statusOf(stats, { cookie, "sec-fetch-site": "cross-site" }), 401);
  assert.equal(await statusOf(stats, { cookie, "sec-fetch-site": "same-site" }), 401);
  // The explicit token still works from anywhere: it is not ambient.
  assert.equal(await statusOf(`${stats}?token=${TOKEN}`, { origin: "null" }), 200);
});

Deno.test("session cookie: /_ws refuses a null-origin upgrade that carries only the cookie", async () => {
  await using server = await startServer({ token: TOKEN });
  const cookie = (await signIn(server.base)).split(";")[0];
  const refused = await fetch(`${server.base}/_ws`, {
    headers: { ...UPGRADE_HEADERS, origin: "null", cookie },
  });
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).error, "unauthorized");
  // From the server's own page the same cookie opens the socket.
  const options = { headers: { origin: server.base, cookie } } as unknown as string[];
  const ws = new WebSocket(server.wsUrl, options);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("the socket was refused"));
  });
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.close();
  await closed;
});
