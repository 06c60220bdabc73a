/**
 * The marketplace as people use it, in headless Chromium: an admin signs in to /admin, browses the
 * example marketplace, installs the poll, opens its host page, a member votes, both see the count
 * change, and the admin closes the instance and uninstalls the service — while the poll's pages
 * run sandboxed (opaque origin, no access to the admin token). And the whiteboard example relays
 * a member's drawing to the host.
 */
import { assert, assertEquals } from "../../_util/marketplace/assert.ts";
import { browserAvailable, launchBrowser } from "../../_util/browser/browser.ts";
import { ADMIN_TOKEN, MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";

const TIMEOUT_MS = 10_000;

Deno.test({
  name: "browser: an admin installs the poll from /admin, people use it, the admin closes it",
  ignore: !browserAvailable,
  async fn() {
    const market = await MarketplaceServer.start();
    const app = await MarketplaceApp.start({ config: { marketplaceUrls: [market.indexUrl] } });
    const browser = await launchBrowser();
    try {
      const context = await browser.newContext();
      context.setDefaultTimeout(TIMEOUT_MS);
      const admin = await context.newPage();
      admin.on("dialog", (dialog) => dialog.accept());

      // Sign in.
      await admin.goto(`${app.origin}/admin`);
      // The shared stylesheet applies under the page's CSP, and the token field has its label.
      assert(
        await admin.evaluate(() =>
          [...document.styleSheets].some((sheet) =>
            sheet.href?.endsWith("/static/wstun.css") && sheet.cssRules.length > 0
          )
        ),
        "/static/wstun.css is loaded",
      );
      await admin.getByLabel("Admin token").fill(ADMIN_TOKEN);
      await admin.click("#sign-in button[type=submit]");
      await admin.locator('#services tr[data-service="chat"]').waitFor();
      assertEquals(
        await admin.locator('#services tr[data-service="chat"] a').getAttribute("href"),
        "/chat/service",
      );
      assertEquals(
        await admin.locator('#services tr[data-service="udp"] a').count(),
        0,
        "a headless service has no page to link to",
      );
      assertEquals(
        await admin.inputValue("#market-url"),
        market.indexUrl,
        "defaults from WSTUN_MARKETPLACE_URLS",
      );

      // Browse and install.
      await admin.click("#browse button[type=submit]");
      const offer = admin.locator('#market tr[data-service="poll"]');
      await offer.waitFor();
      await offer.getByRole("button", { name: "Install" }).click();
      await admin.locator("#market-status", { hasText: "Installed poll 1.0.0." }).waitFor();
      const row = admin.locator('#services tr[data-service="poll"]');
      await row.waitFor();
      assert((await row.textContent())?.includes(market.indexUrl), "the source is listed");
      assert((await offer.textContent())?.includes("installed (1.0.0)"));

      // The host starts a poll on the installed service's page.
      const host = await context.newPage();
      await host.goto(`${app.origin}/poll/service`);
      await host.fill("#question", "Lunch?");
      await host.fill("#options", "Pizza\nSushi\nTacos");
      await host.click("#start");
      await host.locator("#running").waitFor({ state: "visible" });
      const link = await host.getAttribute("#link", "href");
      assert(link?.includes("/poll/main?uuid="), String(link));

      // The sandbox: opaque origin, no access to this origin's storage (the admin token).
      const sandbox = await host.evaluate(() => {
        let storage = "readable";
        try {
          sessionStorage.getItem("wstun-admin-token");
        } catch {
          storage = "blocked";
        }
        return { origin: self.origin, storage };
      });
      assertEquals(sandbox, { origin: "null", storage: "blocked" });

      // A member votes; both pages show the count.
      const member = await context.newPage();
      await member.goto(link!);
      await member.locator("#question", { hasText: "Lunch?" }).waitFor();
      await member.locator("#options button", { hasText: "Sushi" }).click();
      await host.locator("#results li", { hasText: /Sushi\s*1/ }).waitFor();
      await member.locator("#options li.mine", { hasText: /Sushi\s*1/ }).waitFor();
      assertEquals(await host.textContent("#voters"), "1");

      // The admin sees the live instance and closes it; the member is told.
      await admin.click("#refresh-instances");
      const instance = admin.locator("#instances tr", { hasText: "Lunch?" });
      await instance.waitFor();
      assert((await instance.textContent())?.includes("poll"));
      await instance.getByRole("button", { name: "Close" }).click();
      await admin.locator("#instances-status", { hasText: "Lunch? closed." }).waitFor();
      await member.locator("#status", { hasText: "The poll is closed." }).waitFor();
      assertEquals(app.server.hub.list(), []);

      // Uninstall from /admin: the service and its pages are gone.
      await row.getByRole("button", { name: "Uninstall" }).click();
      await admin.locator("#services-status", { hasText: "poll uninstalled." }).waitFor();
      await row.waitFor({ state: "detached" });
      const gone = await fetch(`${app.origin}/poll/main`);
      assertEquals(gone.status, 404);
      await gone.body?.cancel();

      await context.close();
    } finally {
      await browser.close();
      await app.close();
      await market.close();
    }
  },
});

Deno.test({
  name: "browser: the whiteboard example relays a member's stroke to the host's canvas",
  ignore: !browserAvailable,
  async fn() {
    const market = await MarketplaceServer.start();
    const app = await MarketplaceApp.start();
    const browser = await launchBrowser();
    try {
      const installed = await app.api("POST", "/_api/marketplace/install", {
        url: market.indexUrl,
        name: "whiteboard",
      });
      assertEquals(installed.status, 201);
      const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
      context.setDefaultTimeout(TIMEOUT_MS);
      const host = await context.newPage();
      await host.goto(`${app.origin}/whiteboard/service`);
      await host.locator("#link[href]").waitFor();
      const link = await host.getAttribute("#link", "href");
      const member = await context.newPage();
      await member.goto(link!);
      await member.locator("#status", { hasText: "Connected: draw!" }).waitFor();
      await host.locator("#members", { hasText: "1" }).waitFor();

      const box = (await member.locator("#board").boundingBox())!;
      await member.mouse.move(box.x + 100, box.y + 100);
      await member.mouse.down();
      for (let i = 1; i <= 10; i++) {
        await member.mouse.move(box.x + 100 + i * 20, box.y + 100 + i * 10);
      }
      await member.mouse.up();

      // The host's canvas gets ink where the member drew.
      await host.waitForFunction(() => {
        const canvas = document.getElementById("board") as HTMLCanvasElement;
        const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
        return false;
      });
      await context.close();
    } finally {
      await browser.close();
      await app.close();
      await market.close();
    }
  },
});
