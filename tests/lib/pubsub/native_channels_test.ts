/**
 * Native channels on `/_ws`: subscribe / unsubscribe / publish, binary kind 0x02, refusals.
 *
 * Not here: a publish reaching subscribers on another isolate. Channels leave the registry through
 * `ChannelBridge` (lib/pubsub/channel_bridge.ts); that test belongs with the multi-isolate bridge
 * (issue 5), which should start two servers sharing its bridge and repeat the first test below
 * with the publisher and the subscriber on different servers.
 */
import assert from "node:assert/strict";
import { decodeChannelBinary, encodeChannelBinary } from "../../../lib/pubsub/mod.ts";
import { LoopbackAuthorizer } from "../../_util/pubsub/loopback_authorizer.ts";
import { startPubSubServer } from "../../_util/pubsub/pubsub_server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { waitFor } from "../../_util/wait_for.ts";

Deno.test("native: subscribe, publish, and each delivery names its channel and sender", async () => {
  const server = await startPubSubServer();
  const a = await TestSocket.open(`${server.ws}/_ws`);
  const b = await TestSocket.open(`${server.ws}/_ws`);
  try {
    a.send({ type: "subscribe", channel: "red", ref: 1 });
    assert.deepEqual(await a.next(), { type: "ok", ref: 1 });
    a.send({ type: "subscribe", channel: "blue", ref: "two" });
    assert.deepEqual(await a.next(), { type: "ok", ref: "two" });
    b.send({ type: "publish", channel: "blue", data: { n: 1 }, ref: 7 });
    assert.deepEqual(await b.next(), { type: "ok", ref: 7 });
    b.send({ type: "publish", channel: "red", data: "r" }); // no ref: no ok
    const first = await a.next();
    const second = await a.next();
    assert.equal(first.type, "message");
    assert.equal(first.channel, "blue");
    assert.deepEqual(first.data, { n: 1 });
    assert.equal(typeof first.from, "string");
    assert.deepEqual({ ...second, from: undefined }, {
      type: "message",
      channel: "red",
      data: "r",
      from: undefined,
    });
    assert.equal(second.from, first.from, "both came from b");
    assert.equal(b.pending, 0, "b is not subscribed and got no delivery, and no ok without ref");
    a.send({ type: "unsubscribe", channel: "red", ref: 3 });
    assert.deepEqual(await a.next(), { type: "ok", ref: 3 });
    assert.deepEqual(server.pubsub.registry.list(), [{ channel: "blue", subscribers: 1 }]);
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

Deno.test("native: a duplicate subscribe is refused and delivery stays single; an unknown unsubscribe is not_subscribed", async () => {
  const server = await startPubSubServer();
  const c = await TestSocket.open(`${server.ws}/_ws`);
  try {
    c.send({ type: "subscribe", channel: "x", ref: 1 });
    assert.deepEqual(await c.next(), { type: "ok", ref: 1 });
    c.send({ type: "subscribe", channel: "x", ref: 2 });
    const dup = await c.next();
    assert.equal(dup.code, "already_subscribed");
    assert.equal(dup.ref, 2);
    assert.equal(dup.channel, "x");
    c.send({ type: "unsubscribe", channel: "never", ref: 3 });
    const unknown = await c.next();
    assert.deepEqual([unknown.type, unknown.code, unknown.ref], ["error", "not_subscribed", 3]);
    c.send({ type: "publish", channel: "x", data: 1 });
    c.send({ type: "publish", channel: "x", data: 2 });
    assert.equal((await c.next()).data, 1);
    assert.equal((await c.next()).data, 2, "the publisher's own message arrives once");
    c.send({ type: "publish", channel: "x", data: "end", ref: 4 });
    assert.equal((await c.next()).data, "end");
    assert.deepEqual(await c.next(), { type: "ok", ref: 4 });
    assert.equal(c.pending, 0);
    const stats = await (await fetch(`${server.http}/_api/stats`)).json();
    assert.equal(stats.errors, 2, "both channel refusals are counted with the hub's");
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("native: binary publish with kind 0x02 reaches native and /ws subscribers", async () => {
  const server = await startPubSubServer();
  const native = await TestSocket.open(`${server.ws}/_ws`);
  const wsify = await TestSocket.open(`${server.ws}/ws`);
  const publisher = await TestSocket.open(`${server.ws}/_ws`);
  try {
    native.send({ type: "subscribe", channel: "bin", ref: 1 });
    await native.next();
    wsify.send({ command: "join", args: { channel: "bin" } });
    await waitFor(() => server.pubsub.registry.list()[0]?.subscribers === 2);
    publisher.send({ type: "publish", channel: "bin", data: "sync", ref: 0 });
    assert.deepEqual(await publisher.next(), { type: "ok", ref: 0 });
    assert.equal((await native.next()).data, "sync");
    assert.equal(await wsify.nextRaw(), '"sync"', "a native JSON publish reaches /ws as raw JSON");
    publisher.sendRaw(encodeChannelBinary("bin", "", new Uint8Array([1, 2, 3])));
    const frame = await native.nextRaw();
    assert.ok(frame instanceof Uint8Array);
    const decoded = decodeChannelBinary(frame);
    assert.ok(decoded.ok);
    assert.equal(decoded.channel, "bin");
    assert.notEqual(decoded.peer, "", "server → client the peer field carries from");
    assert.deepEqual([...decoded.payload], [1, 2, 3]);
    const raw = await wsify.nextRaw();
    assert.ok(raw instanceof Uint8Array);
    assert.deepEqual([...raw], [1, 2, 3], "/ws gets the payload alone");
    publisher.sendRaw(encodeChannelBinary("bin", "someone", new Uint8Array([1])));
    const bad = await publisher.next();
    assert.deepEqual([bad.code, bad.channel], ["invalid_message", "bin"]);
    publisher.sendRaw(new Uint8Array([2, 9, 0, 1]));
    assert.equal((await publisher.next()).code, "invalid_message");
  } finally {
    await native.close();
    await wsify.close();
    await publisher.close();
    await server.close();
  }
});

Deno.test("native: /ws and POST /broadcast publishes reach native subscribers without from", async () => {
  const server = await startPubSubServer({ WSTUN_BROADCAST_KEY: "k" });
  const native = await TestSocket.open(`${server.ws}/_ws`);
  const wsify = await TestSocket.open(`${server.ws}/ws`);
  try {
    native.send({ type: "subscribe", channel: "mix", ref: 1 });
    await native.next();
    wsify.send({ command: "broadcast", args: { channel: "mix", content: { via: "ws" } } });
    assert.deepEqual(await native.next(), {
      type: "message",
      channel: "mix",
      data: { via: "ws" },
    });
    const res = await fetch(`${server.http}/broadcast?key=k`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"channel":"mix","content":{"via":"http"}}',
    });
    await res.body?.cancel();
    assert.equal(res.status, 201);
    assert.deepEqual(await native.next(), {
      type: "message",
      channel: "mix",
      data: { via: "http" },
    });
  } finally {
    await native.close();
    await wsify.close();
    await server.close();
  }
});

Deno.test("native: limits answer with their error codes and the connection stays open", async () => {
  const server = await startPubSubServer({
    WSTUN_CHANNEL_NAME_MAX: "5",
    WSTUN_MAX_CHANNELS: "1",
    WSTUN_MAX_PUBLISH_BYTES: "8",
    WSTUN_MAX_PUBLISHES_PER_SEC: "2",
  });
  const c = await TestSocket.open(`${server.ws}/_ws`);
  const codeOf = async (frame: object) => {
    c.send(frame);
    return (await c.next()).code;
  };
  try {
    assert.equal(
      await codeOf({ type: "subscribe", channel: "toolong", ref: 1 }),
      "invalid_channel",
    );
    assert.equal(await codeOf({ type: "subscribe", channel: "", ref: 1 }), "invalid_channel");
    assert.equal(await codeOf({ type: "subscribe", channel: "a\nb", ref: 1 }), "invalid_channel");
    assert.equal(await codeOf({ type: "subscribe", channel: "a", ref: 1 }), undefined); // ok
    assert.equal(await codeOf({ type: "subscribe", channel: "b", ref: 1 }), "limit_reached");
    assert.equal(
      await codeOf({ type: "publish", channel: "z", data: "123456789", ref: 1 }),
      "publish_too_large",
    );
    assert.equal(await codeOf({ type: "publish", channel: "z", data: 1, ref: 1 }), undefined);
    assert.equal(await codeOf({ type: "publish", channel: "z", data: 2, ref: 1 }), undefined);
    assert.equal(await codeOf({ type: "publish", channel: "z", data: 3, ref: 1 }), "rate_limited");
    assert.equal(await codeOf({ type: "publish", channel: "z", ref: 1 }), "invalid_message");
    assert.equal(c.ws.readyState, WebSocket.OPEN);
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("native: a denied request is answered unauthorized; an outage is authorizer_unavailable then close 4503", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  const c = await TestSocket.open(`${server.ws}/_ws?user=alice`);
  try {
    authorizer.answerWith((call) => call.body.args?.channel === "secret" ? 403 : 200);
    c.send({ type: "subscribe", channel: "secret", ref: 1 });
    const denied = await c.next();
    assert.deepEqual([denied.code, denied.ref, denied.channel], ["unauthorized", 1, "secret"]);
    c.send({ type: "publish", channel: "open", data: { a: 1 }, ref: 2 });
    assert.deepEqual(await c.next(), { type: "ok", ref: 2 });
    const calls = await authorizer.waitForCalls(2);
    assert.deepEqual(calls.map((x) => [x.body.command, x.body.args]), [
      ["join", { channel: "secret" }],
      ["broadcast", { channel: "open", content: { a: 1 } }],
    ]);
    // Native requests carry the connection's upgrade so the authorizer knows who asks.
    const client = calls[0].body.client as { query: unknown; headers: Record<string, unknown> };
    assert.deepEqual(client.query, { user: ["alice"] });
    assert.ok(client.headers["Sec-Websocket-Key"]);
    authorizer.fail();
    c.send({ type: "subscribe", channel: "later", ref: 3 });
    const down = await c.next();
    assert.deepEqual([down.code, down.ref], ["authorizer_unavailable", 3]);
    const closed = await c.closed;
    assert.equal(closed.code, 4503);
    assert.equal(closed.reason, "authorizer_unavailable");
  } finally {
    await c.close();
    await server.close();
    await authorizer.close();
  }
});

Deno.test("native: a burst of 10,000 publishes arrives complete and in publish order", async () => {
  const server = await startPubSubServer({ WSTUN_MAX_PUBLISHES_PER_SEC: "0" }, {
    maxMsgsPerSec: 0,
  });
  const sub = await TestSocket.open(`${server.ws}/_ws`);
  const pub = await TestSocket.open(`${server.ws}/_ws`);
  try {
    sub.send({ type: "subscribe", channel: "burst", ref: 0 });
    await sub.next();
    const count = 10_000;
    for (let i = 0; i < count; i++) pub.send({ type: "publish", channel: "burst", data: i });
    for (let i = 0; i < count; i++) {
      const m = await sub.next();
      if (m.data !== i) assert.fail(`expected ${i}, got ${JSON.stringify(m)}`);
    }
    assert.equal(server.pubsub.stats().deliveries, count);
  } finally {
    await sub.close();
    await pub.close();
    await server.close();
  }
});
