/**
 * The marketplace wired into the real server: the admin close route on real instances, the server
 * token on installed pages, the `Origin: null` rule, and libwstun.js loadable from a sandbox.
 */
import { assert, assertEquals } from "../../_util/marketplace/assert.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import { ADMIN_TOKEN, MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";
import { UPGRADE_HEADERS } from "../../_util/upgrade_request.ts";

Deno.test("admin close: DELETE /_api/instances/{uuid} closes a live instance for its host and members", async () => {
  const app = await MarketplaceApp.start();
  try {
    await using host = await TestSocket.open(app.wsUrl);
    await using member = await TestSocket.open(app.wsUrl);
    const room = await createRoom(host);
    await joinRoom(host, member, room.uuid, "ana");
    const answer = await fetch(`${app.origin}/_api/instances/${room.uuid}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assertEquals(answer.status, 204);
    await answer.body?.cancel();
    const closed = { type: "instance_closed", uuid: room.uuid, reason: "closed" };
    assertEquals(await host.next(), closed);
    assertEquals(await member.next(), closed);
    const list = await fetch(`${app.origin}/_api/instances`).then((r) => r.json());
    assertEquals(list, []);
  } finally {
    await app.close();
  }
});

Deno.test("server token: installed pages need it, their other files are public like libwstun.js", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start({ config: { token: "srv-tok" } });
  try {
    const installed = await app.api("POST", "/_api/marketplace/install", {
      url: market.indexUrl,
      name: "poll",
    });
    assertEquals(installed.status, 201, "the admin token is accepted where the server token is");
    for (const path of ["/poll/main", "/poll/service", "/poll/main.html", "/poll/missing.js"]) {
      const page = await fetch(`${app.origin}${path}`);
      assertEquals([page.status, (await page.json()).error], [401, "unauthorized"], path);
    }
    const withToken = await fetch(`${app.origin}/poll/main?token=srv-tok`);
    assertEquals(withToken.status, 200);
    assert(withToken.headers.get("set-cookie")?.startsWith("wstun_session="), "like any page");
    await withToken.body?.cancel();
    for (const path of ["/poll/member.js", "/poll/poll.css", "/libwstun.js"]) {
      const file = await fetch(`${app.origin}${path}`);
      assertEquals(file.status, 200, path);
      assertEquals(file.headers.get("access-control-allow-origin"), "*", path);
      await file.body?.cancel();
    }
    const unknown = await fetch(`${app.origin}/nothing/file.js`);
    assertEquals(unknown.status, 401, "names that are not installed stay behind the token");
    await unknown.body?.cancel();
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("origin: a WebSocket with Origin: null is accepted by default and refused with WSTUN_ALLOW_NULL_ORIGIN=false", async () => {
  for (const [allowNullOrigin, status] of [[true, 101], [false, 403]] as const) {
    const app = await MarketplaceApp.start({ config: { allowNullOrigin } });
    try {
      const response = await fetch(`${app.origin}/_ws`, {
        headers: { ...UPGRADE_HEADERS, origin: "null" },
      });
      assertEquals(response.status, status, `allowNullOrigin=${allowNullOrigin}`);
      await response.body?.cancel();
      const foreign = await fetch(`${app.origin}/_ws`, {
        headers: { ...UPGRADE_HEADERS, origin: "https://evil.example" },
      });
      assertEquals(foreign.status, 403, "other origins stay refused");
      await foreign.body?.cancel();
    } finally {
      await app.close();
    }
  }
});

Deno.test("instances: a host creates an instance of an installed service and a member talks to it", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    await app.api("POST", "/_api/marketplace/install", { url: market.indexUrl, name: "poll" });
    const services = await fetch(`${app.origin}/_api/services`).then((r) => r.json());
    const poll = services.find((s: { name: string }) => s.name === "poll");
    assertEquals(poll, {
      name: "poll",
      builtin: false,
      description: "A live poll: the host asks, members vote, everyone sees the counts change.",
      endpoints: { service: "/poll/service", main: "/poll/main" },
      version: "1.0.0",
    });
    await using host = await TestSocket.open(app.wsUrl);
    await using member = await TestSocket.open(app.wsUrl);
    const room = await createRoom(host, { service: "poll", name: "Lunch?" });
    await joinRoom(host, member, room.uuid, "ana");
    member.send({ type: "vote", uuid: room.uuid, option: 1 });
    const vote = await host.next();
    assertEquals([vote.type, vote.from, vote.option], ["vote", "ana", 1]);
    assert(room.uuid);
  } finally {
    await app.close();
    await market.close();
  }
});
