/** What the server reports about channels: `/_api/channels`, `/_api/stats`, start-up errors. */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../lib/config.ts";
import { startPubSubServer } from "../../_util/pubsub/pubsub_server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { waitFor } from "../../_util/wait_for.ts";

Deno.test("GET /_api/channels lists channels with subscriber counts from /ws and /_ws alike", async () => {
  const server = await startPubSubServer();
  const native = await TestSocket.open(`${server.ws}/_ws`);
  const wsify = await TestSocket.open(`${server.ws}/ws`);
  try {
    native.send({ type: "subscribe", channel: "both", ref: 1 });
    await native.next();
    native.send({ type: "subscribe", channel: "native-only", ref: 2 });
    await native.next();
    wsify.send({ command: "join", args: { channel: "both" } });
    await waitFor(() => server.pubsub.registry.list()[0]?.subscribers === 2);
    const res = await fetch(`${server.http}/_api/channels`);
    assert.deepEqual(await res.json(), [
      { channel: "both", subscribers: 2 },
      { channel: "native-only", subscribers: 1 },
    ]);
    await wsify.close();
    await waitFor(() => server.pubsub.registry.list()[0]?.subscribers === 1);
  } finally {
    await native.close();
    await wsify.close();
    await server.close();
  }
});

Deno.test("GET /_api/stats counts publishes and deliveries under pubsub", async () => {
  const server = await startPubSubServer();
  const a = await TestSocket.open(`${server.ws}/_ws`);
  const b = await TestSocket.open(`${server.ws}/_ws`);
  try {
    for (const s of [a, b]) {
      s.send({ type: "subscribe", channel: "s", ref: 0 });
      await s.next();
    }
    a.send({ type: "publish", channel: "s", data: 1, ref: 1 });
    await a.next(); // its own delivery
    await a.next(); // ok
    await b.next();
    const stats = await (await fetch(`${server.http}/_api/stats`)).json();
    assert.equal(stats.pubsub.publishes, 1);
    assert.equal(stats.pubsub.deliveries, 2);
    assert.equal(stats.pubsub.channels, 1);
    assert.equal(stats.pubsub.subscriptions, 2);
    assert.deepEqual(stats.pubsub.authorizer, { calls: 0, denied: 0, unavailable: 0 });
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

Deno.test("start-up: a bad pub/sub variable stops loadConfig with one line naming it", () => {
  assert.throws(
    () => loadConfig({ WSTUN_MAX_CHANNELS: "lots" }),
    (e: Error) => e instanceof ConfigError && /^WSTUN_MAX_CHANNELS: /.test(e.message),
  );
  assert.throws(
    () => loadConfig({ WSTUN_AUTHORIZER_URL: "not a url" }),
    (e: Error) => e instanceof ConfigError && /^WSTUN_AUTHORIZER_URL: /.test(e.message),
  );
  assert.equal(loadConfig({ WSTUN_MAX_CHANNELS: "" }).pubsub.maxChannelsPerConnection, 100);
});
