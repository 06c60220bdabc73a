/**
 * A client written exactly to wsify's protocol works unchanged against `/ws`, and the authorizer
 * sees what wsify's would.
 */
import assert from "node:assert/strict";
import { LoopbackAuthorizer } from "../../_util/pubsub/loopback_authorizer.ts";
import { startPubSubServer } from "../../_util/pubsub/pubsub_server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { upgradeStatus } from "../../_util/upgrade_request.ts";
import { waitFor } from "../../_util/wait_for.ts";

const join = (channel: string) => ({ command: "join", args: { channel } });
const leave = (channel: string) => ({ command: "leave", args: { channel } });
const broadcast = (channel: string, content: unknown) => ({
  command: "broadcast",
  args: { channel, content },
});

Deno.test("wsify /ws: join, broadcast, raw content to subscribers, sender echo, leave", async () => {
  const server = await startPubSubServer();
  const alice = await TestSocket.open(`${server.ws}/ws`);
  const bob = await TestSocket.open(`${server.ws}/ws`);
  try {
    alice.send(join("hello"));
    bob.send(join("hello"));
    // Joins are applied in order; a broadcast from alice after her join reaches both.
    await waitFor(() => server.pubsub.registry.list()[0]?.subscribers === 2);
    alice.send(broadcast("hello", { text: "hi", n: 1 }));
    assert.deepEqual(await bob.nextRaw(), '{"text":"hi","n":1}');
    assert.deepEqual(
      await alice.nextRaw(),
      '{"text":"hi","n":1}',
      "the sender gets its own broadcast",
    );
    bob.send(leave("hello"));
    await waitFor(() => server.pubsub.registry.list()[0]?.subscribers === 1);
    alice.send(broadcast("hello", "second"));
    assert.deepEqual(await alice.nextRaw(), '"second"');
    assert.deepEqual(bob.pending, 0, "bob left and receives nothing more");
  } finally {
    await alice.close();
    await bob.close();
    await server.close();
  }
});

Deno.test("wsify /ws: a broadcaster that never joined sends but does not receive", async () => {
  const server = await startPubSubServer();
  const sub = await TestSocket.open(`${server.ws}/ws`);
  const pub = await TestSocket.open(`${server.ws}/ws`);
  try {
    sub.send(join("news"));
    await waitFor(() => server.pubsub.registry.list().length === 1);
    pub.send(broadcast("news", [1, 2, 3]));
    assert.deepEqual(await sub.nextRaw(), "[1,2,3]");
    assert.deepEqual(pub.pending, 0);
  } finally {
    await sub.close();
    await pub.close();
    await server.close();
  }
});

