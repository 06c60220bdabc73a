/**
 * Which origin tunnel pages run on (lib/tunnel/viewer_urls.ts) and what their answers may do
 * there (lib/tunnel/shared_origin.ts, own_origin.ts): sandboxed and stripped of origin-wide headers
 * on a shared origin; on a host of their own, passed through but for what reaches sibling hosts. The browser's side of it is in
 * viewer_isolation_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  getWithHost,
  ORIGIN_WIDE_RESPONSE_HEADERS,
  registrationSocket,
  startClient,
  startTarget,
  startTunnelServer,
  token,
} from "../../_util/tunnel/fixture.ts";
import { defaultConfig } from "../../../lib/config.ts";
import { ORIGIN_WIDE_HEADERS, TUNNEL_SANDBOX_CSP } from "../../../lib/tunnel/shared_origin.ts";
import { viewerPrefixProblem } from "../../../lib/tunnel/viewer_urls.ts";
import { ServerAuth } from "../../../routes/server_auth.ts";

Deno.test("tunnel viewers on a shared origin: answers are sandboxed and lose origin-wide headers", async () => {
  const server = startTunnelServer();
  const target = startTarget();
  const { client, url } = await startClient(server, "shared", target.port);
  const response = await fetch(`${url}/origin-wide`);
  assert.deepEqual(await response.text(), "origin-wide");
  for (const name of ORIGIN_WIDE_HEADERS) {
    assert.deepEqual(response.headers.get(name), null, `${name} reached the viewer`);
  }
  assert.deepEqual(response.headers.get("x-app"), "kept");
  // The tunnel's own policy still applies, and the sandbox comes on top of it.
  assert.deepEqual(
    response.headers.get("content-security-policy"),
    `img-src 'self', ${TUNNEL_SANDBOX_CSP}`,
  );
  assert.match(TUNNEL_SANDBOX_CSP, /^sandbox /);
  assert.ok(
    !TUNNEL_SANDBOX_CSP.includes("allow-same-origin"),
    "the sandbox keeps the origin opaque",
  );
  const everySent = new Set(ORIGIN_WIDE_RESPONSE_HEADERS.map(([name]) => name));
  for (const name of everySent) {
    if (!["x-app", "content-security-policy"].includes(name)) {
      assert.ok(ORIGIN_WIDE_HEADERS.has(name), `${name} is not in the list`);
    }
  }

  const worker = await fetch(`${url}/sw.js`, { headers: { "service-worker": "script" } });
  assert.deepEqual(worker.status, 403);
  assert.deepEqual((await worker.json()).error, "service_worker_refused");
  await client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel viewers on hosts of their own: the id is the host, answers pass through", async () => {
  const server = startTunnelServer({ urlPrefix: "http://{id}.tunnels.test" });
  const target = startTarget();
  const { client, url } = await startClient(server, "box", target.port);
  assert.deepEqual(url, "http://box.tunnels.test");

  const seen = await getWithHost(server.port, "box.tunnels.test", "/request?q=1");
  assert.deepEqual(seen.status, 200);
  assert.deepEqual(JSON.parse(seen.body).url, "/request?q=1");
  // `/_tunnel` on a tunnel's host is the tunnel's own path, not a registration.
  assert.deepEqual((await getWithHost(server.port, "box.tunnels.test", "/_tunnel")).status, 404);

  const wide = await getWithHost(server.port, "BOX.tunnels.test", "/origin-wide");
  assert.deepEqual(wide.body, "origin-wide");
  assert.deepEqual(wide.headers.get("service-worker-allowed"), "/");
  assert.deepEqual(wide.headers.get("set-cookie"), "wstun_session=planted; Path=/, app=1; Path=/");
  assert.deepEqual(wide.headers.get("content-security-policy"), "img-src 'self'");
  const worker = await getWithHost(server.port, "box.tunnels.test", "/origin-wide");
  assert.deepEqual(worker.status, 200);

  // What would reach the sibling hosts does not: Domain cookies, clearing the domain's cookies.
  const domain = await getWithHost(server.port, "box.tunnels.test", "/domain-wide");
  assert.deepEqual(domain.body, "domain-wide");
  assert.deepEqual(domain.headers.getSetCookie(), [
    "__Host-wstun_session=planted; Path=/; Secure",
    "app=1; Path=/; HttpOnly",
  ]);
  assert.deepEqual(domain.headers.get("clear-site-data"), '"cache", "storage"');

  const other = await getWithHost(server.port, "nobody.tunnels.test", "/");
  assert.deepEqual(other.status, 504);
  // The server's own host is not a tunnel host.
  assert.deepEqual(await (await fetch(`${server.origin}/t/box/hello`)).text(), "app");
  await client.close();
  await target.close();
  await server.close();
});

Deno.test("tunnel viewers on hosts of their own: ids must be DNS labels", async () => {
  const server = startTunnelServer({ urlPrefix: "http://{id}.tunnels.test" });
  for (const id of ["Upper", "under_score", "dot.ted", "-dash", "x".repeat(64)]) {
    const refused = await fetch(`${server.origin}/_tunnel`, {
      headers: { "x-websocktunnel-id": id, "authorization": `Bearer ${await token(id)}` },
    });
    assert.deepEqual(refused.status, 400, id);
    const body = await refused.json();
    assert.deepEqual(body.error, "invalid_tunnel_id");
    assert.match(body.message, /DNS labels/);
  }
  const ws = registrationSocket(server.origin, {
    "x-websocktunnel-id": "fine-1",
    "Authorization": `Bearer ${await token("fine-1")}`,
  });
  await new Promise((resolve) => ws.onopen = resolve);
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.close();
  await closed;
  await server.close();
});

Deno.test("WSTUN_TUNNEL_URL_PREFIX: {id} only as the whole first label of the host", () => {
  assert.deepEqual(viewerPrefixProblem("https://{id}.tunnels.example.com"), undefined);
  assert.deepEqual(viewerPrefixProblem("https://tunnels.example.com/t"), undefined);
  assert.match(viewerPrefixProblem("https://x{id}.tunnels.example.com") ?? "", /first label/);
  assert.match(viewerPrefixProblem("https://tunnels.example.com/{id}") ?? "", /first label/);
  assert.match(viewerPrefixProblem("https://{id}.tunnels.example.com/t") ?? "", /no path/);
  assert.match(viewerPrefixProblem("https://{id}.{id}.example.com") ?? "", /first label/);
});

Deno.test("tunnel viewers with the viewer token: a viewer session opens its one tunnel", async () => {
  const serverToken = "server-token-0123456789";
  const auth = new ServerAuth(defaultConfig({ token: serverToken }), Date.now);
  const server = startTunnelServer({ requireViewerToken: true }, {
    viewerAuth: auth,
    credentials: auth.credentials,
  });
  const target = startTarget();
  const a = await startClient(server, "tunnel-a", target.port);
  const b = await startClient(server, "tunnel-b", target.port);
  const signedIn = await fetch(`${a.url}/hello?token=${serverToken}`);
  assert.deepEqual(await signedIn.text(), "hello from the target");
  const setCookie = signedIn.headers.get("set-cookie") ?? "";
  assert.match(
    setCookie,
    /^wstun_viewer=[^;]+; Max-Age=\d+; Path=\/t\/tunnel-a\/; HttpOnly; SameSite=Lax$/,
  );
  const cookie = setCookie.split(";")[0];

  // A browser opening the page with the token is sent to the same URL without it (the page could
  // read its own location), the viewer session riding on the redirect.
  const navigate = { "sec-fetch-mode": "navigate", accept: "text/html" };
  const opened = await fetch(`${a.url}/request?token=${serverToken}&q=1`, {
    headers: navigate,
    redirect: "manual",
  });
  assert.deepEqual(opened.status, 303);
  assert.deepEqual(opened.headers.get("location"), "/t/tunnel-a/request?q=1");
  assert.match(
    opened.headers.get("set-cookie") ?? "",
    /^wstun_viewer=[^;]+; Max-Age=\d+; Path=\/t\/tunnel-a\/;/,
  );
  const posted = await fetch(`${a.url}/request?token=${serverToken}`, {
    method: "POST",
    body: "form",
    headers: navigate,
    redirect: "manual",
  });
  assert.deepEqual(posted.status, 307, "a form keeps its method and body");
  assert.deepEqual(posted.headers.get("location"), "/t/tunnel-a/request");
  const landed = await fetch(`${a.url}/request?q=1`, {
    headers: { ...navigate, cookie: (opened.headers.get("set-cookie") ?? "").split(";")[0] },
  });
  assert.deepEqual((await landed.json()).url, "/request?q=1");
  const appToken = await fetch(`${a.url}/request?token=the-apps-own`, {
    headers: { ...navigate, cookie },
    redirect: "manual",
  });
  assert.deepEqual(appToken.status, 200, "a token that is not WSTun's is the app's");
  await appToken.body?.cancel();

  const back = await fetch(`${a.url}/request`, { headers: { cookie: `${cookie}; app=2` } });
  const seen = await back.json();
  assert.deepEqual(seen.headers.cookie, "app=2", "the viewer cookie never reaches the client");
  const elsewhere = await fetch(`${b.url}/request`, { headers: { cookie } });
  assert.deepEqual(elsewhere.status, 401, "a session for one tunnel opens no other");
  await elsewhere.body?.cancel();
  const forged = await fetch(`${a.url}/request`, { headers: { cookie: `${cookie}x` } });
  assert.deepEqual(forged.status, 401);
  await forged.body?.cancel();
  await a.client.close();
  await b.client.close();
  await target.close();
  await server.close();
});
