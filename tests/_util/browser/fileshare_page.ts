/**
 * Test-only: what the fileshare browser tests do on the pages — generate a file and its SHA-256,
 * join a room, find a file's or a transfer's row, save a verified download and hash it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Page } from "playwright-core";

export const MIB = 1024 * 1024;

/** Writes `size` bytes of varied content and returns the file's SHA-256. */
export async function writeTestFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(64 * 1024);
  for (let written = 0; written < size; written += block.length) {
    crypto.getRandomValues(block);
    const part = block.subarray(0, Math.min(block.length, size - written));
    hash.update(part);
    let n = 0;
    while (n < part.length) n += await file.write(part.subarray(n));
  }
  return hash.digest("hex");
}

export async function joinAs(page: Page, name: string): Promise<void> {
  await page.locator("#join:not([hidden])").waitFor();
  await page.fill("#display-name", name);
  await page.click("#join-button");
  await page.locator("#room:not([hidden])").waitFor();
}

export function fileRow(page: Page, owner: string, name: string) {
  return page.locator("#file-list li").filter({ has: page.locator(".name", { hasText: name }) })
    .and(page.locator(`[data-owner="${owner}"]`));
}

export function transferRow(page: Page, direction: "up" | "down", name: string) {
  return page.locator(`#transfers li[data-direction="${direction}"]`).filter({
    has: page.locator(".name", { hasText: name }),
  });
}

/** Clicks Save on a verified download and returns the SHA-256 of the file the browser saved. */
export async function saveAndHash(page: Page, name: string): Promise<string> {
  const row = transferRow(page, "down", name);
  const ended = page.locator('[data-state="done"], [data-state="failed"]');
  try {
    await row.and(ended).waitFor({ timeout: 30_000 });
  } catch (err) {
    throw new Error(`${name} did not end: ${await row.locator(".detail").textContent()}\n${err}`);
  }
  const state = await row.getAttribute("data-state");
  assert.equal(state, "done", `${name}: ${await row.locator(".detail").textContent()}`);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    row.locator("a.save").click(),
  ]);
  assert.equal(download.suggestedFilename(), name);
  const path = await download.path();
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}