Deno.test("wsify /ws: a second join never duplicates delivery; leaving an unknown channel is a no-op", async () => {
  const server = await startPubSubServer();
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    client.send(join("dup"));
    client.send(join("dup"));
    client.send(leave("never-joined")); // wsify hangs the session here; WSTun ignores it
    client.send(broadcast("dup", "once"));
    client.send(broadcast("dup", "twice"));
    assert.deepEqual(await client.nextRaw(), '"once"');
    assert.deepEqual(await client.nextRaw(), '"twice"');
    // A ping-pong through the same ordered command queue proves nothing else was delivered.
    client.send(broadcast("dup", "marker"));
    assert.deepEqual(await client.nextRaw(), '"marker"');
    assert.deepEqual(client.pending, 0);
    assert.deepEqual(server.pubsub.registry.list(), [{ channel: "dup", subscribers: 1 }]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("wsify /ws: the connect event carries headers and query as wsify's Go server sends them", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  try {
    const { status } = await upgradeStatus(
      `${server.ws}/ws?user=alice&tag=a&tag=b&constructor=c&toString=t`,
      { "X-Api-Key": "k1" },
    );
    assert.deepEqual(status, 101);
    const [call] = await authorizer.waitForCalls(1);
    assert.deepEqual(call.body.command, "connect");
    const args = call.body.args as {
      headers: Record<string, string[]>;
      query: Record<string, string[]>;
    };
    assert.deepEqual(args.query, {
      user: ["alice"],
      tag: ["a", "b"],
      constructor: ["c"],
      toString: ["t"],
    });
    assert.deepEqual(args.headers["X-Api-Key"], ["k1"]);
    assert.deepEqual(args.headers["Sec-Websocket-Version"], ["13"]);
    assert.deepEqual(args.headers["Host"], undefined, "Go keeps Host out of the header map");
  } finally {
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: a denied connect and an authorizer outage are both 403 before any upgrade", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  try {
    authorizer.deny();
    const denied = await upgradeStatus(`${server.ws}/ws`);
    assert.deepEqual(denied.status, 403);
    assert.deepEqual(JSON.parse(denied.body).error, "unauthorized");
    authorizer.fail();
    const down = await upgradeStatus(`${server.ws}/ws`);
    assert.deepEqual(down.status, 403);
    assert.deepEqual(JSON.parse(down.body).error, "authorizer_unavailable");
  } finally {
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: an unreachable authorizer refuses the upgrade with 403", async () => {
  const gone = LoopbackAuthorizer.start();
  const url = gone.url;
  await gone.close(); // nothing listens on that port any more
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: url });
  try {
    const { status, body } = await upgradeStatus(`${server.ws}/ws`);
    assert.deepEqual(status, 403);
    assert.deepEqual(JSON.parse(body).error, "authorizer_unavailable");
  } finally {
    await server.close();
  }
});

Deno.test("wsify /ws: a denied command is not carried out; the next allowed one is", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    authorizer.answerWith((call) => call.body.args?.content === "secret" ? 403 : 200);
    client.send(join("room"));
    client.send(broadcast("room", "secret"));
    client.send(broadcast("room", "public"));
    assert.deepEqual(await client.nextRaw(), '"public"');
    const calls = await authorizer.waitForCalls(4);
    // Every client message reaches the authorizer in the shape the client sent it.
    assert.deepEqual(calls.map((c) => c.body), [
      calls[0].body,
      join("room"),
      broadcast("room", "secret"),
      broadcast("room", "public"),
    ]);
    assert.deepEqual(calls[0].body.command, "connect");
  } finally {
    await client.close();
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: an authorizer outage mid-session closes the socket with 4503 so the client reconnects", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    authorizer.fail();
    client.send(join("room"));
    const closed = await client.closed;
    assert.deepEqual(closed.code, 4503);
    assert.deepEqual(closed.reason, "authorizer_unavailable");
    assert.deepEqual(server.pubsub.registry.list(), []);
  } finally {
    await client.close();
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: WSTUN_AUTHORIZER_EVENTS limits the calls to the listed events", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({
    WSTUN_AUTHORIZER_URL: authorizer.url,
    WSTUN_AUTHORIZER_EVENTS: "connect,join",
  });
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    client.send(join("room"));
    client.send(broadcast("room", 1));
    assert.deepEqual(await client.nextRaw(), "1");
    assert.deepEqual(authorizer.calls.map((c) => c.body.command), ["connect", "join"]);
  } finally {
    await client.close();
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: authorizer calls reuse one connection", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    client.send(join("room"));
    for (let i = 0; i < 5; i++) client.send(broadcast("room", i));
    for (let i = 0; i < 5; i++) assert.deepEqual(await client.nextRaw(), String(i));
    const ports = new Set(authorizer.calls.map((c) => c.remotePort));
    assert.deepEqual(authorizer.calls.length, 7);
    assert.deepEqual(ports.size, 1, `calls came from ports ${[...ports].join(", ")}`);
  } finally {
    await client.close();
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: the server token guards /ws and is never forwarded to the authorizer", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url }, {
    token: "server-secret",
  });
  try {
    const missing = await upgradeStatus(`${server.ws}/ws`);
    assert.deepEqual(missing.status, 401);
    assert.deepEqual(JSON.parse(missing.body).error, "unauthorized");
    const wrong = await upgradeStatus(`${server.ws}/ws?token=nope`);
    assert.deepEqual(wrong.status, 401);
    assert.deepEqual(authorizer.calls.length, 0, "no authorizer call without the server token");
    const byQuery = await upgradeStatus(`${server.ws}/ws?token=server-secret&user=a`);
    assert.deepEqual(byQuery.status, 101);
    const byHeader = await upgradeStatus(`${server.ws}/ws`, {
      Authorization: "Bearer server-secret",
    });
    assert.deepEqual(byHeader.status, 101);
    const [first, second] = await authorizer.waitForCalls(2);
    assert.deepEqual(first.body.args?.query, { user: ["a"] });
    assert.ok(!JSON.stringify(first.body).includes("server-secret"));
    assert.ok(!JSON.stringify(second.body).includes("server-secret"));
  } finally {
    await server.close();
    await authorizer.close();
  }
});

