/**
 * The chat's conversation list (services/chat/conversation.js) in a real browser: entries land in
 * the order of their ids, each once, whatever order they arrive in. After a server restart the
 * entries a member missed come back in the host's history after newer ones sent live; they fill
 * the gap instead of being skipped as old.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { browserAvailable, launchBrowser, openPage } from "../../_util/browser/browser.ts";

Deno.test({
  name: "chat conversation: entries shown in id order, each once, a late history fills the gap",
  ignore: !browserAvailable,
  async fn() {
    await using server = await startServer();
    const browser = await launchBrowser();
    try {
      const { page } = await openPage(browser, `${server.base}/chat/main`);
      const shown = await page.evaluate(async () => {
        const { appendEntries } = await import("/chat/conversation.js");
        const list = document.createElement("ul");
        document.body.append(list);
        const entry = (id: number) => ({ id, at: 0, kind: "message", userId: "a", text: `m${id}` });
        const range = (from: number, to: number) =>
          Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));
        appendEntries(list, range(0, 22), "a"); // before the crash
        appendEntries(list, [entry(27)], "a"); // a held entry, replayed on rejoin
        appendEntries(list, range(0, 28), "a"); // the host's history, sent after it
        appendEntries(list, [entry(28), entry(5)], "a"); // repeats change nothing
        appendEntries(list, [{ at: 0, kind: "join", userId: "b" }], "a"); // no id: at the end
        return [...list.children].map((li) => li.textContent);
      });
      const messages = Array.from({ length: 29 }, (_, id) => `m${id}`);
      assert.equal(shown.length, 30);
      assert.deepEqual(shown.slice(0, 29).map((t) => t?.match(/m\d+$/)?.[0]), messages);
      assert.match(shown[29] ?? "", /joined$/);
    } finally {
      await browser.close();
    }
  },
});
