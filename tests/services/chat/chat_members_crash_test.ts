/**
 * The chat pages when the server a member is connected to crashes (SIGKILL) while the room's
 * owner lives on: two servers on one Redis, the host's page on A, alice's on B. B is killed and
 * started again on its port; alice's page reconnects and takes her place back at once (her own
 * secret), and what the host said while B was down, lost with B (a crash delivers at most once),
 * is filled in from the host's history (`chat_resync`): her conversation ends up whole, each line
 * once, with no reload.
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
import { join, messageTexts, send, waitForMessages } from "../../_util/browser/chat_page.ts";
import { redisAvailable, RedisServer } from "../../_util/redis_server.ts";
import { RestartableServer } from "../../_util/restartable_server.ts";
import { freePort } from "../../_util/server.ts";

Deno.test({
  name: "chat: a member's server crashes and comes back; her conversation is whole, each line once",
  ignore: !browserAvailable || !(await redisAvailable()),
  async fn() {
    await using redis = await RedisServer.start();
    // The owner would count B dead only after 15-20 s: alice must not wait for that.
    const env = redis.serverEnv({ WSTUN_BRIDGE_HEARTBEAT_MS: "5000" });
    await using a = new RestartableServer(freePort(), env);
    await using b = new RestartableServer(freePort(), env);
    await a.start();
    await b.start();
    const browser = await launchBrowser();
    try {
      const host = await openPage(browser, `${a.url}/chat/service`);
      await waitConnected(host.page);
      await host.page.fill("#room-name", "Team room");
      await host.page.fill("#room-password", "pw");
      await host.page.click("#create-button");
      await host.page.locator("#room:not([hidden])").waitFor();
      const link = new URL(await host.page.inputValue("#share-link"));
      link.port = String(b.port);
      const alice = await openPage(browser, link.href);
      await join(alice.page, "alice");
      await send(host.page, "before");
      await waitForMessages(alice.page, ["before"]);

      await b.stop("SIGKILL");
      const during = ["while B was down 1", "while B was down 2"];
      for (const text of during) await send(host.page, text);
      await waitForMessages(host.page, ["before", ...during]);
      await b.start();
      await waitConnected(alice.page);
      await send(host.page, "after");
      await send(alice.page, "alice is back");
      const all = ["before", ...during, "after", "alice is back"];
      await waitForMessages(alice.page, all);
      await waitForMessages(host.page, all);
      assert.deepEqual(await messageTexts(alice.page), all);
      for (const page of [host.page, alice.page]) assert.deepEqual(pageErrors(page), []);
      await host.context.close();
      await alice.context.close();
    } finally {
      await browser.close();
    }
  },
});
