/**
 * A hostile tunnel cannot act with WSTun's authority (docs/security.md, "Tunnel owners"). A
 * tunnel owner with a valid token exposes, through the real `wst-client`, a page that tries what
 * a page on WSTun's origin could do: read the API with the visitor's cookie, open `/_ws` as the
 * visitor, register a service worker for `/` that would replace /admin's script, and overwrite
 * WSTun's session cookie. A visitor who signed in to WSTun opens it in Chromium; none of it works.
 *
 * Skipped with one line without Chromium or Go, except under CI=true.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, startServer } from "../../_util/server.ts";
import { signTunnelToken } from "../../../lib/tunnel/jwt.ts";
import { TUNNEL_DEFAULTS } from "../../../lib/tunnel/tunnel_config.ts";
import { browserAvailable, launchBrowser } from "../../_util/browser/browser.ts";
import type { Page } from "playwright-core";
import {
  referenceBinaries,
  runWstClient,
  toolchainMissing,
} from "../../_util/tunnel/wst_client.ts";

const SERVER_TOKEN = "server-token-for-the-isolation-test";
const ADMIN_TOKEN = "admin-token-for-the-isolation-test";
const SECRET_A = "tunnel-secret-a-for-the-isolation-test-0123456789";
const SECRET_B = "tunnel-secret-b-for-the-isolation-test-0123456789";

const missing = await toolchainMissing();
const skip = (missing !== undefined || !browserAvailable) && Deno.env.get("CI") !== "true";
if (missing && skip) console.log(`skipping tunnel isolation browser test: ${missing}`);

/** What the hostile page reports about each attempt. */
interface Attempts {
  api: string;
  socket: string;
  serviceWorker: string;
  storage: string;
}

/**
 * The hostile target: a page whose script tries each attack and writes what happened into
 * `#results`, a service worker that would answer every request of its scope, and headers that
 * would plant cookies on the origin they are served from (`/wipe`: wipe them).
 */
function startHostileTarget(wstunBase: string) {
  const wsUrl = `${wstunBase.replace(/^http/, "ws")}/_ws`;
  // Each attempt runs inside settle(), so one that throws (as the sandbox makes some do) is
  // reported like one that fails later.
  const attack = `
    const results = {};
    const done = () => { document.getElementById("results").textContent = JSON.stringify(results); };
    const settle = (name, attempt) => new Promise((resolve) => resolve(attempt()))
      .then((v) => results[name] = v, (e) => results[name] = "error: " + e.name);
    Promise.all([
      settle("api", () => fetch(${
    JSON.stringify(wstunBase)
  } + "/_api/instances", { credentials: "include" }).then((r) => "status " + r.status)),
      settle("socket", () => new Promise((resolve) => {
        const ws = new WebSocket(${JSON.stringify(wsUrl)});
        ws.onopen = () => { ws.close(); resolve("opened"); };
        ws.onerror = () => resolve("refused");
      })),
      settle("serviceWorker", () => navigator.serviceWorker.register("sw.js", { scope: "/" }).then(() => "registered")),
      settle("storage", () => { localStorage.setItem("k", "v"); return "readable"; }),
    ]).then(done);
  `;
  const sw = `self.addEventListener("fetch", (e) => e.respondWith(new Response("taken over")));`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/attack.js") {
      return new Response(attack, { headers: { "content-type": "text/javascript" } });
    }
    if (path === "/sw.js") {
      return new Response(sw, {
        headers: { "content-type": "text/javascript", "service-worker-allowed": "/" },
      });
    }
    const headers = new Headers({ "content-type": "text/html" });
    if (path === "/wipe") {
      headers.set("clear-site-data", '"cookies", "storage"');
      return new Response("<!doctype html><p>wiped</p>", { headers });
    }
    headers.append("set-cookie", "wstun_session=planted-by-the-tunnel; Path=/");
    headers.append("set-cookie", "tunnel_cookie=1; Path=/");
    return new Response(
      '<!doctype html><pre id="results"></pre><script src="attack.js"></script>',
      { headers },
    );
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** `/admin` in this browser is WSTun's own: no service worker controls it, no tunnel answered it. */
async function assertAdminUntouched(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/admin`);
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller === null), true);
  assert.ok(!(await page.content()).includes("taken over"), "/admin was answered by the tunnel");
}

Deno.test({
  name: "tunnel viewers: a hostile tunnel page cannot use the visitor's WSTun session or origin",
  ignore: skip,
  sanitizeResources: false, // Chromium's and wst-client's pipes outlive the steps by a moment
  async fn() {
    const bin = `${await referenceBinaries()}/wst-client`;
    await using server = await startServer({
      token: SERVER_TOKEN,
      adminToken: ADMIN_TOKEN,
      tunnel: { ...TUNNEL_DEFAULTS, secrets: { a: SECRET_A, b: SECRET_B } },
    });
    const target = startHostileTarget(server.base);
    const jwt = await signTunnelToken({
      id: "evil",
      secret: SECRET_A,
      ttlSeconds: 600,
      nowSeconds: Date.now() / 1000,
    });
    const wst = runWstClient(bin, { origin: server.base }, "evil", target.port, jwt);
    const browser = await launchBrowser();
    try {
      const url = (await wst.waitForStderr(/url="([^"]+)"/))[1];
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${server.base}/?token=${SERVER_TOKEN}`);
      const session = (await context.cookies()).find((c) => c.name === "wstun_session");
      assert.ok(session, "signing in with ?token= sets the session cookie");

      await page.goto(`${url}/`);
      await page.locator("#results:not(:empty)").waitFor();
      const attempts: Attempts = JSON.parse(await page.locator("#results").textContent() ?? "");
      assert.ok(attempts.api !== "status 200", `the API answered the tunnel page: ${attempts.api}`);
      assert.deepEqual(attempts.socket, "refused", "/_ws from the tunnel page");
      assert.ok(
        attempts.serviceWorker !== "registered",
        "the tunnel page registered a service worker",
      );
      assert.ok(attempts.storage !== "readable", "the tunnel page reached the origin's storage");

      const cookies = await context.cookies();
      assert.deepEqual(
        cookies.find((c) => c.name === "wstun_session")?.value,
        session.value,
        "WSTun's session cookie after the tunnel page",
      );
      assert.deepEqual(cookies.some((c) => c.name === "tunnel_cookie"), false, "tunnel cookies");
      await page.goto(`${url}/wipe`);
      assert.deepEqual(
        (await context.cookies()).find((c) => c.name === "wstun_session")?.value,
        session.value,
        "WSTun's session cookie after a tunnel's Clear-Site-Data",
      );

      await assertAdminUntouched(page, server.base);
      await context.close();
    } finally {
      await browser.close();
      await wst.stop();
      await target.close();
    }
  },
});

