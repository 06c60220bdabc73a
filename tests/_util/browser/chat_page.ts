/**
 * Test-only: what a user does and sees on the built-in chat pages (services/chat/), in Chromium.
 *
 * @module
 */
import type { Page } from "playwright-core";

/** Types `text` and sends it. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill("#message", text);
  await page.click("#send");
}

/** Joins the room of the share link the page shows as `name`, with the password "pw". */
export async function join(page: Page, name: string): Promise<void> {
  await page.locator("#join:not([hidden])").waitFor();
  await page.fill("#display-name", name);
  await page.fill("#password", "pw");
  await page.click("#join-button");
  await page.locator("#room:not([hidden])").waitFor();
}

/** The texts of the page's rendered message lines, in order. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.locator('#messages li[data-kind="message"] .text').allTextContents();
}

/** The kinds of the page's rendered event lines (join, leave, …) with their text. */
export function eventLines(page: Page): Promise<string[]> {
  return page.locator("#messages li.event").allTextContents();
}

/** Waits until the page shows exactly `texts` as its message lines. */
export async function waitForMessages(page: Page, texts: string[]): Promise<void> {
  await page.waitForFunction(
    (want) =>
      [...document.querySelectorAll('#messages li[data-kind="message"] .text')]
        .map((n) => n.textContent).join("\n") === want.join("\n"),
    texts,
  ).catch(async (err) => {
    const shown = JSON.stringify(await messageTexts(page));
    const banner = await page.textContent("#banner");
    throw new Error(`${err}\nshown: ${shown}\nbanner: ${banner}`);
  });
}
