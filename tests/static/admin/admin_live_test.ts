/**
 * The admin page's live view in headless Chromium: per-isolate connections, frame rates and
 * drops from /_api/metrics, and the bridge health the cluster supplies ("bridge off" without).
 */
import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import {
  browserAvailable,
  launchBrowser,
  openPage,
  pageErrors,
} from "../../_util/browser/browser.ts";

const ADMIN = "admin-token-for-live-view";

Deno.test({
  name: "admin live view: connections, frames per second and bridge health, refreshed",
  ignore: !browserAvailable,
  async fn() {
    const bridge = [
      {
        isolate: "ISO-SELF",
        self: true,
        aliveInDirectory: true,
        lastHeardMsAgo: null,
        silent: false,
      },
      {
        isolate: "ISO-QUIET",
        self: false,
        aliveInDirectory: true,
        lastHeardMsAgo: 42_000,
        silent: true,
      },
    ];
    await using server = await startServer({ adminToken: ADMIN }, 0, {
      bridgeHealth: () => bridge,
    });
    await using off = await startServer({ adminToken: ADMIN });
    const browser = await launchBrowser();
    const host = await TestSocket.open(server.wsUrl);
    const member = await TestSocket.open(server.wsUrl);
    try {
      const { uuid } = await createRoom(host);
      await joinRoom(host, member, uuid, "dana");
      const { context, page } = await openPage(browser, `${server.base}/admin`);
      await page.getByLabel("Admin token").fill(ADMIN);
      await page.click("#sign-in button[type=submit]");
      const row = page.locator(`#live tr[data-isolate="${server.isolate}"]`);
      await row.waitFor();
      const cells = () => row.locator("td").allTextContents();
      assert.deepEqual((await cells()).slice(0, 2), [server.isolate, "2"]);
      assert.deepEqual((await cells()).slice(6), ["1", "1"], "instances and members");
      // Traffic between two refreshes shows as a rate on the next one.
      for (let i = 0; i < 30; i++) member.send({ type: "chat", uuid, text: "x" });
      for (let i = 0; i < 30; i++) await host.next();
      await row.locator("td:nth-child(3)").filter({ hasNotText: /^(…|0\.0)$/ }).waitFor();
      assert.ok(Number((await cells())[2]) > 0, (await cells()).join(" | "));
      const silent = page.locator('#bridge tr[data-isolate="ISO-QUIET"]');
      assert.match(await silent.textContent() ?? "", /yes42\.0 s agoSILENT/);
      assert.match(
        await page.locator("#bridge-status").textContent() ?? "",
        /1 isolate\(s\) silent/,
      );

      await page.goto(`${off.base}/admin`);
      await page.getByLabel("Admin token").fill(ADMIN);
      await page.click("#sign-in button[type=submit]");
      await page.locator("#bridge-status", { hasText: "Bridge off" }).waitFor();
      assert.equal(await page.locator("#bridge-table").isHidden(), true);
      assert.deepEqual(pageErrors(page), []);
      await context.close();
    } finally {
      await member.close();
      await host.close();
      await browser.close();
    }
  },
});