Deno.test({
  name: "tunnel viewers on hosts of their own: a tunnel's service worker stays on its own host",
  ignore: skip,
  sanitizeResources: false, // Chromium's and wst-client's pipes outlive the steps by a moment
  async fn() {
    const bin = `${await referenceBinaries()}/wst-client`;
    // `*.localhost` hosts reach loopback and are secure contexts (as https ones are), so a
    // service worker is possible on the tunnel's host at all.
    const port = freePort();
    await using server = await startServer({
      token: SERVER_TOKEN,
      adminToken: ADMIN_TOKEN,
      tunnel: {
        ...TUNNEL_DEFAULTS,
        secrets: { a: SECRET_A, b: SECRET_B },
        urlPrefix: `http://{id}.localhost:${port}`,
      },
    }, port);
    const target = startHostileTarget(server.base);
    const jwt = await signTunnelToken({
      id: "evil",
      secret: SECRET_A,
      ttlSeconds: 600,
      nowSeconds: Date.now() / 1000,
    });
    const wst = runWstClient(bin, { origin: server.base }, "evil", target.port, jwt);
    // Chromium resolves the tunnel hosts to the server's loopback port.
    const browser = await launchBrowser([
      `--host-resolver-rules=MAP *.tunnels.test 127.0.0.1:${port}`,
    ]);
    try {
      const url = (await wst.waitForStderr(/url="([^"]+)"/))[1];
      assert.deepEqual(url, `http://evil.localhost:${port}`);
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${server.base}/?token=${SERVER_TOKEN}`);
      const session = (await context.cookies()).find((c) => c.name === "wstun_session");
      assert.ok(session, "signing in with ?token= sets the session cookie");

      await page.goto(`${url}/`);
      await page.locator("#results:not(:empty)").waitFor();
      const attempts: Attempts = JSON.parse(await page.locator("#results").textContent() ?? "");
      // On its own origin the tunnel is an ordinary site: its storage and service worker work...
      assert.deepEqual(attempts.serviceWorker, "registered");
      assert.deepEqual(attempts.storage, "readable");
      // ...and WSTun is another site to it.
      assert.ok(attempts.api !== "status 200", `the API answered the tunnel page: ${attempts.api}`);
      assert.deepEqual(attempts.socket, "refused", "/_ws from the tunnel's host");

      const cookies = await context.cookies(server.base);
      assert.deepEqual(cookies.find((c) => c.name === "wstun_session")?.value, session.value);
      await assertAdminUntouched(page, server.base);
      await context.close();
    } finally {
      await browser.close();
      await wst.stop();
      await target.close();
    }
  },
});
