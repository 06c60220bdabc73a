/** /admin and the admin-only instance close route, on a real server. */
import { Hono } from "hono";
import { assert, assertEquals } from "../_util/marketplace/assert.ts";
import { ADMIN_CSP, createAdminRoutes } from "../../routes/admin.ts";
import { ADMIN_TOKEN } from "../_util/marketplace/fixture.ts";
import { startServer } from "../_util/server.ts";

async function withAdmin(
  adminToken: string | undefined,
  fn: (origin: string, closed: string[]) => Promise<void>,
): Promise<void> {
  const closed: string[] = [];
  const app = new Hono();
  app.route(
    "/",
    createAdminRoutes({
      adminToken,
      closeInstance: (uuid) => {
        if (uuid !== "live-1") return false;
        closed.push(uuid);
        return true;
      },
    }),
  );
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, closed);
  } finally {
    await server.shutdown();
  }
}

Deno.test("admin page: served with a strict CSP, no framing, its script and the shared stylesheet", async () => {
  await withAdmin(ADMIN_TOKEN, async (origin) => {
    const page = await fetch(`${origin}/admin`);
    assertEquals(page.status, 200);
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    assertEquals(page.headers.get("content-security-policy"), ADMIN_CSP);
    assertEquals(page.headers.get("x-frame-options"), "DENY");
    const text = await page.text();
    assert(text.includes('<script type="module" src="/admin/admin.js">'));
    // Its style is the shared stylesheet, which the app serves from static/ (routes/assets.ts).
    assert(text.includes('<link rel="stylesheet" href="/static/wstun.css">'));
    assert((await Deno.stat(new URL("../../static/wstun.css", import.meta.url))).isFile);
    const script = await fetch(`${origin}/admin/admin.js`);
    assertEquals(script.status, 200);
    assert(script.headers.get("content-type")?.startsWith("text/javascript"));
    await script.body?.cancel();
    const other = await fetch(`${origin}/admin/secrets.txt`);
    assertEquals(other.status, 404);
    await other.body?.cancel();
  });
});

Deno.test("admin page: names Object.prototype knows are unknown files (404 JSON, not 500)", async () => {
  // `name in {…}` sees Object.prototype, so these once reached serve() and threw.
  await using server = await startServer({ adminToken: ADMIN_TOKEN });
  for (const name of ["toString", "hasOwnProperty", "constructor", "__proto__", "valueOf"]) {
    const answer = await fetch(`${server.base}/admin/${name}`);
    assertEquals(answer.status, 404, name);
    assertEquals((await answer.json()).error, "not_found", name);
  }
});

Deno.test("admin page: the script never writes server data as HTML", async () => {
  const script = await Deno.readTextFile(new URL("../../static/admin/admin.js", import.meta.url));
  assert(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(script));
});

Deno.test("close instance: DELETE /_api/instances/{uuid} with the admin token closes it (204)", async () => {
  await withAdmin(ADMIN_TOKEN, async (origin, closed) => {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const ok = await fetch(`${origin}/_api/instances/live-1`, { method: "DELETE", headers });
    assertEquals(ok.status, 204);
    await ok.body?.cancel();
    assertEquals(closed, ["live-1"]);
    const missing = await fetch(`${origin}/_api/instances/nope`, { method: "DELETE", headers });
    assertEquals([missing.status, (await missing.json()).error], [404, "unknown_instance"]);
  });
});

Deno.test("close instance: refused without the admin token (401) or when none is configured (403)", async () => {
  await withAdmin(ADMIN_TOKEN, async (origin, closed) => {
    for (const headers of [{}, { authorization: "Bearer nope" }] as Record<string, string>[]) {
      const answer = await fetch(`${origin}/_api/instances/live-1`, { method: "DELETE", headers });
      assertEquals([answer.status, (await answer.json()).error], [401, "unauthorized"]);
    }
    assertEquals(closed, []);
  });
  await withAdmin(undefined, async (origin, closed) => {
    const answer = await fetch(`${origin}/_api/instances/live-1`, {
      method: "DELETE",
      headers: { authorization: "Bearer anything" },
    });
    assertEquals([answer.status, (await answer.json()).error], [403, "admin_disabled"]);
    assertEquals(closed, []);
  });
});
