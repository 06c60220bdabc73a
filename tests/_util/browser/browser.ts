/**
 * The real browser of the browser tests: Debian's Chromium at /usr/bin/chromium, driven by
 * playwright-core, headless. When Chromium is missing the tests are skipped with one line saying
 * how to install it, except under `CI=true`, where a missing browser is a failure.
 *
 * Deno note: playwright-core probes `/proc/sys/fs/binfmt_misc/WSLInterop` while it loads (to
 * detect WSL), and Deno allows reads under /proc/sys only with `--allow-all`. Rather than run the
 * whole suite with -A, the import goes through {@link loadPlaywright}, which answers that one
 * probe with "absent" (we never run under WSL) and restores `fs.existsSync` right after.
 *
 * @module
 */
import fs from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";
const INSTALL_HINT = "apt-get install -y chromium";

function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

const inCi = Deno.env.get("CI") === "true";

/** Whether the browser tests run (false: skip them). */
export const browserAvailable = chromiumInstalled() || inCi;

if (!browserAvailable) {
  console.warn(
    `browser tests skipped: ${CHROMIUM_PATH} not found; install Chromium with \`${INSTALL_HINT}\``,
  );
}

async function loadPlaywright(): Promise<typeof import("playwright-core")> {
  const existsSync = fs.existsSync;
  fs.existsSync = (path: fs.PathLike) =>
    String(path).startsWith("/proc/sys/") ? false : existsSync(path);
  try {
    return await import("playwright-core");
  } finally {
    fs.existsSync = existsSync;
  }
}

/**
 * Launches headless Chromium; under CI a missing browser fails here with the install hint.
 * `extraArgs` are added to the command line (e.g. `--host-resolver-rules=…` to send made-up host
 * names to a loopback port).
 */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  if (!chromiumInstalled()) {
    throw new Error(`${CHROMIUM_PATH} not found (CI=true needs it): ${INSTALL_HINT}`);
  }
  const { chromium } = await loadPlaywright();
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}

/**
 * A fresh context (its own cookies, like another person) and a page in it. `fakeClock` installs
 * Playwright's clock before the page loads: time runs as usual until the test moves it on
 * (`page.clock.fastForward`), for what a page does after tens of seconds.
 */
export async function openPage(
  browser: Browser,
  url: string,
  options: { acceptDownloads?: boolean; fakeClock?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ acceptDownloads: options.acceptDownloads ?? false });
  if (options.fakeClock) await context.clock.install();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  // A page error is a test failure, not something to scroll past.
  const errors: Error[] = [];
  page.on("pageerror", (err) => errors.push(err));
  Object.defineProperty(page, "pageErrors", { value: errors });
  await page.goto(url);
  return { context, page };
}

/** Uncaught errors the page threw so far. */
export function pageErrors(page: Page): Error[] {
  return (page as unknown as { pageErrors: Error[] }).pageErrors ?? [];
}

/** Waits until the page's connection status says it is connected. */
export async function waitConnected(page: Page): Promise<void> {
  await page.locator('#connection[data-state="ok"]').waitFor();
}