Deno.test("wsify /ws: a burst of 10,000 broadcasts arrives complete and in publish order", async () => {
  const server = await startPubSubServer({ WSTUN_MAX_PUBLISHES_PER_SEC: "0" }, {
    maxMsgsPerSec: 0,
  });
  const sub = await TestSocket.open(`${server.ws}/ws`);
  const pub = await TestSocket.open(`${server.ws}/ws`);
  try {
    sub.send(join("burst"));
    await waitFor(() => server.pubsub.registry.list().length === 1);
    const count = 10_000;
    for (let i = 0; i < count; i++) pub.send(broadcast("burst", i));
    for (let i = 0; i < count; i++) assert.deepEqual(await sub.nextRaw(), String(i));
    assert.deepEqual(server.pubsub.stats().publishes, count);
    assert.deepEqual(server.pubsub.stats().deliveries, count);
  } finally {
    await sub.close();
    await pub.close();
    await server.close();
  }
});

Deno.test("wsify /ws: the server's session cookie, tokens and token-bearing Referer never reach the authorizer", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url }, {
    token: "server-secret",
    adminToken: "admin-secret",
  });
  try {
    // A page load with ?token= sets the session cookie; a browser then opens /ws with it.
    const page = await fetch(`${server.http}/_api/stats?token=server-secret`);
    await page.body?.cancel();
    const cookie = page.headers.get("set-cookie")!.split(";")[0];
    const byCookie = await upgradeStatus(`${server.ws}/ws`, { Cookie: `${cookie}; theme=dark` });
    assert.equal(byCookie.status, 101);
    const byAdmin = await upgradeStatus(`${server.ws}/ws?app=1&token=server-secret`, {
      Authorization: "Bearer admin-secret",
      Cookie: cookie,
      Referer: `${server.http}/chat/main?token=server-secret&room=1`,
    });
    assert.equal(byAdmin.status, 101);
    const [first, second] = await authorizer.waitForCalls(2);
    const firstHeaders = (first.body.args as { headers: Record<string, string[]> }).headers;
    assert.deepEqual(firstHeaders["Cookie"], ["theme=dark"], "other cookies are kept");
    const secondArgs = second.body.args as { headers: Record<string, string[]> };
    assert.equal(secondArgs.headers["Authorization"], undefined);
    assert.equal(
      secondArgs.headers["Cookie"],
      undefined,
      "every credential goes, not the one used",
    );
    assert.deepEqual(secondArgs.headers["Referer"], [`${server.http}/chat/main`]);
    assert.deepEqual((second.body.args as { query: unknown }).query, { app: ["1"] });
    const seen = JSON.stringify(authorizer.calls);
    assert.ok(!seen.includes("secret") && !seen.includes(cookie.split("=")[1]));
  } finally {
    await server.close();
    await authorizer.close();
  }
});
