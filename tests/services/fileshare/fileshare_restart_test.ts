/**
 * Fileshare transfers across a server restart, in a real browser: 20 MB downloads between members
 * and the host are under way when the server stops — drained with SIGTERM, or killed with SIGKILL
 * so the chunks in flight are lost — and starts again on the same port and KV file. Nobody
 * reloads: each transfer goes on from the last confirmed chunk and ends with the file's SHA-256.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import {
  browserAvailable,
  launchBrowser,
  openPage,
  pageErrors,
  waitConnected,
} from "../../_util/browser/browser.ts";
import { SERVER_TOKEN, startTokenServer } from "../../_util/browser/token_server.ts";
import {
  fileRow,
  joinAs,
  MIB,
  saveAndHash,
  transferRow,
  writeTestFile,
} from "../../_util/browser/fileshare_page.ts";

const SIZE = 20 * MIB;

/** Who shares big.bin and who downloads it, during one restart. */
type Transfer = { owner: "host" | "alice" | "bob"; requester: "host" | "alice" | "bob" };

/** Bytes the page's download of big.bin shows as moved (its progress bar's value). */
function downloaded(page: Page): Promise<number> {
  return transferRow(page, "down", "big.bin").locator("progress").evaluate((p) =>
    Number((p as HTMLProgressElement).value)
  );
}

/**
 * A room with the host, alice and bob; `transfers` of a 20 MB file start; `signal` stops the
 * server once part of each moved, then the server starts again; each download must end verified.
 */
async function transfersAcrossRestart(
  browser: Browser,
  file: { path: string; digest: string },
  signal: "SIGTERM" | "SIGKILL",
  transfers: Transfer[],
): Promise<void> {
  await using running = await startTokenServer();
  const { server, base } = running;
  const host = await openPage(browser, `${base}/fileshare/service?token=${SERVER_TOKEN}`, {
    acceptDownloads: true,
  });
  const alice = await openPage(browser, "about:blank", { acceptDownloads: true });
  const bob = await openPage(browser, "about:blank", { acceptDownloads: true });
  const pages = { host: host.page, alice: alice.page, bob: bob.page };
  try {
    await waitConnected(host.page);
    await host.page.fill("#room-name", "Files");
    await host.page.click("#create-button");
    await host.page.locator("#room:not([hidden])").waitFor();
    const link = await host.page.inputValue("#share-link");
    for (const name of ["alice", "bob"] as const) {
      await pages[name].goto(link);
      await joinAs(pages[name], name);
    }
    for (const owner of new Set(transfers.map((t) => t.owner))) {
      await pages[owner].setInputFiles("#share-input", file.path);
    }
    for (const { owner, requester } of transfers) {
      await fileRow(pages[requester], owner, "big.bin").locator("button").click();
    }

    // Some bytes of each moved, far from all: stop the server in the middle of the transfers.
    for (const { requester } of transfers) {
      await pages[requester].waitForFunction(() => {
        const bar = document.querySelector<HTMLProgressElement>(
          '#transfers li[data-direction="down"] progress',
        );
        return (bar?.value ?? 0) >= 1024 * 1024;
      });
    }
    await server.stop(signal);
    for (const { requester } of transfers) {
      const page = pages[requester];
      const before = await downloaded(page);
      assert.ok(before < SIZE, `the transfer was over before the server stopped (${before} B)`);
      await transferRow(page, "down", "big.bin").and(page.locator('[data-state="active"]'))
        .locator(".detail", { hasText: "reconnecting" }).waitFor();
    }

    await server.start();
    for (const page of Object.values(pages)) await waitConnected(page);
    for (const { requester } of transfers) {
      const page = pages[requester];
      assert.equal(await saveAndHash(page, "big.bin"), file.digest);
      // The same transfer went on: not a second one started from zero.
      assert.equal(await page.locator('#transfers li[data-direction="down"]').count(), 1);
    }
    for (const { owner } of transfers) {
      await pages[owner].locator('#transfers li[data-direction="up"][data-state="active"]')
        .waitFor({ state: "detached" });
    }
    for (const page of Object.values(pages)) assert.deepEqual(pageErrors(page), []);
  } finally {
    for (const { context } of [host, alice, bob]) await context.close();
  }
}

Deno.test({
  name: "fileshare across a server restart: 20 MB transfers resume and are verified",
  ignore: !browserAvailable,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "wstun-fileshare-restart-" });
    const browser = await launchBrowser();
    try {
      const path = `${dir}/big.bin`;
      const file = { path, digest: await writeTestFile(path, SIZE) };
      await t.step("SIGTERM (a drain): alice's uploads to bob and the host go on", async () => {
        await transfersAcrossRestart(browser, file, "SIGTERM", [
          { owner: "alice", requester: "bob" },
          { owner: "alice", requester: "host" },
        ]);
      });
      await t.step("SIGKILL (a crash): chunks in flight are lost and sent again", async () => {
        await transfersAcrossRestart(browser, file, "SIGKILL", [
          { owner: "alice", requester: "bob" },
          { owner: "host", requester: "alice" },
        ]);
      });
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
