/**
 * The chat pages across a server restart, as a new user would see it: a server with a token and
 * `WSTUN_KV_PATH`, a host and two members in a room; the server is stopped with SIGTERM (a drain)
 * and started again on the same port. Nobody reloads: the pages say they are reconnecting, a
 * message typed meanwhile is delivered after, every line of the conversation is there exactly once.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  browserAvailable,
  launchBrowser,
  openPage,
  pageErrors,
  waitConnected,
} from "../../_util/browser/browser.ts";
import { SERVER_TOKEN, startTokenServer } from "../../_util/browser/token_server.ts";
import {
  eventLines,
  join,
  messageTexts,
  send,
  waitForMessages,
} from "../../_util/browser/chat_page.ts";

Deno.test({
  name: "chat across a server restart: both pages carry on, nothing lost, nothing twice",
  ignore: !browserAvailable,
  async fn(t) {
    await using running = await startTokenServer();
    const { server, base } = running;
    const browser = await launchBrowser();
    try {
      const host = await openPage(browser, `${base}/chat/service?token=${SERVER_TOKEN}`, {
        fakeClock: true,
      });
      await waitConnected(host.page);
      await host.page.fill("#room-name", "Team room");
      await host.page.fill("#room-password", "pw");
      await host.page.click("#create-button");
      await host.page.locator("#room:not([hidden])").waitFor();
      const link = await host.page.inputValue("#share-link");
      const alice = await openPage(browser, link);
      const bob = await openPage(browser, link);
      const dave = await openPage(browser, link);
      await join(alice.page, "alice");
      await join(bob.page, "bob");
      await join(dave.page, "dave");
      const pages = [host.page, alice.page, bob.page];

      const before = ["welcome (host)", "hi (alice)", "hello (bob)"];
      await send(host.page, before[0]);
      await waitForMessages(alice.page, before.slice(0, 1));
      await send(alice.page, before[1]);
      await waitForMessages(bob.page, before.slice(0, 2));
      await send(bob.page, before[2]);
      for (const page of pages) await waitForMessages(page, before);
      const eventsBefore = await eventLines(host.page);

      await t.step("SIGTERM: every page says it is reconnecting; typing still works", async () => {
        const drainMs = await server.stop("SIGTERM");
        assert.ok(drainMs < 5000, `the drain took ${drainMs} ms`);
        // dave closes his tab while the server is down: he will not come back.
        await dave.context.close();
        for (const page of pages) {
          await page.locator('#connection[data-state="warn"]', {
            hasText: "the server is restarting: reconnecting…",
          }).waitFor();
          assert.equal(await page.isDisabled("#send"), false);
          assert.equal(await page.isHidden("#banner.error"), true);
        }
        // Typed while the server is down: libwstun holds these and sends them once back.
        await send(alice.page, "typed while down (alice)");
        await send(host.page, "typed while down (host)");
      });

      // The host's line is in its history at once; alice's is recorded when it reaches the host.
      const after = [...before, "typed while down (host)", "typed while down (alice)"];
      await t.step("started again: connected, the held messages delivered once", async () => {
        await server.start();
        for (const page of pages) await waitConnected(page);
        for (const page of pages) await waitForMessages(page, after);
        await send(bob.page, "after the restart (bob)");
        for (const page of pages) {
          await page.locator('#messages li[data-kind="message"] .text', {
            hasText: "after the restart (bob)",
          }).waitFor();
        }
      });

      await t.step("history and members intact, no line twice", async () => {
        const expected = [...after, "after the restart (bob)"];
        for (const page of pages) assert.deepEqual(await messageTexts(page), expected);
        // Coming back is not joining: the host shows the same events as before the restart.
        assert.deepEqual(await eventLines(host.page), eventsBefore);
        for (const name of ["alice", "bob"]) {
          await host.page.locator(`#members li[data-user="${name}"]:not(:has(.away))`).waitFor();
          await alice.page.locator(`#members li[data-user="${name}"]`).waitFor();
        }
        // dave is still listed, as not back yet.
        await host.page.locator('#members li[data-user="dave"] .away').waitFor();
        assert.equal(await host.page.textContent("#member-count"), "3");
      });

      await t.step("a member who does not come back is counted gone after 30 s", async () => {
        await host.page.clock.fastForward(60_000);
        for (const page of [host.page, alice.page]) {
          await page.locator('#messages li[data-kind="disconnect"]', {
            hasText: "dave lost their connection",
          }).waitFor();
          await page.locator('#members li[data-user="dave"]').waitFor({ state: "detached" });
        }
        assert.deepEqual(await eventLines(host.page), [
          ...eventsBefore,
          "dave lost their connection",
        ]);
        assert.equal(await host.page.textContent("#member-count"), "2");
      });

      await t.step("the share link still works: a newcomer gets the whole history", async () => {
        const carol = await openPage(browser, link);
        try {
          await join(carol.page, "carol");
          await carol.page.locator('#messages li[data-kind="message"]').nth(5).waitFor();
          assert.equal(
            await carol.page.locator('#messages li[data-kind="message"]').count(),
            6,
          );
        } finally {
          await carol.context.close();
        }
      });

      for (const page of pages) assert.deepEqual(pageErrors(page), []);
      for (const { context } of [host, alice, bob]) await context.close();
    } finally {
      await browser.close();
    }
  },
});
