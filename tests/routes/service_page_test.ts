/**
 * routes/service_page.ts: the built-in pages are served whole (the skeleton around the page file,
 * every part marker replaced), with one module script and no inline one, under PAGE_CSP.
 */
import assert from "node:assert/strict";
import { renderServicePage } from "../../routes/service_page.ts";
import { startServer } from "../_util/server.ts";

const PAGES = [
  ["chat", "service", "/chat/host.js", "Chat — host a room · WSTun"],
  ["chat", "main", "/chat/member.js", "Chat · WSTun"],
  ["fileshare", "service", "/fileshare/host.js", "Fileshare — host a room · WSTun"],
  ["fileshare", "main", "/fileshare/member.js", "Fileshare · WSTun"],
] as const;

Deno.test("service pages: the skeleton, the page's own script and every shared part, no marker left", async () => {
  await using server = await startServer();
  for (const [service, page, script, title] of PAGES) {
    const served = await (await fetch(`${server.base}/${service}/${page}`)).text();
    const withExtension = await (await fetch(`${server.base}/${service}/${page}.html`)).text();
    assert.equal(withExtension, served, `${service}/${page}.html is the same page`);
    assert.ok(served.startsWith("<!doctype html>\n"), `${service}/${page}`);
    assert.ok(served.includes(`<title>${title}</title>`), `${service}/${page}`);
    const scripts = [...served.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.deepEqual(scripts, [`<script type="module" src="${script}">`], `${service}/${page}`);
    assert.ok(!served.includes("<!-- part:"), `${service}/${page}: every marker replaced`);
    for (const id of ["connection", "banner", page === "main" ? "join-form" : "share-link"]) {
      assert.ok(served.includes(`id="${id}"`), `${service}/${page} has #${id}`);
    }
  }
});

Deno.test("service pages: a marker naming no part stops start-up instead of serving it", () => {
  assert.throws(
    () => renderServicePage("chat", "main", "<!-- part: no-such-part -->\n"),
    /unknown page part "no-such-part"/,
  );
});
