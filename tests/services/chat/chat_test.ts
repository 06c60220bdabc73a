/**
 * The chat service in a real browser: a host page and member pages in separate browser contexts
 * (separate cookies, like separate people), against a real WSTun server with a server token.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import {
  browserAvailable,
  launchBrowser,
  openPage,
  pageErrors,
  waitConnected,
} from "../../_util/browser/browser.ts";
import type { Page } from "playwright-core";

const SERVER_TOKEN = "browser-test-token";
const HOSTILE = `<img src=x onerror="window.__pwned=1">`;

async function join(page: Page, name: string, password: string): Promise<void> {
  await page.locator("#join:not([hidden])").waitFor();
  await page.fill("#display-name", name);
  await page.fill("#password", password);
  await page.click("#join-button");
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill("#message", text);
  await page.click("#send");
}

/** Waits for a message with this text in the page's conversation. */
async function seeMessage(page: Page, text: string): Promise<void> {
  await page.locator('#messages li[data-kind="message"] .text', { hasText: text }).first()
    .waitFor();
}

Deno.test({
  name: "chat in a browser: protected room, share link, messages, kick, hostile text, host leaves",
  ignore: !browserAvailable,
  async fn(t) {
    await using server = await startServer({ token: SERVER_TOKEN, hostGraceMs: 0 });
    const browser = await launchBrowser();
    try {
      const host = await openPage(browser, `${server.base}/chat/service?token=${SERVER_TOKEN}`);
      let link = "";

      await t.step(
        "host creates a protected room and gets a share link with the token",
        async () => {
          await waitConnected(host.page);
          await host.page.fill("#room-name", "Team room");
          await host.page.fill("#room-password", "pw-123");
          await host.page.click("#create-button");
          await host.page.locator("#room:not([hidden])").waitFor();
          link = await host.page.inputValue("#share-link");
          const url = new URL(link);
          assert.equal(url.pathname, "/chat/main");
          assert.equal(url.searchParams.get("token"), SERVER_TOKEN);
          assert.ok(url.searchParams.get("room"));
        },
      );

      const alice = await openPage(browser, link);
      const bob = await openPage(browser, link);

      await t.step("a wrong password is refused with a clear message", async () => {
        await join(alice.page, "alice", "wrong");
        await alice.page.locator("#join-error", { hasText: "wrong password" }).waitFor();
      });

      await t.step("two users join through the share link", async () => {
        await join(alice.page, "alice", "pw-123");
        await alice.page.locator("#room:not([hidden])").waitFor();
        await join(bob.page, "bob", "pw-123");
        await bob.page.locator("#room:not([hidden])").waitFor();
        await host.page.locator('#members li[data-user="bob"]').waitFor();
        await alice.page.locator('#messages li[data-kind="join"]', { hasText: "bob joined" })
          .waitFor();
      });

      await t.step("a name already in the room gets a clear message", async () => {
        const third = await openPage(browser, link);
        try {
          await join(third.page, "alice", "pw-123");
          await third.page.locator("#join-error", { hasText: "taken" }).waitFor();
        } finally {
          await third.context.close();
        }
      });

      await t.step("messages cross both ways, and newcomers get the history", async () => {
        await send(host.page, "welcome from the host");
        await seeMessage(alice.page, "welcome from the host");
        await seeMessage(bob.page, "welcome from the host");
        await send(alice.page, "hi, alice here");
        await seeMessage(host.page, "hi, alice here");
        await seeMessage(bob.page, "hi, alice here");
        await send(bob.page, "bob says hello");
        await seeMessage(alice.page, "bob says hello");
        await seeMessage(host.page, "bob says hello");
      });

      await t.step(
        "hostile names and messages render as text; a long history arrives",
        async () => {
          // 30 messages of 2000 characters: more history than one frame of chat_history holds.
          for (let i = 0; i < 30; i++) await send(host.page, `long ${i} ${"x".repeat(2000)}`);
          await seeMessage(alice.page, "long 29 ");
          const mallory = await openPage(browser, link);
          try {
            await join(mallory.page, HOSTILE, "pw-123");
            await mallory.page.locator("#room:not([hidden])").waitFor();
            await seeMessage(mallory.page, "long 29 "); // the history the host kept, all of it
            assert.equal(
              await mallory.page.locator('#messages li[data-kind="message"]').count(),
              3 + 30,
            );
            await send(mallory.page, HOSTILE);
            for (const page of [host.page, alice.page]) {
              await page.locator("#messages .author", { hasText: HOSTILE }).first().waitFor();
              await page.locator("#messages .text", { hasText: HOSTILE }).first().waitFor();
              await page.locator("#members .name", { hasText: HOSTILE }).first().waitFor();
              assert.equal(await page.locator("#messages img, #members img").count(), 0);
              assert.equal(await page.evaluate(() => "__pwned" in globalThis), false);
            }
          } finally {
            await mallory.context.close();
          }
          await alice.page.locator('#messages li[data-kind="disconnect"]', { hasText: "<img" })
            .waitFor();
        },
      );

      await t.step("the host kicks a member, who is told; the others see it", async () => {
        await host.page.click('#members li[data-user="bob"] button');
        await bob.page.locator("#banner.error", { hasText: "removed" }).waitFor();
        assert.equal(await bob.page.isDisabled("#send"), true);
        await alice.page.locator('#messages li[data-kind="kick"]', { hasText: "bob" }).waitFor();
        await host.page.locator('#members li[data-user="bob"]').waitFor({ state: "detached" });
      });

      await t.step("the room closes for members when the host leaves", async () => {
        await host.context.close();
        await alice.page.locator("#banner.error", { hasText: "host left" }).waitFor();
        assert.equal(await alice.page.isDisabled("#send"), true);
      });

      for (const { page } of [alice, bob]) assert.deepEqual(pageErrors(page), []);
      await alice.context.close();
      await bob.context.close();
    } finally {
      await browser.close();
    }
  },
});
