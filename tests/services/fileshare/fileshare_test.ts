/**
 * The fileshare service in a real browser: a host and members in separate browser contexts move
 * files point to point through a real WSTun server, with SHA-256 checked on both ends; the room's
 * file list follows who shares what; an owner leaving mid-transfer stops it with a clear message.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { startServer } from "../../_util/server.ts";
import {
  browserAvailable,
  launchBrowser,
  openPage,
  pageErrors,
  waitConnected,
} from "../../_util/browser/browser.ts";
import {
  fileRow,
  joinAs,
  MIB,
  saveAndHash,
  transferRow,
  writeTestFile,
} from "../../_util/browser/fileshare_page.ts";

const HOSTILE = `<img src=x onerror="window.__pwned=1">`;

Deno.test({
  name:
    "fileshare in a browser: file list, parallel verified transfers, hostile names, owner leaving",
  ignore: !browserAvailable,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "wstun-fileshare-" });
    await using server = await startServer({ hostGraceMs: 0 });
    const browser = await launchBrowser();
    try {
      const bigPath = `${dir}/big.bin`, smallPath = `${dir}/small.bin`;
      const bigHash = await writeTestFile(bigPath, 20 * MIB);
      const smallHash = await writeTestFile(smallPath, 3 * MIB + 12_345);

      const host = await openPage(browser, `${server.base}/fileshare/service`, {
        acceptDownloads: true,
      });
      await waitConnected(host.page);
      await host.page.fill("#room-name", "Team files");
      await host.page.click("#create-button");
      await host.page.locator("#room:not([hidden])").waitFor();
      const link = await host.page.inputValue("#share-link");

      const alice = await openPage(browser, link, { acceptDownloads: true });
      const bob = await openPage(browser, link, { acceptDownloads: true });
      const carol = await openPage(browser, link, { acceptDownloads: true });
      await joinAs(alice.page, "alice");
      await joinAs(bob.page, "bob");
      await joinAs(carol.page, "carol");

      await t.step("files members register appear in everyone's list", async () => {
        await alice.page.setInputFiles("#share-input", bigPath);
        await bob.page.setInputFiles("#share-input", smallPath);
        for (const page of [carol.page, host.page, alice.page, bob.page]) {
          await fileRow(page, "alice", "big.bin").waitFor();
          await fileRow(page, "bob", "small.bin").waitFor();
        }
        assert.equal(await fileRow(alice.page, "alice", "big.bin").locator("button").count(), 0);
      });

      await t.step("a long file list crosses in several frames", async () => {
        const files = Array.from({ length: 300 }, (_, i) => ({
          name: `${String(i).padStart(3, "0")}-${"n".repeat(200)}.txt`,
          mimeType: "text/plain",
          buffer: Buffer.from(String(i)),
        }));
        await carol.page.setInputFiles("#share-input", files);
        const rows = '#file-list li[data-owner="carol"]';
        await bob.page.waitForFunction(
          (sel) => document.querySelectorAll(sel).length === 300,
          rows,
        );
        await carol.page.locator("#my-files li").nth(299).waitFor();
        // Stop sharing them all again: the list shrinks back everywhere.
        await carol.page.evaluate(() => {
          for (const b of document.querySelectorAll<HTMLButtonElement>("#my-files button")) {
            b.click();
          }
        });
        await bob.page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0, rows);
      });

      await t.step("several transfers at once, both directions, SHA-256 verified", async () => {
        await fileRow(bob.page, "alice", "big.bin").locator("button").click();
        await fileRow(alice.page, "bob", "small.bin").locator("button").click();
        await fileRow(host.page, "bob", "small.bin").locator("button").click();
        assert.equal(await saveAndHash(bob.page, "big.bin"), bigHash);
        assert.equal(await saveAndHash(alice.page, "small.bin"), smallHash);
        assert.equal(await saveAndHash(host.page, "small.bin"), smallHash);
        const detail = await transferRow(bob.page, "down", "big.bin").locator(".detail")
          .textContent();
        assert.match(detail ?? "", new RegExp(`SHA-256 verified.*${bigHash}`));
        await transferRow(alice.page, "up", "big.bin").and(
          alice.page.locator('[data-state="done"]'),
        )
          .waitFor();
        // bob sent small.bin twice at once: to alice and to the host.
        await bob.page.waitForFunction(() =>
          document.querySelectorAll(
            '#transfers li[data-direction="up"][data-state="done"][data-name="small.bin"]',
          ).length === 2
        );
      });

      await t.step("hostile names render as text", async () => {
        const mallory = await openPage(browser, link);
        try {
          await joinAs(mallory.page, HOSTILE);
          await mallory.page.setInputFiles("#share-input", {
            name: `${HOSTILE}.txt`,
            mimeType: "text/html",
            buffer: Buffer.from(HOSTILE),
          });
          for (const page of [carol.page, host.page]) {
            await page.locator("#file-list .name", { hasText: `${HOSTILE}.txt` }).waitFor();
            await page.locator("#file-list .badge", { hasText: `from ${HOSTILE}` }).waitFor();
            assert.equal(await page.locator("img").count(), 0);
            assert.equal(await page.evaluate(() => "__pwned" in globalThis), false);
          }
          await host.page.locator("#members .name", { hasText: HOSTILE }).waitFor();
          assert.equal(await host.page.locator("img").count(), 0);
        } finally {
          await mallory.context.close();
        }
        // Whoever leaves takes their files out of the list.
        await carol.page.locator("#file-list .name", { hasText: `${HOSTILE}.txt` })
          .waitFor({ state: "detached" });
      });

      await t.step("the owner leaving mid-transfer stops it with a clear error", async () => {
        // A sparse 1 GiB file: big enough to be mid-transfer when its owner leaves, no disk used.
        const hugePath = `${dir}/huge.bin`;
        using huge = await Deno.open(hugePath, { write: true, create: true });
        await huge.truncate(1024 * MIB);
        await alice.page.setInputFiles("#share-input", hugePath);
        await fileRow(carol.page, "alice", "huge.bin").locator("button").click();
        const row = transferRow(carol.page, "down", "huge.bin");
        // Progress with a rate and time left, then the owner goes away.
        await row.locator(".detail", { hasText: /\/s · .+ left/ }).waitFor();
        await alice.context.close();
        await row.and(carol.page.locator('[data-state="failed"]')).waitFor();
        const detail = await row.locator(".detail").textContent();
        assert.match(detail ?? "", /alice left the room: download stopped at \d+ %/);
        await fileRow(carol.page, "alice", "big.bin").waitFor({ state: "detached" });
        await fileRow(carol.page, "bob", "small.bin").waitFor();
      });

      for (const { page } of [host, bob, carol]) assert.deepEqual(pageErrors(page), []);
      for (const { context } of [host, bob, carol]) await context.close();
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
